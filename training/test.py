"""Evaluate a checkpoint on every test set:
`python training/test.py --detector_path <yaml> --weights_path <ckpt> [--test_dataset A B]`.

Accepts our checkpoints, DDP (`module.`) / torch.compile (`_orig_mod.`) state dicts and plain
state_dicts of the same architecture (loaded with weights_only=True). Writes metrics.json and
predictions.csv per test set and prints the summary table.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from training.config import load_config  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detector_path", required=True, help="detector YAML the weights were trained with")
    p.add_argument(
        "--weights_path",
        nargs="+",
        required=True,
        help="checkpoint (.pth) or plain state_dict; several: an ensemble",
    )
    p.add_argument(
        "--ensemble", choices=["mean", "vote"], default="mean", help="several checkpoints: soft/majority vote"
    )
    p.add_argument(
        "--ensemble_weights", type=float, nargs="+", help="one weight per checkpoint (default equal)"
    )
    p.add_argument("--test_dataset", nargs="+", help="test datasets (default: the YAML's test_dataset)")
    p.add_argument("--out", help="output folder (default: logs/test/<model>_<time>)")
    p.add_argument("--save_feat", action=argparse.BooleanOptionalAction, default=None, help="save features")
    p.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--opts", nargs="*", default=[], metavar="KEY=VALUE", help="dotted overrides, applied last"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    cli = {
        k: v
        for k, v in {"test_dataset": args.test_dataset, "save_feat": args.save_feat}.items()
        if v is not None
    }
    cfg = load_config(args.detector_path, cli=cli, opts=args.opts)
    from training.trainer.runner import finish, run_test

    if len(args.weights_path) > 1:
        from training.inference.ensemble_eval import run_ensemble_test

        results = run_ensemble_test(cfg, args.weights_path, args.out, args.ensemble, args.ensemble_weights)
    else:
        results = run_test(cfg, args.weights_path[0], out_dir=args.out)
    summary = finish(results)
    if summary:
        print(summary)
    return 0


if __name__ == "__main__":
    run_cli(main)
