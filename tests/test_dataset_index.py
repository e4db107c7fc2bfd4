"""Dataset JSON index: nesting, `_c40`, path flavours, sorting, keys, labels, splits, identities."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from fbi_common.errors import DataError
from fbi_common.paths import REPO_ROOT
from training.dataset.identity import identity_of
from training.dataset.index import (
    build_index,
    derive_sibling,
    frame_sort_key,
    normalize_frame_path,
)
from training.dataset.readers import FileReader

FF_METHODS = {"FF-DF": "Deepfakes", "FF-F2F": "Face2Face", "FF-FS": "FaceSwap", "FF-NT": "NeuralTextures"}


def write_video(rgb: Path, video_dir: str, idx: list[int], with_mask: bool = False) -> list[str]:
    """Write frames (+ landmarks, masks) for `<video_dir>/frames/...`; return rel frame paths."""
    rng = np.random.default_rng(zlib.crc32(video_dir.encode()))
    rels = []
    for i in idx:
        rel = f"{video_dir}/{i:03d}.png"
        for kind, data, ext in [
            ("frames", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), ".png"),
            ("landmarks", rng.integers(0, 32, (81, 2)).astype(np.int32), ".npy"),
            *([("masks", rng.integers(0, 256, (32, 32), dtype=np.uint8), ".png")] if with_mask else []),
        ]:
            p = rgb / derive_sibling(rel, kind, ext)
            p.parent.mkdir(parents=True, exist_ok=True)
            np.save(p, data) if ext == ".npy" else cv2.imwrite(str(p), data)
        rels.append(rel)
    return rels


def make_cfg(tmp_path: Path, **over) -> dict:
    cfg = yaml.safe_load((REPO_ROOT / "training/config/defaults.yaml").read_text())
    cfg.update(rgb_dir=str(tmp_path / "datasets" / "rgb"), dataset_json_folder=str(tmp_path / "json"))
    cfg["label_dict"] = dict(cfg["label_dict"], MyFF_real=0, MyFF_fake=1)
    cfg.update(over)
    return cfg


def write_json(tmp_path: Path, name: str, data: dict) -> None:
    (tmp_path / "json").mkdir(exist_ok=True)
    (tmp_path / "json" / f"{name}.json").write_text(json.dumps({name: data}))


@pytest.fixture()
def ff_tree(tmp_path):
    """FF++ with c23/c40 reals and four methods sharing video 000_003, plus a flat UADFV."""
    rgb = tmp_path / "datasets" / "rgb"
    data: dict = {}
    for comp in ("c23", "c40"):
        videos = {("FF-real", "000"): f"original_sequences/youtube/{comp}/frames/000"}
        for lab, method in FF_METHODS.items():
            videos[(lab, "000_003")] = f"manipulated_sequences/{method}/{comp}/frames/000_003"
        for (lab, video), folder in videos.items():
            frames = write_video(rgb, f"FaceForensics++/{folder}", [0, 1, 2])
            splits = data.setdefault(lab, {s: {} for s in ("train", "val", "test")})
            splits["train"][comp] = {video: {"label": lab, "frames": frames}}
            splits["val"][comp] = splits["test"][comp] = {}
    write_json(tmp_path, "FaceForensics++", data)
    uadfv = write_video(rgb, "UADFV/real/frames/0000", [0, 1, 2, 3])
    flat = {
        "UADFV_Real": {"train": {"0000": {"label": "UADFV_Real", "frames": uadfv}}, "val": {}, "test": {}}
    }
    write_json(tmp_path, "UADFV", flat)
    return tmp_path


def test_ff_nesting_compression_and_keys(ff_tree):
    recs = build_index(["FaceForensics++"], "train", make_cfg(ff_tree))
    keys = sorted(r.key for r in recs)
    assert keys == sorted(
        ["FaceForensics++/FF-real/c23/000"] + [f"FaceForensics++/{lab}/c23/000_003" for lab in FF_METHODS]
    )
    fakes = [r for r in recs if r.video == "000_003"]
    assert len(fakes) == 4 and len({r.key for r in fakes}) == 4 and all(r.label == 1 for r in fakes)
    real = next(r for r in recs if r.label_name == "FF-real")
    assert real.label == 0 and real.compression == "c23" and real.split == "train"
    assert real.frames[0] == "FaceForensics++/original_sequences/youtube/c23/frames/000/000.png"
    assert real.landmarks[0] == "FaceForensics++/original_sequences/youtube/c23/landmarks/000/000.npy"
    assert real.masks[0] == "FaceForensics++/original_sequences/youtube/c23/masks/000/000.png"


def test_flat_nesting_and_multi_dataset(ff_tree):
    recs = build_index(["UADFV", "FaceForensics++"], "train", make_cfg(ff_tree))
    uadfv = [r for r in recs if r.dataset == "UADFV"]
    assert [r.key for r in uadfv] == ["UADFV/UADFV_Real/0000"] and uadfv[0].compression is None
    assert len(recs) == 6


def test_c40_suffix_reads_base_json_at_c40(ff_tree):
    recs = build_index("FaceForensics++_c40", "train", make_cfg(ff_tree))
    assert {r.compression for r in recs} == {"c40"}
    assert all("/c40/frames/" in f for r in recs for f in r.frames)
    assert "FaceForensics++/FF-DF/c40/000_003" in {r.key for r in recs}
    with pytest.raises(ValueError, match="no compression level"):
        build_index("UADFV_c40", "train", make_cfg(ff_tree))


def test_nesting_detected_from_data_not_name(ff_tree):
    rgb = ff_tree / "datasets" / "rgb"
    fr = write_video(rgb, "MyFF/fake/c23/frames/a_b", [0, 1])
    write_json(
        ff_tree,
        "MyFF",
        {
            "MyFF_fake": {
                s: {"c23": {"a_b": {"label": "MyFF_fake", "frames": fr}}} for s in ("train", "val", "test")
            }
        },
    )
    recs = build_index("MyFF", "test", make_cfg(ff_tree))
    assert [r.key for r in recs] == ["MyFF/MyFF_fake/c23/a_b"]
    with pytest.raises(DataError, match=r"compression 'c40' not found.*\['c23'\]"):
        build_index("MyFF", "test", make_cfg(ff_tree, compression="c40"))


@pytest.mark.parametrize(
    "style",
    ["relative", "dot_datasets", "absolute", "windows_relative", "windows_absolute", "dfb_dot_datasets"],
)
def test_path_flavours_load_the_same_frames(ff_tree, style):
    rgb = ff_tree / "datasets" / "rgb"
    rels = [f"UADFV/real/frames/0000/{i:03d}.png" for i in (3, 1, 0, 2)]
    fmt = {
        "relative": lambda r: r,
        "dot_datasets": lambda r: f"./datasets/rgb/{r}",
        "absolute": lambda r: str(rgb / r),
        "windows_relative": lambda r: r.replace("/", "\\"),
        "windows_absolute": lambda r: "C:\\data\\rgb\\" + r.replace("/", "\\"),
        "dfb_dot_datasets": lambda r: "./datasets\\" + r.replace("/", "\\"),
    }[style]
    info = {"0000": {"label": "UADFV_Real", "frames": [fmt(r) for r in rels]}}
    write_json(ff_tree, "UADFV", {"UADFV_Real": {"train": info, "val": {}, "test": {}}})
    (rec,) = build_index("UADFV", "train", make_cfg(ff_tree))
    assert rec.frames == sorted(rels)
    reader = FileReader(rgb)
    for rel, got in zip(sorted(rels), rec.frames, strict=True):
        assert np.array_equal(reader.read_image(got), cv2.imread(str(rgb / rel))[..., ::-1])


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (
            "/mnt/x/rgb/Celeb-DF-v2/Celeb-real/frames/id0_0000/000.png",
            "Celeb-DF-v2/Celeb-real/frames/id0_0000/000.png",
        ),
        (
            "D:\\FaceForensics++\\original_sequences\\youtube\\c23\\frames\\000\\000.png",
            "FaceForensics++/original_sequences/youtube/c23/frames/000/000.png",
        ),
        (
            "\\\\server\\share\\rgb\\UADFV\\fake\\frames\\0000_fake\\000.png",
            "UADFV/fake/frames/0000_fake/000.png",
        ),
        ("UADFV/./real//frames/0000/000.png", "UADFV/real/frames/0000/000.png"),
        ("/elsewhere/clips/0000/000.png", "/elsewhere/clips/0000/000.png"),
    ],
)
def test_normalize_frame_path_rules(raw, want):
    anchors = ("Celeb-DF-v2", "FaceForensics++", "UADFV")
    assert normalize_frame_path(raw, "datasets/rgb", anchors) == want


def test_unsorted_frames_sorted_numerically_with_masks_in_order(ff_tree):
    rgb = ff_tree / "datasets" / "rgb"
    idx = [1000, 2, 999, 10, 0]
    fr = write_video(rgb, "UADFV/fake/frames/0000_fake", idx, with_mask=True)
    masks = [derive_sibling(f, "masks") for f in fr][::-1]  # given in another order than frames
    info = {"0000_fake": {"label": "UADFV_Fake", "frames": fr, "masks": masks}}
    write_json(ff_tree, "UADFV", {"UADFV_Fake": {"train": info, "val": {}, "test": {}}})
    (rec,) = build_index("UADFV", "train", make_cfg(ff_tree))
    got = [frame_sort_key(f)[0] for f in rec.frames]
    assert got == sorted(idx)
    assert [frame_sort_key(m)[0] for m in rec.masks] == got
    assert [frame_sort_key(m)[0] for m in rec.landmarks] == got and rec.landmarks[0].endswith("000.npy")
    assert all("/masks/" in m for m in rec.masks)


def test_unknown_label_and_missing_split_errors(ff_tree):
    info = {"v": {"label": "Mystery_fake", "frames": ["UADFV/real/frames/0000/000.png"]}}
    write_json(ff_tree, "Odd", {"Mystery_fake": {"train": info, "test": {}}})
    with pytest.raises(
        DataError, match=r"Odd\.json.*Mystery_fake.*not in label_dict.*label_dict\.Mystery_fake=0"
    ):
        build_index("Odd", "train", make_cfg(ff_tree))
    with pytest.raises(DataError, match=r"Odd\.json.*no 'val' split.*\['test', 'train'\]"):
        build_index("Odd", "val", make_cfg(ff_tree))
    with pytest.raises(FileNotFoundError, match="Nope.json"):
        build_index("Nope", "train", make_cfg(ff_tree))


def test_empty_frame_list_by_policy(ff_tree, fbi_log):
    info = {
        "0000": {"label": "UADFV_Real", "frames": ["UADFV/real/frames/0000/000.png"]},
        "0001": {"label": "UADFV_Real", "frames": []},
    }
    write_json(ff_tree, "UADFV", {"UADFV_Real": {"train": info, "val": {}, "test": {}}})
    with pytest.raises(ValueError, match=r"UADFV\.json.*'0001' has an empty frame list"):
        build_index("UADFV", "train", make_cfg(ff_tree))
    recs = build_index("UADFV", "train", make_cfg(ff_tree, bad_frame_policy="drop"))
    assert [r.video for r in recs] == ["0000"]
    assert any("empty frame list" in m for m in fbi_log.messages)


def test_identity_rules(ff_tree):
    recs = {r.key: r for r in build_index(["FaceForensics++", "UADFV"], "train", make_cfg(ff_tree))}
    fake = recs["FaceForensics++/FF-DF/c23/000_003"]
    real = recs["FaceForensics++/FF-real/c23/000"]
    assert identity_of(fake, "target") == identity_of(real, "target") == "FaceForensics++/000"
    assert identity_of(fake, "source") == "FaceForensics++/003"
    assert identity_of(real, "source") == "FaceForensics++/000"
    assert identity_of(fake, "video") == fake.key
    other = recs["UADFV/UADFV_Real/0000"]
    assert identity_of(other, "target") == "UADFV/0000"
    celeb = type(fake)(**{**fake.__dict__, "dataset": "Celeb-DF-v2", "video": "id3_id7_0004"})
    assert (identity_of(celeb, "target"), identity_of(celeb, "source")) == (
        "Celeb-DF-v2/id3",
        "Celeb-DF-v2/id7",
    )
    demo = type(fake)(**{**fake.__dict__, "dataset": "FBI-Demo", "video": "id042_v1"})
    assert identity_of(demo, "target") == identity_of(demo, "source") == "FBI-Demo/id042"
    odd = type(fake)(**{**fake.__dict__, "dataset": "DFDC", "video": "aabbccdd", "key": "DFDC/x/aabbccdd"})
    assert identity_of(odd, "target") == "DFDC/x/aabbccdd"
    with pytest.raises(ValueError, match="identity_rule"):
        identity_of(fake, "face")


def test_custom_json_label_dict_registers_its_labels(tmp_path, fbi_log):
    """rearrange.py --dataset custom writes `_label_dict`; `--train_dataset NAME` then works as is."""
    rgb = tmp_path / "datasets" / "rgb"
    data = {}
    for lab, v in (("Mine_real", "a"), ("Mine_fake", "b")):
        frames = write_video(rgb, f"Mine/{lab}/frames/{v}", [0, 1])
        data[lab] = {s: {v: {"label": lab, "frames": frames}} for s in ("train", "val", "test")}
    (tmp_path / "json").mkdir()
    doc = {"Mine": data, "_label_dict": {"Mine_real": 0, "Mine_fake": 1}}
    (tmp_path / "json" / "Mine.json").write_text(json.dumps(doc))
    cfg = make_cfg(tmp_path)
    recs = build_index(["Mine"], "train", cfg)
    assert {(r.label_name, r.label) for r in recs} == {("Mine_real", 0), ("Mine_fake", 1)}
    # the config's label_dict wins over the JSON's, with a warning
    cfg["label_dict"]["Mine_fake"] = 0
    assert {r.label for r in build_index(["Mine"], "train", cfg)} == {0}
    assert "using label_dict" in fbi_log.text
    doc["_label_dict"] = {"Mine_real": 0, "Mine_fake": "fake"}
    (tmp_path / "json" / "Mine.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="_label_dict"):
        build_index(["Mine"], "train", make_cfg(tmp_path))
