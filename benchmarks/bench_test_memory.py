"""Peak memory of `training/test.py` on a large synthetic test set (does evaluation stay bounded?):

    python benchmarks/bench_test_memory.py [--frames 100000 10000] [--out benchmarks/out/test_memory]
        [--workers 2] [--batch 256]

For each size N it writes a DeepfakeBench-format test set of N frames (32 per video, half real, half
"fake"; every frame a symbolic link to one of a few small PNG crops, so writing 100k frames takes
seconds and little disk), a tiny random-init CLIP ViT (32 px) as a plain state_dict, runs `test.py`
on it in a fresh process and reports that process tree's peak resident memory (the largest process:
`getrusage(RUSAGE_CHILDREN).ru_maxrss`) and its wall time. Memory that grows with N is what a
DFDC-sized set would multiply: compare the sizes. Ends with `RESULT test_peak_rss_mib_<N> X`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402

NAME = "Celeb-DF-v2"
LABELS = (("CelebDFv2_real", "Celeb-real"), ("CelebDFv2_fake", "Celeb-synthesis"))
TINY_VIT = "model.vision_cfg={width: 32, layers: 2, head_width: 16, patch_size: 8, image_size: 32}"
DETECTOR = "training/config/detector/clip_demo.yaml"
PER_VIDEO = 32


def build_set(out: Path, n_frames: int) -> Path:
    """`out/rgb/<NAME>/...` symlinked frames and `out/dataset_json/<NAME>.json` (test split only)."""
    rng = np.random.default_rng(0)
    src = out / "sources"
    src.mkdir(parents=True, exist_ok=True)
    sources = []
    for i in range(8):
        p = src / f"{i}.png"
        cv2.imwrite(str(p), rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))
        sources.append(p)
    tree: dict = {label: {"train": {}, "val": {}, "test": {}} for label, _ in LABELS}
    n_videos = max(2, n_frames // PER_VIDEO)
    for v in range(n_videos):
        label, folder = LABELS[v % 2]
        video = f"id{v}_{v:06d}"
        rels = []
        for i in range(PER_VIDEO):
            rel = f"{NAME}/{folder}/frames/{video}/{i:03d}.png"
            path = out / "rgb" / rel
            if not path.is_symlink():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.symlink_to(sources[(v + i) % len(sources)])
            rels.append(f"./datasets/rgb/{rel}")
        tree[label]["test"][video] = {"label": label, "frames": rels}
    js = out / "dataset_json" / f"{NAME}.json"
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps({NAME: tree}))
    return js


def tiny_weights(path: Path) -> Path:
    import torch

    from training.config import load_config
    from training.trainer.build import build_detector

    cfg = load_config(DETECTOR, opts=[TINY_VIT])
    torch.manual_seed(0)
    model = build_detector(
        cfg, {"num_identities": 1, "label_names": sorted(cfg["label_dict"]), "identity_map": {}}
    )
    torch.save(model.state_dict(), path)
    return path


def run_test(out: Path, weights: Path, workers: int, batch: int) -> tuple[float, float, str]:
    """(peak RSS MiB of the largest process, wall seconds, the summary table) of one test.py run."""
    cmd = [
        sys.executable,
        str(ROOT / "training" / "test.py"),
        "--detector_path",
        DETECTOR,
        "--weights_path",
        str(weights),
        "--test_dataset",
        NAME,
        "--out",
        str(out / "run"),
        "--opts",
        TINY_VIT,
        f"rgb_dir={out / 'rgb'}",
        f"dataset_json_folder={out / 'dataset_json'}",
        f"workers={workers}",
        f"test_batchSize={batch}",
        f"frame_num={{train: {PER_VIDEO}, val: {PER_VIDEO}, test: {PER_VIDEO}}}",
        f"log_dir={out / 'logs'}",
    ]
    # a fresh interpreter per size: RUSAGE_CHILDREN is a running maximum over every waited child
    probe = (
        "import resource, subprocess, sys, time; t0 = time.perf_counter(); "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t0, p.returncode); "
        "sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])"
    )
    p = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, cwd=ROOT)
    kib, wall, rc = p.stdout.split()
    if int(rc) != 0:
        raise RuntimeError(f"test.py failed (exit {rc}):\n{p.stderr}")
    return int(kib) / 1024, float(wall), p.stderr


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, nargs="+", default=[100000, 10000], help="test-set sizes")
    p.add_argument("--out", default="benchmarks/out/test_memory")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    args = p.parse_args(argv)
    if min(args.frames) < 2 * PER_VIDEO or args.workers < 0 or args.batch < 1:
        p.error(f"--frames must be >= {2 * PER_VIDEO}, --workers >= 0, --batch >= 1")
    root = resolve_path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    weights = tiny_weights(root / "tiny_clip.pth")
    results = {}
    for n in args.frames:
        out = root / f"n{n}"
        t0 = time.perf_counter()
        build_set(out, n)
        made = time.perf_counter() - t0
        rss, wall, log = run_test(out, weights, args.workers, args.batch)
        frames = (out / "run" / NAME / "predictions.csv").read_text(encoding="utf-8").count("\n") - 1
        results[n] = rss
        print(
            f"{frames} frames: peak RSS {rss:.0f} MiB, test.py {wall:.0f} s ({frames / wall:.0f} frames/s; "
            f"set written in {made:.0f} s), {args.workers} workers, batch {args.batch}",
            flush=True,
        )
    for n, rss in results.items():
        print(f"RESULT test_peak_rss_mib_{n} {rss:.0f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
