"""Reruns the README's measured demo rows and reports any drift from the numbers the README states.

    python benchmarks/check_readme_numbers.py [--rows fbi_clip_demo clip_demo] [--tolerance 0.001] [--dry-run]

Reads the "Measured numbers" table of README.md, runs every row whose command is
`python benchmarks/bench_demo.py ...` (each takes minutes on a 2-core CPU; not part of the test suite),
and compares its `RESULT` lines with the row: frame/video AUC must agree within `--tolerance` (the
README rounds to 3 decimals); the wall time is reported, never judged (it depends on the machine's
load). Use it whenever a recipe, the data generator or the training loop changes, then update the
README. Exit code 1 when an AUC drifted.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import parse_results  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import FBIError  # noqa: E402

README = ROOT / "README.md"
BENCH = "benchmarks/bench_demo.py"
_NUMBER = r"\**([0-9]+(?:\.[0-9]+)?)\**"


@dataclass
class Row:
    name: str  # the detector YAML's stem, as in bench_demo's RESULT lines
    command: list[str]
    expected: dict[str, float]  # frame_auc, video_auc, wall_seconds (when stated)


def readme_rows(text: str) -> list[Row]:
    """The bench_demo rows of the README's "Measured numbers" table."""
    section = text.split("## Measured numbers", 1)[-1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or BENCH not in cells[2]:
            continue
        command = shlex.split(re.search(r"`([^`]*)`", cells[2]).group(1))
        yaml = next(
            (c for c in command if c.endswith(".yaml")), "training/config/detector/fbi_clip_demo.yaml"
        )
        expected = {}
        for key, pattern in (
            ("frame_auc", rf"frame AUC {_NUMBER}"),
            ("video_auc", rf"video AUC {_NUMBER}"),
            ("wall_seconds", rf"{_NUMBER} s\**\s+wall"),
        ):
            if m := re.search(pattern, cells[1]):
                expected[key] = float(m.group(1))
        if {"frame_auc", "video_auc"} <= set(expected):
            rows.append(Row(Path(yaml).stem, command, expected))
    return rows


def run_row(row: Row, extra: list[str]) -> dict[str, float]:
    """Run the row's command (plus `extra` bench_demo flags) and parse its RESULT lines."""
    cmd = [sys.executable, *row.command[1:], *extra]
    print(f"\n$ {' '.join(cmd)}", flush=True)
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(p.stdout)
    if p.returncode != 0:
        raise FBIError(f"{' '.join(row.command)} failed with exit code {p.returncode}; see its output above")
    return parse_results(p.stdout, f"{row.name}_")


def report(row: Row, measured: dict[str, float], tolerance: float) -> list[str]:
    """Print README vs measured for one row; return the drifted AUC keys."""
    drifted = []
    print(f"\n{row.name}: {'metric':<14}{'README':>10}{'measured':>12}{'drift':>10}")
    for key, want in row.expected.items():
        got = measured.get(key)
        if got is None:
            print(f"  {key:<14}{want:>10}{'missing':>12}")
            drifted.append(key)
            continue
        drift = got - want
        judged = key != "wall_seconds"
        bad = judged and abs(drift) > tolerance
        note = "DRIFT" if bad else ("ok" if judged else "(not judged: machine load)")
        print(f"  {key:<14}{want:>10.4g}{got:>12.4f}{drift:>+10.4f}  {note}")
        drifted += [key] if bad else []
    return drifted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", nargs="+", metavar="NAME", help="only these rows (detector YAML stems)")
    ap.add_argument("--tolerance", type=float, default=0.001, help="allowed |AUC drift| (default 0.001)")
    ap.add_argument("--dry-run", action="store_true", help="list the rows and their numbers, run nothing")
    ap.add_argument("--reuse-data", action="store_true", help="pass --reuse-data to bench_demo.py")
    args = ap.parse_args(argv)
    rows = readme_rows(README.read_text(encoding="utf-8"))
    if args.rows:
        unknown = sorted(set(args.rows) - {r.name for r in rows})
        if unknown:
            raise FBIError(f"--rows {unknown}: not in the README table; rows: {[r.name for r in rows]}")
        rows = [r for r in rows if r.name in args.rows]
    if not rows:
        raise FBIError(f"no `{BENCH}` rows with frame/video AUC found in {README}'s 'Measured numbers' table")
    drifted = []
    for row in rows:
        if args.dry_run:
            print(f"{row.name}: {' '.join(row.command)} -> {row.expected}")
            continue
        measured = run_row(row, ["--reuse-data"] if args.reuse_data else [])
        drifted += [f"{row.name}.{k}" for k in report(row, measured, args.tolerance)]
    if drifted:
        print(
            f"\nDRIFT beyond {args.tolerance}: {', '.join(drifted)} — update the README (or find the cause)"
        )
        return 1
    if not args.dry_run:
        print(f"\nREADME numbers reproduced within {args.tolerance}")
    return 0


if __name__ == "__main__":
    run_cli(main)
