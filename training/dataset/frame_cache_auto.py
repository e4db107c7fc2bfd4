"""`frame_cache: auto` (the default): where training puts the decoded-frame cache, and when it stays off.

The table goes into `frame_cache/` beside the data root — `<parent of rgb_dir>/frame_cache`, or of
`lmdb_dir` with `lmdb: true` (`datasets/frame_cache` for the demo) — when that place is writable and
its disk has room for the training table plus a margin (1 GiB + 25 %, which also covers the
validation table). Only training resolves `auto`, because only it reads its frames more than once:
the train split and the split checkpoints are selected on are cached in a run of ≥ 2 epochs; test
sets (read once, by the final test or by `test.py`) and one-pass tools never are. `auto` is off,
with one info line, for a 1-epoch run, with `data_aug.sbi.enabled` (self-blending needs the
full-resolution crops) and with `feature_cache: true` (frames are read once, for the features);
when the place is not writable or too full, ONE warning line says why and how to choose a folder
(`frame_cache: DIR`), and training goes on uncached.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.dataset.frame_cache import table_name

log = get_logger("dataset.frame_cache")

AUTO = "auto"
MARGIN_BYTES = 1 << 30
MARGIN_FRACTION = 0.25


def is_auto(value: object) -> bool:
    return isinstance(value, str) and value == AUTO


def auto_root(cfg: dict) -> Path:
    """`frame_cache/` beside the data root the loader reads (lmdb_dir with `lmdb: true`, else rgb_dir)."""
    data_root = resolve_path(cfg["lmdb_dir"] if cfg.get("lmdb") else cfg["rgb_dir"])
    return data_root.parent / "frame_cache"


def table_bytes(n: int, size: int, with_mask: bool) -> int:
    """Bytes of a table: N·S·S·3 pixels (+ N·S·S mask bytes) + N row records of 40 bytes."""
    return n * size * size * (4 if with_mask else 3) + n * 40


def _allocated(path: Path) -> int:
    """Disk bytes a (sparse) table already holds; 0 when it does not exist yet."""
    if not path.is_dir():
        return 0
    return sum(f.stat().st_blocks * 512 for f in path.iterdir() if f.is_file())


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def place_problem(root: Path, need: int) -> str | None:
    """Why a table of `need` more bytes cannot be written under `root` (None: it can, and `root` exists).

    Free space and a probe write are checked on `root`, or its nearest existing parent while `root`
    does not exist yet, so a refused place is left exactly as it was.
    """
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    want = need + MARGIN_BYTES + int(MARGIN_FRACTION * need) if need > 0 else 0
    free = shutil.disk_usage(existing).free
    if free < want:
        return (
            f"{existing} has {_gib(free)} free, the table needs {_gib(need)} + a margin "
            f"(1 GiB + 25 %) = {_gib(want)}"
        )
    try:
        with tempfile.TemporaryFile(dir=existing):  # unnamed on Linux: nothing is left behind
            pass
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"{existing if not root.exists() else root} is not writable ({e.strerror or e})"
    return None


def auto_place(
    cfg: dict, label: str, frames: Sequence[str], size: int, with_mask: bool, source: str
) -> tuple[Path, str | None, int]:
    """(auto folder, why the table cannot go there or None, table bytes) for one frame list."""
    root = auto_root(cfg)
    frames = sorted(set(frames))
    total = table_bytes(len(frames), size, with_mask)
    need = max(0, total - _allocated(root / table_name(label, size, with_mask, source, frames)))
    return root, place_problem(root, need), total


def auto_cache_dir(
    cfg: dict,
    *,
    label: str,
    frames: Sequence[str],
    size: int,
    with_mask: bool,
    source: str,
    epochs: int,
    self_blend: bool,
    frozen_features: bool = False,
) -> Path | None:
    """The folder `frame_cache: auto` caches this training run's frames in, or None (one log line says why)."""
    if self_blend:
        log.info(
            "frame_cache: auto is off: data_aug.sbi.enabled blends the full-resolution crops, before "
            "the resize the cache stores"
        )
        return None
    if frozen_features:
        log.info(
            "frame_cache: auto is off: feature_cache reads each frame once (the frozen features are "
            "kept in memory)"
        )
        return None
    if epochs < 2:
        log.info(
            "frame_cache: auto is off for a 1-epoch run (each frame is read once; a cache would only add writes)"
        )
        return None
    root, problem, total = auto_place(cfg, label, frames, size, with_mask, source)
    if problem is not None:
        log.warning(
            "frame_cache: auto: training WITHOUT the decoded-frame cache (every epoch decodes every "
            "frame): %s. Set frame_cache: DIR (a writable local folder with room for %s), or "
            "frame_cache: null to train uncached without this warning",
            problem,
            _gib(total),
        )
        return None
    log.info(
        "frame_cache: auto -> %s (%s for the training frames at %d px): the first epoch decodes and "
        "stores each frame, later epochs read the table; frame_cache: null turns it off",
        root,
        _gib(total),
        size,
    )
    return root
