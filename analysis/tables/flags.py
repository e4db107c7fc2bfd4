"""The table flags results_table.py, ablation.py and reproduce.py share: one default and one help text each."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from analysis.tables.build import ALL_METRICS, N_BOOT


def add_table_flags(p: argparse.ArgumentParser, metrics: Sequence[str] | None = None) -> None:
    """--n_boot and, when `metrics` is given (the default list, primary first), --metric."""
    if metrics is not None:
        p.add_argument("--metric", nargs="+", default=list(metrics),
                       help=f"table metrics, primary first; of {list(ALL_METRICS)}")  # fmt: skip
    p.add_argument(
        "--n_boot", type=int, default=N_BOOT, help=f"bootstrap replicates over videos (default {N_BOOT})"
    )
