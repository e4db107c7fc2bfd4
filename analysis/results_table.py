"""Results tables (DeepfakeBench's shape) from run / test folders, every number recomputed from predictions.csv:

    python analysis/results_table.py RUN_OR_TEST_DIR [LABEL=DIR ...] [--metric video_auc frame_auc ...]
        [--reference LABEL] [--n_boot 1000] [--boot_seed 0] [--out DIR] [--scale 100] [--decimals 1]

Rows are runs grouped by detector/config label and training set (seeds averaged: mean ± std); columns are
the test sets plus their average. For each cell: a 95 % percentile interval from a stratified bootstrap
over VIDEOS (seeded; B = --n_boot), and against the reference row (default: the first) a paired test on
the same resampled videos (Δ, its CI, the bootstrap p-value, and DeLong's p on video scores for video
AUC). A train × test matrix per detector is the cross-dataset view. The first --metric is the primary one
(paired tests and matrix). Writes results.md, results.csv (every cell at full precision, with the
predictions.csv files it came from) and one booktabs .tex per table into --out, and prints the Markdown.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.tables.build import ALL_METRICS, build_table, split_metric  # noqa: E402
from analysis.tables.flags import add_table_flags  # noqa: E402
from analysis.tables.output import markdown, write_outputs  # noqa: E402
from analysis.tables.render import Fmt  # noqa: E402
from analysis.tables.runs import TableError, collect, group_rows  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="[LABEL=]DIR",
        help="run folders, test.py --out folders, or folders of runs",
    )
    add_table_flags(p, metrics=ALL_METRICS)
    p.add_argument(
        "--reference", default=None, help="row label for the paired tests (default: the first row)"
    )
    p.add_argument("--boot_seed", type=int, default=0, help="seed of the video bootstrap")
    p.add_argument("--video_agg", choices=["mean", "max", "median"], default=None,
                   help="video score from frame probabilities (default: as each run was evaluated)")  # fmt: skip
    p.add_argument("--scale", type=float, default=100.0, help="display factor (100: AUC in percent)")
    p.add_argument("--decimals", type=int, default=1, help="decimals shown")
    p.add_argument(
        "--out",
        default=None,
        help="output folder (relative: to the repo root; default logs/tables/results_<time>)",
    )
    return p.parse_args(argv)


def reference_row(rows: dict, label: str | None) -> tuple[str, str]:
    """The row whose label (or `label (train)`) is ``label``; the first row when None."""
    if label is None:
        return next(iter(rows))
    hits = [r for r in rows if label in (r[0], f"{r[0]} ({r[1]})")]
    if len(hits) != 1:
        raise TableError(
            f"--reference {label}: {'ambiguous' if hits else 'no such row'}; rows: {[f'{a} ({b})' for a, b in rows]}"
        )
    return hits[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for m in args.metric:
        split_metric(m)
    rows = group_rows(collect(args.inputs, args.video_agg))
    ref = reference_row(rows, args.reference)
    tables = [build_table(rows, m, args.n_boot, args.boot_seed, ref) for m in args.metric]
    fmt = Fmt(args.scale, args.decimals)
    print(markdown(tables, fmt))
    out = (
        resolve_path(args.out)
        if args.out
        else resolve_path("logs/tables") / f"results_{time.strftime('%Y-%m-%d-%H-%M-%S')}"
    )
    if args.out and not Path(args.out).is_absolute():
        out = Path.cwd() / args.out
    for path in write_outputs(tables, fmt, out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
