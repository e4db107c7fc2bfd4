"""The bad inputs the command-line battery (test_cli_errors.py) runs on: broken YAMLs, unsafe and truncated
checkpoints, dataset copies without masks or with corrupt frames, taken and resumable run folders, and a run
folder as older code wrote it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from torch import nn

from tests.conftest import tiny_opts

DEMO_YAML = "training/config/detector/clip_demo.yaml"


class _Evil:
    """Not a tensor: weights_only=True refuses to unpickle it."""


class _Reduce:
    """A malicious pickle: unpickling it would create the file named `marker` (it must never run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _copy_rgb(src: Path, dst: Path, *, masks: bool = True) -> Path:
    shutil.copytree(src, dst, ignore=None if masks else shutil.ignore_patterns("masks"))
    return dst


def bad_files(tmp: Path, demo: dict) -> dict[str, Path]:
    """The bad inputs: YAML, checkpoints, dataset copies, run folders."""
    f = {}
    f["bad_yaml"] = tmp / "bad.yaml"
    f["bad_yaml"].write_text("model_name: [clip\n")
    good = tmp / "good.pth"
    torch.save({"model": nn.Linear(4, 2).state_dict()}, good)
    data = good.read_bytes()
    f["truncated"] = tmp / "truncated.pth"
    f["truncated"].write_bytes(data[: len(data) // 2])
    f["pickle"] = tmp / "pickle.pth"
    torch.save({"model": _Evil()}, f["pickle"])
    f["reduce"] = tmp / "reduce.pth"
    torch.save({"state_dict": _Reduce(tmp / "PWNED")}, f["reduce"])
    f["text"] = tmp / "notes.pth"
    f["text"].write_text("hello")
    f["mismatch"] = tmp / "linear.pth"
    torch.save(nn.Linear(4, 2).state_dict(), f["mismatch"])
    f["nomask"] = _copy_rgb(demo["rgb_dir"], tmp / "rgb_nomask", masks=False)
    f["corrupt"] = _copy_rgb(demo["rgb_dir"], tmp / "rgb_corrupt")
    # Not the first video of its label (the pre-flight reads those): the error comes from a worker.
    for png in (f["corrupt"] / "FBI-Demo/fake/frames/id098_v0").glob("*.png"):
        png.write_bytes(b"not a png")
    f["taken"] = tmp / "logs" / "taken"
    f["taken"].mkdir(parents=True)
    (f["taken"] / "log.txt").write_text("an earlier run\n")
    f["csv"] = tmp / "bad.csv"
    f["csv"].write_text("video_key,frame,label\nv,0.png,1\n")
    f["broken_json"] = shutil.copytree(demo["json_folder"], tmp / "json_broken")
    (f["broken_json"] / "Broken.json").write_text('{"Broken": ')
    return f


def old_run(tmp: Path, demo: dict) -> Path:
    """A run folder as older code wrote it: config.yaml with a scalar data_aug.sbi.shift (now [x, y])."""
    from training.config import config_to_yaml, load_config

    run = tmp / "logs" / "old"
    cfg = load_config(DEMO_YAML, opts=tiny_opts(demo, tmp / "logs", "old"))
    cfg["data_aug"]["sbi"]["shift"] = 0.03
    (run / "ckpt").mkdir(parents=True)
    (run / "config.yaml").write_text(config_to_yaml(cfg))
    torch.save({"config": cfg, "step": 3, "epoch": 0}, run / "ckpt" / "last.pth")
    return run


def resumable_run(tmp: Path, demo: dict) -> Path:
    """A run folder whose last.pth holds a config (what --resume compares against)."""
    from training.config import load_config

    run = tmp / "logs" / "resumed"
    cfg = load_config(DEMO_YAML, opts=tiny_opts(demo, tmp / "logs", "resumed"))
    (run / "ckpt").mkdir(parents=True)
    torch.save({"config": cfg, "step": 3, "epoch": 0}, run / "ckpt" / "last.pth")
    return run
