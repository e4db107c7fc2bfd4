"""CLI: recompute every metric from a predictions.csv (`python -m training.metrics predictions.csv`).

Works from any directory once the package is importable (`pip install -e .`, or run from the repo root).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fbi_common.cli import run_cli
from fbi_common.errors import DataError
from fbi_common.logging import setup_logging
from fbi_common.paths import resolve_path
from training.metrics.core import VIDEO_AGGS, calibrate_threshold, compute_metrics
from training.metrics.io import format_metrics_table, read_predictions_csv, write_metrics_json


def _existing(p: str) -> Path:
    """A path typed on the command line: as given (cwd-relative) if it exists, else repo-root-relative."""
    path = Path(p).expanduser()
    if path.exists():
        return path
    alt = resolve_path(p)
    if alt.exists():
        return alt
    raise argparse.ArgumentTypeError(f"file not found: '{p}' (tried {path.resolve()} and {alt})")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m training.metrics",
        description="Recompute frame/video metrics (docs/DESIGN.md §5) from a predictions.csv "
        "(columns video_key,frame,label,prob[,label_name,...]).",
    )
    ap.add_argument("predictions", type=_existing, help="predictions.csv written by test.py / the trainer")
    ap.add_argument("--video-agg", choices=VIDEO_AGGS, default="mean", help="pool frame probs per video")
    thr = ap.add_mutually_exclusive_group()
    thr.add_argument("--threshold", type=float, default=None, help="decision threshold for ACC@thr")
    thr.add_argument(
        "--threshold-from",
        type=_existing,
        default=None,
        metavar="VAL_CSV",
        help="calibrate the threshold (Youden's J) on a validation predictions.csv",
    )
    ap.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the metrics as JSON")
    return ap.parse_args(argv)


def recompute(args: argparse.Namespace) -> dict:
    """Every metric of `args.predictions`; a problem in a file is a DataError that names it."""
    threshold = args.threshold
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise DataError(f"--threshold {threshold} is not a probability; give a value in [0, 1]")
    if args.threshold_from is not None:
        val = read_predictions_csv(args.threshold_from)
        try:
            threshold = calibrate_threshold(val["label"], val["prob"])
        except DataError as e:
            raise DataError(f"--threshold-from {args.threshold_from}: {e}") from None
    pred = read_predictions_csv(args.predictions)
    try:
        return compute_metrics(
            pred["label"],
            pred["prob"],
            pred["video_key"],
            pred["label_name"],
            video_agg=args.video_agg,
            threshold=threshold,
        )
    except DataError as e:
        raise DataError(f"{args.predictions}: {e}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(None)
    metrics = recompute(args)
    print(f"{args.predictions.resolve()}\n")
    print(format_metrics_table(metrics))
    if args.json is not None:
        out = args.json if args.json.is_absolute() else Path.cwd() / args.json
        print(f"\nwrote {write_metrics_json(out, metrics).resolve()}")
    return 0


if __name__ == "__main__":
    run_cli(main)
