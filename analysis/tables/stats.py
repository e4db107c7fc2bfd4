"""Statistics for results tables: metrics with video weights, bootstrap over videos, DeLong's paired AUC test.

The unit of resampling is the **video** (frames of one video are not independent; docs/DESIGN.md §9). One
bootstrap replicate draws, with replacement and separately per class (stratified, so every replicate has
both classes and the class balance of the test set), as many real and fake videos as the set has; a
frame-level metric then weights each frame by how often its video was drawn, which equals the metric on
the replicated frames exactly (integer sample weights in scikit-learn's ROC/AP). The draws come from
``numpy.random.default_rng(seed)``: ``rng.choice(real_videos, n_real)`` then ``rng.choice(fake_videos,
n_fake)`` per replicate, videos in sorted key order — so a test can recompute any interval independently.

Percentile intervals; the paired test of two rows on one test set uses the *same* replicates for both
(a paired bootstrap) and reports the two-sided percentile p-value 2·min(P*(Δ ≤ 0), P*(Δ ≥ 0)), floored at
1/B (|Δ| < 1e-12 counts as a tie). DeLong's test (DeLong et al. 1988, in the fast midrank form of Sun & Xu 2014) is written out here:
neither scikit-learn nor SciPy ships it, and it is 30 lines of linear algebra.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from training.metrics.core import _eer  # the EER definition of the metrics module, reused exactly

METRICS = ("auc", "eer", "ap")
TIE = 1e-12  # |Δ| below this counts as Δ = 0 in the bootstrap p-value
HIGHER_IS_BETTER = {"auc": True, "eer": False, "ap": True}


def metric_value(name: str, y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """AUC, EER or AP (fake = positive) with optional integer sample weights (= replicated samples)."""
    if w is not None:
        keep = w > 0
        y, p, w = y[keep], p[keep], w[keep]
    if len(np.unique(y)) < 2:
        return float("nan")
    if name == "auc":
        return float(roc_auc_score(y, p, sample_weight=w))
    if name == "ap":
        return float(average_precision_score(y, p, sample_weight=w))
    if name == "eer":
        fpr, tpr, _ = roc_curve(y, p, sample_weight=w, drop_intermediate=False)
        return _eer(fpr, tpr)
    raise ValueError(f"unknown metric '{name}'; choose one of {METRICS}")


@dataclass
class Scores:
    """One evaluation on one test set: frame labels/probs, each frame's video, and per-video labels/scores.

    ``video_keys`` are sorted; ``frame_video[i]`` indexes them. Video scores are the aggregated frame
    probabilities (the metrics module's ``aggregate_videos``).
    """

    frame_y: np.ndarray
    frame_p: np.ndarray
    frame_video: np.ndarray
    video_keys: list[str]
    video_y: np.ndarray
    video_p: np.ndarray

    def value(self, level: str, metric: str, counts: np.ndarray | None = None) -> float:
        """Metric at ``level`` (frame | video); ``counts[v]`` = how often video v was drawn (None: once)."""
        if level == "video":
            return metric_value(metric, self.video_y, self.video_p, counts)
        w = None if counts is None else counts[self.frame_video]
        return metric_value(metric, self.frame_y, self.frame_p, w)


def bootstrap_counts(video_y: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(B, n_videos) draw counts of the stratified video bootstrap described in the module docstring."""
    rng = np.random.default_rng(seed)
    real, fake = np.flatnonzero(video_y == 0), np.flatnonzero(video_y == 1)
    counts = np.zeros((n_boot, len(video_y)), np.int64)
    for b in range(n_boot):
        draw = np.concatenate([rng.choice(real, len(real)), rng.choice(fake, len(fake))])
        counts[b] = np.bincount(draw, minlength=len(video_y))
    return counts


def replicate(stat: Callable[[np.ndarray | None], float], counts: np.ndarray) -> np.ndarray:
    """``stat(counts_b)`` for every replicate row of ``counts``."""
    return np.array([stat(c) for c in counts], dtype=np.float64)


def percentile_ci(reps: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN replicates ignored)."""
    reps = reps[np.isfinite(reps)]
    if not len(reps):
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [a, 1.0 - a])
    return float(lo), float(hi)


def bootstrap_p(deltas: np.ndarray) -> float:
    """Two-sided paired-bootstrap p-value of H0: Δ = 0, floored at 1/B (see the module docstring)."""
    deltas = deltas[np.isfinite(deltas)]
    if not len(deltas):
        return float("nan")
    deltas = np.where(np.abs(deltas) < TIE, 0.0, deltas)  # float noise of equal AUCs is a tie, not a sign
    tail = min(np.mean(deltas <= 0), np.mean(deltas >= 0))
    return float(min(1.0, max(2.0 * tail, 1.0 / len(deltas))))


def _midrank(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    i = 0
    while i < len(x):
        j = i
        while j < len(x) and xs[j] == xs[i]:
            j += 1
        ranks[i:j] = 0.5 * (i + j - 1) + 1.0
        i = j
    out = np.empty(len(x), dtype=np.float64)
    out[order] = ranks
    return out


def delong_test(y: np.ndarray, scores_a: Sequence[float], scores_b: Sequence[float]) -> dict[str, float]:
    """DeLong's test of AUC(a) = AUC(b) for two score vectors on the same samples (fake = 1 positive).

    Returns ``auc_a``, ``auc_b``, ``delta`` (a − b), its standard error ``se``, ``z`` and the two-sided ``p``.
    """
    y = np.asarray(y)
    pos, neg = y == 1, y == 0
    m, n = int(pos.sum()), int(neg.sum())
    if m < 2 or n < 2:
        raise ValueError(f"DeLong's test needs at least 2 real and 2 fake samples; got {n} real, {m} fake")
    s = np.stack([np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)])
    v10, v01, aucs = [], [], []
    for row in s:
        tx, ty, tz = _midrank(row[pos]), _midrank(row[neg]), _midrank(np.concatenate([row[pos], row[neg]]))
        aucs.append((tz[:m].sum() - m * (m + 1) / 2.0) / (m * n))
        v10.append((tz[:m] - tx) / n)  # per positive: share of negatives scored below it
        v01.append(1.0 - (tz[m:] - ty) / m)  # per negative: share of positives scored above it
    cov = np.cov(np.array(v10)) / m + np.cov(np.array(v01)) / n
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    delta = float(aucs[0] - aucs[1])
    if var <= 0:
        z, p = (0.0, 1.0) if delta == 0 else (float("inf"), 0.0)
    else:
        z = delta / np.sqrt(var)
        p = math.erfc(abs(z) / math.sqrt(2.0))  # two-sided normal tail
    return {
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "delta": delta,
        "se": float(np.sqrt(max(var, 0))),
        "z": float(z),
        "p": p,
    }
