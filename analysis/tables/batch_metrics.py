"""AUC, EER and AP for many bootstrap replicates at once: one sort, then cumulative sums over weight rows.

A bootstrap over videos reweights the same samples B times, so the scores are sorted once and each
replicate is a row of sample weights. The curves are the ones scikit-learn builds (thresholds at the
distinct scores, ties grouped; ROC starting at (0, 0)), so the results equal ``roc_auc_score``,
``average_precision_score`` and the metrics module's EER with ``sample_weight`` up to float rounding —
``tests/test_results_table.py`` checks that against scikit-learn. Hand-written because scikit-learn
has no batched form and a Python loop of B×rows×sets calls made a demo table take minutes.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 64  # replicate rows per pass: bounds memory at CHUNK × n_samples floats


def _curves(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true/false positive weights at each distinct threshold, highest first: (B, G) each."""
    order = np.argsort(-p, kind="mergesort")
    ps = p[order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    ws = w[:, order]
    pos = y[order].astype(np.float64)
    tps = np.cumsum(np.add.reduceat(ws * pos, starts, axis=1), axis=1)
    fps = np.cumsum(np.add.reduceat(ws * (1.0 - pos), starts, axis=1), axis=1)
    return tps, fps


def _auc(tps: np.ndarray, fps: np.ndarray) -> np.ndarray:
    tpr = np.hstack([np.zeros((len(tps), 1)), tps / tps[:, -1:]])
    fpr = np.hstack([np.zeros((len(fps), 1)), fps / fps[:, -1:]])
    return np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)


def _ap(tps: np.ndarray, fps: np.ndarray) -> np.ndarray:
    recall = np.hstack([np.zeros((len(tps), 1)), tps / tps[:, -1:]])
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tps + fps > 0, tps / (tps + fps), 0.0)
    return np.sum(np.diff(recall, axis=1) * precision, axis=1)


def _eer(tps: np.ndarray, fps: np.ndarray) -> np.ndarray:
    """FPR where the interpolated ROC crosses FNR = FPR (training.metrics.core's definition), per row."""
    tpr = np.hstack([np.zeros((len(tps), 1)), tps / tps[:, -1:]])
    fpr = np.hstack([np.zeros((len(fps), 1)), fps / fps[:, -1:]])
    d = (1.0 - tpr) - fpr
    i = np.argmax(d <= 0, axis=1)
    rows = np.arange(len(d))
    d_i, d_prev = d[rows, i], d[rows, i - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(d_i == 0, 1.0, d_prev / (d_prev - d_i))
    return np.where(d_i == 0, fpr[rows, i], fpr[rows, i - 1] + a * (fpr[rows, i] - fpr[rows, i - 1]))


_FUNCS = {"auc": _auc, "ap": _ap, "eer": _eer}


def batch_metric(name: str, y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``name`` (auc | eer | ap) under each row of ``weights`` (B × n sample weights): an array of B values.

    Every row must give both classes a positive total weight (the stratified video bootstrap does).
    """
    if name not in _FUNCS:
        raise ValueError(f"unknown metric '{name}'; choose one of {sorted(_FUNCS)}")
    y, p = np.asarray(y), np.asarray(p, np.float64)
    weights = np.atleast_2d(np.asarray(weights, np.float64))
    out = []
    for s in range(0, len(weights), _CHUNK):
        tps, fps = _curves(y, p, weights[s : s + _CHUNK])
        out.append(_FUNCS[name](tps, fps))
    return np.concatenate(out) if out else np.zeros(0)
