"""Each dataset adapter against a miniature copy of the official tree: listing, labels, splits and JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from preprocessing.fbi_prep.adapters import ADAPTERS, LayoutError, get_adapter
from preprocessing.fbi_prep.rearrange import write_jsons
from preprocessing.fbi_prep.settings import load_section

PNG = cv2.imencode(".png", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\x00")


def processed(rgb: Path, folder: str, out_dir: str, video: str, n: int = 2, masks: bool = False) -> None:
    """Fake preprocess output: <rgb>/<folder>/<out_dir>/frames/<video>/<idx>.png (+ masks)."""
    for kind in ("frames", "masks") if masks else ("frames",):
        d = rgb / folder / out_dir / kind / video
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (d / f"{i * 5:03d}.png").write_bytes(PNG)


def pre_cfg(**kw) -> dict:
    return load_section("preprocess") | kw


def re_cfg(tmp_path: Path, **kw) -> dict:
    return load_section("rearrange") | {"rgb_dir": str(tmp_path / "rgb"), "out": str(tmp_path / "json")} | kw


def load(tmp_path: Path, name: str) -> dict:
    return json.loads((tmp_path / "json" / f"{name}.json").read_text())


def test_faceforensics_tree(tmp_path):
    raw = tmp_path / "raw"
    touch(
        raw,
        "original_sequences/youtube/c23/videos/953.mp4",
        "original_sequences/youtube/c23/videos/974.mp4",
        "original_sequences/youtube/c40/videos/953.mp4",
        "original_sequences/actors/c23/videos/01__exit_phone_room.mp4",
        "manipulated_sequences/Deepfakes/c23/videos/953_974.mp4",
        "manipulated_sequences/Deepfakes/masks/videos/953_974.mp4",
        "manipulated_sequences/FaceShifter/c23/videos/071_054.mp4",
        "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__exit_phone_room__YVGY8LOK.mp4",
    )
    ad = get_adapter("FaceForensics++")
    jobs = {j.rel: j for j in ad.list_videos(raw, pre_cfg(comp=["c23"]))}
    assert len(jobs) == 6  # c40 not asked for
    df = jobs["manipulated_sequences/Deepfakes/c23/videos/953_974.mp4"]
    assert df.out_dir == "manipulated_sequences/Deepfakes/c23" and df.video == "953_974"
    assert df.mask_src and df.mask_src.endswith("masks/videos/953_974.mp4")
    assert jobs["original_sequences/youtube/c23/videos/953.mp4"].mask_src is None
    assert len(ad.list_videos(raw, pre_cfg(comp=["c23"], subsets=["youtube"]))) == 2
    with pytest.raises(LayoutError, match="subsets"):
        ad.list_videos(raw, pre_cfg(comp=["c23"], subsets=["Youtube"]))

    rgb = tmp_path / "rgb"
    for j in jobs.values():
        processed(rgb, "FaceForensics++", j.out_dir, j.video, masks=j.mask_src is not None)
    processed(rgb, "FaceForensics++", "original_sequences/youtube/c23", "x999")  # not in the official splits
    written = write_jsons(re_cfg(tmp_path, dataset="FaceForensics++"))
    assert set(written) == {"FaceForensics++", "FF-DF", "FaceShifter", "DeepFakeDetection"}
    ff = load(tmp_path, "FaceForensics++")["FaceForensics++"]
    assert set(ff) == {"FF-real", "FF-DF"}
    assert set(ff["FF-real"]["test"]["c23"]) == {"953", "974"}  # pair [953, 974] is in test.json
    item = ff["FF-DF"]["test"]["c23"]["953_974"]
    assert item["label"] == "FF-DF"
    assert item["frames"] == [
        "FaceForensics++/manipulated_sequences/Deepfakes/c23/frames/953_974/000.png",
        "FaceForensics++/manipulated_sequences/Deepfakes/c23/frames/953_974/005.png",
    ]
    assert item["masks"][0] == "FaceForensics++/manipulated_sequences/Deepfakes/c23/masks/953_974/000.png"
    assert set(load(tmp_path, "FaceShifter")["FaceShifter"]) == {"FF-real", "FF-FH"}
    assert load(tmp_path, "FaceShifter")["FaceShifter"]["FF-FH"]["train"]["c23"]["071_054"]
    dfd = load(tmp_path, "DeepFakeDetection")["DeepFakeDetection"]
    assert set(dfd) == {"DFD_real", "DFD_fake"} and dfd["DFD_fake"]["test"]["c23"]  # no official split: test
    assert "x999" not in json.dumps(ff)


def test_celebdf_tree(tmp_path):
    raw = tmp_path / "raw"
    touch(
        raw,
        "Celeb-real/id0_0000.mp4",
        "Celeb-real/id1_0000.mp4",
        "YouTube-real/00170.mp4",
        "Celeb-synthesis/id0_id1_0000.mp4",
    )
    (raw / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n"
    )
    ad = get_adapter("Celeb-DF-v2")
    jobs = ad.list_videos(raw, pre_cfg())
    assert len(jobs) == 4
    for j in jobs:
        processed(tmp_path / "rgb", "Celeb-DF-v2", j.out_dir, j.video)
    write_jsons(re_cfg(tmp_path, dataset="Celeb-DF-v2", root=str(raw)))
    top = load(tmp_path, "Celeb-DF-v2")["Celeb-DF-v2"]
    assert set(top["CelebDFv2_real"]["test"]) == {"00170"}
    assert set(top["CelebDFv2_fake"]["test"]) == {"id0_id1_0000"}
    non_test = set(top["CelebDFv2_real"]["train"]) | set(top["CelebDFv2_real"]["val"])
    assert non_test == {"id0_0000", "id1_0000"}
    assert top["CelebDFv2_real"]["test"]["00170"]["frames"][0].startswith(
        "Celeb-DF-v2/YouTube-real/frames/00170/"
    )


def test_dfdc_and_dfdcp_trees(tmp_path):
    raw = tmp_path / "DFDC"
    touch(raw, "train/dfdc_train_part_0/aaa.mp4", "train/dfdc_train_part_0/bbb.mp4", "test/videos/ccc.mp4")
    (raw / "train/dfdc_train_part_0/metadata.json").write_text(
        json.dumps(
            {"aaa.mp4": {"label": "FAKE", "split": "train"}, "bbb.mp4": {"label": "REAL", "split": "train"}}
        )
    )
    (raw / "test/labels.csv").write_text("filename,label\nccc.mp4,1\n")
    jobs = get_adapter("DFDC").list_videos(raw, pre_cfg())
    assert {j.out_dir for j in jobs} == {"train/dfdc_train_part_0", "test"}
    for j in jobs:
        processed(tmp_path / "rgb", "DFDC", j.out_dir, j.video)
    write_jsons(re_cfg(tmp_path, dataset="DFDC", root=str(raw)))
    top = load(tmp_path, "DFDC")["DFDC"]
    assert set(top["DFDC_Fake"]["test"]) == {"ccc"}
    assert "aaa" in top["DFDC_Fake"]["train"] or "aaa" in top["DFDC_Fake"]["val"]
    assert "bbb" in (top["DFDC_Real"]["train"] | top["DFDC_Real"]["val"])

    raw = tmp_path / "DFDCP"
    touch(raw, "method_A/1/1_A/1_A_001.mp4", "method_B/2/2_B/2_B_001.mp4", "original_videos/3/3_001.mp4")
    (raw / "dataset.json").write_text(
        json.dumps(
            {
                "method_A/1/1_A/1_A_001.mp4": {"label": "fake", "set": "test"},
                "method_B/2/2_B/2_B_001.mp4": {"label": "fake", "set": "test"},
                "original_videos/3/3_001.mp4": {"label": "real", "set": "test"},
            }
        )
    )
    for j in get_adapter("DFDCP").list_videos(raw, pre_cfg()):
        processed(tmp_path / "rgb", "DFDCP", j.out_dir, j.video)
    write_jsons(re_cfg(tmp_path, dataset="DFDCP", root=str(raw)))
    top = load(tmp_path, "DFDCP")["DFDCP"]
    assert {k: set(v["test"]) for k, v in top.items()} == {
        "DFDCP_FakeA": {"1_A_001"}, "DFDCP_FakeB": {"2_B_001"}, "DFDCP_Real": {"3_001"},
    }  # fmt: skip


def test_deeperforensics_uadfv_ffiw_deepspeak_trees(tmp_path):
    raw = tmp_path / "DF"
    touch(
        raw,
        "source_videos/M004/light/M004_a.mp4",
        "manipulated_videos/end_to_end/000_M004.mp4",
        "manipulated_videos/reenact_postprocess/000_M004.mp4",
    )
    for s, names in (("train", ""), ("val", ""), ("test", "000_M004.mp4\n")):
        touch(raw, f"lists/splits/{s}.txt")
        (raw / f"lists/splits/{s}.txt").write_text(names)
    jobs = get_adapter("DeeperForensics-1.0").list_videos(raw, pre_cfg())
    assert {j.rel for j in jobs} == {
        "source_videos/M004/light/M004_a.mp4",
        "manipulated_videos/end_to_end/000_M004.mp4",
    }
    for j in jobs:
        processed(tmp_path / "rgb", "DeeperForensics-1.0", j.out_dir, j.video)
    write_jsons(re_cfg(tmp_path, dataset="DeeperForensics-1.0", root=str(raw)))
    top = load(tmp_path, "DeeperForensics-1.0")["DeeperForensics-1.0"]
    assert set(top["DF_fake"]["test"]) == {"000_M004"}
    assert sum(len(v) for v in top["DF_real"].values()) == 1

    for name, rels, labels in (
        ("UADFV", ["real/0000.mp4", "fake/0000_fake.mp4"], ("UADFV_Real", "UADFV_Fake")),
        ("FFIW", ["source/val/a.mp4", "target/val/a.mp4", "source/train/b.mp4"], ("FFIW_real", "FFIW_fake")),
        ("DeepSpeak_v1", ["test/real/x.mp4", "test/fake/y.mp4"], ("DeepSpeak_real", "DeepSpeak_fake")),
    ):
        raw = tmp_path / name
        touch(raw, *rels, "notes/readme.mp4")  # a video outside real/fake folders is not listed
        jobs = get_adapter(name).list_videos(raw, pre_cfg())
        assert {j.rel for j in jobs} == set(rels)
        for j in jobs:
            processed(tmp_path / "rgb", name, j.out_dir, j.video)
        write_jsons(re_cfg(tmp_path, dataset=name))
        top = load(tmp_path, name)[name]
        assert set(top) == set(labels)
    uadfv = load(tmp_path, "UADFV")["UADFV"]
    assert (
        set(uadfv["UADFV_Fake"]["test"]) == {"0000_fake"} and not uadfv["UADFV_Fake"]["train"]
    )  # unsplit: test
    ffiw = load(tmp_path, "FFIW")["FFIW"]
    assert set(ffiw["FFIW_real"]["val"]) == {"a"} and set(ffiw["FFIW_real"]["train"]) == {"b"}


def test_custom_labels_and_label_dict(tmp_path):
    raw = tmp_path / "mine"
    touch(raw, "a/clip.mp4", "b/clip.mp4", "c.mp4", "extra.mp4")
    (raw / "labels.csv").write_text(
        "path,label,split\na/clip.mp4,real,train\nb/clip.mp4,fake,test\nc.mp4,1,\n"
    )
    ad = get_adapter("custom")
    jobs = ad.list_videos(raw, pre_cfg(dataset="custom", root=str(raw)))
    assert [j.rel for j in jobs] == [
        "a/clip.mp4",
        "b/clip.mp4",
        "c.mp4",
    ]  # extra.mp4 is unlabelled: warned, skipped
    for j in jobs:
        processed(tmp_path / "rgb", "mine", j.out_dir, j.video)
    write_jsons(re_cfg(tmp_path, dataset="custom", root=str(raw)))
    doc = load(tmp_path, "mine")
    assert doc["_label_dict"] == {"mine_real": 0, "mine_fake": 1}
    # Same file name in two folders stays two videos: the key is the relative path.
    assert set(doc["mine"]["mine_real"]["train"]) == {"a/clip"}
    assert set(doc["mine"]["mine_fake"]["test"]) == {"b/clip"}
    assert sum(len(v) for v in doc["mine"]["mine_fake"].values()) == 2


def test_every_dataset_of_the_issue_has_an_adapter():
    want = {
        "FaceForensics++",
        "Celeb-DF-v1",
        "Celeb-DF-v2",
        "DFDC",
        "DFDCP",
        "DeeperForensics-1.0",
        "UADFV",
        "FFIW",
        "DeepSpeak_v1",
        "custom",
    }
    assert want <= set(ADAPTERS)
    for name in ("FF-DF", "FaceShifter", "DeepFakeDetection"):
        assert get_adapter(name) is ADAPTERS.get("FaceForensics++")
    with pytest.raises(
        LayoutError, match=r"unknown --dataset 'CelebDF' \(did you mean 'Celeb-DF-v2'\?\); known: \["
    ):
        get_adapter("CelebDF")
    with pytest.raises(
        KeyError, match="already registered by preprocessing.fbi_prep.adapters.celebdf.CelebDFAdapter"
    ):
        ADAPTERS.register("Celeb-DF-v1")(object())
