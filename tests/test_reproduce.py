"""analysis/reproduce.py: the demo chain on tiny settings writes report.md whose numbers trace to predictions.csv;
re-running resumes; the ffpp recipe prints its plan with missing datasets listed."""

from __future__ import annotations

import csv
import re

import pytest

from tests.conftest import TINY_VIT
from training.metrics import compute_metrics, read_predictions_csv


def _main(args: list[str], capsys) -> tuple[int, str, str]:
    from analysis.reproduce import main
    from fbi_common.cli import run_cli

    with pytest.raises(SystemExit) as exc:
        run_cli(main, args)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


def _opts(demo_data) -> list[str]:
    return [TINY_VIT, f"rgb_dir={demo_data['rgb_dir']}", f"dataset_json_folder={demo_data['json_folder']}", "workers=0",
            "nEpochs=1", "max_steps=2", "frame_num={train: 2, val: 2, test: 2}", "train_batchSize=32", "test_batchSize=64"]  # fmt: skip


@pytest.mark.slow
def test_demo_recipe_writes_a_traceable_report_and_resumes(demo_data, tmp_path, capsys) -> None:
    out = tmp_path / "rep"
    args = ["--recipe", "demo", "--out", str(out), "--models", "fbi_clip", "clip", "--robustness_types", "GB",
            "--robustness_levels", "5", "--skip", "cost", "hooks", "--n_boot", "20", "--opts", *_opts(demo_data)]  # fmt: skip
    code, stdout, err = _main(args, capsys)
    assert code == 0, err
    report = (out / "report.md").read_text()
    assert f"wrote {out / 'report.md'}" in stdout
    for heading in ("## 1. Cross-domain results", "## 3. Robustness", "In plain words", "| FBI-CLIP |",
                    "Identity probe next to AUC — FBI-Demo"):  # fmt: skip
        assert heading in report
    for img in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report):
        assert (out / img).is_file(), img
    with open(out / "tables" / "cross_domain.csv", newline="") as f:
        cells = [r for r in csv.DictReader(f) if r["metric"] == "video_auc" and r["test_set"] != "Average"]
    assert {c["test_set"] for c in cells} == {"FBI-Demo", "FBI-Demo-X"} and len(cells) == 4
    for c in cells:  # every number traces to a predictions.csv
        d = read_predictions_csv(c["predictions"])
        assert float(c["mean"]) == pytest.approx(
            compute_metrics(d["label"], d["prob"], d["video_key"])["video_auc"], abs=1e-12
        )
    ckpt = out / "runs" / "fbi_clip_s1" / "ckpt" / "best.pth"
    mtime = ckpt.stat().st_mtime_ns
    code, _, err = _main(args, capsys)  # resumable: trains nothing again
    assert code == 0, err
    assert ckpt.stat().st_mtime_ns == mtime


def test_ffpp_dry_run_lists_plan_and_missing_sets(tmp_path, capsys) -> None:
    code, out, err = _main(
        [
            "--recipe",
            "ffpp",
            "--dry-run",
            "--out",
            str(tmp_path),
            "--opts",
            f"dataset_json_folder={tmp_path}",
        ],
        capsys,
    )
    assert code == 0, err
    assert "missing dataset JSONs" in out and "Celeb-DF-v2" in out and "DeepSpeak" in out
    from analysis.pipeline.recipes import FFPP, rival_models

    assert (
        out.count("training/train.py") == (len(FFPP.models) + len(rival_models())) * 3
    )  # models (+ rivals) x 3 seeds
    assert all(f"{m.key}_s3" in out for m in rival_models())
    assert "fbi_clip_no_freq.yaml" in out and "training/robustness.py" in out


def test_bad_models_flag(tmp_path, capsys) -> None:
    code, _, err = _main(["--recipe", "demo", "--models", "clip", "--out", str(tmp_path)], capsys)
    assert code == 2 and err.startswith("error: ") and "fbi_clip" in err


def test_demo_recipe_shortens_the_fbi_clip_family(tmp_path, capsys) -> None:
    """The demo's time budget: the FBI-CLIP runs train 10 epochs, CLIP its YAML's; the command line still wins."""
    code, out, err = _main(
        ["--recipe", "demo", "--dry-run", "--out", str(tmp_path), "--opts", "workers=0"], capsys
    )
    assert code == 0, err
    trains = [line for line in out.splitlines() if "training/train.py" in line]
    fbi = [line for line in trains if "fbi_clip_demo" in line]
    assert len(trains) == 6 and len(fbi) == 5 and all(" nEpochs=10 " in f"{line} " for line in fbi), trains
    assert all(line.index("nEpochs=10") < line.index("workers=0") for line in fbi)
    assert "nEpochs" not in next(
        line for line in trains if "clip_demo.yaml" in line and "fbi_clip" not in line
    )


def test_run_pool_runs_jobs_at_once_and_stops_starting_after_a_failure(tmp_path) -> None:
    import sys

    from analysis.pipeline.plan import job_env, run_pool

    def task(name: str, code: str):
        return name, [sys.executable, "-c", code], tmp_path / f"{name}.console.txt"

    stamp = (
        "import os, sys, time; print(os.environ['OMP_NUM_THREADS'], time.time()); sys.stdout.flush(); "
        "time.sleep(1.0); print(time.time())"
    )
    codes = run_pool([task("a", stamp), task("b", stamp)], 2, {**job_env(2), "OMP_NUM_THREADS": "1"}, "t")
    assert codes == {"a": 0, "b": 0}
    (threads, a0), (a1,) = [line.split() for line in (tmp_path / "a.console.txt").read_text().splitlines()]
    (_, b0), (b1,) = [line.split() for line in (tmp_path / "b.console.txt").read_text().splitlines()]
    assert threads == "1" and float(a0) < float(b1) and float(b0) < float(a1)  # both ran at the same time
    codes = run_pool([task("bad", "raise SystemExit(3)"), task("never", "pass")], 1, job_env(1), "t")
    assert codes == {"bad": 3, "never": None}  # nothing new starts after a failure
    codes = run_pool(
        [task("bad", "raise SystemExit(3)"), task("runs", "pass")], 1, job_env(1), "t", keep_going=True
    )
    assert codes == {"bad": 3, "runs": 0}  # keep_going (the report's figure tools): the others still run


def test_failing_figure_tools_become_notes_not_a_broken_report(tmp_path, monkeypatch) -> None:
    """run_hooks runs the interpretability tools `jobs` at once; each failing one is a note with its error
    line and console file, and the others still run."""
    from analysis.pipeline import report

    monkeypatch.setattr(
        report, "FIGURE_HOOKS", {t: ["{run}", "--out", "{out}"] for t in ("calibration", "curves")}
    )
    pngs, notes = report.run_hooks(tmp_path / "no_such_run", ["FBI-Demo"], tmp_path / "figs", [], jobs=2)
    assert pngs == [] and len(notes) == 2
    for tool, note in zip(("calibration", "curves"), notes, strict=True):
        assert note.startswith(f"analysis/{tool}.py failed: error:") and "no_such_run" in note
        assert f"{tool}.console.txt" in note


def test_job_env_splits_the_cores_unless_threads_are_set(monkeypatch) -> None:
    import os

    from analysis.pipeline.plan import job_env

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert job_env(2)["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
    assert "OMP_NUM_THREADS" not in job_env(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert job_env(2)["OMP_NUM_THREADS"] == "3"


def test_rival_rows_are_labelled_with_display_names() -> None:
    """--rivals rows print a detector's `display_name` (e.g. CADDM); one without it keeps its registry name."""
    from analysis.pipeline.recipes import rival_models
    from training.registry import DETECTORS

    rows = {m.key: m.label for m in rival_models("_demo")}
    assert rows["caddm"] == "CADDM" and rows["f3net"] == "F3Net"
    assert all(label == (DETECTORS.get(key).display_name or key) for key, label in rows.items())
