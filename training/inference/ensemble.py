"""Combining detectors and faces into one score: ensemble rules, the per-frame and per-video rules.

Ensembles (`combine`): `mean` is a soft vote — the (optionally weighted) mean probability, judged at the
same weighted mean of the members' calibrated thresholds. `vote` is a majority vote — each member votes
fake when its probability reaches its own calibrated threshold; the score is the (weighted) fraction of
fake votes, judged at 0.5; on a tie the score is 0.5 + (mean probability − mean threshold) / 2, so the
soft vote decides it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from training.config.choices import VIDEO_AGGS

ENSEMBLE_RULES = ("mean", "vote")
FRAME_RULES = ("max", "mean")  # over the faces (tracks) of a frame: max = fake when any person is
VIDEO_RULES = VIDEO_AGGS  # over the frames of a video, as the metrics aggregate videos (video_agg)


def _weights(n: int, weights: Sequence[float] | None) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"ensemble weights must be {n} non-negative numbers, not all 0; got {list(weights)}")
    return w / w.sum()


def combine(
    probs: np.ndarray | Sequence[Sequence[float]],
    thresholds: Sequence[float],
    rule: str = "mean",
    weights: Sequence[float] | None = None,
) -> tuple[np.ndarray, float]:
    """Members' probabilities (M × N) → (ensemble scores N, the threshold to judge them at)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    m = p.shape[0]
    t = np.asarray(thresholds, dtype=np.float64)
    if t.shape != (m,):
        raise ValueError(f"{m} ensemble members but {t.size} thresholds")
    w = _weights(m, weights)
    mean_p, mean_t = w @ p, float(w @ t)
    if rule == "mean":
        return mean_p, mean_t
    if rule != "vote":
        raise ValueError(f"ensemble rule must be one of {ENSEMBLE_RULES}, got {rule!r}")
    frac = w @ (p >= t[:, None]).astype(np.float64)
    tie = np.isclose(frac, 0.5)
    return np.where(tie, 0.5 + (mean_p - mean_t) / 2, frac), 0.5


def frame_score(face_scores: Sequence[float], rule: str = "max") -> float | None:
    """A frame's score from its faces' scores (None: no face)."""
    if not len(face_scores):
        return None
    if rule not in FRAME_RULES:
        raise ValueError(f"frame rule must be one of {FRAME_RULES}, got {rule!r}")
    return float(np.max(face_scores) if rule == "max" else np.mean(face_scores))


def video_score(frame_scores: Sequence[float | None], rule: str = "mean") -> float | None:
    """A video's score from its frames' scores, frames without a face left out (None: no face at all)."""
    s = [x for x in frame_scores if x is not None]
    if not s:
        return None
    if rule not in VIDEO_RULES:
        raise ValueError(f"video rule must be one of {VIDEO_RULES}, got {rule!r}")
    return float({"mean": np.mean, "max": np.max, "median": np.median}[rule](s))


def verdict(score: float | None, threshold: float) -> str:
    """`fake` / `real` (or `error` when nothing was scored)."""
    return "error" if score is None else ("fake" if score >= threshold else "real")
