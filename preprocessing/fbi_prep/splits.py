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


PRIORITY = ("train", "test", "val")  # who keeps both classes first when groups of a class are scarce
CLASSES = {0: "real", 1: "fake"}


def _quota(n: int, fraction: float) -> int:
    return int(n * fraction + 0.5)


def stratified_split(
    groups: dict[str, set[int]],
    seed: int,
    val_fraction: float,
    test_fraction: float,
    splits: tuple[str, ...] = PRIORITY,
) -> tuple[dict[str, str], list[str]]:
    """Seeded, group-disjoint train/val/test split that keeps both classes in every split it can.

    `groups` maps a group (identity, else video) to the classes of its videos (0 real, 1 fake).
    Groups are ordered by a seeded hash (the same on every machine and run) and split per stratum
    (real-only, fake-only, mixed) by the fractions, so each split gets its share of both classes.
    Then, where a split lacks a class, one group holding it is moved in: train is served first,
    then test, then val, and a split never loses a class to a split served after it. Returns
    `{group: split}` and one message per split that still lacks a class (the data do not allow it).
    `splits=("train", "val")` holds a validation share out of a training pool (official test elsewhere).
    """
    order_of = tuple(s for s in PRIORITY if s in splits)
    if "test" not in order_of:
        test_fraction = 0.0
    order = sorted(groups, key=lambda g: (_unit(g, seed), g))
    split_of: dict[str, str] = {}
    for stratum in ({0}, {1}, {0, 1}):
        members = [g for g in order if groups[g] == stratum]
        n_test, n_val = _quota(len(members), test_fraction), _quota(len(members), val_fraction)
        for i, g in enumerate(members):
            split_of[g] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    for g in order:  # a group with no known class stays in train
        split_of.setdefault(g, "train")
    problems = []
    for split in order_of:
        for c in (0, 1):
            if c in _classes(split_of, groups, split) or _move_in(
                split_of, groups, order, split, c, order_of
            ):
                continue
            n = sum(c in v for v in groups.values())
            problems.append(
                f"the {split} split has no {CLASSES[c]} videos: only {n} group(s) (identities, else videos) "
                f"have {CLASSES[c]} videos, too few to give {', '.join(order_of)} one each"
            )
    return split_of, problems


def _classes(split_of: dict[str, str], groups: dict[str, set[int]], split: str) -> set[int]:
    return set().union(*(groups[g] for g, s in split_of.items() if s == split))


def _move_in(
    split_of: dict[str, str],
    groups: dict[str, set[int]],
    order: list[str],
    split: str,
    c: int,
    priority: tuple[str, ...] = PRIORITY,
) -> bool:
    """Move one group with class `c` into `split`. A donor served before `split` must keep every class
    it has; one served after it may lose them (tried last, lowest priority first)."""
    rank = priority.index(split)
    before = list(priority[:rank])
    after = list(reversed(priority[rank + 1 :]))
    for donor, must_keep in [(s, True) for s in before] + [(s, False) for s in after]:
        had = _classes(split_of, groups, donor)
        candidates = sorted(
            (g for g in order if split_of[g] == donor and c in groups[g]), key=lambda g: len(groups[g])
        )
        kept = []
        for g in candidates:
            split_of[g] = split
            if _classes(split_of, groups, donor) >= had:
                return True
            split_of[g] = donor
            kept.append(g)
        if not must_keep and kept:
            split_of[kept[0]] = split
            return True
    return False
