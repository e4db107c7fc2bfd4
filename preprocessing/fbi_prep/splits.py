"""Official split files (FF++ pairs shipped with the repo) and seeded splits for data without one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FF_SPLIT_DIR = Path(__file__).resolve().parents[1] / "splits" / "FaceForensics++"


def ff_split_map(split_dir: str | Path = FF_SPLIT_DIR) -> dict[str, str]:
    """video id -> split from the FF++ pair files: pair [a, b] puts a, b, a_b and b_a in that split."""
    out: dict[str, str] = {}
    for split in ("train", "val", "test"):
        path = Path(split_dir) / f"{split}.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"FF++ split file {path} is missing; it ships with the repo (preprocessing/splits/)"
            )
        with open(path, encoding="utf-8") as f:
            for a, b in json.load(f):
                for v in (a, b, f"{a}_{b}", f"{b}_{a}"):
                    out[v] = split
    return out


def _unit(group: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) per group (same on every machine and Python run)."""
    h = hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()
    return int(h[:12], 16) / float(16**12)


def seeded_split(group: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    """train / val / test for a group (identity or video), so one identity never spans two splits."""
    u = _unit(group, seed)
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


def holdout_val(group: str, seed: int, val_fraction: float) -> str:
    """For datasets with an official train/test but no val: move a seeded share of train groups to val."""
    return "val" if _unit(group, seed) < val_fraction else "train"
