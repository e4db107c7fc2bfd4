"""Writing a set of results tables: one Markdown file, one long-format CSV and one LaTeX file per view."""

from __future__ import annotations

from pathlib import Path

from analysis.tables.build import Table
from analysis.tables.render import Fmt, Grid, ci_grid, matrix_grids, paired_grid, results_grid, to_csv
from fbi_common.io import atomic_write_text


def views(table: Table, fmt: Fmt, primary: bool) -> list[tuple[str, Grid]]:
    """(name, grid) of a table: results and CI always; the paired tests and matrix for the primary metric."""
    m = table.metric
    out = [(m, results_grid(table, fmt)), (f"{m}_ci", ci_grid(table, fmt))]
    if primary:
        paired = paired_grid(table, fmt)
        if paired is not None:
            out.append((f"{m}_paired", paired))
        out += [(f"{m}_matrix{i}", g) for i, g in enumerate(matrix_grids(table, fmt))]
    return out


def markdown(tables: list[Table], fmt: Fmt, heading: str = "") -> str:
    parts = [f"# {heading}\n"] if heading else []
    for i, t in enumerate(tables):
        parts += [g.markdown() for _, g in views(t, fmt, primary=i == 0)]
        parts += [f"Note: {n}\n" for n in t.notes]
    return "\n".join(parts)


def write_outputs(tables: list[Table], fmt: Fmt, out_dir: Path, stem: str = "results") -> list[Path]:
    """`<stem>.md`, `<stem>.csv` and `<stem>_<view>.tex` per view into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        atomic_write_text(out_dir / f"{stem}.md", markdown(tables, fmt)),
        atomic_write_text(out_dir / f"{stem}.csv", to_csv(tables)),
    ]
    for i, t in enumerate(tables):
        for name, grid in views(t, fmt, primary=i == 0):
            label = f"tab:{stem}_{name}".replace("_", "-")
            written.append(atomic_write_text(out_dir / f"{stem}_{name}.tex", grid.latex(label)))
    return [p.resolve() for p in written]
