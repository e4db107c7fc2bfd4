"""Entry script: dataset doctor — every referenced frame/mask exists and decodes (files or LMDB), label names
are known, frames-per-video histogram, class counts per split, train/val/test overlaps, missing landmarks.
Prints a readable report; exits non-zero when it finds errors."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from preprocessing.fbi_prep.doctor import diagnose  # noqa: E402
from preprocessing.fbi_prep.settings import build_parser, resolve_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("doctor", __doc__)
    cfg = resolve_settings("doctor", parser.parse_args(argv))
    report = diagnose(cfg)
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    run_cli(main)
