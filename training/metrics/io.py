"""Reading/writing predictions.csv and metrics.json, and rendering metrics as plain-text tables."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fbi_common.errors import DataError
from fbi_common.io import atomic_write_text, json_safe

# Written in this order, extra columns (e.g. dataset) after them.
PREDICTION_COLUMNS = ("video_key", "frame", "label", "label_name", "prob")
# label_name is optional when reading, so files from other tools with the four core columns work.
REQUIRED_READ_COLUMNS = ("video_key", "frame", "label", "prob")


def _rows_from(rows: Iterable[Mapping[str, Any]] | Mapping[str, Sequence]) -> tuple[list[str], list[dict]]:
    """Columns (required first, extras in first-seen order) and rows as dicts, from rows or columns."""
    if isinstance(rows, Mapping):
        lengths = {k: len(v) for k, v in rows.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"prediction columns have different lengths: {lengths}")
        n = next(iter(lengths.values()), 0)
        rows = [{k: rows[k][i] for k in rows} for i in range(n)]
    rows = [dict(r) for r in rows]
    keys = list(rows[0]) if rows else list(PREDICTION_COLUMNS)
    for col in PREDICTION_COLUMNS:
        if col not in keys:
            raise DataError(
                f"predictions are missing the column '{col}'; required: {list(PREDICTION_COLUMNS)}"
            )
    columns = list(PREDICTION_COLUMNS) + [k for k in keys if k not in PREDICTION_COLUMNS]
    for i, r in enumerate(rows):
        if set(r) != set(columns):
            diff = sorted(set(r) ^ set(columns))
            raise DataError(f"prediction row {i} has different columns from row 0 (differs in {diff})")
    return columns, rows


def _cell(col: str, value: Any, i: int) -> str:
    try:
        if col == "label":
            return str(int(value))
        if col == "prob":
            return repr(float(value))  # shortest exact repr: the file round-trips bit for bit
    except (TypeError, ValueError) as e:
        raise DataError(f"prediction row {i}: column '{col}' = {value!r} is not a number") from e
    return str(value)


def write_predictions_csv(
    path: str | Path, rows: Iterable[Mapping[str, Any]] | Mapping[str, Sequence]
) -> Path:
    """Write per-frame predictions (atomically); ``rows`` is a list of dicts or a dict of equal-length columns."""
    columns, rows = _rows_from(rows)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for i, r in enumerate(rows):
        w.writerow([_cell(c, r[c], i) for c in columns])
    return atomic_write_text(path, buf.getvalue())


def _parse(path: Path, line: int, col: str, text: str) -> float | int:
    try:
        if col == "label":
            v = int(text)
            if v in (0, 1):
                return v
        else:
            v = float(text)
            if math.isfinite(v) and 0.0 <= v <= 1.0:
                return v
    except ValueError:
        pass
    want = "0 (real) or 1 (fake)" if col == "label" else "a probability in [0, 1]"
    raise DataError(f"{path}, line {line}: column '{col}' must be {want}; got {text!r}")


def read_predictions_csv(path: str | Path) -> dict[str, Any]:
    """Columns of a predictions.csv: ``label`` int64 array, ``prob`` float64 array, others lists of str.

    ``label_name`` is None when the file has no such column.
    """
    path = Path(path)
    if not path.is_file():
        raise PredictionsNotFound(f"predictions file not found: {path}")
    try:
        return _read_predictions(path)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); is it a predictions.csv?") from None
    except csv.Error as e:
        raise DataError(f"{path}: not a readable CSV ({e})") from None


class PredictionsNotFound(DataError, FileNotFoundError):
    """The predictions.csv given does not exist."""


def _read_predictions(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8-sig", newline="") as f:  # -sig: tolerate a BOM from spreadsheets
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise DataError(f"{path} is empty; expected a header with {list(PREDICTION_COLUMNS)}")
        reader.fieldnames = header = [h.strip() for h in reader.fieldnames]  # "prob " from spreadsheets
        if len(set(header)) != len(header):
            raise DataError(f"{path}: duplicate column names in header {header}")
        missing = [c for c in REQUIRED_READ_COLUMNS if c not in header]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {missing}; the header is {header}, a predictions file needs "
                f"at least {list(REQUIRED_READ_COLUMNS)} (as written by train.py / test.py)"
            )
        cols: dict[str, list] = {c: [] for c in header}
        for row in reader:
            if None in row or None in row.values():
                raise DataError(f"{path}, line {reader.line_num}: expected {len(header)} fields")
            for c in header:
                v = row[c]
                cols[c].append(_parse(path, reader.line_num, c, v) if c in ("label", "prob") else v)
    out: dict[str, Any] = dict(cols)
    out["label"] = np.asarray(cols["label"], dtype=np.int64)
    out["prob"] = np.asarray(cols["prob"], dtype=np.float64)
    out.setdefault("label_name", None)
    return out


def write_metrics_json(path: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write metrics as indented JSON (atomically); undefined values (NaN) become null."""
    text = json.dumps(json_safe(metrics), indent=2, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def format_metric(v: Any, digits: int = 4) -> str:
    """How a metric is shown to people (tables, log lines): undefined (None/NaN) is `n/a`, never 0 or nan."""
    if v is None or (isinstance(v, float | np.floating) and not math.isfinite(float(v))):
        return "n/a"
    if isinstance(v, float | np.floating):
        return f"{float(v):.{digits}f}"
    return str(v)


_fmt = format_metric


def _render(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown pipe table: readable in a terminal and pasteable into a README."""
    cells = [list(header)] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]

    def line(r: Sequence[str]) -> str:
        parts = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


_SUMMARY = (
    ("frame AUC", "frame_auc"),
    ("video AUC", "video_auc"),
    ("EER", "frame_eer"),
    ("AP", "frame_ap"),
    ("ACC", "frame_acc"),
    ("n_videos", "n_videos"),
)


def format_summary_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per test set (frame-level EER/AP/ACC); with several sets, a final row of their means."""
    rows = [[name] + [m.get(key) for _, key in _SUMMARY] for name, m in results.items()]
    if len(rows) > 1:
        # NaN propagates on purpose: a mean over a set whose AUC is undefined is not a mean.
        cols = list(zip(*(r[1:-1] for r in rows), strict=True))
        means = [float(np.mean([math.nan if v is None else float(v) for v in c])) for c in cols]
        n_videos = [r[-1] for r in rows]
        rows.append(["mean", *means, sum(n_videos) if None not in n_videos else None])
    return _render(["test set"] + [h for h, _ in _SUMMARY], rows)


def format_metrics_table(metrics: Mapping[str, Any]) -> str:
    """The full report of one test set: frame vs video metrics, per-label breakdown and notes."""
    keys = ("auc", "eer", "ap", "acc", "acc_calibrated", "tnr_at_tpr95")
    head = ["level", "AUC", "EER", "AP", "ACC@0.5", "ACC@thr", "TNR@TPR95", "n"]
    levels = [
        [lvl] + [metrics.get(f"{lvl}_{k}") for k in keys] + [metrics.get(f"n_{lvl}s")]
        for lvl in ("frame", "video")
    ]
    parts = [
        f"threshold: {_fmt(metrics.get('threshold'))}   video aggregation: {metrics.get('video_agg')}",
        _render(head, levels),
    ]
    per_label = metrics.get("per_label") or {}
    if per_label:
        ph = [
            "label name",
            "label",
            "n_frames",
            "n_videos",
            "frame ACC",
            "video ACC",
            "frame AUC",
            "video AUC",
        ]
        prow = [
            [name, e["label"], e["n_frames"], e["n_videos"], e["frame_acc"], e["video_acc"]]
            + [e.get("frame_auc"), e.get("video_auc")]
            for name, e in per_label.items()
        ]
        parts.append(_render(ph, prow))
    parts += [f"note: {n}" for n in metrics.get("notes", [])]
    return "\n\n".join(parts)
