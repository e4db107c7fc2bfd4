"""The data-path benchmarks run end to end on tiny inputs and refuse bad ones (exit 2, one error: line)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

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


def test_decode_benchmark_png_vs_jpg(tmp_path):
    for fmt in ("png", "jpg"):
        p = _run("benchmarks/make_bench_crops.py", "--out", str(tmp_path / fmt), "--videos", "10", "--frames", "1",
                 "--size", "48", "--image_format", fmt)  # fmt: skip
        assert p.returncode == 0, p.stderr[-2000:]
    assert len(list((tmp_path / "jpg").rglob("frames/*/*.jpg"))) == 20
    dirs = ["--png", str(tmp_path / "png" / "rgb"), "--jpg", str(tmp_path / "jpg" / "rgb")]
    p = _run("benchmarks/bench_decode.py", *dirs, "--n", "8", "--rounds", "1")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "png: 8 crops of 48x48 px" in p.stdout and "jpg: 8 crops of 48x48 px" in p.stdout
    for name in ("png_decode_ms", "jpg_decode_ms", "png_over_jpg_decode"):
        assert f"RESULT {name} " in p.stdout
    bad = _run(
        "benchmarks/bench_decode.py", "--png", str(tmp_path / "png" / "rgb"), "--jpg", str(tmp_path / "no")
    )
    assert (
        bad.returncode == 2 and "error: no .jpg crops under" in bad.stderr and "Traceback" not in bad.stderr
    )


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_vc_benchmark_checks_identity_and_prints_results():
    p = _run("benchmarks/bench_vc.py", "--videos", "3", "--chunk", "2")
    assert p.returncode == 0, p.stderr
    assert "identical frames" in p.stdout and "RESULT vc_batched_speedup" in p.stdout


def test_jpeg_copy_of_a_dataset(demo_data, tmp_path):
    import json

    import cv2
    import numpy as np

    from training.config import load_config
    from training.dataset.index import build_index

    rgb, js = tmp_path / "rgb", tmp_path / "dataset_json"
    shutil.copytree(demo_data["rgb_dir"], rgb)
    shutil.copytree(demo_data["json_folder"], js)
    args = ["--dataset", "FBI-Demo", "--rgb_dir", str(rgb), "--dataset_json_folder", str(js)]
    p = _run("benchmarks/jpeg_copy.py", *args)
    assert p.returncode == 0, p.stderr[-2000:]
    assert str(js / "FBI-Demo-jpg.json") in p.stdout
    cfg = load_config(
        "training/config/detector/clip_demo.yaml", opts=[f"rgb_dir={rgb}", f"dataset_json_folder={js}"]
    )
    for split in ("train", "val", "test"):
        png, jpg = build_index(["FBI-Demo"], split, cfg), build_index(["FBI-Demo-jpg"], split, cfg)
        assert [(r.video, r.label_name, len(r.frames)) for r in png] == [
            (r.video, r.label_name, len(r.frames)) for r in jpg
        ]
    a, b = png[0], jpg[0]
    assert b.frames[0].startswith("FBI-Demo-jpg/") and b.frames[0].endswith(".jpg")
    assert (rgb / b.landmarks[0]).is_file() and (rgb / b.masks[0]).read_bytes() == (
        rgb / a.masks[0]
    ).read_bytes()
    x, y = (cv2.imread(str(rgb / r.frames[0])).astype(float) for r in (a, b))
    psnr = 10 * np.log10(255**2 / np.mean((x - y) ** 2))
    assert 30 < psnr < 80, psnr  # quality 95: close to the PNG, but re-encoded (not a plain copy)
    assert json.loads((js / "FBI-Demo-jpg.json").read_text()).keys() == {"FBI-Demo-jpg"}
    bad = _run("benchmarks/jpeg_copy.py", *args[:1], "FaceForensics++", *args[2:])
    assert bad.returncode == 2 and "error:" in bad.stderr and "image_format: jpg" in bad.stderr
    assert "Traceback" not in bad.stderr
