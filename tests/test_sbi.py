"""Self-blended images on a real face (skimage astronaut + dlib 68 landmarks): the blend changes the
frame inside the landmark hull only; 81-point and the demo's 5-point landmarks; the dataset hook."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.dataset.sbi import SelfBlend, hull_mask


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, np.ndarray]:
    """A 192 px crop around the astronaut's face and its dlib 68 landmarks (crop coordinates)."""
    dlib = pytest.importorskip("dlib")
    from skimage.data import astronaut

    from fbi_common.face.models import landmark_model_path

    img = astronaut()
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    rects = dlib.get_frontal_face_detector()(grey, 1)
    assert len(rects) == 1, "dlib should find the astronaut's face"
    shape = dlib.shape_predictor(str(landmark_model_path("68")[0]))(grey, rects[0])
    lm = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
    cx, cy = lm.mean(0).astype(int)
    x0, y0 = max(0, cx - 96), max(0, cy - 96)
    return np.ascontiguousarray(img[y0 : y0 + 192, x0 : x0 + 192]), lm - (x0, y0)


def test_sbi_changes_the_face_inside_the_68_point_hull_only(face):
    img, lm = face
    assert lm.shape == (68, 2)
    sbi = SelfBlend({"prob": 1.0})
    hull = hull_mask(img.shape[:2], lm, np.random.default_rng(0), 1.8) > 0
    assert 0.15 < hull.mean() < 0.8  # the hull is the face, not the whole crop
    for seed in range(6):
        out, mask = sbi(img, lm, np.random.default_rng(seed))
        changed = (out != img).any(axis=2)
        assert out.dtype == np.uint8 and out.shape == img.shape
        assert not changed[~hull].any(), "SBI changed pixels outside the landmark hull"
        assert not (mask[~hull] > 0).any()
        assert changed[hull].mean() > 0.2, "SBI should change a good part of the face"


def test_sbi_with_81_points_and_the_demo_5_points(face):
    img, lm = face
    brows = lm[17:27]
    forehead = brows + (0, -0.35 * (lm[8, 1] - brows[:, 1].mean()))  # 10 points above the brows
    lm81 = np.concatenate([lm, forehead, forehead[:3] + (0, -5)])
    assert lm81.shape == (81, 2)
    sbi = SelfBlend({"prob": 1.0})
    full = hull_mask(img.shape[:2], lm81[:81], np.random.default_rng(1), 1.8) > 0
    for seed in range(4):
        out, _ = sbi(img, lm81, np.random.default_rng(seed))
        assert not (out != img).any(axis=2)[~full].any()
    # the demo's 5 points (eyes, nose tip, mouth corners): the enlarged hull still covers the inner face
    five = np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])
    inner = hull_mask(img.shape[:2], five, np.random.default_rng(0), 1.8) > 0
    out, _ = sbi(img, five, np.random.default_rng(0))
    changed = (out != img).any(axis=2)
    assert not changed[~inner].any() and changed[inner].mean() > 0.2
    assert inner[int(lm[30, 1]), int(lm[30, 0])]  # the nose tip is inside


def test_sbi_options_are_checked():
    with pytest.raises(ValueError, match="unknown keys"):
        SelfBlend({"probability": 0.5})
    with pytest.raises(ValueError, match="prob"):
        SelfBlend({"prob": 2})


def test_dataset_turns_real_frames_into_sbi_fakes(demo_data):
    from training.config import load_config
    from training.dataset import build_dataset

    opts = [
        f"rgb_dir={demo_data['rgb_dir']}",
        f"dataset_json_folder={demo_data['json_folder']}",
        "train_dataset=[FBI-Demo]",
        "data_aug.sbi.enabled=true",
        "data_aug.sbi.prob=1.0",
        "with_mask=true",
    ]
    cfg = load_config("training/config/detector/clip_demo.yaml", None, opts)
    ds = build_dataset(cfg, "train", None, {"size": 32, "mean": (0.5,) * 3, "std": (0.5,) * 3})
    assert {r.label for r in ds.records} == {0}  # real_only: fakes left out
    item = ds[0]
    assert item["label"] == 1 and item["label_name"] == "SBI"
    assert item["mask"].max() > 0 and item["landmark"].shape == (5, 2)


def test_plot_sbi_writes_the_figure_and_refuses_bad_flags(tmp_path, capsys):
    pytest.importorskip("dlib")
    import importlib.util

    from fbi_common.cli import run_cli
    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("plot_sbi", REPO / "analysis" / "plot_sbi.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "sbi.png"
    assert mod.main(["--out", str(out), "--seeds", "1", "--size", "64"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit) as e:
        run_cli(mod.main, ["--seeds", "0", "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "error: --seeds 0" in err and "Traceback" not in err


def test_sbi_shift_is_x_y():
    assert SelfBlend().cfg["shift"] == [0.03, 0.015]
    with pytest.raises(ValueError, match=r"\[x, y\]"):
        SelfBlend({"shift": 0.03})
