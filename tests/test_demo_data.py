"""Tests for the embedded demo dataset generator (training/dataset/demo_data.py, demo_render.py) and its CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.dataset import demo_data
from training.dataset.demo_data import (
    DATASET,
    LABELS,
    STAMP_NAME,
    build_demo_dataset,
    ensure_demo_dataset,
    split_identities,
)
from training.dataset.demo_render import load_faces, render_video

SMALL = {"size": 32, "videos_per_class": 1, "frames_per_video": 3}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("demo")
    json_path = build_demo_dataset(base / "rgb", base / "json", **SMALL)
    return base / "rgb", json_path, json.loads(json_path.read_text())


def _identity(video: str) -> int:
    m = re.fullmatch(r"id(\d{3})_v\d+", video)
    assert m, video
    return int(m.group(1))


def test_json_structure_and_files(built: tuple[Path, Path, dict]) -> None:
    rgb, json_path, data = built
    assert json_path.name == "FBI-Demo.json" and list(data) == [DATASET]
    assert set(data[DATASET]) == set(LABELS.values())
    n_frames = 0
    for label, splits in data[DATASET].items():
        assert set(splits) == {"train", "val", "test"}
        for videos in splits.values():
            for video, entry in videos.items():
                assert entry["label"] == label
                cls = "real" if label.endswith("_real") else "fake"
                frames = entry["frames"]
                assert frames == sorted(frames) and len(frames) == SMALL["frames_per_video"]
                assert [Path(f).stem for f in frames] == ["000", "008", "016"]
                assert entry["masks"] == [f.replace("/frames/", "/masks/") for f in frames]
                for f in frames:
                    assert f.startswith(f"{DATASET}/{cls}/frames/{video}/") and "\\" not in f
                    img = cv2.imread(str(rgb / f), cv2.IMREAD_UNCHANGED)
                    assert img is not None and img.shape == (32, 32, 3) and img.dtype == np.uint8
                    lm = np.load(rgb / f.replace("/frames/", "/landmarks/").replace(".png", ".npy"))
                    assert lm.shape == (5, 2) and lm.dtype == np.float32
                    assert lm.min() > 0 and lm.max() < 32
                    # eyes above the nose above the mouth; left eye left of right eye
                    assert lm[0, 0] < lm[1, 0] and lm[:2, 1].max() < lm[2, 1] < lm[3:, 1].min()
                    n_frames += 1
    assert n_frames == 100 * 2 * SMALL["videos_per_class"] * SMALL["frames_per_video"]


def test_identity_disjoint_splits(built: tuple[Path, Path, dict]) -> None:
    data = built[2][DATASET]
    ids = {s: {_identity(v) for v in data[LABELS["real"]][s]} for s in ("train", "val", "test")}
    for s in ids:  # every identity appears in both classes of its split, nowhere else
        assert ids[s] == {_identity(v) for v in data[LABELS["fake"]][s]}
    assert [len(ids[s]) for s in ("train", "val", "test")] == [60, 10, 30]
    assert not (ids["train"] & ids["val"] or ids["train"] & ids["test"] or ids["val"] & ids["test"])
    assert ids["train"] | ids["val"] | ids["test"] == set(range(100))


def test_masks_nonzero_for_fakes_inside_face(built: tuple[Path, Path, dict]) -> None:
    rgb, _, data = built
    yy, xx = np.mgrid[0:32, 0:32]
    for label, splits in data[DATASET].items():
        for videos in splits.values():
            for entry in videos.values():
                for rel in entry["masks"]:
                    mask = cv2.imread(str(rgb / rel), cv2.IMREAD_UNCHANGED)
                    assert mask.shape == (32, 32) and mask.dtype == np.uint8
                    if label == LABELS["real"]:
                        assert mask.max() == 0
                        continue
                    assert mask.max() >= 150  # blend strength alpha >= 0.7
                    w = mask.astype(np.float64) / mask.sum()
                    lm = np.load(rgb / rel.replace("/masks/", "/landmarks/").replace(".png", ".npy"))
                    centre = np.array([(w * xx).sum(), (w * yy).sum()])
                    assert np.linalg.norm(centre - lm.mean(0)) < 0.1 * 32  # centred on this frame's face
                    # the half-weight region stays off the top and side edges (hair, background); the
                    # bottom may touch it because the tight LFW crops end at the chin
                    assert max(mask[:3].max(), mask[:, :3].max(), mask[:, -3:].max()) < 128
                    assert w[mask < 128].sum() < 0.35  # most blending weight in the face core


def test_fake_differs_from_real_only_inside_mask() -> None:
    face = load_faces(32)[7]
    tint = np.array([1.0, 0.85, 0.7], np.float32)
    real = render_video(face, tint, False, np.random.default_rng(3), 3)
    fake = render_video(face, tint, True, np.random.default_rng(3), 3)
    for r, f, m, lr, lf in zip(real[0], fake[0], fake[1], real[2], fake[2], strict=True):
        diff = np.abs(r.astype(np.int16) - f.astype(np.int16))
        assert diff[m == 0].max() <= 1  # untouched outside the blend (up to rounding)
        inside = m >= 0.9 * m.max()
        assert diff[inside].mean() > 3
        # the colour mismatch is per channel: the fake/real ratio differs between channels
        ratio = f[inside].astype(np.float64).mean(0) / r[inside].astype(np.float64).mean(0)
        assert np.ptp(ratio) > 0.01
        np.testing.assert_array_equal(lr, lf)
    # consecutive frames differ like a video (motion + flicker), but not wildly
    step = np.abs(real[0][0].astype(np.int16) - real[0][1]).mean()
    assert 0.5 < step < 40


def test_idempotent_and_rebuild(tmp_path: Path) -> None:
    kw = {**SMALL, "frames_per_video": 1}
    json_path = build_demo_dataset(tmp_path / "rgb", tmp_path / "json", **kw)
    stamp = tmp_path / "rgb" / DATASET / STAMP_NAME
    frame = tmp_path / "rgb" / DATASET / "real" / "frames" / "id000_v0" / "000.png"
    before = [p.stat().st_mtime_ns for p in (json_path, stamp, frame)]
    assert build_demo_dataset(tmp_path / "rgb", tmp_path / "json", **kw) == json_path
    assert [p.stat().st_mtime_ns for p in (json_path, stamp, frame)] == before
    assert json.loads(stamp.read_text())["complete"] is True

    build_demo_dataset(tmp_path / "rgb", tmp_path / "json", **{**kw, "frames_per_video": 2})
    entry = json.loads(json_path.read_text())[DATASET][LABELS["real"]]
    assert all(len(e["frames"]) == 2 for s in entry.values() for e in s.values())

    (tmp_path / "rgb" / DATASET / STAMP_NAME).unlink()  # now a folder the generator did not write
    with pytest.raises(FileExistsError, match="overwrite"):
        build_demo_dataset(tmp_path / "rgb", tmp_path / "json", **kw)
    build_demo_dataset(tmp_path / "rgb", tmp_path / "json", **kw, overwrite=True)
    assert json.loads(stamp.read_text())["frames_per_video"] == 1
    assert not (tmp_path / "rgb" / DATASET / "real" / "frames" / "id000_v0" / "008.png").exists()


def test_deterministic_with_seed(tmp_path: Path, built: tuple[Path, Path, dict]) -> None:
    rgb, json_path, _ = built
    again = build_demo_dataset(tmp_path / "a" / "rgb", tmp_path / "a" / "json", **SMALL)
    assert again.read_bytes() == json_path.read_bytes()
    rel = json.loads(again.read_text())[DATASET][LABELS["fake"]]["test"]
    for entry in list(rel.values())[:5]:
        for f in entry["frames"] + entry["masks"]:
            assert (tmp_path / "a" / "rgb" / f).read_bytes() == (rgb / f).read_bytes()
    assert split_identities(100, (0.6, 0.1, 0.3), 0) != split_identities(100, (0.6, 0.1, 0.3), 1)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        build_demo_dataset(tmp_path, tmp_path, split=(0.5, 0.1, 0.1))
    with pytest.raises(ValueError, match="size"):
        build_demo_dataset(tmp_path, tmp_path, size=8)
    with pytest.raises(ValueError, match="'val' split empty"):
        split_identities(3, (0.9, 0.05, 0.05), 0)


def test_ensure_demo_dataset(
    tmp_path: Path, built: tuple[Path, Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    rgb, json_path, _ = built
    cfg = {
        "rgb_dir": str(rgb),
        "dataset_json_folder": str(json_path.parent),
        "lmdb": False,
        "train_dataset": ["FaceForensics++"],
        "val_dataset": None,
        "test_dataset": ["FBI-Demo"],
    }
    mtime = json_path.stat().st_mtime_ns
    ensure_demo_dataset(cfg)  # already there (built with other parameters): left alone
    assert json_path.stat().st_mtime_ns == mtime

    calls: list[tuple] = []
    monkeypatch.setattr(demo_data, "build_demo_dataset", lambda *a, **k: calls.append(a))
    cfg.update(rgb_dir=str(tmp_path / "rgb"), dataset_json_folder=str(tmp_path / "json"))
    ensure_demo_dataset({**cfg, "test_dataset": ["Celeb-DF-v2"]})
    assert calls == []  # the demo is not used: nothing built
    ensure_demo_dataset(cfg)
    assert calls == [(tmp_path / "rgb", tmp_path / "json")]


def test_a_mistyped_rgb_dir_is_refused_not_regenerated_over_the_json(
    tmp_path: Path, built: tuple[Path, Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fbi_common.errors import DataError

    rgb, json_path, _ = built
    calls: list[tuple] = []
    monkeypatch.setattr(demo_data, "build_demo_dataset", lambda *a, **k: calls.append(a))
    typo = tmp_path / "rgbb"
    cfg = {"rgb_dir": str(typo), "dataset_json_folder": str(json_path.parent), "lmdb": False,
           "train_dataset": ["FBI-Demo"], "val_dataset": None, "test_dataset": ["FBI-Demo"]}  # fmt: skip
    mtime = json_path.stat().st_mtime_ns
    with pytest.raises(DataError, match=r"exists but rgb_dir .*rgbb has no FBI-Demo frames.*--overwrite"):
        ensure_demo_dataset(cfg)
    assert calls == [] and not typo.exists() and json_path.stat().st_mtime_ns == mtime


def test_cli_with_preview(tmp_path: Path, built: tuple[Path, Path, dict]) -> None:
    from training.make_demo_data import main

    rgb, json_path, _ = built
    out = tmp_path / "sheet.png"
    args = [
        "--rgb_dir",
        str(rgb),
        "--json_folder",
        str(json_path.parent),
        "--size",
        "32",
        "--videos_per_class",
        "1",
        "--frames_per_video",
        "3",
        "--preview",
        str(out),
    ]
    mtime = json_path.stat().st_mtime_ns
    assert main(args) == 0
    assert json_path.stat().st_mtime_ns == mtime  # same parameters as the fixture: not rebuilt
    sheet = cv2.imread(str(out))
    assert sheet is not None and sheet.shape[0] == 3 * 32 * 3
