"""Real videos through the preprocessing pipeline: aligned crops, failure ledger, face-less frames, masks, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from fbi_common.face import FaceEngine
from fbi_common.face.align import eye_angle_deg
from preprocessing.fbi_prep import synthetic
from preprocessing.fbi_prep.ledger import Ledger
from preprocessing.fbi_prep.runner import run
from preprocessing.fbi_prep.settings import load_section

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engine():
    return FaceEngine("hog", "auto", 640, (0, 1))


def cfg_for(root: Path, out: Path, **kw) -> dict:
    base = load_section("preprocess") | {
        "dataset": "custom",
        "root": str(root),
        "out": str(out),
        "workers": 1,
    }
    return base | {"num_frames": 4} | kw


def labels(root: Path, rows: list[tuple[str, str]]) -> None:
    (root / "labels.csv").write_text("path,label\n" + "".join(f"{p},{lbl}\n" for p, lbl in rows))


def ledger_of(out: Path, name: str) -> dict[str, dict]:
    return Ledger(out / name / "preprocess_ledger.jsonl").records


def test_crops_are_aligned_faces_with_landmarks_on_them(tmp_path, engine):
    synthetic.face_video(tmp_path / "raw/a.mp4", n_frames=10)
    labels(tmp_path / "raw", [("a.mp4", "real")])
    summary = run(cfg_for(tmp_path / "raw", tmp_path / "rgb"), engine)
    assert summary["counts"]["ok"] == 1
    frames = sorted((tmp_path / "rgb/raw/frames/a").glob("*.png"))
    assert [f.name for f in frames] == ["000.png", "003.png", "006.png", "009.png"]
    for f in frames:
        crop = cv2.imread(str(f))
        assert crop.shape == (256, 256, 3)
        lm = np.load(tmp_path / "rgb/raw/landmarks/a" / f"{f.stem}.npy")
        assert lm.shape == (68, 2) and lm.dtype == np.float32
        assert abs(eye_angle_deg(lm)) < 3.0  # source frames are rotated by up to 4.5 degrees
        # Independent check: dlib finds a face in the crop, centred, with level eyes, where the landmarks are.
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        faces = engine.detect(grey)
        assert len(faces) == 1
        face = engine.add_landmarks(grey, faces[0])
        left, top, right, bottom = face.box
        assert abs((left + right) / 2 - 128) < 20 and abs((top + bottom) / 2 - 128) < 30
        assert abs(eye_angle_deg(face.landmarks)) < 4.0
        assert np.abs(face.landmarks - lm).mean() < 6.0


def test_bad_videos_are_recorded_while_others_finish_and_rerun_skips(tmp_path, engine):
    raw = tmp_path / "raw"
    synthetic.face_video(raw / "good.mp4", n_frames=8, size=256)
    synthetic.corrupt_video(raw / "corrupt.mp4")
    synthetic.empty_video(raw / "empty.mp4")
    synthetic.noface_video(raw / "noface.mp4")
    labels(
        raw,
        [
            ("good.mp4", "real"),
            ("corrupt.mp4", "fake"),
            ("empty.mp4", "fake"),
            ("noface.mp4", "real"),
            ("gone.mp4", "fake"),
        ],
    )
    cfg = cfg_for(raw, tmp_path / "rgb", workers=2)
    summary = run(cfg, engine)
    recs = ledger_of(tmp_path / "rgb", "raw")
    assert {v: r["status"] for v, r in recs.items()} == {
        "good.mp4": "ok", "corrupt.mp4": "unreadable", "empty.mp4": "unreadable",
        "noface.mp4": "no_face", "gone.mp4": "unreadable",
    }  # fmt: skip
    assert "zero-byte" in recs["empty.mp4"]["error"] and "not found" in recs["gone.mp4"]["error"]
    assert recs["noface.mp4"]["frames_decoded"] == 4 and recs["noface.mp4"]["frames_with_face"] == 0
    assert summary["counts"]["ok"] == 1 and len(summary["failures"]) == 4
    assert not (tmp_path / "rgb/raw/frames/noface").exists()
    lines = (tmp_path / "rgb/raw/preprocess_ledger.jsonl").read_text().splitlines()
    again = run(cfg, engine)
    assert (tmp_path / "rgb/raw/preprocess_ledger.jsonl").read_text().splitlines() == lines  # nothing redone
    assert again["counts"] == summary["counts"]
    run(cfg | {"retry_failed": True, "workers": 1}, engine)
    assert len((tmp_path / "rgb/raw/preprocess_ledger.jsonl").read_text().splitlines()) == len(lines) + 4


def _video_with_faceless_frame(path: Path, bad: int, n: int = 12) -> None:
    coffee = cv2.resize(cv2.cvtColor(synthetic.skdata.coffee(), cv2.COLOR_RGB2BGR), (320, 320))
    synthetic.write_video(path, [coffee if t == bad else synthetic.astronaut_frame(t) for t in range(n)])


def test_faceless_frame_replaced_by_nearest_frame_with_a_face(tmp_path, engine):
    raw = tmp_path / "raw"
    _video_with_faceless_frame(raw / "v.mp4", bad=4)  # 12 frames, 4 wanted: 0, 4, 7, 11
    labels(raw, [("v.mp4", "fake")])
    run(cfg_for(raw, tmp_path / "rgb"), engine)
    rec = ledger_of(tmp_path / "rgb", "raw")["v.mp4"]
    assert rec["status"] == "ok" and rec["frames_with_face"] == 3 and rec["replaced"] == {"4": 3}
    assert sorted(p.name for p in (tmp_path / "rgb/raw/frames/v").iterdir()) == [
        "000.png",
        "003.png",
        "007.png",
        "011.png",
    ]

    run(cfg_for(raw, tmp_path / "rgb2", no_face="drop"), engine)
    rec = ledger_of(tmp_path / "rgb2", "raw")["v.mp4"]
    assert rec["status"] == "partial" and rec["dropped"] == [4] and rec["frames_written"] == 3


def test_mask_policy_picks_the_manipulated_face_and_warps_the_mask(tmp_path, engine):
    raw = tmp_path / "FF"
    vid = raw / "manipulated_sequences/Deepfakes/c23/videos/953_974.mp4"
    synthetic.two_face_video(
        vid, raw / "manipulated_sequences/Deepfakes/masks/videos/953_974.mp4", n_frames=4
    )
    base = load_section("preprocess") | {"root": str(raw), "workers": 1, "num_frames": 2, "comp": ["c23"]}
    out = tmp_path / "rgb"
    run(base | {"out": str(out), "face_policy": "mask"}, engine)
    rec = ledger_of(out, "FaceForensics++")["manipulated_sequences/Deepfakes/c23/videos/953_974.mp4"]
    assert rec["status"] == "ok" and rec["policy_applied"] == {"mask": 2} and rec["masks"] == "ok"
    d = out / "FaceForensics++/manipulated_sequences/Deepfakes/c23"
    crop = cv2.imread(str(d / "frames/953_974/000.png")).astype(float)
    mask = cv2.imread(str(d / "masks/953_974/000.png"), cv2.IMREAD_GRAYSCALE)
    assert mask[128, 128] > 200 and mask[5, 5] < 50 and mask.shape == (256, 256)  # mp4v blurs 255 a little

    run(base | {"out": str(tmp_path / "rgb_l"), "face_policy": "largest", "masks": False}, engine)
    crop_l = cv2.imread(
        str(tmp_path / "rgb_l/FaceForensics++/manipulated_sequences/Deepfakes/c23/frames/953_974/000.png")
    )

    def blue_minus_red(img):
        return img[96:160, 96:160, 0].astype(float).mean() - img[96:160, 96:160, 2].astype(float).mean()

    # The mask policy cropped the blue-tinted (right, smaller) face; `largest` the untinted big one.
    assert blue_minus_red(crop) - blue_minus_red(crop_l) > 40
    assert not (tmp_path / "rgb_l/FaceForensics++/manipulated_sequences/Deepfakes/c23/masks").exists()

    run(base | {"out": str(tmp_path / "rgb_a"), "face_policy": "all"}, engine)
    rec = ledger_of(tmp_path / "rgb_a", "FaceForensics++")[
        "manipulated_sequences/Deepfakes/c23/videos/953_974.mp4"
    ]
    assert rec["outputs"] == [
        "manipulated_sequences/Deepfakes/c23/frames/953_974",
        "manipulated_sequences/Deepfakes/c23/frames/953_974_face1",
    ]


@pytest.mark.slow
def test_kill_minus_nine_then_resume(tmp_path):
    raw = tmp_path / "raw"
    names = [f"v{i}.mp4" for i in range(4)]
    for n in names:
        synthetic.face_video(raw / n, n_frames=8, size=256)
    labels(raw, [(n, "real") for n in names])
    cmd = [sys.executable, str(REPO / "preprocessing/preprocess.py"), "--dataset", "custom", "--root", str(raw),
           "--out", str(tmp_path / "rgb"), "--workers", "1", "--num_frames", "8"]  # fmt: skip
    ledger = tmp_path / "rgb/raw/preprocess_ledger.jsonl"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (ledger.is_file() and ledger.read_text().count("\n") >= 1):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [json.loads(x)["video"] for x in ledger.read_text().splitlines() if x.strip()]
    assert 1 <= len(before) < 4, "the run should have been killed part-way"
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    recs = [json.loads(x) for x in ledger.read_text().splitlines()]
    assert sorted(r["video"] for r in recs) == sorted(names)  # each video recorded exactly once: no redo
    assert all(r["status"] == "ok" for r in recs)
    for n in names:
        assert len(list((tmp_path / "rgb/raw/frames" / Path(n).stem).glob("*.png"))) == 8
