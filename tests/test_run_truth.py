"""Runs tell the truth (in-process, tiny ViT): each checkpoint carries its own threshold, best.pth is
written only when the selection improves, results say which checkpoint was tested, a stop by signal
saves the current step and a resume (also from a pre-best.pth checkpoint) tests the selected weights;
the pre-flight warns about a one-class validation split; the final log never says no validation ran."""

from __future__ import annotations

import json
import math
import shutil
import signal
from pathlib import Path

import pytest
import torch

from fbi_common.errors import Stopped
from tests.conftest import tiny_opts
from training.config import load_config
from training.trainer import hooks
from training.trainer.runner import run_test, run_training

DEMO_YAML = "training/config/detector/clip_demo.yaml"
FAKE_AUC = {1: 0.6, 2: 0.9, 3: 0.7}  # epoch 2 is the best: the final test must reload it from best.pth


def _cfg(demo: dict, log_dir: Path, name: str, **extra: object) -> dict:
    return load_config(DEMO_YAML, opts=tiny_opts(demo, log_dir, name, **{"nEpochs": 3, **extra}))


def _ckpt(run: Path, name: str) -> dict:
    return torch.load(run / "ckpt" / name, map_location="cpu", weights_only=True)


def _val(run: Path, epoch: int) -> dict:
    return json.loads((run / "val" / f"epoch_{epoch:03d}" / "metrics.json").read_text())


@pytest.fixture()
def scripted_auc(monkeypatch):
    """Validation AUC by epoch from FAKE_AUC (thresholds are still calibrated on the real predictions)."""
    real = hooks.score_and_write

    def fake(preds, out, **kw):
        metrics = real(preds, out, **kw)
        metrics["frame_auc"] = FAKE_AUC[kw["extra"]["epoch"]]
        return metrics

    monkeypatch.setattr(hooks, "score_and_write", fake)
    saves: list[str] = []
    real_save = hooks.save_checkpoint
    monkeypatch.setattr(
        hooks, "save_checkpoint", lambda p, s: (saves.append(Path(p).name), real_save(p, s))[1]
    )
    return saves


def test_checkpoints_and_results_say_what_they_are(demo_data, tmp_path, scripted_auc):
    results = run_training(_cfg(demo_data, tmp_path, "run"))
    run = tmp_path / "run"
    last, best = _ckpt(run, "last.pth"), _ckpt(run, "best.pth")
    assert "best_model" not in last, "last.pth still embeds the best weights"
    assert last["epoch"] == 3 and last["threshold"] == _val(run, 3)["threshold"], (
        "last.pth: not its own threshold"
    )
    assert best["epoch"] == 2 and best["threshold"] == _val(run, 2)["threshold"], (
        "best.pth: not the best's threshold"
    )
    assert last["selected_on"] == "last" and best["selected_on"] == "val"
    assert scripted_auc.count("best.pth") == 2, f"best.pth rewritten without a change: {scripted_auc}"
    m = results["FBI-Demo"]
    assert (m["checkpoint"], m["epoch"], m["selected_on"]) == (str(run / "ckpt" / "best.pth"), 2, "val")
    assert m["run_dir"] == str(run) and m["threshold"] == best["threshold"]
    assert json.loads((run / "test" / "FBI-Demo" / "metrics.json").read_text())["epoch"] == 2
    # the weights tested at the end are best.pth's, not the last epoch's
    out = run_test(
        _cfg(demo_data, tmp_path, "t"), str(run / "ckpt" / "best.pth"), out_dir=str(tmp_path / "t")
    )
    assert out["FBI-Demo"]["frame_auc"] == pytest.approx(m["frame_auc"], abs=1e-9)
    assert out["FBI-Demo"]["selected_on"] == "val" and out["FBI-Demo"]["run_dir"] == str(run)
    last_out = run_test(
        _cfg(demo_data, tmp_path, "t"), str(run / "ckpt" / "last.pth"), out_dir=str(tmp_path / "l")
    )
    stamp = json.loads((tmp_path / "l" / "FBI-Demo" / "metrics.json").read_text())
    assert (stamp["selected_on"], stamp["epoch"], stamp["checkpoint"]) == (
        "last",
        3,
        str(run / "ckpt" / "last.pth"),
    )
    assert last_out["FBI-Demo"]["threshold"] == last["threshold"]


def test_stop_saves_the_step_and_resume_tests_the_selected_weights(
    demo_data, tmp_path, scripted_auc, monkeypatch
):
    real_after_step = hooks.Checkpointer.after_step

    def signal_at_step_10(self):
        real_after_step(self)
        if self.trainer.global_step == 10:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C does; the handler only sets the flag

    monkeypatch.setattr(hooks.Checkpointer, "after_step", signal_at_step_10)
    with pytest.raises(Stopped) as stop:
        run_training(_cfg(demo_data, tmp_path, "stop"))
    run = tmp_path / "stop"
    assert stop.value.exit_code == 128 + signal.SIGINT
    assert f"--resume {run}" in str(stop.value) and "step 10" in str(stop.value)
    saved = _ckpt(run, "last.pth")
    assert (saved["step"], saved["epoch"], saved["epoch_batches"]) == (10, 1, 3)  # 7 steps per epoch
    assert saved["threshold"] is None, "mid-epoch weights were never validated, so they have no threshold"
    monkeypatch.setattr(hooks.Checkpointer, "after_step", real_after_step)
    results = run_training(_cfg(demo_data, tmp_path, "stop"), resume=str(run))
    assert _ckpt(run, "last.pth")["step"] == 21
    assert results["FBI-Demo"]["epoch"] == 2 and results["FBI-Demo"]["checkpoint"].endswith("best.pth")
    out = run_test(
        _cfg(demo_data, tmp_path, "t"), str(run / "ckpt" / "best.pth"), out_dir=str(tmp_path / "t")
    )
    assert out["FBI-Demo"]["frame_auc"] == pytest.approx(results["FBI-Demo"]["frame_auc"], abs=1e-9)


def test_resume_of_a_checkpoint_that_embeds_the_best_weights(demo_data, tmp_path, scripted_auc):
    """Checkpoints written before best.pth held the best weights alone (`best_model` in last.pth)."""
    first = run_training(_cfg(demo_data, tmp_path, "old", nEpochs=2))  # best = epoch 2 of 2
    run = tmp_path / "old"
    best, last = _ckpt(run, "best.pth"), _ckpt(run, "last.pth")
    legacy = {k: v for k, v in last.items() if k not in ("best_threshold", "selected_on")}
    legacy["best_model"], legacy["threshold"] = best["model"], best["threshold"]
    torch.save(legacy, run / "ckpt" / "last.pth")
    (run / "ckpt" / "best.pth").unlink()
    cfg = _cfg(demo_data, tmp_path, "old", nEpochs=3)  # epoch 3 (AUC 0.7) does not beat epoch 2 (0.9)
    results = run_training(cfg, resume=str(run))
    assert results["FBI-Demo"]["epoch"] == 2
    assert results["FBI-Demo"]["frame_auc"] == pytest.approx(first["FBI-Demo"]["frame_auc"], abs=1e-9)


@pytest.fixture()
def one_class_val(demo_data, tmp_path) -> dict:
    """FBI-Demo with no fake videos in its val split, as dataset `OneVal`."""
    data = json.loads((demo_data["json_folder"] / "FBI-Demo.json").read_text())["FBI-Demo"]
    data["FBI-Demo_fake"]["val"] = {}
    folder = tmp_path / "json"
    folder.mkdir()
    (folder / "OneVal.json").write_text(json.dumps({"OneVal": data}))
    shutil.copy(demo_data["json_folder"] / "FBI-Demo.json", folder)
    return {"rgb_dir": demo_data["rgb_dir"], "json_folder": folder}


def test_one_class_validation_is_flagged_and_reported_truthfully(one_class_val, tmp_path, capsys):
    cfg = _cfg(one_class_val, tmp_path, "one", nEpochs=1, train_dataset="[OneVal]", test_dataset="[FBI-Demo]")
    results = run_training(cfg)
    text = capsys.readouterr().err
    assert "val split of ['OneVal'] has no fake (1) videos" in text
    assert "--select_on test" in text and "val_dataset" in text and "split by identity" in text
    assert "no validation ran" not in text and "validation ran 1x" in text
    m = results["FBI-Demo"]
    assert m["selected_on"] == "last" and m["epoch"] == 1 and m["threshold"] is None
    val = _val(tmp_path / "one", 1)
    assert val["frame_auc"] is None or math.isnan(val["frame_auc"])
