"""Bad data on the training side: every broken JSON, frame, mask, landmark or LMDB is one clear error
naming the file and the fix. What bad_frame_policy=drop leaves out is counted: test_dropped_frames.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from fbi_common.cli import error_message
from fbi_common.errors import DataError, FBIError
from fbi_common.paths import REPO_ROOT
from training.dataset.dataset import DeepfakeDataset
from training.dataset.index import build_index, resolve_json
from training.dataset.loaders import build_dataset
from training.dataset.readers import FileReader, FrameError, LmdbReader, decode_landmark

SPEC = {"size": 16, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
FRAME = "Toy/real/frames/v0/000.png"


def _cfg(tmp_path: Path, **over) -> dict:
    cfg = yaml.safe_load((REPO_ROOT / "training/config/defaults.yaml").read_text())
    cfg.update(rgb_dir=str(tmp_path / "rgb"), dataset_json_folder=str(tmp_path / "json"), workers=0)
    cfg["label_dict"] = dict(cfg["label_dict"], Toy_real=0, Toy_fake=1)
    cfg.update(over)
    return cfg


def _toy(tmp_path: Path, name: str = "Toy", doc: object = None, text: str | None = None) -> Path:
    """A one-dataset JSON (default: one real + one fake video of two 24 px frames, every split)."""
    rgb = tmp_path / "rgb"
    if doc is None:
        data: dict = {}
        for label, kind in (("Toy_real", "real"), ("Toy_fake", "fake")):
            data[label] = {}
            for split in ("train", "val", "test"):
                frames = [f"Toy/{kind}/frames/{split}_v/{i:03d}.png" for i in (0, 1)]
                for f in frames:
                    for sub, arr in (("frames", np.full((24, 24, 3), 99, np.uint8)), ("masks", None)):
                        p = rgb / f.replace("/frames/", f"/{sub}/")
                        p.parent.mkdir(parents=True, exist_ok=True)
                        cv2.imwrite(str(p), arr if arr is not None else np.zeros((24, 24), np.uint8))
                    lm = rgb / f.replace("/frames/", "/landmarks/").replace(".png", ".npy")
                    lm.parent.mkdir(parents=True, exist_ok=True)
                    np.save(lm, np.zeros((68, 2), np.float32))
                data[label][split] = {f"{split}_v": {"label": label, "frames": frames}}
        doc = {name: data}
    path = tmp_path / "json" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else json.dumps(doc))
    return path


# ---- dataset names and JSON files ------------------------------------------------------------------


def test_unknown_dataset_name_answers_did_you_mean_case_insensitively(tmp_path):
    _toy(tmp_path, "Celeb-DF-v2", {"Celeb-DF-v2": {"CelebDFv2_real": {"test": {}}}})
    with pytest.raises(DataError) as e:
        resolve_json("celeb-df-v2", tmp_path / "json")
    msg = str(e.value)
    assert "Did you mean 'Celeb-DF-v2'?" in msg and "Available" in msg and "rearrange.py" in msg
    with pytest.raises(FileNotFoundError, match="Did you mean 'Celeb-DF-v2'"):  # also a FileNotFoundError
        resolve_json("Celeb-DF-v3_c40", tmp_path / "json")
    with pytest.raises(DataError, match="dataset_json_folder .*does not exist"):
        resolve_json("X", tmp_path / "nowhere")


def test_top_level_key_that_differs_from_the_file_name_says_what_to_rename(tmp_path):
    _toy(tmp_path, "Toy", {"FF-DF": {"Toy_real": {"train": {}}}})
    with pytest.raises(DataError) as e:
        build_index("Toy", "train", _cfg(tmp_path))
    msg = str(e.value)
    assert "Toy.json" in msg and "'FF-DF'" in msg and "Rename the file to 'FF-DF.json'" in msg


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{"Toy": {"Toy_real": {"train": {}}', r"Toy\.json: invalid JSON at line 1, column \d+"),
        ("", r"Toy\.json is empty"),
        ('{"Toy": {"Toy_real": {"train": {"v": {"frames": []}, "v": {"frames": []}}}}}', "'v' appears twice"),
        ("[1, 2]", "top level is a JSON array; expected"),
        ('{"Toy": {"Toy_real": {"training": {}}}}', r"unknown split\(s\) \['training'\]"),
        ('{"Toy": {"Toy_real": {"train": {"v": {"label": "Toy_real", "frames": "a.png"}}}}}', "'frames' must be a list"),
        ('{"Toy": {"Toy_real": {"train": {"v": {"label": "Toy_real", "frames": ["a.png", "a.png"]}}}}}', "listed twice"),
        ('{"Toy": {"Toy_real": {"train": {"c23": {"v": {"label": 1, "frames": ["a.png"]}}}}}}', "'label' must be"),
        ('{"Toy": {"Toy_real": {"train": {"v": {"label": "Toy_real", "frames": []}, "c23": {}}}}}', "mixes videos"),
        ('{"Toy": {"Toy_real": ["train"]}}', r"\[Toy_real\]: expected \{split: ...\}"),
        ('{"Toy": {}}', "'Toy' is empty"),
        ('{"A": {}, "B": {}}', r"no top-level key 'Toy' \(found \['A', 'B'\]\)"),
    ],
)  # fmt: skip
def test_malformed_json_names_the_file_and_what_was_expected(tmp_path, text, want):
    _toy(tmp_path, text=text)
    with pytest.raises(DataError, match=want):
        build_index("Toy", "train", _cfg(tmp_path))


def test_label_not_in_label_dict_empty_split_and_not_utf8(tmp_path):
    doc = {"Toy": {"Toy_rael": {"train": {"v": {"label": "Toy_rael", "frames": [FRAME]}}, "val": {}}}}
    _toy(tmp_path, doc=doc)
    with pytest.raises(
        DataError,
        match=r"'Toy_rael'.*not in label_dict \(did you mean 'Toy_real'\?\).*label_dict\.Toy_rael=0",
    ):
        build_index("Toy", "train", _cfg(tmp_path))
    with pytest.raises(DataError, match=r"no videos found for split 'val' in datasets \['Toy'\]"):
        build_index("Toy", "val", _cfg(tmp_path))
    (tmp_path / "json" / "Toy.json").write_bytes(b'{"Toy": "\xff\xfe"}')
    with pytest.raises(DataError, match="not UTF-8"):
        build_index("Toy", "train", _cfg(tmp_path))


def test_windows_and_absolute_paths_read_the_same_frames(tmp_path):
    _toy(tmp_path)
    rgb = tmp_path / "rgb"
    flavours = ["Toy\\real\\frames\\train_v\\000.png", str(rgb / "Toy/real/frames/train_v/001.png")]
    _toy(tmp_path, "Win", {"Win": {"Toy_real": {"train": {"v": {"label": "Toy_real", "frames": flavours}}}}})
    (rec,) = build_index("Win", "train", _cfg(tmp_path))
    reader = FileReader(rgb)
    assert rec.frames[0] == "Toy/real/frames/train_v/000.png"
    assert all(reader.read_image(f).shape == (24, 24, 3) for f in rec.frames)


# ---- frames, masks, landmarks, LMDB ----------------------------------------------------------------


def _dataset(tmp_path, split="train", **over) -> DeepfakeDataset:
    return build_dataset(_cfg(tmp_path, frame_num={split: 2}, **over), split, ["Toy"], SPEC)


@pytest.mark.parametrize(
    ("damage", "want"),
    [
        (lambda p: p.write_bytes(b""), "0-byte file (the file is empty"),
        (lambda p: p.write_bytes(p.read_bytes()[:60]), "truncated or corrupt image data"),
        (lambda p: p.write_text("not an image"), "not a PNG/JPEG image"),
        (lambda p: p.unlink(), "file not found"),
    ],
)
def test_bad_frames_name_the_file_and_the_fix(tmp_path, damage, want):
    _toy(tmp_path)
    ds = _dataset(tmp_path)
    victim = tmp_path / "rgb" / ds.describe(0)["frame"]
    damage(victim)
    with pytest.raises(FrameError) as e:
        ds[0]
    msg = error_message(e.value)
    assert str(victim) in msg and want in msg and "bad_frame_policy: drop" in msg


def test_missing_mask_of_a_fake_says_with_mask_false_and_wrong_landmarks_are_refused(tmp_path):
    _toy(tmp_path)
    ds = _dataset(tmp_path, with_mask=True)
    fake = next(i for i in range(len(ds)) if ds.describe(i)["label"] == 1)
    mask = tmp_path / "rgb" / ds.records[ds.items[fake][0]].masks[ds.items[fake][1]]
    mask.unlink()
    with pytest.raises(FrameError, match=r"masks/.*file not found.*with_mask: false"):
        ds[fake]
    cv2.imwrite(str(mask), np.zeros((10, 10), np.uint8))
    with pytest.raises(FrameError, match="mask is 10x10 but its frame .* is 24x24"):
        ds[fake]
    ds = _dataset(tmp_path, with_landmark=True)
    lm = tmp_path / "rgb" / ds.records[ds.items[0][0]].landmarks[ds.items[0][1]]
    np.save(lm, np.zeros((68, 3), np.float32))
    with pytest.raises(FrameError, match=r"landmarks.*shape \(68, 3\), expected \(K, 2\)"):
        ds[0]
    np.save(lm, np.full((68, 2), np.nan, np.float32))
    with pytest.raises(FrameError, match="NaN"):
        ds[0]
    with pytest.raises(FrameError, match="neither .npy nor"):
        decode_landmark(b"abc", "x.npy")


def test_lmdb_missing_environment_and_key(tmp_path):
    reader = LmdbReader(tmp_path / "lmdb")
    with pytest.raises(DataError, match=r"Toy_lmdb.*dataset2lmdb\.py --dataset Toy.*lmdb: false") as e:
        reader.read_image(FRAME)
    assert not isinstance(e.value, FrameError)  # a missing environment is never a droppable frame
    import lmdb

    (tmp_path / "lmdb").mkdir()
    env = lmdb.open(str(tmp_path / "lmdb" / "Toy_lmdb"), map_size=2**20)
    with env.begin(write=True) as txn:
        txn.put(b"Toy/other.png", b"x")
    env.close()
    with pytest.raises(FrameError, match=r"Toy_lmdb\[Toy/real/frames/v0/000.png\]: key not found"):
        reader.read_image(FRAME)


# ---- errors that reach the user ------------------------------------------------------------------


def test_fbi_errors_keep_their_message_through_the_cli_wrapper():
    e = DataError("x.json: invalid JSON at line 3, column 7: Expecting ','; fix the file")
    assert isinstance(e, FBIError) and error_message(e) == str(e)


def test_missing_rgb_dir_stops_even_under_drop_and_shared_frames_are_refused(tmp_path):
    _toy(tmp_path)
    ds = _dataset(tmp_path, bad_frame_policy="drop")
    shutil.rmtree(tmp_path / "rgb")
    with pytest.raises(DataError, match=r"rgb_dir .*rgb does not exist.*set rgb_dir") as e:
        ds[0]
    assert not isinstance(e.value, FrameError)  # not droppable: nothing would be left
    one = [FRAME]
    doc = {
        "Toy": {"Toy_real": {"train": {"a": {"frames": one}}}, "Toy_fake": {"train": {"b": {"frames": one}}}}
    }
    _toy(tmp_path, doc=doc)
    with pytest.raises(DataError, match=r"frame .*000.png is listed by two videos of split 'train'"):
        build_index("Toy", "train", _cfg(tmp_path))


def test_an_error_inside_a_dataloader_worker_reaches_the_user_as_its_own_message(tmp_path):
    from training.dataset.loaders import build_loader

    _toy(tmp_path)
    cfg = _cfg(tmp_path, frame_num={"test": 2}, workers=1, test_batchSize=4)
    ds = build_dataset(cfg, "test", ["Toy"], SPEC)
    victim = tmp_path / "rgb" / ds.describe(0)["frame"]
    victim.write_bytes(b"")
    with pytest.raises(Exception) as e:
        list(build_loader(ds, cfg, train=False, distributed=False))
    msg = error_message(e.value)
    assert msg.startswith(str(victim)) and "the file is empty" in msg and "Traceback" not in msg
