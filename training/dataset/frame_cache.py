"""Decoded-frame cache (`frame_cache: DIR`): each frame decoded and resized once, kept as raw uint8 at the network size.

Decoding a 256-px PNG crop costs ≈2 ms of CPU, more than everything else a worker does per frame,
and a plain loader pays it for every frame in every epoch. With `frame_cache` set, the first time a
frame is read (first epoch, or `python training/build_frame_cache.py`) its decoded, resized pixels
— exactly what `FrameTransform.resize` returns, the input of the augmentation — are written into a
memory-mapped table; every later read is a copy out of the page cache. Augmentation still runs per
frame and per epoch on the cached pixels, so training sees the same frames and the same
distribution of augmentations as without the cache (tests/test_frame_cache.py).

A table is one folder under DIR per (frame list, network size, masks, source, OpenCV version):
`<datasets>-<split>-<S>px-<digest>/` with `meta.json`, `images.u8` (N×S×S×3), `masks.u8` (N×S×S,
with `with_mask`) and `rows.i64` (N×5: filled, the source's mtime_ns and size when it was cached,
the source frame's height and width — for landmarks). Rows are the dataset's frames in sorted
order; a different frame list, size or source is a different table. DataLoader workers fill rows
concurrently (distinct rows; the flag is written after the pixels). Opening a table checks every
cached row's source against its recorded mtime and size; a changed or missing source, or a table
whose files do not match its `meta.json`, stops with an error naming the table to delete — except
that `frame_cache: auto` (training/dataset/frame_cache_auto.py) rebuilds a stale table it owns,
with a warning (a regenerated or re-preprocessed dataset then just decodes again).
Bad frames are never cached, so `bad_frame_policy` sees them every epoch as without the cache.
Use a folder on a local disk (one per node): memory maps are not coherent across NFS clients.

Hand-written on NumPy memory maps rather than LMDB: rows are fixed-size, so a row is one offset,
reads copy no more than the pixels, and concurrent first-epoch writers need no write transaction.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from fbi_common.errors import DataError
from fbi_common.io import atomic_write_json
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path

log = get_logger("dataset.frame_cache")

FORMAT = 1
_FILLED, _MTIME, _SIZE, _H, _W = range(5)
Stamp = Callable[[str], tuple[int, int]]  # frame path → (mtime_ns, size) of its source; (0, -1) if missing


class FrameCacheError(DataError):
    """A frame-cache table that does not match its sources or its own description."""


def table_name(label: str, size: int, with_mask: bool, source: str, frames: Sequence[str]) -> str:
    """Folder name of the table for this exact frame list, size, mask setting, source and OpenCV."""
    h = hashlib.sha1()
    for part in (f"format={FORMAT}", f"size={size}", f"mask={with_mask}", source, cv2.__version__):
        h.update(part.encode("utf-8") + b"\0")
    for f in frames:
        h.update(f.encode("utf-8") + b"\n")
    safe = "".join(c if c.isalnum() or c in "-_+." else "_" for c in label)[:80]
    return f"{safe}-{size}px{'-mask' if with_mask else ''}-{h.hexdigest()[:12]}"


class FrameCache:
    """Rows of decoded, resized frames for one frame list; `get(rel)` / `put(rel, ...)` in any process."""

    def __init__(self, path: Path, frames: Sequence[str], size: int, with_mask: bool) -> None:
        self.path, self.size, self.with_mask = Path(path), int(size), bool(with_mask)
        self.row_of = {f: i for i, f in enumerate(frames)}
        self.n = len(self.row_of)
        self._maps: tuple | None = None
        self._pid = -1

    def __getstate__(self) -> dict:  # memory maps are reopened per process, never pickled
        return {**self.__dict__, "_maps": None, "_pid": -1}

    def __repr__(self) -> str:
        return f"FrameCache({self.path}, {self.n} frames at {self.size} px)"

    def _open(self) -> tuple:
        if self._maps is None or self._pid != os.getpid():
            s, n = self.size, self.n
            images = np.memmap(self.path / "images.u8", np.uint8, "r+", shape=(n, s, s, 3))
            masks = (
                np.memmap(self.path / "masks.u8", np.uint8, "r+", shape=(n, s, s)) if self.with_mask else None
            )
            rows = np.memmap(self.path / "rows.i64", np.int64, "r+", shape=(n, 5))
            self._maps, self._pid = (images, masks, rows), os.getpid()
        return self._maps

    def filled(self) -> int:
        return int(self._open()[2][:, _FILLED].sum())

    def has(self, rel: str) -> bool:
        return bool(self._open()[2][self.row_of[rel], _FILLED] == 1)

    def get(self, rel: str) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]] | None:
        """(image S×S×3, mask S×S or None, source (h, w)) copied out of the table, or None if not cached."""
        images, masks, rows = self._open()
        i = self.row_of[rel]
        row = rows[i]
        if row[_FILLED] != 1:
            return None
        mask = None if masks is None else np.array(masks[i])
        return np.array(images[i]), mask, (int(row[_H]), int(row[_W]))

    def put(
        self,
        rel: str,
        image: np.ndarray,
        mask: np.ndarray | None,
        hw: tuple[int, int],
        stamp: tuple[int, int],
    ) -> None:
        """Store a resized frame; the row counts as cached only once its pixels are written."""
        images, masks, rows = self._open()
        i = self.row_of[rel]
        images[i] = image
        if masks is not None:
            masks[i] = mask
        rows[i, _MTIME], rows[i, _SIZE], rows[i, _H], rows[i, _W] = stamp[0], stamp[1], hw[0], hw[1]
        rows[i, _FILLED] = 1

    def stale(self, frames: Sequence[str], stamp: Stamp) -> list[str]:
        """Cached frames whose source changed (mtime or size) or vanished since they were cached."""
        rows = np.array(self._open()[2])
        return [
            rel
            for rel in frames
            if rows[self.row_of[rel], _FILLED] == 1
            and tuple(int(v) for v in rows[self.row_of[rel], [_MTIME, _SIZE]]) != tuple(stamp(rel))
        ]

    def check_sources(self, frames: Sequence[str], stamp: Stamp) -> None:
        """Stop if a cached frame's source changed (mtime or size) or vanished since it was cached."""
        if stale := self.stale(frames, stamp):
            raise FrameCacheError(
                f"frame cache {self.path} is stale: {len(stale)} of its {self.filled()} cached "
                f"frames changed on disk since they were cached (e.g. {stale[0]}: size/modification time "
                f"differ or the file is gone). Delete {self.path} (it is refilled in the next first epoch, "
                "or by training/build_frame_cache.py), or set frame_cache: null"
            )


def _lock(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    f = open(root / ".lock", "w")  # noqa: SIM115 (held for the with-block of the caller)
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _check_meta(path: Path, want: dict) -> None:
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FrameCacheError(f"frame cache {path}: cannot read meta.json ({e}); delete {path}") from None
    diff = [k for k in want if meta.get(k) != want[k]]
    s, n = want["size"], want["frames"]
    sizes = {
        "images.u8": n * s * s * 3,
        "rows.i64": n * 5 * 8,
        **({"masks.u8": n * s * s} if want["with_mask"] else {}),
    }
    bad = [f for f, b in sizes.items() if not (path / f).is_file() or (path / f).stat().st_size != b]
    if diff or bad:
        what = ", ".join(
            [f"{k}: {meta.get(k)!r} (expected {want[k]!r})" for k in diff]
            + [f"{f} has the wrong length" for f in bad]
        )
        raise FrameCacheError(
            f"frame cache {path} does not match this dataset ({what}); delete {path} and rerun"
        )


def _create(path: Path, want: dict) -> None:
    """An empty (sparse) table at `path`, renamed into place once complete."""
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    s, n = want["size"], want["frames"]
    shapes = {"images.u8": (np.uint8, (n, s, s, 3)), "rows.i64": (np.int64, (n, 5))}
    if want["with_mask"]:
        shapes["masks.u8"] = (np.uint8, (n, s, s))
    for name, (dtype, shape) in shapes.items():
        np.memmap(tmp / name, dtype, "w+", shape=shape).flush()  # sparse: zero rows take no disk
    atomic_write_json(tmp / "meta.json", want)
    tmp.rename(path)
    log.info("frame cache: new table %s (%d frames at %d px; filled as frames are first read)", path, n, s)


def open_frame_cache(
    root: str | Path,
    label: str,
    frames: Sequence[str],
    size: int,
    with_mask: bool,
    source: str,
    stamp: Stamp,
    rebuild_stale: bool = False,
) -> FrameCache:
    """The table for `frames` under `root` (created empty, sparse, if new), its cached rows checked against `stamp`.

    A stale table (a source frame changed since it was cached) is an error, or — `rebuild_stale`, for
    `frame_cache: auto`, which owns its folder — replaced by an empty one with a warning.
    """
    root = resolve_path(root)
    frames = sorted(set(frames))
    path = root / table_name(label, size, with_mask, source, frames)
    want = {
        "format": FORMAT,
        "size": int(size),
        "with_mask": bool(with_mask),
        "frames": len(frames),
        "source": source,
        "opencv": cv2.__version__,
    }
    with _lock(root):  # DDP ranks building the same dataset create the table once
        if not path.exists():
            _create(path, want)
        _check_meta(path, want)
    cache = FrameCache(path, frames, size, with_mask)
    if rebuild_stale and cache.stale(frames, stamp):
        with _lock(root):  # re-checked under the lock: another rank may have rebuilt it already
            if stale := FrameCache(path, frames, size, with_mask).stale(frames, stamp):
                log.warning(
                    "frame cache: %s is stale (%d cached frames changed on disk since, e.g. %s): "
                    "rebuilding it, the next epoch decodes again",
                    path,
                    len(stale),
                    stale[0],
                )
                shutil.rmtree(path)
                _create(path, want)
        cache = FrameCache(path, frames, size, with_mask)
    cache.check_sources(frames, stamp)
    log.info("frame cache: %s, %d of %d frames cached", path, cache.filled(), cache.n)
    return cache


class _Fill(Dataset):
    """Reads (and so caches) the dataset's uncached frames; yields the dropped frames' reasons."""

    def __init__(self, ds, indices: list[int]) -> None:
        self.ds, self.indices = ds, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> str | None:
        return self.ds.warm(self.indices[i])


def fill_cache(ds, workers: int, desc: str = "frame cache") -> dict[str, int]:
    """Decode and store every frame of `ds` not cached yet (DataLoader workers, a progress bar).

    Returns {"cached": frames written now, "dropped": bad frames (bad_frame_policy: drop; not cached)}.
    A bad frame under bad_frame_policy: error stops with its error, as training would.
    """
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    from training.utils.seed import seed_worker

    cache = ds.cache
    todo = [i for i, (ri, fi) in enumerate(ds.items) if not cache.has(ds.records[ri].frames[fi])]
    if workers > 0:
        cv2.setNumThreads(1)  # before the workers fork (see loaders.build_loader)
    loader = DataLoader(
        _Fill(ds, todo), batch_size=16, num_workers=workers, collate_fn=list, worker_init_fn=seed_worker
    )
    dropped = 0
    with tqdm(total=len(todo), desc=desc, unit="frame", dynamic_ncols=True) as bar:
        for reasons in loader:
            dropped += sum(r is not None for r in reasons)
            bar.update(len(reasons))
    return {"cached": len(todo) - dropped, "dropped": dropped}
