"""training/demo.py: real face photo, a video made from it, a face-less image, and a broken file."""

from __future__ import annotations

import csv
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

from tests.conftest import REPO, TINY_VIT
from training.config import load_config
from training.trainer.build import build_detector
from training.trainer.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    cfg = load_config("training/config/detector/clip_demo.yaml", opts=[TINY_VIT])
    model = build_detector(cfg, {"num_identities": 1, "label_names": ["FBI-Demo_real", "FBI-Demo_fake"]})
    spec = model.input_spec
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    save_checkpoint(
        path,
        {
            "model": model.state_dict(),
            "config": cfg,
            "threshold": 0.5,
            "identity_map": {},
            "preprocessing": {"size": spec["size"], "mean": list(spec["mean"]), "std": list(spec["std"])},
        },
    )
    return path


def _demo(ckpt, *args: str) -> subprocess.CompletedProcess:
    """Run training/demo.py as a user would."""
    cmd = [sys.executable, "training/demo.py", "--weights_path", str(ckpt), *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def _media(folder):
    bgr = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "astronaut.png"), bgr)
    cv2.imwrite(str(folder / "coffee.jpg"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    (folder / "broken.mp4").write_bytes(b"\x00not a video" * 10)
    w = cv2.VideoWriter(str(folder / "moving.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 320))
    for t in range(12):  # the face drifts a few pixels per frame
        m = np.float32([[1, 0, -60 + 2 * t], [0, 1, -10 + t]])
        w.write(cv2.warpAffine(bgr, m, (320, 320)))
    w.release()


def test_demo_scores_faces_and_reports_failures(tiny_ckpt, tmp_path):
    media, out = tmp_path / "media", tmp_path / "out"
    media.mkdir()
    _media(media)
    p = _demo(tiny_ckpt, "--input", str(media), "--out", str(out), "--num_frames", "4")
    assert p.returncode == 1, p.stderr[-3000:]  # some inputs failed, and the exit code says so
    with open(out / "scores.csv", newline="") as f:
        rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(f)}
    assert set(rows) == {"astronaut.png", "coffee.jpg", "broken.mp4", "moving.mp4"}
    astro, vid = rows["astronaut.png"], rows["moving.mp4"]
    assert (
        astro["faces"] == "1"
        and 0.0 <= float(astro["fake_prob"]) <= 1.0
        and astro["verdict"] in ("real", "fake")
    )
    assert vid["kind"] == "video" and vid["frames"] == "4" and int(vid["faces"]) >= 3
    assert rows["coffee.jpg"]["verdict"] == "error" and "no face" in rows["coffee.jpg"]["note"]
    assert rows["broken.mp4"]["verdict"] == "error"
    assert (out / "astronaut_scored.png").is_file() and (out / "moving_scored.png").is_file()


def test_demo_no_detect_on_crops_and_missing_input(tiny_ckpt, tmp_path):
    crop = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[30:230, 150:350], (64, 64))
    cv2.imwrite(str(tmp_path / "crop.png"), crop)
    p = _demo(tiny_ckpt, "--input", str(tmp_path / "crop.png"), "--no-detect")
    assert p.returncode == 0 and "crop.png" in p.stdout and "faces=1" in p.stdout
    p = _demo(tiny_ckpt, "--input", str(tmp_path / "nope"))
    assert p.returncode == 2 and "does not exist" in p.stderr
