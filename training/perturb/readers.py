"""Frame readers that hand the dataset perturbed frames: the data pipeline itself is left untouched.

`PerturbedReader` wraps a `FileReader`/`LmdbReader` and perturbs every image it returns (masks and
landmarks pass through). `CachedReader` serves images from a folder of pre-computed frames (video
compression, and the video-level path, which re-crops faces from perturbed source videos). Both are
plain picklable objects, so DataLoader workers get them too.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from training.dataset.readers import FileReader, LmdbReader
from training.perturb.protocols import PerturbType


def frame_rng(seed: int, code: str, level: int, rel: str) -> np.random.Generator:
    """The generator of one frame under one perturbation: independent of order, workers and batch size."""
    return np.random.default_rng([int(seed), zlib.crc32(code.encode()), int(level), zlib.crc32(rel.encode())])


class PerturbedReader:
    """``read_image`` returns ``ptype.op(image, level parameter, frame_rng(...))``; level 0 is the identity."""

    def __init__(
        self, base: FileReader | LmdbReader, ptype: PerturbType | None, level: int, seed: int
    ) -> None:
        if ptype is not None and ptype.per_video:
            raise ValueError(f"{ptype.code} acts on whole videos; prepare it with a CachedReader instead")
        self.base, self.ptype, self.level, self.seed = base, ptype, int(level), int(seed)

    def read_image(self, rel: str) -> np.ndarray:
        img = self.base.read_image(rel)
        if self.ptype is None or self.level == 0:
            return img
        rng = frame_rng(self.seed, self.ptype.code, self.level, rel)
        return self.ptype.op(img, self.ptype.levels[self.level - 1], rng)

    def read_mask(self, rel: str) -> np.ndarray:
        return self.base.read_mask(rel)

    def read_landmark(self, rel: str) -> np.ndarray:
        return self.base.read_landmark(rel)

    def __repr__(self) -> str:
        what = "clean" if self.ptype is None or self.level == 0 else f"{self.ptype.code} level {self.level}"
        return f"PerturbedReader({self.base!r}, {what})"


class CachedReader:
    """Images from ``root/<rel>`` (written beforehand as PNG); masks and landmarks from the base reader."""

    def __init__(self, root: str | Path, base: FileReader | LmdbReader) -> None:
        self.files, self.base = FileReader(root), base

    def read_image(self, rel: str) -> np.ndarray:
        return self.files.read_image(cache_name(rel))

    def read_mask(self, rel: str) -> np.ndarray:
        return self.base.read_mask(rel)

    def read_landmark(self, rel: str) -> np.ndarray:
        return self.base.read_landmark(rel)

    def __repr__(self) -> str:
        return f"CachedReader({self.files.rgb_dir})"


def cache_name(rel: str) -> str:
    """Where a frame's perturbed copy lives under a cache root: its relative path, as lossless PNG."""
    rel = rel.lstrip("/").replace(":", "")
    return rel.rsplit(".", 1)[0] + ".png"
