"""FaceForensics++ tree (youtube, actors, six methods; raw/c23/c40) incl. FaceShifter and DeepFakeDetection."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from fbi_common.datasets import COMPRESSIONS, FF_ROOT

from ..splits import ff_split_map
from .base import Adapter, Entry, LayoutError, VideoJob, find_videos, job_for

ORIGINALS = {"youtube": "FF-real", "actors": "DFD_real"}
METHODS = {
    "Deepfakes": "FF-DF",
    "Face2Face": "FF-F2F",
    "FaceSwap": "FF-FS",
    "NeuralTextures": "FF-NT",
    "FaceShifter": "FF-FH",
    "DeepFakeDetection": "DFD_fake",
}
# Which JSON files each label goes into (DeepfakeBench's set: FaceForensics++ = real + the four
# classic methods; FF-<M> = real + one method; FaceShifter and DeepFakeDetection stand alone).
JSON_NAMES = {
    "FF-real": ("FaceForensics++", "FF-DF", "FF-F2F", "FF-FS", "FF-NT", "FaceShifter"),
    "FF-DF": ("FaceForensics++", "FF-DF"),
    "FF-F2F": ("FaceForensics++", "FF-F2F"),
    "FF-FS": ("FaceForensics++", "FF-FS"),
    "FF-NT": ("FaceForensics++", "FF-NT"),
    "FF-FH": ("FaceShifter",),
    "DFD_real": ("DeepFakeDetection",),
    "DFD_fake": ("DeepFakeDetection",),
}


class FaceForensicsAdapter(Adapter):
    name = FF_ROOT
    folder = FF_ROOT
    layout_hint = (
        "Expected original_sequences/{youtube,actors}/<comp>/videos/*.mp4 and "
        "manipulated_sequences/<Method>/<comp>/videos/*.mp4 (masks: manipulated_sequences/<Method>/masks/videos/)."
    )

    def _subset_dirs(self, root: Path, comp: str, subsets: list[str] | None) -> list[tuple[str, Path]]:
        dirs = [(s, root / "original_sequences" / s / comp) for s in ORIGINALS]
        dirs += [(m, root / "manipulated_sequences" / m / comp) for m in METHODS]
        if subsets:
            unknown = set(subsets) - set(ORIGINALS) - set(METHODS)
            if unknown:
                raise LayoutError(
                    f"unknown FF++ subsets {sorted(unknown)}; choose from {list(ORIGINALS) + list(METHODS)}"
                )
            dirs = [(s, d) for s, d in dirs if s in subsets]
        return dirs

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        self.require_root(root)
        bad = set(cfg["comp"]) - set(COMPRESSIONS)
        if bad:
            raise LayoutError(f"--comp {sorted(bad)} unknown; FF++ has {list(COMPRESSIONS)}")
        jobs = []
        for comp in cfg["comp"]:
            for subset, d in self._subset_dirs(root, comp, cfg.get("subsets")):
                mask_dir = root / "manipulated_sequences" / subset / "masks" / "videos"
                for v in find_videos(d):
                    mask = mask_dir / f"{v.stem}.mp4" if cfg.get("masks", True) else None
                    jobs.append(job_for(root, v, mask))
        return jobs

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> dict[str, str]:
        return ff_split_map()

    def describe(self, out_dir: str, video: str, meta: dict[str, str]) -> Entry | None:
        parts = PurePosixPath(out_dir).parts
        if len(parts) != 3 or parts[2] not in COMPRESSIONS:
            return None
        top, sub, comp = parts
        if top == "original_sequences" and sub in ORIGINALS:
            label = ORIGINALS[sub]
        elif top == "manipulated_sequences" and sub in METHODS:
            label = METHODS[sub]
        else:
            return None
        # DFD has no official split (its own identities); FF videos take the split of their pair.
        split = None if label.startswith("DFD") else meta.get(video, "missing")
        group = video.split("_")[0] if not label.startswith("DFD") else video.split("__")[0].split("_")[0]
        return Entry(
            label=label, json_names=JSON_NAMES[label], split=split, comp=comp, key=video, group=group
        )
