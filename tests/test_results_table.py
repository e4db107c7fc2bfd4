"""analysis/results_table.py on synthetic run folders with known answers: point values, the video bootstrap CI
and the paired tests recomputed independently here (plain loops, scikit-learn, a brute-force DeLong)."""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from analysis.tables.batch_metrics import batch_metric
from analysis.tables.stats import delong_test, metric_value
from tests.conftest import REPO
from training.metrics import compute_metrics, write_metrics_json, write_predictions_csv

N_BOOT, SEED = 100, 7


def _predictions(rng: np.random.Generator, n_videos: int, sep: float, frames: int = 3) -> list[dict]:
    rows = []
    for v in range(n_videos):
        y = v % 2
        mu = 0.5 + (sep if y else -sep) * rng.uniform(0.2, 1.0)
        for f in range(frames):
            cls = "fake" if y else "real"
            p = float(np.clip(mu + rng.normal(0, 0.15), 0, 1))
            rows.append(
                {
                    "video_key": f"D/{cls}/v{v:03d}",
                    "frame": f"{f}.png",
                    "label": y,
                    "label_name": f"D_{cls}",
                    "prob": p,
                }
            )
    return rows


def _write_run(
    root: Path, name: str, seed: int, sets: dict[str, list[dict]], train: str = "TrainSet"
) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        yaml.safe_dump({"train_dataset": [train], "manualSeed": seed, "video_agg": "mean"})
    )
    for ds, rows in sets.items():
        write_predictions_csv(run / "test" / ds / "predictions.csv", rows)
        m = compute_metrics(
            [r["label"] for r in rows], [r["prob"] for r in rows], [r["video_key"] for r in rows]
        )
        write_metrics_json(run / "test" / ds / "metrics.json", m)
    return run


def _video_scores(rows: list[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
    acc: dict[str, list] = {}
    for r in rows:
        acc.setdefault(r["video_key"], [r["label"], []])[1].append(r["prob"])
    keys = sorted(acc)
    return keys, np.array([acc[k][0] for k in keys]), np.array([np.mean(acc[k][1]) for k in keys])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    data = {
        ("A", 1): {"D1": _predictions(rng, 40, 0.3), "D2": _predictions(rng, 30, 0.1)},
        ("A", 2): {"D1": _predictions(rng, 40, 0.3), "D2": _predictions(rng, 30, 0.1)},
        ("B", 1): {"D1": _predictions(rng, 40, 0.15), "D2": _predictions(rng, 30, 0.12)},
    }
    for (label, seed), sets in data.items():
        _write_run(root / "all", f"{label}_s{seed}", seed, sets)
    return {"root": root, "data": data}


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    """The real command line, from another cwd (the tests folder)."""
    cmd = [sys.executable, str(REPO / "analysis" / "results_table.py"), *args]
    return subprocess.run(cmd, cwd=REPO / "tests", capture_output=True, text=True, timeout=300)


def _in_process(capsys, *args: str) -> tuple[int, str, str]:
    """run_cli(main) in this process (no interpreter start-up): exit code, stdout, stderr."""
    from analysis.results_table import main
    from fbi_common.cli import run_cli

    with pytest.raises(SystemExit) as exc:
        run_cli(main, list(args))
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


@pytest.fixture(scope="module")
def table(runs) -> dict:
    out = runs["root"] / "out"
    p = _run_cli(str(runs["root"] / "all"), "--metric", "video_auc", "frame_auc", "video_eer", "--n_boot", str(N_BOOT),
                 "--boot_seed", str(SEED), "--reference", "A", "--out", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    with open(out / "results.csv", newline="") as f:
        rows = {(r["metric"], r["detector"], r["test_set"]): r for r in csv.DictReader(f)}
    return {"out": out, "rows": rows, "stdout": p.stdout}


def _boot_independent(rows: list[dict], level: str, seed: int, n_boot: int) -> np.ndarray:
    """The documented protocol, written as a plain loop over replicated samples."""
    keys, vy, vp = _video_scores(rows)
    frames = {k: np.array([[r["label"], r["prob"]] for r in rows if r["video_key"] == k]) for k in keys}
    rng = np.random.default_rng(seed)
    real, fake = np.flatnonzero(vy == 0), np.flatnonzero(vy == 1)
    out = []
    for _ in range(n_boot):
        draw = np.concatenate([rng.choice(real, len(real)), rng.choice(fake, len(fake))])
        if level == "video":
            out.append(roc_auc_score(vy[draw], vp[draw]))
        else:
            fr = np.concatenate([frames[keys[i]] for i in draw])
            out.append(roc_auc_score(fr[:, 0], fr[:, 1]))
    return np.array(out)


def test_point_values_are_seed_means_of_predictions(runs, table) -> None:
    for ds in ("D1", "D2"):
        aucs = [roc_auc_score(*_video_scores(runs["data"][("A", s)][ds])[1:]) for s in (1, 2)]
        r = table["rows"][("video_auc", "A", ds)]
        assert float(r["mean"]) == pytest.approx(np.mean(aucs), abs=1e-12)
        assert float(r["std"]) == pytest.approx(np.std(aucs, ddof=1), abs=1e-12)
        assert (
            r["n_runs"] == "2" and r["train"] == "TrainSet" and r["predictions"].count("predictions.csv") == 2
        )
    avg = table["rows"][("video_auc", "B", "Average")]
    per_set = [float(table["rows"][("video_auc", "B", d)]["mean"]) for d in ("D1", "D2")]
    assert float(avg["mean"]) == pytest.approx(np.mean(per_set), abs=1e-12)


def test_bootstrap_ci_matches_an_independent_loop(runs, table) -> None:
    for level in ("video", "frame"):
        reps = np.mean(
            [_boot_independent(runs["data"][("A", s)]["D1"], level, SEED, N_BOOT) for s in (1, 2)], axis=0
        )
        r = table["rows"][(f"{level}_auc", "A", "D1")]
        assert (float(r["ci_low"]), float(r["ci_high"])) == pytest.approx(
            tuple(np.quantile(reps, [0.025, 0.975])), abs=1e-12
        )


def test_paired_test_against_independent_computation(runs, table) -> None:
    rows_b, rows_a = runs["data"][("B", 1)]["D1"], runs["data"][("A", 1)]["D1"]
    rb = _boot_independent(rows_b, "video", SEED, N_BOOT)
    ra = np.mean(
        [_boot_independent(runs["data"][("A", s)]["D1"], "video", SEED, N_BOOT) for s in (1, 2)], axis=0
    )
    d = np.where(np.abs(rb - ra) < 1e-12, 0.0, rb - ra)  # documented: float noise counts as a tie
    r = table["rows"][("video_auc", "B", "D1")]
    assert float(r["delta_ci_low"]) == pytest.approx(np.quantile(d, 0.025), abs=1e-12)
    p = max(2 * min(np.mean(d <= 0), np.mean(d >= 0)), 1 / N_BOOT)
    assert float(r["p_bootstrap"]) == pytest.approx(min(p, 1.0), abs=1e-12)
    assert r["p_delong"] == ""  # A has two seeds: no single score vector, no DeLong
    _, vy, vb = _video_scores(rows_b)
    _, _, va = _video_scores(rows_a)
    assert delong_test(vy, vb, va)["p"] == pytest.approx(_delong_brute(vy, vb, va), rel=1e-9)


def _delong_brute(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """DeLong 1988 from the definition: placement values by explicit pairwise comparison."""

    def psi(x, z):
        return 1.0 if x > z else 0.5 if x == z else 0.0

    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    comps = []
    for s in (a, b):
        v10 = np.array([np.mean([psi(s[i], s[j]) for j in neg]) for i in pos])
        v01 = np.array([np.mean([psi(s[i], s[j]) for i in pos]) for j in neg])
        comps.append((v10.mean(), v10, v01))
    s10 = np.cov(np.stack([comps[0][1], comps[1][1]]))
    s01 = np.cov(np.stack([comps[0][2], comps[1][2]]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / len(pos) + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / len(
        neg
    )
    z = abs(comps[0][0] - comps[1][0]) / np.sqrt(var)
    return float(2 * (1 - 0.5 * (1 + math.erf(z / math.sqrt(2)))))


def test_delong_single_runs_and_known_answers(tmp_path, capsys) -> None:
    rng = np.random.default_rng(3)
    perfect = [{**r, "prob": float(r["label"])} for r in _predictions(rng, 20, 0.2)]
    _write_run(tmp_path, "Perfect_s1", 1, {"D": perfect})
    _write_run(tmp_path, "Same_s1", 1, {"D": perfect})
    code, _, err = _in_process(capsys, f"P={tmp_path / 'Perfect_s1'}", f"S={tmp_path / 'Same_s1'}", "--metric",
                               "video_auc", "--n_boot", "50", "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 0, err
    with open(tmp_path / "o" / "results.csv", newline="") as f:
        rows = {(r["detector"], r["test_set"]): r for r in csv.DictReader(f)}
    assert float(rows[("P", "D")]["mean"]) == 1.0 and float(rows[("P", "D")]["ci_low"]) == 1.0
    assert float(rows[("S", "D")]["delta"]) == 0.0 and float(rows[("S", "D")]["p_bootstrap"]) == 1.0


def test_batched_metrics_equal_scikit_learn_with_weights() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.round(np.clip(0.3 * y + rng.normal(0.35, 0.2, 200), 0, 1), 2)  # rounded: many ties
    w = rng.integers(0, 4, (30, 200))
    w[:, :2] = 1  # both classes present in every row
    w[:, np.flatnonzero(y == 1)[0]] += 1
    for m in ("auc", "ap", "eer"):
        np.testing.assert_allclose(
            batch_metric(m, y, p, w), [metric_value(m, y, p, r) for r in w], atol=1e-12
        )
    assert metric_value("eer", y, p) == pytest.approx(
        compute_metrics(y, p, [str(i) for i in range(200)])["frame_eer"]
    )


def test_outputs_markdown_latex_and_matrix(table) -> None:
    out = table["out"]
    md = (out / "results.md").read_text()
    assert (
        "| detector | D1 | D2 | Average |" in md
        and "train \\ test" in md
        and "DeLong" not in md.split("Δ vs")[0]
    )
    tex = (out / "results_video_auc.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "$\\pm$" in tex
    assert f"wrote {out.resolve() / 'results.csv'}" in table["stdout"]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_every_latex_table_compiles_in_a_booktabs_preamble(table, tmp_path) -> None:
    """Each .tex is a table float a paper can \\input: the lot compiles under a plain booktabs preamble."""
    texs = sorted(table["out"].glob("*.tex"))
    assert len(texs) >= 3
    body = "".join(f"\\input{{{t.resolve().as_posix()}}}\n" for t in texs)
    doc = "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + body + "\\end{document}\n"
    (tmp_path / "doc.tex").write_text(doc)
    p = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 0 and (tmp_path / "doc.pdf").is_file(), p.stdout[-2000:]


def test_bad_inputs_exit_2_with_one_error_line(tmp_path, runs, capsys) -> None:
    all_runs = str(runs["root"] / "all")
    bad = ([str(tmp_path / "missing")], [str(tmp_path)], [all_runs, "--metric", "video_f1"],
           [all_runs, "--reference", "Nope"], [all_runs, "--n_boot", "3"])  # fmt: skip
    for args in bad:
        code, _, err = _in_process(capsys, *args)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, (
            err
        )
