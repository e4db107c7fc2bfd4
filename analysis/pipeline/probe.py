"""Identity probes: how much identity a feature carries, measured by a cross-validated linear classifier.

`identity_probe` fits multinomial logistic regression (scikit-learn, standardised features) predicting the
identity from the features, with folds **grouped by video** (StratifiedGroupKFold: a video's frames are
all in the training folds or all in the held-out fold, so the probe cannot memorise a video) and reports
held-out accuracy against chance (1 / #identities) and the majority-class rate. An identity needs frames
from at least two videos to be predictable on held-out videos; identities with one video are left out
and counted. `realfake_auc` is the same protocol for the real/fake label (out-of-fold probabilities).
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits


@dataclass
class ProbeResult:
    accuracy: float
    chance: float
    majority: float
    n_frames: int
    n_videos: int
    n_identities: int
    n_dropped_identities: int  # identities seen in one video only


def _classifier(seed: int):
    # lbfgs to tol 1e-3 (at most 300 iterations): on near-separable identity features a tighter tolerance
    # costs minutes per fit and changes held-out accuracy little; the cap is a fixed, seeded regulariser.
    return make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=300, tol=1e-3, C=1.0, random_state=seed)
    )


def _fit(clf, x: np.ndarray, y: np.ndarray):
    """Fit with one BLAS thread: these fits are small, and on a shared CPU extra threads only contend."""
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the iteration cap is deliberate (see above)
        return clf.fit(x, y)


def grouped_folds(
    y: np.ndarray, groups: np.ndarray, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs, stratified by ``y`` and never splitting a group (video)."""
    n_groups = len(np.unique(groups))
    # StratifiedGroupKFold refuses more folds than the largest class has samples (tiny sets)
    k = max(2, min(folds, n_groups, max(Counter(y.tolist()).values())))
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def identity_probe(
    x: np.ndarray, identity: np.ndarray, video: np.ndarray, folds: int = 5, seed: int = 0
) -> ProbeResult:
    """Held-out-video identity accuracy of a linear probe on ``x`` (see the module docstring)."""
    videos_per_id = {i: len(set(video[identity == i])) for i in np.unique(identity)}
    keep_ids = [i for i, n in videos_per_id.items() if n >= 2]
    keep = np.isin(identity, keep_ids)
    x, identity, video = x[keep], identity[keep], video[keep]
    dropped = len(videos_per_id) - len(keep_ids)
    if len(keep_ids) < 2:
        return ProbeResult(
            float("nan"), float("nan"), float("nan"), int(keep.sum()), len(set(video)), len(keep_ids), dropped
        )
    correct = 0
    for tr, te in grouped_folds(identity, video, folds, seed):
        clf = _fit(_classifier(seed), x[tr], identity[tr])
        correct += int((clf.predict(x[te]) == identity[te]).sum())
    counts = Counter(identity.tolist())
    return ProbeResult(
        accuracy=correct / len(identity),
        chance=1.0 / len(keep_ids),
        majority=max(counts.values()) / len(identity),
        n_frames=len(identity),
        n_videos=len(set(video)),
        n_identities=len(keep_ids),
        n_dropped_identities=dropped,
    )


def realfake_auc(x: np.ndarray, label: np.ndarray, video: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Out-of-fold frame AUC of a linear real/fake probe on ``x`` (folds grouped by video)."""
    if len(np.unique(label)) < 2:
        return float("nan")
    prob = np.zeros(len(label))
    for tr, te in grouped_folds(label, video, folds, seed):
        if len(np.unique(label[tr])) < 2:
            return float("nan")
        prob[te] = _fit(_classifier(seed), x[tr], label[tr]).predict_proba(x[te])[:, 1]
    return float(roc_auc_score(label, prob))
