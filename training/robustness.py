"""Robustness of a checkpoint under the perturbation protocols of docs/DESIGN.md §9:

    python training/robustness.py --detector_path <yaml> --weights_path <ckpt> [--test_dataset A B]
        [--protocol deeperforensics|image|both] [--types CS GB ...] [--levels 1 3 5] [--seed 0]
        [--video_root DIR] [--out DIR] [--opts key=value ...]

DeeperForensics-1.0: 7 types (CS, CC, BW, GNC, GB, JPEG = pixelation, VC = H.264 via ffmpeg) × 5 levels.
Image-level sweep: JPEG quality, Gaussian blur (k, σ), down-resize and back, Gaussian noise. Perturbations
act on the decoded uint8 frames before the model's own resize/normalisation. With --video_root (the
dataset's source videos, in the layout preprocessing read them from) each test video is perturbed
before face detection and cropping; without it the operations are applied to the stored crops and the
output says so. VC is skipped, with a message, when ffmpeg is missing. Level "clean" equals test.py.

Writes per evaluation metrics.json + predictions.csv, and robustness.{md,csv,json} + plots/*.png
(frame and video AUC per type × level, level means, overall mean, relative drop vs clean) into --out
(default: <run folder>/robustness, or logs/robustness/<model>_<time> for a loose checkpoint).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.logging import setup_logging  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402
from training.config import load_config  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detector_path", required=True, help="detector YAML the weights were trained with")
    p.add_argument("--weights_path", required=True, help="checkpoint (.pth) written by train.py")
    p.add_argument("--test_dataset", nargs="+", help="test datasets (default: the YAML's test_dataset)")
    p.add_argument("--protocol", default="both", choices=["deeperforensics", "image", "both"])
    p.add_argument("--types", nargs="+", default=None, help="only these types (e.g. CS GB VC jpeg noise)")
    p.add_argument(
        "--levels", nargs="+", type=int, default=None, help="only these 1-based levels (1 = mildest)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random perturbations (noise, blocks)")
    p.add_argument(
        "--video_root", default=None, help="source videos of the test set (perturb before face detection)"
    )
    p.add_argument("--out", default=None, help="output folder")
    p.add_argument(
        "--opts", nargs="*", default=[], metavar="KEY=VALUE", help="dotted config overrides, applied last"
    )
    return p.parse_args(argv)


def _out_dir(args: argparse.Namespace, cfg: dict) -> Path:
    if args.out:
        return resolve_path(args.out)  # relative: against the repository root, like test.py --out
    w = Path(args.weights_path).resolve()
    if w.parent.name == "ckpt" and (w.parent.parent / "config.yaml").is_file():
        return w.parent.parent / "robustness"
    return resolve_path("logs/robustness") / f"{cfg['model_name']}_{time.strftime('%Y-%m-%d-%H-%M-%S')}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cli = {"test_dataset": args.test_dataset} if args.test_dataset else {}
    cfg = load_config(args.detector_path, cli=cli, opts=args.opts)
    from training.perturb.protocols import select
    from training.perturb.report import write_report
    from training.perturb.run import run_robustness

    select(args.protocol, args.types, args.levels)  # bad choices fail before the model loads
    out = _out_dir(args, cfg)
    setup_logging(out)
    summary = run_robustness(
        cfg, args.weights_path, out, args.protocol, args.types, args.levels, args.seed, args.video_root
    )
    w = Path(summary["checkpoint"])
    title = f"{w.parent.parent.name}/{w.name}" if w.parent.name == "ckpt" else w.name
    for note in summary["notes"]:
        print(f"note: {note}")
    for path in [out.resolve() / "robustness.json", *write_report(summary, out, title)]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
