"""analysis/plot_roc.py draws frame- and video-level ROC curves from predictions files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from tests.conftest import REPO
from training.metrics import write_predictions_csv


def test_plot_roc_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"video_key": f"D/{'fake' if y else 'real'}/v{v}", "frame": f"{i}.png", "label": y,
             "label_name": "D_fake" if y else "D_real", "prob": float(np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2), 0, 1))}
            for v in range(10) for y in (0, 1) for i in range(3)]  # fmt: skip
    csv = tmp_path / "run" / "test" / "D" / "predictions.csv"
    csv.parent.mkdir(parents=True)
    write_predictions_csv(csv, rows)
    out = tmp_path / "roc.png"
    p = subprocess.run([sys.executable, "analysis/plot_roc.py", str(csv), "--out", str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_roc_curve_styles_colour_per_model_line_per_test_set() -> None:
    """Eight models × two test sets (the demo report with --rivals): no two models share a colour, a model
    keeps its colour across test sets, and each test set has its own line style."""
    from pathlib import Path

    from analysis.plot_roc import curve_styles

    curves = [
        (f"m{i}_s1/{t}", Path(f"r/m{i}_s1/test/{t}/predictions.csv")) for i in range(8) for t in ("A", "X")
    ]
    st = curve_styles(curves)
    colours = {n.split("/")[0]: st[n, p]["color"] for n, p in curves}
    assert len(set(colours.values())) == 8
    for n, p in curves:
        assert st[n, p]["color"] == colours[n.split("/")[0]]
        assert st[n, p]["ls"] == ("-" if n.endswith("/A") else "--")
