"""Metrics checked against plain-Python references (open_clip test_retrieval_metrics style); files and CLI: test_metrics_io.py."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from training.metrics import (
    aggregate_videos,
    calibrate_threshold,
    compute_metrics,
    write_metrics_json,
)

TOL = 1e-9


# ---------------------------------------------------------------- plain references (no library code)
def ref_roc_points(y, p):
    """(fpr, tpr, threshold) for every distinct score, scanned from the highest threshold down."""
    pos = [s for s, lab in zip(p, y, strict=True) if lab == 1]
    neg = [s for s, lab in zip(p, y, strict=True) if lab == 0]
    pts = [(0.0, 0.0, math.inf)]
    for t in sorted(set(p), reverse=True):
        pts.append((sum(s >= t for s in neg) / len(neg), sum(s >= t for s in pos) / len(pos), t))
    return pts


def ref_eer(y, p):
    """Intersect each ROC segment's line with x + y = 1 (FNR = FPR) by Cramer's rule."""
    pts = ref_roc_points(y, p)
    for (x0, y0, _), (x1, y1, _) in zip(pts, pts[1:], strict=False):
        if x0 + y0 <= 1.0 <= x1 + y1:
            # line through the two points: a x + b y = c ; and x + y = 1
            a, b = y1 - y0, -(x1 - x0)
            c = a * x0 + b * y0
            det = a * 1 - b * 1
            if det == 0:  # degenerate zero-length segment
                continue
            return (c * 1 - b * 1) / det
    raise AssertionError("ROC never crosses FNR = FPR")


def ref_tnr_at_tpr95(y, p):
    for fpr, tpr, _ in ref_roc_points(y, p):
        if tpr >= 0.95:
            return 1.0 - fpr
    raise AssertionError


def ref_youden(y, p):
    best = max(ref_roc_points(y, p)[1:], key=lambda q: (q[1] - q[0], q[2]))
    return best[2]


def ref_auc(y, p):
    """Mann-Whitney: P(score_fake > score_real) + 0.5 P(tie), by counting pairs."""
    pos = [s for s, lab in zip(p, y, strict=True) if lab == 1]
    neg = [s for s, lab in zip(p, y, strict=True) if lab == 0]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def ref_acc(y, p, t):
    return sum((s >= t) == bool(lab) for s, lab in zip(p, y, strict=True)) / len(y)


def ref_videos(keys, y, p, how):
    groups, labels = defaultdict(list), {}
    for k, lab, s in zip(keys, y, p, strict=True):
        groups[k].append(s)
        labels[k] = lab
    agg = {
        "mean": lambda v: sum(v) / len(v),
        "max": max,
        "median": lambda v: (sorted(v)[(len(v) - 1) // 2] + sorted(v)[len(v) // 2]) / 2,
    }[how]
    ks = sorted(groups)
    return ks, [labels[k] for k in ks], [agg(groups[k]) for k in ks]


def make_set(seed, n_videos=24, ties=False):
    """Several videos per label name, varied frame counts, overlapping scores."""
    rng = np.random.default_rng(seed)
    names = ["FF-real", "FF-DF", "FF-F2F", "FF-NT"]
    keys, y, p, lnames = [], [], [], []
    for v in range(n_videos):
        name = names[v % 4]
        lab = 0 if name == "FF-real" else 1
        for _ in range(int(rng.integers(1, 7))):
            s = float(np.clip(rng.normal(0.4 + 0.25 * lab, 0.2), 0, 1))
            keys.append(f"FaceForensics++/{name}/c23/{v:03d}")
            y.append(lab)
            p.append(round(s, 1) if ties else s)
            lnames.append(name)
    return keys, y, p, lnames


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("seed,ties", [(0, False), (1, False), (2, True), (3, True)])
def test_frame_and_video_metrics_match_references(seed, ties):
    keys, y, p, names = make_set(seed, ties=ties)
    m = compute_metrics(y, p, keys, names, threshold=0.45)
    assert abs(m["frame_auc"] - roc_auc_score(y, p)) < TOL
    assert abs(m["frame_auc"] - ref_auc(y, p)) < TOL
    assert abs(m["frame_ap"] - average_precision_score(y, p)) < TOL
    assert abs(m["frame_eer"] - ref_eer(y, p)) < TOL
    assert abs(m["frame_tnr_at_tpr95"] - ref_tnr_at_tpr95(y, p)) < TOL
    assert abs(m["frame_acc"] - ref_acc(y, p, 0.5)) < TOL
    assert abs(m["frame_acc_calibrated"] - ref_acc(y, p, 0.45)) < TOL
    vk, vy, vp = ref_videos(keys, y, p, "mean")
    assert m["n_frames"] == len(y) and m["n_videos"] == len(vk) == 24
    assert abs(m["video_auc"] - ref_auc(vy, vp)) < TOL
    assert abs(m["video_ap"] - average_precision_score(vy, vp)) < TOL
    assert abs(m["video_eer"] - ref_eer(vy, vp)) < TOL
    assert abs(m["video_tnr_at_tpr95"] - ref_tnr_at_tpr95(vy, vp)) < TOL
    assert abs(m["video_acc"] - ref_acc(vy, vp, 0.5)) < TOL
    assert abs(m["video_acc_calibrated"] - ref_acc(vy, vp, 0.45)) < TOL
    assert m["threshold"] == 0.45 and m["video_agg"] == "mean"
    assert all(type(m[k]) is float for k in m if k.startswith(("frame_", "video_")) and k != "video_agg")


def test_eer_on_hand_computed_cases():
    # perfectly separated → 0; fully inverted → 1
    assert compute_metrics([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], list("abcd"))["frame_eer"] == 0.0
    assert compute_metrics([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], list("abcd"))["frame_eer"] == 1.0
    # ROC (0,0)→(0,.5)→(.5,.5)→(.5,1)→(1,1): FNR = FPR = 0.5 exactly at (.5,.5)
    m = compute_metrics([1, 0, 1, 0], [0.9, 0.7, 0.5, 0.3], list("abcd"))
    assert m["frame_eer"] == 0.5 and m["frame_tnr_at_tpr95"] == 0.5
    # all scores tied: the ROC is the diagonal, the crossing is its midpoint
    assert abs(compute_metrics([0, 1, 0, 1], [0.5] * 4, list("abcd"))["frame_eer"] - 0.5) < TOL


def test_tnr_at_tpr95_uses_operating_points_on_diagonal_roc_segments():
    # 20 fakes / 20 reals; two (fake, real) tied pairs make collinear ROC points
    # (0, .90) → (.05, .95) → (.10, 1.0). TPR 0.95 is reached at FPR 0.05, so TNR = 0.95.
    p = [0.99 - 0.01 * i for i in range(18)] + [0.5, 0.4] + [0.5, 0.4] + [0.01 * i for i in range(18)]
    y = [1] * 20 + [0] * 20
    m = compute_metrics(y, p, [f"v{i}" for i in range(40)])
    assert abs(m["frame_tnr_at_tpr95"] - 0.95) < TOL
    assert abs(m["frame_tnr_at_tpr95"] - ref_tnr_at_tpr95(y, p)) < TOL


@pytest.mark.parametrize("how", ["mean", "max", "median"])
def test_video_aggregation_matches_hand_grouping(how):
    keys, y, p, names = make_set(5)
    ks, vy, vp = aggregate_videos(keys, y, p, how)
    rk, ry, rp = ref_videos(keys, y, p, how)
    assert ks == rk and vy.tolist() == ry
    np.testing.assert_allclose(vp, rp, rtol=0, atol=TOL)
    m = compute_metrics(y, p, keys, names, video_agg=how)
    assert m["video_agg"] == how
    assert abs(m["video_auc"] - ref_auc(ry, rp)) < TOL
    assert abs(m["video_eer"] - ref_eer(ry, rp)) < TOL


def test_ffpp_reused_video_name_stays_separate_videos():
    methods = ["FF-DF", "FF-F2F", "FF-FS", "FF-NT"]
    keys = [f"FaceForensics++/{mth}/c23/000_003" for mth in methods for _ in range(3)]
    keys += [f"FaceForensics++/FF-real/c23/{v}" for v in ("000", "003") for _ in range(3)]
    y = [1] * 12 + [0] * 6
    p = np.linspace(0.05, 0.95, 18)
    names = [k.split("/")[1] for k in keys]
    m = compute_metrics(y, p, keys, names)
    assert m["n_videos"] == 6
    assert sum(m["per_label"][mth]["n_videos"] for mth in methods) == 4
    only_fakes = compute_metrics(y[:12], p[:12], keys[:12])
    assert only_fakes["n_videos"] == 4


def test_one_class_gives_nan_and_note_not_zero(tmp_path, fbi_log):
    caplog = fbi_log
    y, p, keys = [1, 1, 1, 1], [0.9, 0.2, 0.7, 0.6], ["v1", "v1", "v2", "v3"]
    with caplog.at_level("WARNING", logger="fbi.metrics"):
        m = compute_metrics(y, p, keys, threshold=0.65)
    for level in ("frame", "video"):
        for k in ("auc", "eer", "ap", "tnr_at_tpr95"):
            assert math.isnan(m[f"{level}_{k}"]), f"{level}_{k} should be NaN"
    assert m["frame_acc"] == 0.75 and m["frame_acc_calibrated"] == 0.5
    assert m["video_acc"] == 1.0  # v1 mean 0.55, v2 0.7, v3 0.6
    assert any("only one class" in n and "frame level" in n for n in m["notes"])
    assert any("only one class" in n for n in caplog.messages)
    data = json.loads(write_metrics_json(tmp_path / "m.json", m).read_text())
    assert data["frame_auc"] is None and data["frame_acc"] == 0.75


def test_missing_threshold_is_nan_with_note():
    keys, y, p, names = make_set(7)
    m = compute_metrics(y, p, keys, names)
    assert m["threshold"] is None
    assert math.isnan(m["frame_acc_calibrated"]) and math.isnan(m["video_acc_calibrated"])
    assert any("threshold" in n for n in m["notes"])


def test_label_inconsistent_within_video_raises_with_key():
    with pytest.raises(ValueError, match="FaceForensics\\+\\+/FF-DF/c23/000_003"):
        compute_metrics([1, 0, 1], [0.2, 0.3, 0.4], ["FaceForensics++/FF-DF/c23/000_003"] * 2 + ["x"])


@pytest.mark.parametrize(
    "labels,probs,keys,match",
    [
        ([0, 2], [0.1, 0.2], ["a", "b"], "labels\\[1\\]"),
        ([0, 1], [0.1, 1.5], ["a", "b"], "probs\\[1\\]"),
        ([0, 1], [0.1, float("nan")], ["a", "b"], "probs\\[1\\]"),
        ([0, 1], [0.1], ["a", "b"], "different lengths"),
        ([0, 1], [0.1, 0.2], ["a"], "video_keys has 1"),
        ([0, 1], [0.1, 0.2], ["a", ""], "video_keys\\[1\\]"),
        ([], [], [], "empty"),
    ],
)
def test_bad_inputs_are_named(labels, probs, keys, match):
    with pytest.raises(ValueError, match=match):
        compute_metrics(labels, probs, keys)


def test_per_label_breakdown_matches_hand_reference():
    keys, y, p, names = make_set(11, n_videos=32)
    m = compute_metrics(y, p, keys, names)
    vk, vy, vp = ref_videos(keys, y, p, "mean")
    vname = {k: n for k, n in zip(keys, names, strict=True)}
    assert sorted(m["per_label"]) == sorted(set(names))
    real = [(lab, s) for lab, s, n in zip(y, p, names, strict=True) if n == "FF-real"]
    vreal = [(lab, s) for k, lab, s in zip(vk, vy, vp, strict=True) if vname[k] == "FF-real"]
    for name, e in m["per_label"].items():
        fr = [(lab, s) for lab, s, n in zip(y, p, names, strict=True) if n == name]
        vd = [(lab, s) for k, lab, s in zip(vk, vy, vp, strict=True) if vname[k] == name]
        assert e["n_frames"] == len(fr) and e["n_videos"] == len(vd) == 8
        assert abs(e["frame_acc"] - ref_acc(*zip(*fr, strict=True), 0.5)) < TOL
        assert abs(e["video_acc"] - ref_acc(*zip(*vd, strict=True), 0.5)) < TOL
        if name == "FF-real":
            assert e["label"] == 0 and "frame_auc" not in e
            continue
        assert e["label"] == 1
        assert abs(e["frame_auc"] - ref_auc(*zip(*(fr + real), strict=True))) < TOL
        assert abs(e["video_auc"] - ref_auc(*zip(*(vd + vreal), strict=True))) < TOL


def test_per_label_fake_without_reals_is_nan_with_note():
    m = compute_metrics([1, 1], [0.3, 0.8], ["a", "b"], ["FF-DF", "FF-NT"])
    assert math.isnan(m["per_label"]["FF-DF"]["frame_auc"])
    assert any("per_label 'FF-DF'" in n for n in m["notes"])


def test_calibrate_threshold_youden_and_eer():
    keys, y, p, _ = make_set(13, ties=True)
    t = calibrate_threshold(y, p)
    assert t == ref_youden(y, p)
    pts = ref_roc_points(y, p)[1:]
    best_gap = min(abs((1 - tpr) - fpr) for fpr, tpr, _ in pts)
    te = calibrate_threshold(y, p, method="eer")
    fpr_e = sum(s >= te for s, lab in zip(p, y, strict=True) if lab == 0) / y.count(0)
    tpr_e = sum(s >= te for s, lab in zip(p, y, strict=True) if lab == 1) / y.count(1)
    assert abs(abs((1 - tpr_e) - fpr_e) - best_gap) < TOL
    with pytest.raises(ValueError, match="only one class"):
        calibrate_threshold([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="youden"):
        calibrate_threshold(y, p, method="f1")
