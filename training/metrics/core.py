"""Frame- and video-level detection metrics (AUC, EER, AP, ACC, TNR@TPR95) with a per-label breakdown.

Conventions (docs/DESIGN.md §5):
- fake = 1 is the positive class; ``probs`` are P(fake) in [0, 1].
- A sample is called fake when ``prob >= threshold`` (the same ``>=`` rule as ``sklearn.roc_curve``,
  so a threshold returned by :func:`calibrate_threshold` reproduces its ROC operating point).
- EER: the ROC curve (all operating points, linearly interpolated between them) is intersected
  with the line FNR = FPR, i.e. TPR = 1 - FPR; the EER is the FPR at that crossing. This is exact on
  the piecewise-linear ROC, handles vertical/horizontal segments, and needs no root finder.
- TNR@TPR95: among the thresholds whose TPR is >= 0.95, take the one with the lowest FPR (the
  highest such threshold, i.e. the first ROC point reaching TPR 0.95); report 1 - FPR there. No
  interpolation: it is a rate actually achievable with one threshold.
- A set holding one class has no ROC: AUC/EER/AP/TNR are NaN, a warning is logged and the reason is
  added to ``notes``. Accuracy is still computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_curve

from fbi_common.errors import DataError
from fbi_common.logging import get_logger
from training.config.choices import VIDEO_AGGS
from training.metrics.ranking import Ranking, average_precision, factorize, roc_auc, roc_from_counts

logger = get_logger("metrics")

TARGET_TPR = 0.95
NAN = float("nan")
_LEVEL_KEYS = ("auc", "eer", "ap", "acc", "acc_calibrated", "tnr_at_tpr95")


def _validate(labels: Sequence | np.ndarray, probs: Sequence | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-D int64 labels in {0, 1} and float64 probabilities in [0, 1], or a ValueError saying which."""
    y = np.asarray(labels)
    p = np.asarray(probs, dtype=np.float64)
    if y.ndim != 1 or p.ndim != 1:
        raise DataError(f"labels and probs must be 1-D; got shapes {y.shape} and {p.shape}")
    if len(y) != len(p):
        raise DataError(f"labels ({len(y)}) and probs ({len(p)}) have different lengths")
    if len(y) == 0:
        raise DataError("no samples to evaluate: labels and probs are empty (is the test set empty?)")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"labels must be 0 (real) or 1 (fake); labels[{i}] = {y[i]!r}")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"probs must be finite probabilities in [0, 1] (P(fake)); probs[{i}] = {p[i]!r}. "
            "Pass softmax/sigmoid outputs, not logits."
        )
    return y.astype(np.int64), p


def _per_group_constant(values: np.ndarray, uniq: np.ndarray, inv: np.ndarray, what: str):
    """The value of each group, raising with the group key when a group mixes values."""
    rep = np.empty(len(uniq), dtype=np.int64)
    rep[inv] = np.arange(len(inv))  # some member of each group
    per_group = values[rep]
    mismatch = values != per_group[inv]
    if mismatch.any():
        g = int(inv[np.flatnonzero(mismatch)[0]])
        seen = sorted({str(v) for v in values[inv == g]})
        raise DataError(
            f"video '{uniq[g]}' mixes {what} values {seen}; a video's {what} must be constant. "
            "Check that video keys are full paths (dataset/label/compression/video), not folder names."
        )
    return per_group


def aggregate_videos(
    video_keys: Sequence[str], labels: Sequence | np.ndarray, probs: Sequence | np.ndarray, how: str = "mean"
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Pool frame probabilities per full video key (mean / max / median); videos come back sorted by key."""
    if how not in VIDEO_AGGS:
        raise DataError(f"unknown video aggregation '{how}'; choose one of {list(VIDEO_AGGS)}")
    y, p = _validate(labels, probs)
    uniq, inv = factorize(video_keys, len(y), "video_keys")
    return _aggregate(y, p, uniq, inv, how)


def _aggregate(y: np.ndarray, p: np.ndarray, uniq: np.ndarray, inv: np.ndarray, how: str):
    """`aggregate_videos` on validated arrays with the keys already factorised."""
    vy = _per_group_constant(y, uniq, inv, "label")
    counts = np.bincount(inv, minlength=len(uniq))
    if how == "mean":
        vp = np.bincount(inv, weights=p, minlength=len(uniq)) / counts
    elif how == "max":
        vp = np.full(len(uniq), -np.inf)
        np.maximum.at(vp, inv, p)
    else:
        order = np.argsort(inv, kind="stable")
        groups = np.split(p[order], np.cumsum(counts)[:-1])
        vp = np.array([np.median(g) for g in groups], dtype=np.float64)
    return uniq.tolist(), vy, vp


def _accuracy(y: np.ndarray, p: np.ndarray, threshold: float) -> float:
    return float(np.mean((p >= threshold).astype(np.int64) == y))


def _full_roc(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # drop_intermediate=False keeps collinear points: dropping them could move the first point that
    # reaches TPR 0.95 (and so TNR@TPR95) along a diagonal segment.
    return roc_curve(y, p, drop_intermediate=False)


def _eer(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """FPR where the linearly interpolated ROC crosses FNR = FPR (see the module docstring)."""
    d = (1.0 - tpr) - fpr  # FNR - FPR: 1 at (0, 0), -1 at (1, 1), non-increasing along the curve
    i = int(np.argmax(d <= 0))  # first point on or past the crossing; i >= 1 because d[0] == 1
    if d[i] == 0:
        return float(fpr[i])
    a = d[i - 1] / (d[i - 1] - d[i])
    return float(fpr[i - 1] + a * (fpr[i] - fpr[i - 1]))


def _tnr_at_tpr(fpr: np.ndarray, tpr: np.ndarray, target: float = TARGET_TPR) -> float:
    i = int(np.argmax(tpr >= target))  # tpr ends at 1.0, so a point always exists
    return float(1.0 - fpr[i])


def _one_class_note(y: np.ndarray, what: str) -> str | None:
    n_fake = int(y.sum())
    n_real = len(y) - n_fake
    if n_fake and n_real:
        return None
    return (
        f"{what}: only one class present ({n_real} real, {n_fake} fake); AUC/EER/AP/TNR@TPR95 are "
        "undefined (n/a; null in JSON). Accuracy is still computed."
    )


def _binary_metrics(ranking: Ranking, threshold: float | None, level: str, notes: list) -> dict:
    """The six metrics of one level (frame or video), keys prefixed with the level name."""
    y, p = ranking.y, ranking.p
    out = dict.fromkeys(_LEVEL_KEYS, NAN)
    out["acc"] = _accuracy(y, p, 0.5)
    if threshold is not None:
        out["acc_calibrated"] = _accuracy(y, p, threshold)
    note = _one_class_note(y, f"{level} level")
    if note:
        logger.warning(note)
        notes.append(note)
    else:
        fps, tps, _ = ranking.curve()
        fpr, tpr = roc_from_counts(fps, tps)
        out["auc"] = roc_auc(fps, tps)
        out["eer"] = _eer(fpr, tpr)
        out["ap"] = average_precision(fps, tps)
        out["tnr_at_tpr95"] = _tnr_at_tpr(fpr, tpr)
    return {f"{level}_{k}": v for k, v in out.items()}


def calibrate_threshold(
    labels: Sequence | np.ndarray, probs: Sequence | np.ndarray, method: str = "youden"
) -> float:
    """A decision threshold chosen on validation predictions (apply with ``prob >= threshold``).

    ``youden``: the ROC threshold maximising Youden's J = TPR - FPR (ties → the highest threshold).
    ``eer``: the ROC threshold where |FNR - FPR| is smallest (the EER operating point; no
    interpolation, since a threshold must be one actual score).
    """
    if method not in ("youden", "eer"):
        raise DataError(f"unknown calibration method '{method}'; choose 'youden' or 'eer'")
    y, p = _validate(labels, probs)
    note = _one_class_note(y, "threshold calibration")
    if note:
        raise DataError(f"{note} A threshold needs both classes: calibrate on a validation set with both.")
    fpr, tpr, thr = _full_roc(y, p)
    # Index 0 is sklearn's (0, 0) point with threshold +inf, never a usable threshold.
    crit = (tpr - fpr)[1:] if method == "youden" else -np.abs((1.0 - tpr) - fpr)[1:]
    return float(thr[1 + int(np.argmax(crit))])


def _fake_vs_real_auc(ranking: Ranking, y: np.ndarray, mask: np.ndarray, what: str, notes: list) -> float:
    """AUC of the samples in ``mask`` (one fake label) against every real sample of the set."""
    if not (y == 0).any():
        msg = f"{what}: no real samples in this set to compare against; AUC is undefined (n/a)"
        logger.warning(msg)
        notes.append(msg)
        return NAN
    fps, tps, _ = ranking.curve(keep=mask | (y == 0))
    return roc_auc(fps, tps)


def _per_label(frame: tuple, video: tuple, names: np.ndarray, notes: list) -> dict:
    """Per label name: counts, accuracies at 0.5 and, for fake names, AUC against all reals.

    `frame`/`video`: (Ranking, labels, probs, label-name codes into `names`), in sample order.
    """
    rank, y, p, codes = frame
    vrank, vy, vp, vcodes = video
    out = {}
    for c, name in enumerate(names.tolist()):
        m, vm = codes == c, vcodes == c
        labels_here = np.unique(y[m])
        if len(labels_here) != 1:
            raise DataError(
                f"label name '{name}' has both labels 0 and 1; fix label_dict or the predictions file"
            )
        entry = {
            "label": int(labels_here[0]),
            "n_frames": int(m.sum()),
            "n_videos": int(vm.sum()),
            "frame_acc": _accuracy(y[m], p[m], 0.5),
            "video_acc": _accuracy(vy[vm], vp[vm], 0.5),
        }
        if entry["label"] == 1:
            entry["frame_auc"] = _fake_vs_real_auc(rank, y, m, f"per_label '{name}' frame level", notes)
            entry["video_auc"] = _fake_vs_real_auc(vrank, vy, vm, f"per_label '{name}' video level", notes)
        out[name] = entry
    return out


def compute_metrics(
    labels: Sequence | np.ndarray,
    probs: Sequence | np.ndarray,
    video_keys: Sequence[str],
    label_names: Sequence[str] | None = None,
    *,
    video_agg: str = "mean",
    threshold: float | None = None,
) -> dict:
    """Every docs/DESIGN.md §5 metric for one test set, as plain Python values (NaN where undefined).

    ``threshold`` should come from :func:`calibrate_threshold` on validation predictions; it is
    applied to frame probabilities and to aggregated video probabilities alike. Without it the
    ``*_acc_calibrated`` entries are NaN and ``notes`` says so.
    """
    y, p = _validate(labels, probs)
    if video_agg not in VIDEO_AGGS:
        raise DataError(f"unknown video aggregation '{video_agg}'; choose one of {list(VIDEO_AGGS)}")
    notes: list[str] = []
    uniq, inv = factorize(video_keys, len(y), "video_keys")  # once: 1M key strings are the slow part
    vkeys, vy, vp = _aggregate(y, p, uniq, inv, video_agg)
    frame, video = Ranking(y, p), Ranking(vy, vp)
    if threshold is None:
        notes.append(
            "no calibrated threshold given: frame_acc_calibrated and video_acc_calibrated are undefined (n/a) "
            "(pass threshold=calibrate_threshold(val_labels, val_probs))"
        )
    else:
        threshold = float(threshold)
    out = {
        **_binary_metrics(frame, threshold, "frame", notes),
        **_binary_metrics(video, threshold, "video", notes),
        "n_frames": len(y),
        "n_videos": len(vkeys),
        "threshold": threshold,
        "video_agg": video_agg,
    }
    if label_names is None:
        out["per_label"] = {}
        notes.append("no label names given: per_label breakdown is empty")
    else:
        names, codes = factorize(label_names, len(y), "label_names")
        vcodes = _per_group_constant(codes, uniq, inv, "label_name")
        out["per_label"] = _per_label((frame, y, p, codes), (video, vy, vp, vcodes), names, notes)
    out["notes"] = notes
    return out
