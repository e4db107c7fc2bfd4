"""Fast exact building blocks of the metrics: one sort per score set, string keys factorised once.

`compute_metrics` on a million frames spent most of its time re-sorting the same scores (every
scikit-learn ranking call — `roc_curve`, `roc_auc_score`, `average_precision_score`, one per fake
label — sorts and re-validates its input) and sorting a million key strings twice. Here the scores
are sorted once (`Ranking`), every curve is read off cumulative sums of that order (a subset, such
as one fake label against all reals, keeps the order), and keys are grouped through a dict. The
curve is scikit-learn's `_binary_clf_curve` construction (stable descending sort, one point per
distinct score, the (0, 0) point first, as `roc_curve(drop_intermediate=False)`), and AUC/AP are
computed from it with the same formulas as `sklearn.metrics.auc` and `average_precision_score`;
tests and `benchmarks/bench_metrics.py` check the results against scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import auc

from fbi_common.errors import DataError


def factorize(keys: Sequence[str], n: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique keys, each entry's index into them) for `n` non-empty strings, or a DataError."""
    keys = keys if isinstance(keys, list) else list(keys)
    if len(keys) != n:
        raise DataError(f"{what} has {len(keys)} entries but there are {n} labels/probs")
    index: dict = {}
    try:
        codes = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=n)
    except TypeError:  # an unhashable entry
        codes = None
    bad = [k for k in index if not isinstance(k, str) or not k] if codes is not None else [None]
    if bad:
        i = next(j for j, k in enumerate(keys) if not isinstance(k, str) or not k)
        raise DataError(f"{what}[{i}] = {keys[i]!r}: every entry must be a non-empty string")
    uniq = sorted(index)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[[index[k] for k in uniq]] = np.arange(len(uniq))
    return np.asarray(uniq, dtype=str), rank[codes]


class Ranking:
    """Labels and scores sorted once by descending score (stable, as scikit-learn sorts)."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        self.order = np.argsort(p, kind="mergesort")[::-1]
        self.y, self.p = y[self.order], p[self.order]

    def curve(self, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fps, tps, thresholds) with the (0, 0, +inf) point first; `keep` (in the original sample
        order) restricts it to a subset without sorting again."""
        y, p = (self.y, self.p) if keep is None else (self.y[keep[self.order]], self.p[keep[self.order]])
        last = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]
        tps = np.cumsum(y, dtype=np.float64)[last]
        fps = 1.0 + last - tps
        return np.r_[0.0, fps], np.r_[0.0, tps], np.r_[np.inf, p[last]]


def roc_from_counts(fps: np.ndarray, tps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of a curve from `Ranking.curve` (both classes must be present)."""
    return fps / fps[-1], tps / tps[-1]


def roc_auc(fps: np.ndarray, tps: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids, as `roc_auc_score`)."""
    fpr, tpr = roc_from_counts(fps, tps)
    return float(auc(fpr, tpr))


def average_precision(fps: np.ndarray, tps: np.ndarray) -> float:
    """Σ (Rₙ − Rₙ₋₁) Pₙ over the thresholds, as `average_precision_score` (no interpolation)."""
    tp, fp = tps[1:], fps[1:]
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
