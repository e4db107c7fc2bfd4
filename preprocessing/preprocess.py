"""Entry script: videos -> aligned face crops, landmarks and masks (docs/DESIGN.md §2 layout) with a resumable ledger."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import DataError  # noqa: E402
from preprocessing.fbi_prep.runner import run  # noqa: E402
from preprocessing.fbi_prep.settings import run_step  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    cfg, summary = run_step("preprocess", __doc__, argv, run)
    # Failed videos are recorded, not fatal; it is an error only when nothing at all was usable.
    counts = summary["counts"]
    if counts.get("ok", 0) + counts.get("partial", 0) == 0 and summary["failures"]:
        video, status, why = summary["failures"][0]
        raise DataError(
            f"none of the {len(summary['failures'])} videos could be processed (e.g. {video}: {status}, {why}); "
            f"every failure is recorded in {summary['ledger']}. Check that --root holds the videos"
            + (" (or use --retry_failed after fixing them)" if not cfg["retry_failed"] else "")
        )
    return 0


if __name__ == "__main__":
    run_cli(main)
