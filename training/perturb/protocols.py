"""The two robustness protocols of docs/DESIGN.md §9 as data: perturbation types, their five (or more) levels, the ops.

DeeperForensics-1.0 (LipForensics, RealForensics, FTCN, AltFreezing, FCG report it; levels 1 → 5):

| code | distortion | levels | operation |
|---|---|---|---|
| CS | colour saturation | 0.4, 0.3, 0.2, 0.1, 0.0 | YCbCr; Cb/Cr deviations from 0.5 × level |
| CC | colour contrast | 0.85, 0.725, 0.6, 0.475, 0.35 | pixel values × level |
| BW | block-wise occlusion | 16, 32, 48, 64, 80 | max(1, ⌊min(H, W)/256⌋) × level grey 8×8 blocks |
| GNC | Gaussian noise (colour) | variance 0.001, 0.002, 0.005, 0.01, 0.05 | N(0, var) in YCbCr on [0, 1] |
| GB | Gaussian blur | kernel 7, 9, 13, 17, 21 | σ = kernel / 6 |
| JPEG | pixelation | factor 2, 3, 4, 5, 6 | down by the factor and back (no JPEG encoding, despite the name) |
| VC | video compression | CRF 30, 32, 35, 38, 40 | H.264 re-encode of the video (ffmpeg) |

Image-level sweep on crops (GenD's protocol; codes jpeg-quality, blur, resize, noise): JPEG quality 100/80/60/40/20/10; Gaussian blur (k, σ)
(5, 0.5), (7, 1.0), (11, 1.5), (13, 2.0), (19, 3.0); down-resize to 112 / 64 px and back; Gaussian noise
σ 0.01/0.03/0.05/0.1/0.2 on [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fbi_common.errors import FBIError
from training.perturb import ops

PROTOCOLS = ("deeperforensics", "image")


class ProtocolError(FBIError, ValueError):
    """A --protocol / --types / --levels choice that does not exist."""


@dataclass(frozen=True)
class PerturbType:
    code: str
    name: str
    unit: str  # what the level parameter is (axis label of the plots)
    levels: tuple  # parameters, mildest first
    op: Callable[..., np.ndarray | list]  # per_video: list of videos (frame lists) in, list out
    per_video: bool = (
        False  # the op takes a list of whole videos' frames (VC) and returns theirs, not one frame
    )

    def label(self, i: int) -> str:
        """Level ``i`` (1-based) as text, e.g. ``3 (CRF 35)``."""
        return f"{i} ({self.unit} {fmt_param(self.levels[i - 1])})"


def fmt_param(p: object) -> str:
    return f"({p[0]}, {p[1]})" if isinstance(p, tuple) else f"{p:g}" if isinstance(p, float) else str(p)


DEEPERFORENSICS = (
    PerturbType("CS", "colour saturation", "saturation", (0.4, 0.3, 0.2, 0.1, 0.0), ops.saturation),
    PerturbType("CC", "colour contrast", "contrast", (0.85, 0.725, 0.6, 0.475, 0.35), ops.contrast),
    PerturbType("BW", "block-wise occlusion", "blocks", (16, 32, 48, 64, 80), ops.block_occlusion),
    PerturbType(
        "GNC", "Gaussian noise (colour)", "variance", (0.001, 0.002, 0.005, 0.01, 0.05), ops.noise_ycc
    ),
    PerturbType("GB", "Gaussian blur", "kernel", (7, 9, 13, 17, 21), ops.gaussian_blur),
    PerturbType("JPEG", "pixelation (down/up-scaling)", "factor", (2, 3, 4, 5, 6), ops.pixelate),
    PerturbType(
        "VC",
        "video compression (H.264)",
        "CRF",
        (30, 32, 35, 38, 40),
        ops.videos_h264,
        per_video=True,
    ),
)

IMAGE = (
    PerturbType("jpeg-quality", "JPEG compression", "quality", (100, 80, 60, 40, 20, 10), ops.jpeg),
    PerturbType(
        "blur",
        "Gaussian blur",
        "(k, σ)",
        ((5, 0.5), (7, 1.0), (11, 1.5), (13, 2.0), (19, 3.0)),
        ops.gaussian_blur,
    ),
    PerturbType("resize", "down-resize and back", "side px", (112, 64), ops.resize_roundtrip),
    PerturbType("noise", "Gaussian noise", "σ", (0.01, 0.03, 0.05, 0.1, 0.2), ops.gaussian_noise),
)

BY_PROTOCOL = {"deeperforensics": DEEPERFORENSICS, "image": IMAGE}


def select(
    protocol: str, types: list[str] | None, levels: list[int] | None
) -> list[tuple[str, PerturbType, list[int]]]:
    """(protocol, type, 1-based level indices) to run; ``protocol`` may be ``both``."""
    names = PROTOCOLS if protocol == "both" else (protocol,)
    if any(n not in BY_PROTOCOL for n in names):
        raise ProtocolError(f"--protocol {protocol}: choose deeperforensics, image or both")
    chosen = [(n, t) for n in names for t in BY_PROTOCOL[n]]
    if types:
        known = {t.code.lower(): t.code for _, t in chosen}
        bad = [t for t in types if t.lower() not in known]
        if bad:
            raise ProtocolError(
                f"--types {bad}: unknown for --protocol {protocol}; choose from {sorted(known.values())}"
            )
        wanted = {t.lower() for t in types}
        chosen = [(n, t) for n, t in chosen if t.code.lower() in wanted]
    out = []
    for n, t in chosen:
        idx = (
            list(range(1, len(t.levels) + 1))
            if not levels
            else [i for i in levels if 1 <= i <= len(t.levels)]
        )
        if levels and any(i < 1 or i > 6 for i in levels):
            raise ProtocolError(f"--levels {levels}: levels are 1-based indices (1 = mildest, at most 6)")
        if idx:
            out.append((n, t, idx))
    if not out:
        raise ProtocolError(f"--protocol {protocol} --types {types} --levels {levels} selects nothing to run")
    return out
