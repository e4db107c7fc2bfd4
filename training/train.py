"""Train a detector: `python training/train.py --detector_path training/config/detector/<name>.yaml`.

Thin CLI: parses flags, resolves the config (defaults <- YAML <- flags <- --opts) and calls the runner.
Multi-GPU/multi-node: `sh train.sh <yaml> [flags]` (torchrun) — the same flags apply.
Ctrl-C (or SIGTERM) stops after the current step, saves ckpt/last.pth and prints the resume command.
Add --debug (or set FBI_DEBUG=1) to see the traceback behind an `error:` line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from training.config import ConfigError, load_config  # noqa: E402
from training.config.choices import SELECT_ON  # noqa: E402
from training.registry import DETECTORS  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--detector_path",
        help="detector YAML (relative to the repo root or the cwd); with --resume, default: the run's config.yaml",
    )
    p.add_argument("--train_dataset", nargs="+", help="training datasets (names of dataset_json/<Name>.json)")
    p.add_argument("--test_dataset", nargs="+", help="test datasets")
    p.add_argument(
        "--save_ckpt", action=argparse.BooleanOptionalAction, default=None, help="write checkpoints"
    )
    p.add_argument(
        "--save_feat", action=argparse.BooleanOptionalAction, default=None, help="save test features"
    )
    p.add_argument(
        "--ddp", action="store_true", help="distributed training (launch with torchrun / train.sh)"
    )
    p.add_argument(
        "--resume",
        metavar="RUN_OR_CKPT",
        help="continue a run folder (or its ckpt/last.pth); flags may change only nEpochs/max_steps/workers",
    )
    p.add_argument("--select_on", choices=SELECT_ON, help="checkpoint selection split (default: val)")
    p.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)  # legacy launcher
    p.add_argument(
        "--opts", nargs="*", default=[], metavar="KEY=VALUE", help="dotted overrides, applied last"
    )
    p.add_argument("--list", action="store_true", help="list registered detectors and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        import training.detectors  # noqa: F401

        for name in DETECTORS.names():
            doc = (DETECTORS.get(name).__doc__ or "").strip().splitlines()
            print(f"{name:24s} {doc[0] if doc else ''}")
        return 0
    if args.resume and not args.detector_path:
        from training.trainer.runfolder import resume_yaml

        args.detector_path = str(resume_yaml(args.resume))  # the run's own config
    if not args.detector_path:
        raise ConfigError(
            "--detector_path is required (e.g. training/config/detector/fbi_clip_demo.yaml), or --list"
        )
    if args.local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    cli = {
        k: v
        for k, v in {
            "train_dataset": args.train_dataset,
            "test_dataset": args.test_dataset,
            "save_ckpt": args.save_ckpt,
            "save_feat": args.save_feat,
            "select_on": args.select_on,
            "ddp": True if args.ddp or int(os.environ.get("WORLD_SIZE", 1)) > 1 else None,
        }.items()
        if v is not None
    }
    cfg = load_config(args.detector_path, cli=cli, opts=args.opts)
    from training.trainer.runner import finish, run_training

    summary = finish(run_training(cfg, resume=args.resume))
    if summary:
        print(summary)
    return 0


if __name__ == "__main__":
    run_cli(main)
