"""One face path: preprocess.py and demo.py crop the same pixels; training and preprocessing share only fbi_common."""

from __future__ import annotations

import ast
from pathlib import Path

import cv2
import numpy as np
import pytest

from fbi_common.face import FaceEngine
from fbi_common.frames import select_frames
from preprocessing.fbi_prep import synthetic
from preprocessing.fbi_prep.runner import run
from preprocessing.fbi_prep.settings import load_section

REPO = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    """Top-level package names each module of `package` imports (absolute imports only)."""
    out = {}
    for py in (REPO / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        out[str(py.relative_to(REPO))] = names
    return out


def test_training_and_preprocessing_never_import_each_other():
    bad = [m for m, names in _imports("training").items() if "preprocessing" in names]
    bad += [m for m, names in _imports("preprocessing").items() if "training" in names]
    bad += [m for m, names in _imports("fbi_common").items() if names & {"training", "preprocessing"}]
    assert not bad, f"cross-package imports (move what both use to fbi_common/): {bad}"


def test_one_frame_selection_rule_for_every_caller():
    assert select_frames(12, 4) == [1, 4, 7, 10]  # training: stride centres
    assert select_frames(100, 5, spread="ends") == [0, 25, 50, 74, 99]  # preprocessing fixed_num_frames
    assert select_frames(25, 0, stride=10) == [0, 10, 20] and select_frames(100, 2, stride=10) == [0, 10]
    assert select_frames(3, 8, spread="ends") == select_frames(3, 8) == [0, 1, 2]
    a = select_frames(300, 8, 5)
    assert a == select_frames(300, 8, np.random.default_rng(5)) and len(set(a)) == 8 and a == sorted(a)
    with pytest.raises(ValueError, match="spread"):
        select_frames(10, 3, spread="middle")


def test_demo_and_preprocess_crop_identical_pixels(tmp_path):
    """The crops `training/demo.py` scores (Detector) are the crops `preprocess.py` writes, same frames."""
    from tests.media_fixtures import StubMember
    from training.inference import Detector
    from training.inference.media import read_media

    raw = tmp_path / "raw"
    synthetic.face_video(raw / "a.mp4", n_frames=10)
    (raw / "labels.csv").write_text("path,label\na.mp4,real\n")
    engine = FaceEngine("hog", "auto", 640, (0, 1))
    cfg = load_section("preprocess") | {"dataset": "custom", "root": str(raw), "out": str(tmp_path / "rgb")}
    assert run(cfg | {"workers": 1, "num_frames": 4}, engine)["counts"]["ok"] == 1
    written = sorted((tmp_path / "rgb/raw/frames/a").glob("*.png"))
    kind, frames = read_media(raw / "a.mp4", 4)
    assert kind == "video" and [f"{i:03d}.png" for i in sorted(frames)] == [p.name for p in written]
    member = StubMember()
    result = Detector([member], num_frames=4).predict(raw / "a.mp4")
    assert [len(t["frames"]) for t in result["tracks"]] == [4]  # one face, one track, every frame
    for rgb, png in zip(member.crops, written, strict=True):
        np.testing.assert_array_equal(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), cv2.imread(str(png)))
