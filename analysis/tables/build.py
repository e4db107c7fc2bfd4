"""Cells of a results table: per row and test set the seed mean ± std, a video-bootstrap CI and a paired test.

A *row* is a group of evaluations (one per seed) of one detector/config trained on one set. For metric
``<level>_<name>`` (level frame | video, name auc | eer | ap) a cell holds:

- ``mean``/``std``: over the row's seeds (std = sample std, ddof 1; 0 with one seed), each seed's value
  recomputed from its predictions.csv;
- ``ci``: percentile interval of the seed mean over the stratified video bootstrap of ``stats.py`` (every
  seed and every row on a test set is resampled with the same replicates);
- vs the reference row: ``delta`` = mean − reference mean, its paired-bootstrap interval and p-value, and
  for video AUC with one run on each side DeLong's p on the video scores (frames are not independent,
  so there is no frame-level DeLong; several seeds have no single score vector to test).

The "Average" column is the mean over the row's test sets; its replicates average the per-set
replicates (sets resampled independently). It is NaN when the row lacks one of the table's sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis.tables.batch_metrics import batch_metric
from analysis.tables.runs import Evaluation, TableError
from analysis.tables.stats import HIGHER_IS_BETTER, bootstrap_counts, bootstrap_p, delong_test, percentile_ci

N_BOOT = 1000  # bootstrap replicates over videos by default (the table tools' --n_boot)

LEVELS = ("frame", "video")
ALL_METRICS = tuple(f"{lv}_{m}" for m in ("auc", "eer", "ap") for lv in ("video", "frame"))
AVERAGE = "Average"
NAN = float("nan")


def split_metric(metric: str) -> tuple[str, str]:
    level, _, name = metric.partition("_")
    if level not in LEVELS or name not in HIGHER_IS_BETTER:
        raise TableError(f"--metric {metric}: unknown; choose from {list(ALL_METRICS)}")
    return level, name


@dataclass
class Cell:
    mean: float = NAN
    std: float = NAN
    n_runs: int = 0
    ci: tuple[float, float] = (NAN, NAN)
    reps: np.ndarray | None = field(default=None, repr=False)
    delta: float = NAN
    delta_ci: tuple[float, float] = (NAN, NAN)
    p_boot: float = NAN
    p_delong: float = NAN
    n_videos: int = 0
    n_frames: int = 0
    runs: list[str] = field(default_factory=list)
    per_run: dict[str, float] = field(default_factory=dict)  # run folder -> this run's value


@dataclass
class Table:
    metric: str
    rows: list[tuple[str, str]]  # (label, train)
    columns: list[str]  # test sets, then AVERAGE
    cells: dict[tuple[tuple[str, str], str], Cell]
    reference: tuple[str, str] | None
    n_boot: int
    seed: int
    notes: list[str] = field(default_factory=list)


class _Counts:
    """Bootstrap draw counts per (test set, video list), drawn once and shared by every row."""

    def __init__(self, n_boot: int, seed: int) -> None:
        self.n_boot, self.seed, self._cache = n_boot, seed, {}

    def get(self, e: Evaluation) -> np.ndarray:
        key = (e.test_set, tuple(e.scores.video_keys))
        if key not in self._cache:
            self._cache[key] = bootstrap_counts(e.scores.video_y, self.n_boot, self.seed)
        return self._cache[key]


def _point(e: Evaluation, level: str, name: str) -> float:
    return e.scores.value(level, name)


def _cell(group: list[Evaluation], level: str, name: str, counts: _Counts) -> Cell:
    values = np.array([_point(e, level, name) for e in group])
    c = counts.get(group[0])
    reps = []
    for e in group:
        s = e.scores
        w = c if level == "video" else c[:, s.frame_video]
        y, p = (s.video_y, s.video_p) if level == "video" else (s.frame_y, s.frame_p)
        reps.append(batch_metric(name, y, p, w))
    reps_mean = np.mean(reps, axis=0)
    return Cell(
        mean=float(values.mean()),
        std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        n_runs=len(values),
        ci=percentile_ci(reps_mean),
        reps=reps_mean,
        n_videos=len(group[0].scores.video_keys),
        n_frames=group[0].n_frames,
        runs=[str(e.path) for e in group],
        per_run={str(e.run): float(v) for e, v in zip(group, values, strict=True)},
    )


def _pair(
    cell: Cell, ref: Cell, group: list[Evaluation], ref_group: list[Evaluation] | None, metric: str
) -> None:
    """Fill the paired comparison of ``cell`` against the reference row's cell on the same column."""
    cell.delta = cell.mean - ref.mean
    if ref_group is not None and group[0].scores.video_keys != ref_group[0].scores.video_keys:
        return  # different videos: no paired test (noted by the caller)
    d = cell.reps - ref.reps
    cell.delta_ci, cell.p_boot = percentile_ci(d), bootstrap_p(d)
    if metric == "video_auc" and ref_group is not None and len(group) == len(ref_group) == 1:
        s, r = group[0].scores, ref_group[0].scores
        cell.p_delong = delong_test(s.video_y, s.video_p, r.video_p)["p"]


def build_table(
    rows: dict[tuple[str, str], dict[str, list[Evaluation]]],
    metric: str,
    n_boot: int = N_BOOT,
    seed: int = 0,
    reference: tuple[str, str] | None = None,
) -> Table:
    """Every cell of ``metric`` for the grouped rows (see the module docstring)."""
    level, name = split_metric(metric)
    if n_boot < 10:
        raise TableError(
            f"--n_boot {n_boot}: use at least 10 bootstrap replicates (1000 or more for a paper)"
        )
    columns = list(dict.fromkeys(ts for sets in rows.values() for ts in sets))
    counts = _Counts(n_boot, seed)
    cells: dict = {}
    notes: list[str] = []
    for row, sets in rows.items():
        for ts, group in sets.items():
            cells[(row, ts)] = _cell(group, level, name, counts)
        if all(ts in sets for ts in columns):
            parts = [cells[(row, ts)] for ts in columns]
            cells[(row, AVERAGE)] = _average(parts)
    if reference is not None:
        if reference not in rows:
            raise TableError(f"--reference {reference[0]}: no such row; rows: {[r[0] for r in rows]}")
        _compare(rows, cells, columns, reference, metric, notes)
    if len(columns) > 1:
        columns.append(AVERAGE)
    return Table(metric, list(rows), columns, cells, reference, n_boot, seed, notes)


def _average(parts: list[Cell]) -> Cell:
    """Mean over test sets; std over runs of each run's own average (NaN if runs differ between sets)."""
    avg = np.mean([c.reps for c in parts], axis=0)
    runs = set(parts[0].per_run)
    per_run = {}
    if all(set(c.per_run) == runs for c in parts):
        per_run = {r: float(np.mean([c.per_run[r] for c in parts])) for r in runs}
    vals = np.array(list(per_run.values()))
    std = float(vals.std(ddof=1)) if len(vals) > 1 else (0.0 if len(vals) == 1 else NAN)
    return Cell(
        mean=float(np.mean([c.mean for c in parts])),
        std=std,
        n_runs=min(c.n_runs for c in parts),
        ci=percentile_ci(avg),
        reps=avg,
        per_run=per_run,
    )


def _compare(rows: dict, cells: dict, columns: list[str], reference: tuple, metric: str, notes: list) -> None:
    for row, sets in rows.items():
        if row == reference:
            continue
        for ts in [*columns, AVERAGE]:
            ref = cells.get((reference, ts))
            cell = cells.get((row, ts))
            if ref is None or cell is None:
                continue
            group = sets.get(ts) or [None]
            ref_group = rows[reference].get(ts)
            if ts == AVERAGE:
                d = cell.reps - ref.reps
                cell.delta, cell.delta_ci, cell.p_boot = (
                    cell.mean - ref.mean,
                    percentile_ci(d),
                    bootstrap_p(d),
                )
                continue
            _pair(cell, ref, group, ref_group, metric)
            if np.isnan(cell.p_boot):
                notes.append(f"{row[0]} on {ts}: other videos than the reference row; no paired test")


def best_rows(table: Table) -> dict[str, set[tuple[str, str]]]:
    """Per column the row(s) with the best mean (max for AUC/AP, min for EER)."""
    higher = HIGHER_IS_BETTER[split_metric(table.metric)[1]]
    out = {}
    for col in table.columns:
        vals = {r: table.cells[(r, col)].mean for r in table.rows if (r, col) in table.cells}
        vals = {r: v for r, v in vals.items() if np.isfinite(v)}
        if vals:
            best = max(vals.values()) if higher else min(vals.values())
            out[col] = {r for r, v in vals.items() if np.isclose(v, best, rtol=0, atol=1e-12)}
    return out
