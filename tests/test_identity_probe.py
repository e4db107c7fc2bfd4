"""Identity probe: known answers on synthetic features, folds grouped by video, and the CLI on a tiny run."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from analysis.pipeline.probe import grouped_folds, identity_probe, realfake_auc
from tests.conftest import REPO, tiny_opts


def _synthetic(n_ids: int = 12, videos: int = 3, frames: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    ident = np.repeat(np.arange(n_ids), videos * frames)
    video = np.array([f"id{i}_v{v}" for i in range(n_ids) for v in range(videos) for _ in range(frames)])
    return rng, ident, video


def test_identity_features_give_accuracy_near_one() -> None:
    rng, ident, video = _synthetic()
    x = np.eye(12)[ident] * 3 + rng.normal(0, 0.3, (len(ident), 12))
    r = identity_probe(x, ident, video, folds=3)
    assert r.accuracy > 0.95 and r.chance == pytest.approx(1 / 12) and r.n_identities == 12


def test_identity_free_features_give_chance() -> None:
    rng, ident, video = _synthetic(seed=1)
    x = rng.normal(0, 1, (len(ident), 16))
    r = identity_probe(x, ident, video, folds=3)
    assert r.accuracy < r.chance + 0.1


def test_folds_never_split_a_video_and_single_video_identities_are_dropped() -> None:
    _, ident, video = _synthetic()
    for tr, te in grouped_folds(ident, video, 3, seed=0):
        assert not set(video[tr]) & set(video[te])
    one = np.array([v if not v.startswith("id0_") else "id0_v0" for v in video])  # identity 0: one video only
    assert identity_probe(np.eye(12)[ident], ident, one, folds=3).n_dropped_identities == 1


def test_video_memorising_features_give_chance_so_folds_cannot_leak_a_video() -> None:
    """Features that name the *video* (not the person): a probe is at chance only if no video is on both sides.

    With frames of one video in both training and held-out folds, the classifier maps the video code to its
    identity and scores ≈ 1 — so this fails if identity_probe ever stops grouping its folds by video.
    """
    rng, ident, video = _synthetic(n_ids=20, videos=3, frames=3, seed=2)
    codes = {v: rng.normal(0, 1, 32) for v in dict.fromkeys(video)}  # a random code per video
    x = np.stack([codes[v] for v in video]) + rng.normal(0, 0.1, (len(video), 32))
    r = identity_probe(x, ident, video, folds=3)
    assert r.accuracy < r.chance + 0.1
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    ungrouped = StratifiedKFold(3, shuffle=True, random_state=0)
    leaky = cross_val_score(LogisticRegression(max_iter=2000), x, ident, cv=ungrouped).mean()
    assert leaky > 0.9  # the same features do leak identity when a video sits on both sides


def test_variants_table_puts_probe_accuracy_next_to_auc(tmp_path) -> None:
    from analysis.identity_probe import variants_table

    runs = {}
    for label, auc in (("full", 0.9), ("no_identity", 0.8)):
        d = tmp_path / label / "test" / "D"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"video_auc": auc, "frame_auc": auc - 0.05}))
        runs[label] = [tmp_path / label]
    base = {"dataset": "D", "split": "test", "frames": "all", "chance": 0.25}
    rows = [{**base, "checkpoint": lab, "identities": ids, "features": f, "accuracy": acc}
            for lab, acc in (("full", 0.3), ("no_identity", 0.7)) for ids in ("unseen", "seen") for f in ("z", "cls")]  # fmt: skip
    g = variants_table(list(runs.items()), rows, "D")
    assert g.rows[0][:5] == ["full", "0.900", "0.850", "0.300", "0.300"]
    assert g.rows[1][1] == "0.800" and g.rows[1][3] == "0.700" and g.rows[1][-1] == "0.250"
    assert "id acc z (unseen)" in g.markdown()


def test_realfake_auc_of_a_label_signal() -> None:
    rng, _, video = _synthetic()
    label = np.array([int(v.endswith(("_v1",))) for v in video])
    x = label[:, None] * 2.0 + rng.normal(0, 0.5, (len(label), 4))
    assert realfake_auc(x, label, video, folds=3) > 0.95


@pytest.mark.slow
def test_cli_on_a_tiny_run(demo_data, tmp_path) -> None:
    yaml = "training/config/detector/fbi_clip_demo.yaml"
    opts = tiny_opts(demo_data, tmp_path, "fbi", max_steps=1) + [
        "model.freq.channels=4",
        "model.boundary.channels=4",
    ]
    train = subprocess.run([sys.executable, "training/train.py", "--detector_path", yaml, "--opts", *opts],
                           cwd=REPO, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert train.returncode == 0, train.stderr[-2000:]
    data_opts = [
        f"rgb_dir={demo_data['rgb_dir']}",
        f"dataset_json_folder={demo_data['json_folder']}",
        "workers=0",
    ]
    cmd = [sys.executable, str(REPO / "analysis" / "identity_probe.py"), "--weights_path", str(tmp_path / "fbi"),
           "--test_dataset", "FBI-Demo", "--splits", "test", "train", "--frames_per_video", "2", "--folds", "2",
           "--out", str(tmp_path / "probe"), "--opts", *data_opts]  # fmt: skip
    p = subprocess.run(cmd, cwd=REPO / "tests", capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = list(csv.DictReader((tmp_path / "probe" / "identity_probe.csv").read_text().splitlines()))
    kinds = {(r["split"], r["identities"], r["features"]) for r in rows}
    assert ("test", "unseen", "z") in kinds and ("train", "seen", "cls") in kinds
    bad = subprocess.run(
        [*cmd[:3], str(tmp_path / "nope"), *cmd[4:]], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
