"""Measures the README's demo main job: wall time (budget 5 min on 2 CPU cores) and held-out video AUC.

    python benchmarks/bench_demo.py [--detector_path training/config/detector/fbi_clip_demo.yaml]

Runs the exact README command in a subprocess (fresh demo data under benchmarks/out/ unless
--reuse-data), then prints the numbers and `RESULT` lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import result_lines  # noqa: E402
from fbi_common.cli import positive_int, run_cli  # noqa: E402


def _torch_version() -> str:
    from importlib.metadata import version

    return version("torch")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detector_path", default="training/config/detector/fbi_clip_demo.yaml")
    p.add_argument("--reuse-data", action="store_true", help="keep an existing demo dataset")
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch threads of the training process (OMP_NUM_THREADS; default: all cores). AUCs match "
        "to the last digit only at the same thread count, torch build and CPU",
    )
    p.add_argument("--opts", nargs="*", default=[])
    args = p.parse_args(argv)
    out = ROOT / "benchmarks" / "out"
    run_name = f"bench_{Path(args.detector_path).stem}_{time.strftime('%H%M%S')}"
    opts = [
        f"log_dir={out}",
        f"run_name={run_name}",
        f"rgb_dir={out / 'rgb'}",
        f"dataset_json_folder={out / 'dataset_json'}",
        *args.opts,
    ]
    if not args.reuse_data:
        for d in (out / "rgb", out / "dataset_json"):
            shutil.rmtree(d, ignore_errors=True)
    cmd = [sys.executable, "training/train.py", "--detector_path", args.detector_path, "--opts", *opts]
    env = {**os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})}
    threads = env.get("OMP_NUM_THREADS") or str(os.cpu_count())
    print(
        f"torch {_torch_version()}, {threads} threads, {platform.processor() or platform.machine()}",
        flush=True,
    )
    t0 = time.time()
    code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    if code != 0:
        return code  # train.py printed its own `error:` line
    wall = time.time() - t0
    res = json.loads((out / run_name / "test" / "results.json").read_text())["FBI-Demo"]
    name = Path(args.detector_path).stem
    print(
        f"\n{name}: wall {wall:.0f} s (budget 300 s) | held-out identities: frame AUC {res['frame_auc']:.3f}, "
        f"video AUC {res['video_auc']:.3f} ({res['n_videos']} videos, {res['n_frames']} frames)"
    )
    values = {"threads": threads, "wall_seconds": f"{wall:.1f}", "frame_auc": f"{res['frame_auc']:.4f}",
              "video_auc": f"{res['video_auc']:.4f}"}  # fmt: skip
    print(result_lines({f"{name}_{k}": v for k, v in values.items()}))
    return 0


if __name__ == "__main__":
    run_cli(main)
