"""Training-loader throughput, ours next to a DeepfakeBench-style reference, on the same folder and device:

    python benchmarks/bench_loader.py --dataset NAME --dataset_json_folder DIR --rgb_dir DIR
        [--lmdb --lmdb_dir DIR] [--batch 32] [--workers 2] [--batches 20] [--no-aug] [--size 224]
        [--mode ours|reference|both] [--rounds 3] [--profile] [--frame_cache auto|none|DIR]

Measures decoded, augmented (train split, `data_aug` of training/config/defaults.yaml unless
--no-aug) and mean/std-normalised batches **on the training device** per second, after 2 warm-up
batches: ours is `build_dataset` + `build_loader` (uint8 batches) then `to_device` + the detector's
normalisation on the device. Ours reads through the decoded-frame cache (`frame_cache`,
training/dataset/frame_cache.py; `--frame_cache auto`: a folder in the system temp dir, DIR: yours,
none: decode every read): before the first timed round every frame not cached yet is decoded and
resized once with the same workers, and that build — the cost of training's first epoch — is timed
and printed on its own (`cache build`), not mixed into the rates. The reference (benchmarks/reference_loader.py, written here) does
DeepfakeBench's per-sample steps and normalises in the workers. Both read the same frames with the
same workers, batch size, shuffling and prefetching. `--mode both` runs them interleaved
(A B A B ..., `--rounds` each) and reports medians and the spread. `--profile` adds a one-process
account of where each loader's time per frame goes. A folder of real-photo crops:
`python benchmarks/make_bench_crops.py`. Ends with `RESULT ours_loader_fps`, `RESULT
reference_loader_fps` and (both modes) `RESULT loader_speedup`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import yaml  # noqa: E402

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import DataError  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="dataset name (<dataset_json_folder>/<NAME>.json)")
    p.add_argument("--dataset_json_folder", required=True)
    p.add_argument("--rgb_dir", required=True, help="folder the JSON's frame paths are relative to")
    p.add_argument("--lmdb", action="store_true", help="read frames from <lmdb_dir>/<Dataset>_lmdb")
    p.add_argument("--lmdb_dir", default=None)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batches", type=int, default=20, help="timed batches per round (after 2 warm-up)")
    p.add_argument("--no-aug", dest="aug", action="store_false", help="no training augmentation")
    p.add_argument("--size", type=int, default=224, help="network input size")
    p.add_argument("--mode", choices=["ours", "reference", "both"], default="both")
    p.add_argument("--rounds", type=int, default=3, help="rounds per loader (interleaved with --mode both)")
    p.add_argument("--profile", action="store_true", help="also time each step per frame in one process")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--frame_cache",
        default="auto",
        help="ours: decoded-frame cache folder (auto: <temp dir>/fbi_bench_frame_cache; none: decode every read)",
    )
    args = p.parse_args(argv)
    if args.lmdb and not args.lmdb_dir:
        p.error("--lmdb needs --lmdb_dir")
    if min(args.batch, args.batches, args.rounds) < 1 or args.workers < 0 or args.size < 16:
        p.error("--batch, --batches and --rounds must be >= 1, --workers >= 0, --size >= 16")
    return args


def bench_config(args: argparse.Namespace) -> dict:
    """defaults.yaml with this benchmark's data settings (what train.py would resolve)."""
    cfg = yaml.safe_load((ROOT / "training" / "config" / "defaults.yaml").read_text(encoding="utf-8"))
    cfg.update(
        rgb_dir=str(resolve_path(args.rgb_dir)),
        dataset_json_folder=str(resolve_path(args.dataset_json_folder)),
        lmdb=bool(args.lmdb),
        lmdb_dir=str(resolve_path(args.lmdb_dir)) if args.lmdb_dir else cfg.get("lmdb_dir"),
        train_dataset=[args.dataset],
        frame_num={"train": None, "val": None, "test": None},
        workers=args.workers,
        train_batchSize=args.batch,
        use_data_augmentation=bool(args.aug),
        frame_cache=frame_cache_dir(args),
    )
    return cfg


def frame_cache_dir(args: argparse.Namespace) -> str | None:
    if args.frame_cache == "none":
        return None
    if args.frame_cache == "auto":
        return str(Path(tempfile.gettempdir()) / "fbi_bench_frame_cache")
    return str(resolve_path(args.frame_cache))


def ours(cfg: dict, args: argparse.Namespace, device: torch.device):
    """(loader, per-batch device step) of the framework's own training path."""
    from training.dataset import build_dataset, build_loader
    from training.trainer.build import to_device
    from training.utils.pixels import normalize

    spec = {"size": args.size, "mean": CLIP_MEAN, "std": CLIP_STD}
    ds = build_dataset(cfg, "train", [args.dataset], spec)
    if ds.cache is not None and ds.cache.filled() < ds.cache.n:
        from training.dataset.frame_cache import fill_cache

        before, t0 = ds.cache.filled(), time.perf_counter()
        fill_cache(ds, args.workers, desc="cache build")
        dt = time.perf_counter() - t0
        print(
            f"cache build: {ds.cache.filled() - before} frames decoded and stored in {dt:.1f} s "
            f"({(ds.cache.filled() - before) / dt:.0f} frames/s with {args.workers} workers; "
            f"{ds.cache.n * args.size * args.size * 3 / 2**20:.0f} MiB at {ds.cache.path})",
            flush=True,
        )
    loader = build_loader(ds, cfg, train=True, distributed=False)
    mean = torch.tensor(CLIP_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=device).view(1, 3, 1, 1)

    def step(batch: dict) -> torch.Tensor:
        return normalize(to_device(batch, device)["image"], mean, std)

    return loader, step


def reference(cfg: dict, args: argparse.Namespace, device: torch.device):
    """(loader, per-batch device step) of the DeepfakeBench-style reference."""
    from benchmarks.reference_loader import ReferenceDataset, reference_loader
    from training.dataset.index import build_index, dataset_folder

    records = build_index([args.dataset], "train", cfg)
    if args.lmdb:
        env = resolve_path(args.lmdb_dir) / f"{dataset_folder(args.dataset)}_lmdb"
        items = [(f, r.label) for r in records for f in r.frames]
    else:
        env, rgb = None, Path(cfg["rgb_dir"])
        items = [(str(rgb / f), r.label) for r in records for f in r.frames]
    aug = cfg["data_aug"] if args.aug else None
    ds = ReferenceDataset(items, args.size, CLIP_MEAN, CLIP_STD, aug, lmdb_path=env)
    loader = reference_loader(ds, args.batch, args.workers, seed=int(cfg["manualSeed"]))

    def step(batch: dict) -> torch.Tensor:
        return batch["image"].to(device, non_blocking=True)

    return loader, step


def measure(make, cfg: dict, args: argparse.Namespace, device: torch.device) -> float:
    """Images per second over `--batches` batches after 2 warm-up batches (epochs repeat as needed)."""
    loader, step = make(cfg, args, device)
    if len(loader) < 1:
        raise DataError(f"{args.dataset}: fewer training frames than one batch of {args.batch}")

    def batches(dl):
        while True:
            yield from dl

    it, n_img = batches(loader), 0
    for _ in range(2):
        step(next(it))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(args.batches):
        n_img += int(step(next(it)).shape[0])
    sync()
    fps = n_img / (time.perf_counter() - t0)
    del it, loader  # stops the persistent workers before the next round starts its own
    return fps


def summary(name: str, values: list[float]) -> str:
    med = statistics.median(values)
    spread = f"min {min(values):.0f} / max {max(values):.0f}" if len(values) > 1 else "one round"
    return f"{name:9s} median {med:7.1f} img/s  ({spread}; rounds: {', '.join(f'{v:.0f}' for v in values)})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    cfg = bench_config(args)
    makers = {"ours": ours, "reference": reference}
    names = ["ours", "reference"] if args.mode == "both" else [args.mode]
    results: dict[str, list[float]] = {n: [] for n in names}
    print(
        f"{args.dataset}: batch {args.batch}, {args.workers} workers, {args.size} px, "
        f"augmentation {'on' if args.aug else 'off'}, device {device}, {args.batches} timed batches/round"
    )
    for r in range(args.rounds):
        for n in names:  # A B A B ...: drifting machine load hits both loaders alike
            results[n].append(measure(makers[n], cfg, args, device))
            print(f"round {r + 1} {n:9s} {results[n][-1]:7.1f} img/s", flush=True)
    for n in names:
        print(summary(n, results[n]))
    if args.profile:
        from benchmarks.loader_profile import profile

        print(profile(cfg, args))
    med = {n: statistics.median(v) for n, v in results.items()}
    for n in names:
        print(f"RESULT {n}_loader_fps {med[n]:.1f}")
    if args.mode == "both":
        print(f"RESULT loader_speedup {med['ours'] / med['reference']:.2f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
