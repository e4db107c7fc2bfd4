"""The `RESULT <name> <value>` lines the benchmarks end with: written and read here (check_readme_numbers.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping


def result_lines(values: Mapping[str, object]) -> str:
    """One `RESULT <name> <value>` line per item, in order; values come formatted (the precision is the bench's)."""
    return "\n".join(f"RESULT {name} {value}" for name, value in values.items())


def parse_results(text: str, prefix: str = "") -> dict[str, float]:
    """The numbers of the RESULT lines in `text` whose name starts with `prefix`, keyed without the prefix."""
    found = re.findall(rf"^RESULT {re.escape(prefix)}(\w+) ([0-9.eE+-]+)$", text, re.M)
    return {name: float(value) for name, value in found}
