"""Metrics files and the metrics CLI: predictions.csv round trip and errors, `python -m training.metrics`, summary table."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fbi_common.paths import REPO_ROOT
from tests.test_metrics import make_set
from training.metrics import (
    compute_metrics,
    format_summary_table,
    read_predictions_csv,
    write_metrics_json,
    write_predictions_csv,
)


def test_predictions_csv_round_trip(tmp_path):
    keys, y, p, names = make_set(17)
    p = np.asarray(p, dtype=np.float32)  # what a model emits; must survive exactly as float64
    rows = [
        {"dataset": "FaceForensics++", "video_key": k, "frame": f"{k}/{i:03d}.png", "label": lab, "prob": s,
         "label_name": n}
        for i, (k, lab, s, n) in enumerate(zip(keys, y, p, names, strict=True))
    ]  # fmt: skip
    path = write_predictions_csv(tmp_path / "sub" / "predictions.csv", rows)
    header = path.read_text().splitlines()[0]
    assert header == "video_key,frame,label,label_name,prob,dataset"
    back = read_predictions_csv(path)
    assert back["video_key"] == keys and back["label_name"] == names
    assert back["label"].tolist() == y and back["dataset"] == ["FaceForensics++"] * len(y)
    assert np.array_equal(back["prob"], p.astype(np.float64))
    # the column-dict form writes the same file
    cols = {c: [r[c] for r in rows] for c in rows[0]}
    assert write_predictions_csv(tmp_path / "b.csv", cols).read_text() == path.read_text()


def test_predictions_csv_errors_name_file_and_column(tmp_path):
    bad = tmp_path / "nolabel.csv"
    bad.write_text("video_key,frame,prob\na,a/0.png,0.5\n")
    with pytest.raises(ValueError, match="nolabel.csv.*'label'"):
        read_predictions_csv(bad)
    bad.write_text("video_key,frame,label,prob\na,a/0.png,1,0.5\na,a/1.png,1,high\n")
    with pytest.raises(ValueError, match="nolabel.csv, line 3: column 'prob'"):
        read_predictions_csv(bad)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_predictions_csv(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="missing the column 'prob'"):
        write_predictions_csv(
            tmp_path / "w.csv", [{"video_key": "a", "frame": "f", "label": 0, "label_name": "x"}]
        )
    # label_name is optional on read
    ok = tmp_path / "ok.csv"
    ok.write_text("video_key,frame,label,prob\na,a/0.png,1,0.5\n")
    assert read_predictions_csv(ok)["label_name"] is None


def test_cli_recomputes_the_same_metrics(tmp_path):
    keys, y, p, names = make_set(19)
    rows = {"video_key": keys, "frame": [f"{i}.png" for i in range(len(y))], "label": y, "label_name": names,
            "prob": p}  # fmt: skip
    csv_path = write_predictions_csv(tmp_path / "predictions.csv", rows)
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "training.metrics", str(csv_path), "--video-agg", "median"]
    res = subprocess.run(
        cmd + ["--threshold", "0.55", "--json", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "frame" in res.stdout and "FF-F2F" in res.stdout
    expected = compute_metrics(y, p, keys, names, video_agg="median", threshold=0.55)
    expected_json = json.loads(write_metrics_json(tmp_path / "expected.json", expected).read_text())
    assert json.loads(out.read_text()) == expected_json
    assert expected_json["video_agg"] == "median" and expected_json["threshold"] == 0.55


def test_summary_table_lists_every_test_set():
    keys, y, p, names = make_set(23)
    a = compute_metrics(y, p, keys, names)
    b = compute_metrics([1, 1], [0.7, 0.4], ["x", "y"])
    text = format_summary_table({"Celeb-DF-v2": a, "DFDC": b})
    lines = text.splitlines()
    assert "frame AUC" in lines[0] and "video AUC" in lines[0] and "n_videos" in lines[0]
    assert lines[2].startswith("| Celeb-DF-v2") and f"{a['frame_auc']:.4f}" in lines[2]
    assert lines[3].startswith("| DFDC") and "n/a" in lines[3]
    assert lines[4].startswith("| mean") and lines[4].rstrip("| ").endswith(str(a["n_videos"] + 2))
