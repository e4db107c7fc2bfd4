"""The data-path benchmarks run end to end on tiny inputs and refuse bad ones (exit 2, one error: line)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_crops_then_loader_benchmark_both_modes(tmp_path):
    out = tmp_path / "crops"
    p = _run(
        "benchmarks/make_bench_crops.py", "--out", str(out), "--videos", "10", "--frames", "2", "--size", "48"
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert (out / "dataset_json" / "Celeb-DF-v2.json").is_file() and str(out) in p.stdout
    args = ["--dataset", "Celeb-DF-v2", "--dataset_json_folder", str(out / "dataset_json"), "--rgb_dir"]
    p = _run("benchmarks/bench_loader.py", *args, str(out / "rgb"), "--size", "32", "--batch", "4",
             "--workers", "0", "--batches", "2", "--rounds", "1", "--mode", "both", "--profile",
             "--frame_cache", str(tmp_path / "fc"))  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    for name in ("ours_loader_fps", "reference_loader_fps", "loader_speedup"):
        assert f"RESULT {name} " in p.stdout
    assert "ms/frame" in p.stdout and "ours, frame cache:" in p.stdout
    assert p.stdout.count("cache build: 32 frames decoded and stored") == 1  # the training frames, once
    assert len([d for d in (tmp_path / "fc").iterdir() if d.is_dir()]) == 1
    bad = _run("benchmarks/bench_loader.py", *args, str(out / "rgb"), "--lmdb")
    assert bad.returncode == 2 and "--lmdb needs --lmdb_dir" in bad.stderr and "Traceback" not in bad.stderr


def test_metrics_benchmark_agrees_with_scikit_learn():
    p = _run("benchmarks/bench_metrics.py", "--frames", "3000", "--repeats", "1")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "RESULT metrics_seconds " in p.stdout and "RESULT metrics_speedup " in p.stdout
    bad = _run("benchmarks/bench_metrics.py", "--frames", "5")
    assert bad.returncode == 2 and "error:" in bad.stderr and "Traceback" not in bad.stderr


def test_step_benchmark_prints_every_row():
    p = _run("benchmarks/bench_step.py", "--models", "clip_lp", "clip_ln", "--batch", "2", "--reps", "1",
             "--options", "channels_last", "fused_adamw", "grad_ckpt", "feature_cache", "--clock", "cpu")  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    for row in ("clip_lp   plain", "clip_ln   fused_adamw", "clip_ln   grad_ckpt", "clip_lp   feature_cache"):
        assert row in p.stdout
    assert "RESULT step_clip_ln_train_img_s " in p.stdout and "RESULT step_clip_lp_eval_img_s " in p.stdout
    assert "(clip_ln: feature_cache not available for this model)" in p.stdout  # it LN-tunes its backbone
    for name in (
        "step_clip_lp_cached_train_img_s",
        "feature_cache_later_epoch_speedup",
        "feature_cache_run_speedup",
    ):
        assert f"RESULT {name} " in p.stdout
    bad = _run("benchmarks/bench_step.py", "--batch", "1")
    assert bad.returncode == 2 and "--batch must be >= 2" in bad.stderr and "Traceback" not in bad.stderr
