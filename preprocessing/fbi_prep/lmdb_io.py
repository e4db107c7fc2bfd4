"""Processed folders -> `<lmdb_dir>/<Dataset>_lmdb` (keys: POSIX path under rgb_dir; values: the file bytes)."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import cv2
import lmdb
import numpy as np
from tqdm import tqdm

from fbi_common.errors import DataError
from fbi_common.io import WriteError
from fbi_common.logging import get_logger
from fbi_common.media import IMAGE_EXTS
from fbi_common.paths import resolve_path

from .adapters import family_folder

log = get_logger("dataset2lmdb")

KINDS = ("frames", "landmarks", "masks")
EXTS = (*IMAGE_EXTS, ".npy")  # frames/masks and landmarks


def lmdb_path(lmdb_dir: str | Path, dataset: str) -> Path:
    """One environment per dataset; the FF++ family (FF-*, FaceShifter, DeepFakeDetection) shares one."""
    return resolve_path(lmdb_dir) / f"{family_folder(dataset)}_lmdb"


def collect_files(rgb_dir: Path, folder: str) -> list[str]:
    """Every frame / landmark / mask file of a dataset folder, as keys relative to rgb_dir (POSIX, sorted)."""
    base = rgb_dir / folder
    if not base.is_dir():
        have = sorted(p.name for p in rgb_dir.iterdir() if p.is_dir()) if rgb_dir.is_dir() else []
        raise DataError(
            f"{base} does not exist (datasets in {rgb_dir}: {have or 'none'}); run preprocess.py first, or fix "
            "--rgb_dir / --dataset"
        )
    keys = []

    def refuse(err: OSError) -> None:
        raise DataError(f"cannot list {err.filename}: {err.strerror or err}; fix its permissions") from None

    for dirpath, dirnames, filenames in os.walk(base, onerror=refuse):
        rel_parts = Path(dirpath).relative_to(base).parts
        if any(k in rel_parts for k in KINDS):
            keys += [
                (Path(dirpath) / f).relative_to(rgb_dir).as_posix()
                for f in filenames
                if f.lower().endswith(EXTS)
            ]
        dirnames.sort()
    return sorted(keys)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(
            f"cannot read {path}: {e.strerror or e}; fix or re-create the file, then re-run"
        ) from None


def _put_batch(env: lmdb.Environment, items: list[tuple[bytes, bytes]]) -> lmdb.Environment:
    """Write one transaction; on MapFullError double the map size and retry (the txn is all-or-nothing)."""
    while True:
        try:
            with env.begin(write=True) as txn:
                for k, v in items:
                    txn.put(k, v)
            return env
        except lmdb.MapFullError:
            new = env.info()["map_size"] * 2
            log.info("LMDB map full; growing to %.1f GB", new / 2**30)
            env.set_mapsize(new)
        except lmdb.Error as e:
            raise WriteError(
                f"cannot write to the LMDB {env.path()}: {e}; check free space and permissions"
            ) from None


def write_lmdb(cfg: dict[str, Any]) -> dict[str, Any]:
    """Write (or resume writing) the dataset's environment, then verify it. Returns counts."""
    rgb_dir = resolve_path(cfg["rgb_dir"])
    folder = family_folder(cfg["dataset"])
    keys = collect_files(rgb_dir, folder)
    if not keys:
        raise DataError(
            f"no frames/landmarks/masks files under {rgb_dir / folder} (expected <video dir>/frames/<video>/"
            "<idx>.png); run preprocess.py for it first"
        )
    path = lmdb_path(cfg["lmdb_dir"], cfg["dataset"])
    try:
        path.mkdir(parents=True, exist_ok=True)
        env = lmdb.open(
            str(path), map_size=int(float(cfg["map_size_gb"]) * 2**30), readahead=False, meminit=False
        )
    except (OSError, lmdb.Error) as e:
        raise WriteError(
            f"cannot create the LMDB {path}: {e}; check lmdb_dir, free space and permissions"
        ) from None
    try:
        todo = _pending(env, rgb_dir, keys)
        log.info(
            "%s: %d files, %d already stored, %d to write", path, len(keys), len(keys) - len(todo), len(todo)
        )
        batch: list[tuple[bytes, bytes]] = []
        for k in tqdm(todo, desc=f"lmdb {folder}", unit="file", dynamic_ncols=True):
            batch.append((k.encode(), _read(rgb_dir / k)))
            if len(batch) >= cfg["batch"]:
                env = _put_batch(env, batch)
                batch = []
        if batch:
            env = _put_batch(env, batch)
        env.sync()
    finally:
        env.close()
    report = verify_lmdb(path, rgb_dir, keys, cfg["verify_samples"], cfg["seed"])
    return {"path": str(path), "files": len(keys), "written": len(todo)} | report


def _pending(env: lmdb.Environment, rgb_dir: Path, keys: list[str]) -> list[str]:
    """Keys not stored yet, or stored with a different size than the file now has (re-processed video)."""
    todo = []
    with env.begin(buffers=True) as txn:
        for k in keys:
            v = txn.get(k.encode())
            if v is None or len(v) != (rgb_dir / k).stat().st_size:
                todo.append(k)
    return todo


def decode_value(key: str, value: bytes) -> np.ndarray:
    """Decode one stored value like the loader does: images via OpenCV, landmarks via np.load."""
    if key.endswith(".npy"):
        return np.load(io.BytesIO(value), allow_pickle=False)
    img = cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"LMDB value for {key} does not decode as an image")
    return img


def verify_lmdb(path: Path, rgb_dir: Path, keys: list[str], samples: int, seed: int) -> dict[str, Any]:
    """Count check (every file has a key) and a byte-for-byte + decode spot check of random keys."""
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            missing = [k for k in keys if txn.get(k.encode()) is None]
            pick = random.Random(seed).sample(keys, min(samples, len(keys)))
            bad = []
            for k in pick:
                v = txn.get(k.encode())
                if v is None or v != (rgb_dir / k).read_bytes():
                    bad.append(k)
                    continue
                try:
                    decode_value(k, v)
                except ValueError as e:
                    raise DataError(
                        f"{rgb_dir / k} does not decode ({e}); re-run preprocess.py for its video, then dataset2lmdb.py"
                    ) from None
            entries = env.stat()["entries"]
    finally:
        env.close()
    if missing or bad:
        raise DataError(
            f"LMDB verification failed for {path}: {len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(bad)} values differing from the files (e.g. {bad[:3]}); re-run dataset2lmdb.py"
        )
    log.info(
        "verified %s: %d entries, all %d files present, %d spot-checked byte-for-byte",
        path,
        entries,
        len(keys),
        len(pick),
    )
    return {"entries": entries, "spot_checked": len(pick)}
