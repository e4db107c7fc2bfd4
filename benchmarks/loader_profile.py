"""Where a loader's time per frame goes: each step of ours and of the reference timed in one process.

Used by `bench_loader.py --profile`. One thread, no workers, the same frames for both, so the steps
add up to the per-frame CPU cost a worker pays (the DataLoader's inter-process transfer and the
collate are not included; the batched device normalisation is, per frame).
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

N_FRAMES = 128


def _timed(acc: dict, key: str, fn, *a):
    t0 = time.thread_time()  # this thread's CPU time: what the step costs, however busy the machine
    out = fn(*a)
    acc[key] += time.thread_time() - t0
    return out


def _ours(cfg: dict, args, paths: list[str]) -> dict[str, float]:
    from training.dataset.readers import FileReader, LmdbReader

    reader = LmdbReader(cfg["lmdb_dir"]) if cfg.get("lmdb") else FileReader(cfg["rgb_dir"])
    acc: dict[str, float] = defaultdict(float)

    def load(rel: str) -> np.ndarray:
        buf = _timed(acc, "read bytes", reader.read_bytes, rel)
        return _timed(acc, "decode (cv2.imdecode + RGB)", _decode, buf)

    return _transform_and_normalise(cfg, args, paths, acc, load, "FrameTransform (aug, resize, uint8 CHW)")


def _ours_cached(cfg: dict, args, paths: list[str]) -> dict[str, float]:
    """Ours reading through the decoded-frame cache (filled first, untimed, if it is not yet)."""
    from training.dataset.frame_cache import fill_cache
    from training.dataset.loaders import build_dataset

    ds = build_dataset(cfg, "train", [args.dataset], {"size": args.size})
    if ds.cache.filled() < ds.cache.n:
        fill_cache(ds, int(cfg.get("workers", 0)), desc="cache build")
    acc: dict[str, float] = defaultdict(float)

    def load(rel: str) -> np.ndarray:
        return _timed(acc, "frame cache read (copy of the uint8 row)", lambda r: ds.cache.get(r)[0], rel)

    return _transform_and_normalise(cfg, args, paths, acc, load, "FrameTransform (aug, uint8 CHW)")


def _transform_and_normalise(
    cfg: dict, args, paths: list[str], acc: dict, load, label: str
) -> dict[str, float]:
    """Our steps after reading: `load(rel)` (timed by the caller), FrameTransform per frame, batched normalise."""
    from training.dataset.loaders import build_transform
    from training.utils.pixels import normalize

    transform = build_transform(cfg, "train", {"size": args.size})
    rng = np.random.default_rng(0)
    images = [_timed(acc, label, transform, load(rel), None, None, rng)["image"] for rel in paths]
    batch = torch.stack(images)
    m, s = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    _timed(acc, "normalise on the device (batched)", normalize, batch, m, s)
    return acc


def _decode(buf: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _reference(cfg: dict, args, paths: list[str]) -> dict[str, float]:
    from torchvision import transforms as T

    from benchmarks.reference_loader import reference_compose

    compose = reference_compose(cfg["data_aug"], args.size) if args.aug else None
    to_tensor, norm = T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)
    acc: dict[str, float] = defaultdict(float)
    rgb = Path(cfg["rgb_dir"])
    for rel in paths:
        img = _timed(
            acc, "cv2.imread + RGB", lambda p: cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB), str(rgb / rel)
        )
        size = (args.size, args.size)
        img = _timed(acc, "cv2.resize INTER_CUBIC", cv2.resize, img, size, None, 0, 0, cv2.INTER_CUBIC)
        img = _timed(acc, "PIL round trip", lambda a: np.array(Image.fromarray(np.array(a, np.uint8))), img)
        if compose is not None:
            img = _timed(acc, "albumentations Compose", lambda a: compose(image=a)["image"], img)
        x = _timed(acc, "ToTensor", to_tensor, img)
        _timed(acc, "Normalize", norm, x)
    return acc


def profile(cfg: dict, args) -> str:
    """A text table: ms per frame for every step of both loaders."""
    from training.dataset.index import build_index

    records = build_index([args.dataset], "train", cfg)
    paths = [f for r in records for f in r.frames][:N_FRAMES]
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        tables = {"ours": _ours(cfg, args, paths)}
        if cfg.get("frame_cache"):
            tables["ours, frame cache"] = _ours_cached(cfg, args, paths)
        if not cfg.get("lmdb"):
            tables["reference"] = _reference(cfg, args, paths)
    finally:
        torch.set_num_threads(n_threads)
    lines = [
        f"\nper-frame CPU time, one thread, {len(paths)} frames ({'aug on' if args.aug else 'aug off'}; "
        "ours: decoding every read; ours, frame cache: what later epochs and bench_loader time):"
    ]
    for name, acc in tables.items():
        total = sum(acc.values())
        lines.append(f"  {name}: {1e3 * total / len(paths):.2f} ms/frame")
        for k, v in acc.items():
            lines.append(f"    {k:45s} {1e3 * v / len(paths):6.3f} ms  {100 * v / total:5.1f} %")
    return "\n".join(lines)
