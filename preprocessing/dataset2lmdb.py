"""Entry script: processed folders -> <lmdb_dir>/<Dataset>_lmdb, resumable, verified after writing."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from preprocessing.fbi_prep.lmdb_io import write_lmdb  # noqa: E402
from preprocessing.fbi_prep.settings import run_step  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    run_step("dataset2lmdb", __doc__, argv, write_lmdb)
    return 0


if __name__ == "__main__":
    run_cli(main)
