"""Entry script: processed frame folders -> preprocessing/dataset_json/<Dataset>.json (docs/DESIGN.md §2)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.logging import setup_logging  # noqa: E402
from preprocessing.fbi_prep.rearrange import write_jsons  # noqa: E402
from preprocessing.fbi_prep.settings import build_parser, resolve_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("rearrange", __doc__)
    cfg = resolve_settings("rearrange", parser.parse_args(argv))
    setup_logging()
    write_jsons(cfg)
    return 0


if __name__ == "__main__":
    run_cli(main)
