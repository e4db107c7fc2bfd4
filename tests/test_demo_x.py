"""FBI-Demo-X, the cross-domain demo set: same identity split as FBI-Demo, a different fake recipe."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.dataset import demo_data
from training.dataset.demo_data import DATASET, DATASET_X, build_demo_dataset, ensure_demo_dataset
from training.dataset.demo_render import load_faces
from training.dataset.demo_x import render_video_x

SMALL = {"size": 32, "videos_per_class": 1, "frames_per_video": 2}


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != demo_data.STAMP_NAME:
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def both(demo_data: dict[str, Path]) -> dict:
    """FBI-Demo-X built next to the session's FBI-Demo (the conftest fixture uses the same SMALL sizes)."""
    rgb, js = demo_data["rgb_dir"], demo_data["json_folder"]
    before = _digest(rgb / DATASET)
    x = build_demo_dataset(rgb, js, **SMALL, dataset=DATASET_X)
    demo = json.loads((js / f"{DATASET}.json").read_text())
    return {"rgb": rgb, "demo": demo, "x": json.loads(x.read_text()), "before": before}


def test_same_identity_split_other_labels(both: dict) -> None:
    demo, x = both["demo"][DATASET], both["x"][DATASET_X]
    assert set(x) == {"FBI-Demo-X_real", "FBI-Demo-X_fake"}
    for split in ("train", "val", "test"):
        assert sorted(x["FBI-Demo-X_fake"][split]) == sorted(demo["FBI-Demo_fake"][split])
    entry = next(iter(x["FBI-Demo-X_fake"]["test"].values()))
    assert entry["label"] == "FBI-Demo-X_fake" and entry["frames"][0].startswith("FBI-Demo-X/fake/frames/")


def test_building_x_leaves_fbi_demo_untouched(both: dict) -> None:
    assert _digest(both["rgb"] / DATASET) == both["before"]


def test_x_frames_differ_from_demo_and_masks_have_another_shape(both: dict) -> None:
    rgb = both["rgb"]
    d = both["demo"][DATASET]["FBI-Demo_fake"]["test"]
    x = both["x"][DATASET_X]["FBI-Demo-X_fake"]["test"]
    video = sorted(x)[0]
    mx = cv2.imread(str(rgb / x[video]["masks"][0]), cv2.IMREAD_GRAYSCALE)
    md = cv2.imread(str(rgb / d[video]["masks"][0]), cv2.IMREAD_GRAYSCALE)
    assert mx.max() > 150 and np.abs(mx.astype(int) - md).mean() > 5


def test_fake_differs_from_real_mostly_inside_the_mask() -> None:
    face = load_faces(64)[3]
    tint = np.array([1.0, 0.85, 0.7], np.float32)
    real = render_video_x(face, tint, False, np.random.default_rng(5), 2)
    fake = render_video_x(face, tint, True, np.random.default_rng(5), 2)
    for r, f, m in zip(real[0], fake[0], fake[1], strict=True):
        diff = np.abs(r.astype(np.int16) - f.astype(np.int16)).max(-1)
        # outside the mask only JPEG blocks touching the blend change (the whole frame is JPEG-encoded,
        # chroma in 16x16 blocks), and only by a few levels
        near = cv2.dilate((m > 0).astype(np.uint8), np.ones((17, 17), np.uint8)) > 0
        assert diff[~near].mean() < 0.3 and diff[~near].max() <= 6
        assert diff[m >= 0.9 * m.max()].mean() > 3
    np.testing.assert_array_equal(real[2][0], fake[2][0])


def test_ensure_builds_x_only_when_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        demo_data, "build_demo_dataset", lambda *a, **k: calls.append(k.get("dataset", DATASET))
    )
    cfg = {"rgb_dir": str(tmp_path), "dataset_json_folder": str(tmp_path), "lmdb": False, "val_dataset": None}
    ensure_demo_dataset({**cfg, "train_dataset": [DATASET], "test_dataset": [DATASET]})
    assert calls == [DATASET]
    ensure_demo_dataset({**cfg, "train_dataset": [DATASET], "test_dataset": [DATASET, DATASET_X]})
    assert calls == [DATASET, DATASET, DATASET_X]
