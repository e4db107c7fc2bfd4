"""Scripts work from any directory: inputs given relative to the cwd are found, written files are
printed as absolute paths. `python -m training.metrics` needs the package importable (pip install -e .,
which install.sh does); PYTHONPATH stands in for that here so the test does not touch the environment."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from tests.conftest import REPO
from training.metrics import write_predictions_csv


def _csv(folder):
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 1, 1] * 5)  # two frames per video, one label per video
    rows = {"video_key": [f"v{i // 2}" for i in range(20)], "frame": [f"{i}.png" for i in range(20)],
            "label": y, "label_name": ["r" if v == 0 else "f" for v in y], "prob": rng.random(20)}  # fmt: skip
    return write_predictions_csv(folder / "predictions.csv", rows)


def _run(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def test_metrics_module_from_another_directory(tmp_path):
    _csv(tmp_path)
    out = tmp_path / "sub" / "m.json"
    p = _run([sys.executable, "-m", "training.metrics", "predictions.csv", "--json", str(out)], cwd=tmp_path)
    assert out.is_file() and f"wrote {out}" in p.stdout
    assert str(tmp_path / "predictions.csv") in p.stdout  # the input, shown as an absolute path


def test_analysis_script_from_another_directory(tmp_path):
    _csv(tmp_path)
    out = tmp_path / "roc.png"
    p = _run([sys.executable, str(REPO / "analysis" / "plot_roc.py"), "predictions.csv", "--out", str(out)],
             cwd=tmp_path)  # fmt: skip
    assert out.is_file() and f"wrote {out}" in p.stdout
