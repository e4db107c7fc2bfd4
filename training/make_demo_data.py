"""CLI: write the embedded demo datasets (FBI-Demo, the cross-domain FBI-Demo-X, the identity-rich FBI-Demo-ID) and optionally preview contact sheets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import FBIError  # noqa: E402
from fbi_common.logging import get_logger, setup_logging  # noqa: E402
from training.dataset.demo_data import DEMO_DATASETS, build_demo_dataset  # noqa: E402
from training.dataset.demo_preview import save_preview  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rgb_dir", default="datasets/rgb", help="frame root (relative paths: repo root)")
    ap.add_argument("--json_folder", default="preprocessing/dataset_json", help="where FBI-Demo.json goes")
    ap.add_argument(
        "--dataset",
        nargs="+",
        default=["FBI-Demo"],
        choices=DEMO_DATASETS,
        help="which demo datasets to build (FBI-Demo-X: the cross-domain recipe; FBI-Demo-ID: a different photo per video, for the identity probe; all share the identity split)",
    )
    ap.add_argument("--size", type=int, default=64, help="frame size in pixels")
    ap.add_argument("--videos_per_class", type=int, default=2)
    ap.add_argument("--frames_per_video", type=int, default=4)
    ap.add_argument(
        "--split",
        type=float,
        nargs=3,
        default=(0.6, 0.1, 0.3),
        metavar=("TRAIN", "VAL", "TEST"),
        help="identity fractions per split",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overwrite", action="store_true", help="rebuild even if an identical build exists")
    ap.add_argument(
        "--preview",
        default=None,
        help="also write a real/fake/mask contact sheet (PNG) here (with several datasets: <stem>_<dataset>.png)",
    )
    args = ap.parse_args(argv)
    setup_logging()
    for dataset in args.dataset:
        try:
            json_path = build_demo_dataset(
                args.rgb_dir,
                args.json_folder,
                size=args.size,
                videos_per_class=args.videos_per_class,
                frames_per_video=args.frames_per_video,
                split=tuple(args.split),
                seed=args.seed,
                overwrite=args.overwrite,
                dataset=dataset,
            )
        except ValueError as e:  # the builder's checks of these flags
            raise FBIError(f"{e} (see --help for the flags)") from e
        print(json_path)
        if args.preview:
            out = Path(args.preview)
            if len(args.dataset) > 1:
                out = out.with_name(f"{out.stem}_{dataset}{out.suffix}")
            out = save_preview(json_path, args.rgb_dir, out)
            get_logger("make_demo_data").info("preview written to %s", out)
            print(out)
    return 0


if __name__ == "__main__":
    run_cli(main)
