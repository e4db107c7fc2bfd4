"""Decode time per crop, PNG vs JPEG, on the same images (one OpenCV thread, as in a DataLoader worker):

    python benchmarks/make_bench_crops.py --out benchmarks/out/crops
    python benchmarks/make_bench_crops.py --out benchmarks/out/crops_jpg --image_format jpg
    python benchmarks/bench_decode.py [--png benchmarks/out/crops/rgb] [--jpg benchmarks/out/crops_jpg/rgb]
        [--n 256] [--rounds 5]

Takes the first `--n` frames (files under a `frames/` folder) of each tree — the two
make_bench_crops.py folders hold the same images, written as PNG (compression 3) and JPEG quality
95 — and times, per crop, `cv2.imdecode` of the bytes already in memory (straight to RGB, what the
loaders' `decode_rgb` does: the decode alone) and `cv2.imread` of the file (page-cached: + open and
read). Rounds alternate PNG and JPEG (A B A B ...) and the medians are reported. Ends with `RESULT
png_decode_ms`, `RESULT jpg_decode_ms` (imdecode, ms per crop) and `RESULT png_over_jpg_decode`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import DataError  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402
from training.dataset.readers import decode_rgb  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--png", default="benchmarks/out/crops/rgb", help="tree of PNG crops")
    p.add_argument("--jpg", default="benchmarks/out/crops_jpg/rgb", help="tree of the same crops as JPEG")
    p.add_argument("--n", type=int, default=256, help="crops per format")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per format (interleaved)")
    args = p.parse_args(argv)
    if args.n < 1 or args.rounds < 1:
        p.error("--n and --rounds must be >= 1")
    return args


def crops(root: str, ext: str, n: int) -> list[Path]:
    """The first n `<root>/**/frames/**/*.<ext>` files in sorted order."""
    path = resolve_path(root)
    files = sorted(f for f in path.rglob(f"*.{ext}") if "frames" in f.relative_to(path).parts)[:n]
    if not files:
        raise DataError(
            f"no .{ext} crops under {path}/**/frames/: make them with `python benchmarks/make_bench_crops.py "
            f"--out {path.parent}{' --image_format jpg' if ext == 'jpg' else ''}` or pass --{ext} DIR"
        )
    return files


def time_decode(bufs: list[np.ndarray]) -> float:
    """ms per crop for cv2.imdecode (to RGB) of in-memory bytes."""
    t0 = time.perf_counter()
    for b in bufs:
        if decode_rgb(b) is None:
            raise DataError("cv2.imdecode failed on a benchmark crop")
    return (time.perf_counter() - t0) * 1e3 / len(bufs)


def time_imread(files: list[Path]) -> float:
    """ms per crop for cv2.imread of the (page-cached) file."""
    t0 = time.perf_counter()
    for f in files:
        cv2.imread(str(f), cv2.IMREAD_COLOR)
    return (time.perf_counter() - t0) * 1e3 / len(files)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cv2.setNumThreads(1)
    files = {"png": crops(args.png, "png", args.n), "jpg": crops(args.jpg, "jpg", args.n)}
    bufs = {k: [np.fromfile(f, np.uint8) for f in v] for k, v in files.items()}
    for k in files:
        shape = decode_rgb(bufs[k][0]).shape
        kib = sum(b.size for b in bufs[k]) / len(bufs[k]) / 1024
        print(f"{k}: {len(files[k])} crops of {shape[1]}x{shape[0]} px, {kib:.0f} KiB each on average")
        time_decode(bufs[k][:16]), time_imread(files[k][:16])  # warm-up
    dec: dict[str, list[float]] = {"png": [], "jpg": []}
    rd: dict[str, list[float]] = {"png": [], "jpg": []}
    for r in range(args.rounds):
        for k in ("png", "jpg"):
            dec[k].append(time_decode(bufs[k]))
            rd[k].append(time_imread(files[k]))
            print(
                f"round {r + 1} {k}: imdecode {dec[k][-1]:.3f} ms, imread {rd[k][-1]:.3f} ms per crop",
                flush=True,
            )
    med = {k: statistics.median(v) for k, v in dec.items()}
    for k in ("png", "jpg"):
        print(
            f"{k}: imdecode median {med[k]:.3f} ms (min {min(dec[k]):.3f} / max {max(dec[k]):.3f}), "
            f"imread median {statistics.median(rd[k]):.3f} ms per crop"
        )
    print(f"RESULT png_decode_ms {med['png']:.3f}")
    print(f"RESULT jpg_decode_ms {med['jpg']:.3f}")
    print(f"RESULT png_over_jpg_decode {med['png'] / med['jpg']:.2f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
