"""End-to-end stops and resumes of train.py: kill -9 then --resume finishes (at an epoch end and inside an
epoch), Ctrl-C saves the current step and prints the exact --resume command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, tiny_opts
from tests.test_train_e2e import DEMO_YAML, _run


def _start_until_checkpoint(opts: list[str], last: Path, poll: float, stderr: int = subprocess.DEVNULL):
    """Start a training run and return once `last` (its last.pth) exists, the run ended, or 300 s passed."""
    proc = subprocess.Popen([sys.executable, "training/train.py", "--detector_path", DEMO_YAML, "--opts", *opts],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    deadline = time.time() + 300
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(poll)
    return proc


def _resume(run: Path, opts: list[str]) -> subprocess.CompletedProcess:
    return _run(["training/train.py", "--detector_path", DEMO_YAML, "--resume", str(run), "--opts", *opts])


@pytest.mark.slow
def test_kill_9_then_resume_finishes(demo_data, tmp_path):
    last = tmp_path / "resume" / "ckpt" / "last.pth"
    opts = tiny_opts(demo_data, tmp_path, "resume", nEpochs=40)
    proc = _start_until_checkpoint(opts, last, poll=0.2, stderr=subprocess.PIPE)
    assert last.exists(), f"no checkpoint appeared: {proc.stderr.read() if proc.poll() is not None else ''}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "resume" / "test" / "results.json").exists()
    epoch_at_kill = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    p = _resume(tmp_path / "resume", tiny_opts(demo_data, tmp_path, "resume", nEpochs=epoch_at_kill + 2))
    assert (tmp_path / "resume" / "test" / "results.json").is_file()
    final = torch.load(last, map_location="cpu", weights_only=True)
    assert final["epoch"] == epoch_at_kill + 2
    assert "resumed at epoch" in (tmp_path / "resume" / "log.txt").read_text()
    assert p.returncode == 0


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_continues_inside_the_epoch(demo_data, tmp_path):
    opts = tiny_opts(demo_data, tmp_path, "mid", train_batchSize=8, ckpt_every_steps=1)
    last = tmp_path / "mid" / "ckpt" / "last.pth"
    proc = _start_until_checkpoint(opts, last, poll=0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = torch.load(last, map_location="cpu", weights_only=True)
    assert killed["epoch"] == 0 and killed["epoch_batches"] == killed["step"] > 0  # inside the first epoch
    _resume(tmp_path / "mid", opts)
    final = torch.load(last, map_location="cpu", weights_only=True)
    steps_per_epoch = 240 // 8  # 60 training identities x 2 classes x 1 video x 2 frames, batch 8
    assert final["epoch"] == 1 and final["step"] == steps_per_epoch and final["epoch_batches"] == 0
    log = (tmp_path / "mid" / "log.txt").read_text()
    assert f"skipping its first {killed['epoch_batches']} batches" in log
    assert (tmp_path / "mid" / "test" / "results.json").is_file()


@pytest.mark.slow
def test_ctrl_c_saves_the_current_step_and_prints_the_resume_command(demo_data, tmp_path):
    opts = tiny_opts(demo_data, tmp_path, "ctrlc", train_batchSize=8, nEpochs=2, ckpt_every_steps=1)
    last = tmp_path / "ctrlc" / "ckpt" / "last.pth"
    proc = _start_until_checkpoint(opts, last, poll=0.05, stderr=subprocess.PIPE)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    stops = [line for line in err.splitlines() if line.startswith("stopped:")]
    assert len(stops) == 1 and "Traceback" not in err, err[-3000:]
    saved = torch.load(last, map_location="cpu", weights_only=True)
    assert f"step {saved['step']}:" in stops[0] and 0 < saved["step"] < 60, stops[0]
    command = stops[0].split("resume with: ", 1)[1].split()
    assert command[0] == "python" and command[-2:] == ["--resume", str(tmp_path / "ctrlc")]
    _run(command[1:])  # the printed command, as is (from the repo root here; it works from anywhere)
    final = torch.load(last, map_location="cpu", weights_only=True)
    assert final["step"] == 60 and final["epoch"] == 2  # 240 frames / batch 8 = 30 steps per epoch
    assert (tmp_path / "ctrlc" / "test" / "results.json").is_file()
