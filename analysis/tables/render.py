"""Rendering tables as Markdown (GitHub pipes), LaTeX (booktabs) and CSV; the views of a results `Table`.

A `Grid` is markup-free: each cell is text plus flags (bold = best in its column, mark = significant vs
the reference row), so Markdown and LaTeX are rendered from the same content. Numbers are scaled (×100 by
default: AUC 0.977 → 97.7) for display only; the CSV keeps the raw values at full precision.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from analysis.tables.build import AVERAGE, Cell, Table, best_rows, split_metric

SIGNIFICANT = 0.05
METRIC_NAMES = {"auc": "AUC", "eer": "EER", "ap": "AP"}


@dataclass
class Fmt:
    scale: float = 100.0
    decimals: int = 1

    def num(self, v: float, signed: bool = False) -> str:
        if v is None or not math.isfinite(v):
            return "n/a"
        text = f"{v * self.scale:+.{self.decimals}f}" if signed else f"{v * self.scale:.{self.decimals}f}"
        return text.replace("-", "−")

    @staticmethod
    def p(v: float) -> str:
        if v is None or not math.isfinite(v):
            return "n/a"
        return f"{v:.3f}" if v >= 0.001 else "<0.001"


@dataclass
class Grid:
    title: str
    header: list[str]
    rows: list[list[str]]
    bold: set[tuple[int, int]] = field(default_factory=set)  # (row, column) indices
    marked: set[tuple[int, int]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        def cell(i: int, j: int, text: str) -> str:
            text = f"**{text}**" if (i, j) in self.bold else text
            return text + ("†" if (i, j) in self.marked else "")

        lines = [f"**{self.title}**", "", "| " + " | ".join(self.header) + " |"]
        lines.append("|" + "|".join([":---"] + ["---:"] * (len(self.header) - 1)) + "|")
        lines += [
            "| " + " | ".join(cell(i, j, t) for j, t in enumerate(r)) + " |" for i, r in enumerate(self.rows)
        ]
        lines += [""] + [f"{n}  " for n in self.notes] if self.notes else []
        return "\n".join(lines).rstrip() + "\n"

    def latex(self, label: str = "") -> str:
        def cell(i: int, j: int, text: str) -> str:
            text = latex_escape(text)
            text = f"\\textbf{{{text}}}" if (i, j) in self.bold else text
            return text + ("$^\\dagger$" if (i, j) in self.marked else "")

        cols = "l" + "r" * (len(self.header) - 1)
        body = [" & ".join(cell(i, j, t) for j, t in enumerate(r)) + r" \\" for i, r in enumerate(self.rows)]
        caption = latex_escape(self.title) + (
            "" if not self.notes else " " + latex_escape(" ".join(self.notes))
        )
        return "\n".join(
            [
                r"\begin{table}[t]",
                r"\centering",
                r"\small",
                rf"\caption{{{caption}}}",
                *([rf"\label{{{label}}}"] if label else []),
                rf"\begin{{tabular}}{{{cols}}}",
                r"\toprule",
                " & ".join(latex_escape(h) for h in self.header) + r" \\",
                r"\midrule",
                *body,
                r"\bottomrule",
                r"\end{tabular}",
                r"\end{table}",
                "",
            ]
        )


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "−": r"$-$",
          "Δ": r"$\Delta$", "×": r"$\times$", "†": r"$^\dagger$", "≤": r"$\le$", "<": r"$<$", ">": r"$>$",
          "σ": r"$\sigma$", "≥": r"$\ge$"}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def row_names(table: Table) -> list[str]:
    """Labels; with more than one training set among the rows, `label (train)`."""
    trains = {t for _, t in table.rows}
    return [f"{label} ({train})" if len(trains) > 1 else label for label, train in table.rows]


def metric_title(metric: str) -> str:
    level, name = split_metric(metric)
    return f"{level} {METRIC_NAMES[name]}"


def _value(c: Cell, fmt: Fmt) -> str:
    return fmt.num(c.mean) if c.n_runs <= 1 else f"{fmt.num(c.mean)} ± {fmt.num(c.std)}"


def results_grid(table: Table, fmt: Fmt) -> Grid:
    """Rows × (test sets + Average): mean (± std over seeds); bold = best; † = p < 0.05 vs the reference."""
    best = best_rows(table)
    grid = Grid(f"{metric_title(table.metric)} (×{fmt.scale:g})", ["detector", *table.columns], [])
    for i, (row, name) in enumerate(zip(table.rows, row_names(table), strict=True)):
        line = [name]
        for j, col in enumerate(table.columns, start=1):
            c = table.cells.get((row, col))
            line.append("—" if c is None else _value(c, fmt))
            if c is not None and row in best.get(col, ()):
                grid.bold.add((i, j))
            if c is not None and math.isfinite(c.p_boot) and c.p_boot < SIGNIFICANT:
                grid.marked.add((i, j))
        grid.rows.append(line)
    seeds = max((c.n_runs for c in table.cells.values()), default=1)
    grid.notes.append(
        f"Mean{' ± std over seeds' if seeds > 1 else ''}; bold: best per column"
        + (f"; †: paired video bootstrap p < {SIGNIFICANT} vs {row_names(table)[table.rows.index(table.reference)]}"
           if table.reference else "")
        + "."
    )  # fmt: skip
    return grid


def ci_grid(table: Table, fmt: Fmt) -> Grid:
    grid = Grid(
        f"{metric_title(table.metric)}: 95 % CI, bootstrap over videos (B = {table.n_boot}, seed {table.seed})",
        ["detector", *table.columns],
        [],
    )
    for row, name in zip(table.rows, row_names(table), strict=True):
        cells = [table.cells.get((row, col)) for col in table.columns]
        grid.rows.append(
            [name] + ["—" if c is None else f"[{fmt.num(c.ci[0])}, {fmt.num(c.ci[1])}]" for c in cells]
        )
    return grid


def paired_grid(table: Table, fmt: Fmt) -> Grid | None:
    """Δ vs the reference row with its paired-bootstrap CI and p-values (DeLong where defined)."""
    if table.reference is None:
        return None
    names = row_names(table)
    ref_name = names[table.rows.index(table.reference)]
    grid = Grid(
        f"{metric_title(table.metric)}: Δ vs {ref_name} (×{fmt.scale:g}), paired over videos",
        ["detector", *table.columns],
        [],
    )
    has_delong = False
    for row, name in zip(table.rows, names, strict=True):
        if row == table.reference:
            continue
        line = [name]
        for col in table.columns:
            c = table.cells.get((row, col))
            if c is None or not math.isfinite(c.delta):
                line.append("—")
                continue
            text = f"{fmt.num(c.delta, signed=True)} [{fmt.num(c.delta_ci[0], True)}, {fmt.num(c.delta_ci[1], True)}] p={fmt.p(c.p_boot)}"
            if math.isfinite(c.p_delong):
                text += f" (DeLong {fmt.p(c.p_delong)})"
                has_delong = True
            line.append(text)
        grid.rows.append(line)
    grid.notes.append(
        f"Δ = row − reference; [95 % paired-bootstrap CI]; p: two-sided paired bootstrap (floored at 1/B = {1 / table.n_boot:.3g})"
        + ("; DeLong: on video scores, one run per row" if has_delong else "")
        + "."
    )
    return grid


def matrix_grids(table: Table, fmt: Fmt) -> list[Grid]:
    """Per detector label: training set × test set (the cross-dataset view)."""
    out = []
    for label in dict.fromkeys(r[0] for r in table.rows):
        rows = [r for r in table.rows if r[0] == label]
        cols = [c for c in table.columns if c != AVERAGE]
        grid = Grid(
            f"{label}: {metric_title(table.metric)} (×{fmt.scale:g}), train × test",
            ["train \\ test", *cols],
            [],
        )
        for r in rows:
            grid.rows.append(
                [r[1]]
                + ["—" if (r, c) not in table.cells else _value(table.cells[(r, c)], fmt) for c in cols]
            )
        out.append(grid)
    return out


CSV_COLUMNS = ("metric", "detector", "train", "test_set", "mean", "std", "n_runs", "ci_low", "ci_high", "reference",
               "delta", "delta_ci_low", "delta_ci_high", "p_bootstrap", "p_delong", "n_videos", "n_frames", "n_boot",
               "boot_seed", "predictions")  # fmt: skip


def table_csv_rows(table: Table) -> list[list]:
    ref = "" if table.reference is None else table.reference[0]
    out = []
    for row in table.rows:
        for col in table.columns:
            c = table.cells.get((row, col))
            if c is None:
                continue
            out.append([table.metric, row[0], row[1], col, c.mean, c.std, c.n_runs, *c.ci, ref, c.delta, *c.delta_ci,
                        c.p_boot, c.p_delong, c.n_videos, c.n_frames, table.n_boot, table.seed, ";".join(c.runs)])  # fmt: skip
    return out


def to_csv(tables: list[Table]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for t in tables:
        w.writerows(
            [["" if isinstance(v, float) and math.isnan(v) else v for v in r] for r in table_csv_rows(t)]
        )
    return buf.getvalue()
