"""End-to-end: train.py → checkpoints, metrics, predictions; test.py on our, DDP and plain checkpoints;
2-process gloo DDP gives the same prediction set. Stops and resumes: test_train_resume.py."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, free_port, tiny_opts

DEMO_YAML = "training/config/detector/clip_demo.yaml"
METRIC_KEYS = {
    "frame_auc",
    "frame_eer",
    "frame_ap",
    "frame_acc",
    "frame_acc_calibrated",
    "frame_tnr_at_tpr95",
    "video_auc",
    "video_eer",
    "video_ap",
    "video_acc",
    "video_acc_calibrated",
    "video_tnr_at_tpr95",
    "n_frames",
    "n_videos",
    "threshold",
    "per_label",
}


def _run(args: list[str], timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    p = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=e
    )
    assert p.returncode == 0, f"{args[:2]} failed:\nSTDOUT:\n{p.stdout[-3000:]}\nSTDERR:\n{p.stderr[-6000:]}"
    return p


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained_run(demo_data, tmp_path_factory):
    """One short single-process training run shared by several tests."""
    log_dir = tmp_path_factory.mktemp("logs")
    _run(
        [
            "training/train.py",
            "--detector_path",
            DEMO_YAML,
            "--opts",
            *tiny_opts(demo_data, log_dir, "single", max_steps=4),
        ]
    )
    return log_dir / "single"


def test_training_writes_a_complete_run_folder(trained_run):
    run = trained_run
    assert (run / "config.yaml").is_file() and (run / "log.txt").is_file()
    assert any((run / "tb").iterdir()), "no TensorBoard events"
    ckpt = torch.load(run / "ckpt" / "last.pth", map_location="cpu", weights_only=True)
    for key in (
        "model",
        "optimizer",
        "scheduler",
        "epoch",
        "step",
        "config",
        "label_dict",
        "preprocessing",
        "best_metric",
        "threshold",
        "identity_map",
    ):
        assert key in ckpt, key
    assert ckpt["step"] == 4 and ckpt["preprocessing"]["size"] == 32
    assert (run / "ckpt" / "best.pth").is_file(), "validation selection did not save best.pth"
    metrics = json.loads((run / "test" / "FBI-Demo" / "metrics.json").read_text())
    assert set(metrics) >= METRIC_KEYS
    assert metrics["selected_on"] == "val"
    rows = _rows(run / "test" / "FBI-Demo" / "predictions.csv")
    assert len(rows) == metrics["n_frames"] and {"video_key", "frame", "label", "prob", "label_name"} <= set(
        rows[0]
    )
    assert len({r["video_key"] for r in rows}) == metrics["n_videos"]
    assert (run / "val").is_dir()


def test_test_py_reproduces_training_metrics_and_accepts_ddp_and_plain_weights(
    trained_run, demo_data, tmp_path
):
    base = json.loads((trained_run / "test" / "FBI-Demo" / "metrics.json").read_text())
    ckpt = torch.load(trained_run / "ckpt" / "best.pth", map_location="cpu", weights_only=True)
    torch.save({"module." + k: v for k, v in ckpt["model"].items()}, tmp_path / "ddp_style.pth")
    torch.save(ckpt["model"], tmp_path / "plain.pth")
    opts = tiny_opts(demo_data, tmp_path, "t")
    for w in (trained_run / "ckpt" / "best.pth", tmp_path / "ddp_style.pth", tmp_path / "plain.pth"):
        out = tmp_path / w.stem
        p = _run(
            [
                "training/test.py",
                "--detector_path",
                DEMO_YAML,
                "--weights_path",
                str(w),
                "--out",
                str(out),
                "--opts",
                *opts,
            ]
        )
        m = json.loads((out / "FBI-Demo" / "metrics.json").read_text())
        assert m["frame_auc"] == pytest.approx(base["frame_auc"], abs=1e-6), w.name
        assert m["video_auc"] == pytest.approx(base["video_auc"], abs=1e-6), w.name
        assert "FBI-Demo" in p.stdout  # the summary table


def test_list_detectors():
    p = _run(["training/train.py", "--list"])
    for name in ("clip", "xception", "efficientnetb4"):
        assert name in p.stdout


def test_config_error_exits_cleanly(demo_data, tmp_path):
    p = subprocess.run(
        [sys.executable, "training/train.py", "--detector_path", DEMO_YAML, "--opts", "train_batchsize=3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 2 and "train_batchSize" in p.stderr


@pytest.mark.slow
def test_two_process_ddp_matches_single_process_prediction_set(trained_run, demo_data, tmp_path):
    # Through train.sh (torchrun), as users launch it: 2 gloo processes on CPU.
    p = subprocess.run(
        ["sh", "train.sh", DEMO_YAML, "--opts", *tiny_opts(demo_data, tmp_path, "ddp", max_steps=3)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "NGPU": "2",
            "MASTER_PORT": str(free_port()),
            "PYTHON": sys.executable,
        },
    )
    assert p.returncode == 0, p.stderr[-6000:]
    single = _rows(trained_run / "test" / "FBI-Demo" / "predictions.csv")
    ddp = _rows(tmp_path / "ddp" / "test" / "FBI-Demo" / "predictions.csv")
    keys = [(r["video_key"], r["frame"]) for r in ddp]
    assert len(keys) == len(set(keys)), "DDP evaluation duplicated samples"
    assert set(keys) == {(r["video_key"], r["frame"]) for r in single}, "DDP evaluation lost or added samples"
    # The DDP checkpoint evaluated by a single process gives the same per-frame probabilities.
    out = tmp_path / "ddp_test"
    _run(
        [
            "training/test.py",
            "--detector_path",
            DEMO_YAML,
            "--weights_path",
            str(tmp_path / "ddp" / "ckpt" / "last.pth"),
            "--out",
            str(out),
            "--opts",
            *tiny_opts(demo_data, tmp_path, "x"),
        ]
    )
    single_eval = {
        (r["video_key"], r["frame"]): float(r["prob"]) for r in _rows(out / "FBI-Demo" / "predictions.csv")
    }
    ckpt = torch.load(tmp_path / "ddp" / "ckpt" / "last.pth", map_location="cpu", weights_only=True)
    if ckpt["best_epoch"] == ckpt["epoch"]:  # the tested weights are the last ones
        for r in ddp:
            assert float(r["prob"]) == pytest.approx(single_eval[(r["video_key"], r["frame"])], abs=1e-5)


def test_fbi_clip_demo_trains_and_a_plain_state_dict_tests(demo_data, tmp_path):
    """FBI-CLIP (masks + identity head on) end to end; a bare state_dict sizes its identity head itself."""
    yaml = "training/config/detector/fbi_clip_demo.yaml"
    fbi = ["model.freq.channels=4", "model.boundary.channels=4", "model.head.embed_dim=16"]
    _run(
        [
            "training/train.py",
            "--detector_path",
            yaml,
            "--opts",
            *fbi,
            *tiny_opts(demo_data, tmp_path, "fbi", max_steps=2),
        ]
    )
    base = json.loads((tmp_path / "fbi" / "test" / "FBI-Demo" / "metrics.json").read_text())
    ckpt = torch.load(tmp_path / "fbi" / "ckpt" / "best.pth", map_location="cpu", weights_only=True)
    assert any(k.startswith("identity.") for k in ckpt["model"]), "identity head missing from the checkpoint"
    torch.save(ckpt["model"], tmp_path / "plain.pth")
    out = tmp_path / "plain_out"
    _run(
        [
            "training/test.py",
            "--detector_path",
            yaml,
            "--weights_path",
            str(tmp_path / "plain.pth"),
            "--out",
            str(out),
            "--opts",
            *fbi,
            *tiny_opts(demo_data, tmp_path, "t", train_dataset="[]"),
        ]
    )
    m = json.loads((out / "FBI-Demo" / "metrics.json").read_text())
    assert m["frame_auc"] == pytest.approx(base["frame_auc"], abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    "yaml",
    [
        "fbi_clip",
        "fbi_clip_no_freq",
        "fbi_clip_no_boundary",
        "fbi_clip_no_identity",
        "fbi_clip_ln_l2_baseline",
    ],
)
def test_fbi_ablation_configs_train_and_evaluate_on_the_demo(yaml, demo_data, tmp_path):
    """Each ablation is a config, not a code edit: it trains a few steps through train.py and evaluates."""
    opts = [
        "model.pretrained=none",
        "train_dataset=[FBI-Demo]",
        "test_dataset=[FBI-Demo]",
        "test_batchSize=64",
    ]
    _run(["training/train.py", "--detector_path", f"training/config/detector/{yaml}.yaml", "--opts", *opts,
          *tiny_opts(demo_data, tmp_path, "abl", max_steps=2, test_dataset="[FBI-Demo]")])  # fmt: skip
    metrics = json.loads((tmp_path / "abl" / "test" / "FBI-Demo" / "metrics.json").read_text())
    assert metrics["n_videos"] > 0 and 0.0 <= metrics["frame_auc"] <= 1.0
