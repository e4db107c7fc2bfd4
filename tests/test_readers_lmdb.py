"""File vs LMDB readers: byte-identical decoding for our keys and DeepfakeBench-written LMDBs; workers."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest
import torch
import yaml

from fbi_common.paths import REPO_ROOT
from training.dataset.index import derive_sibling
from training.dataset.loaders import build_dataset, build_loader
from training.dataset.readers import FileReader, FrameError, FrameNotFound, LmdbReader, close_lmdb_envs

VIDEOS = {
    "FaceForensics++": [
        ("FF-real", "000", "FaceForensics++/original_sequences/youtube/c23/frames/000"),
        ("FF-DF", "000_003", "FaceForensics++/manipulated_sequences/Deepfakes/c23/frames/000_003"),
    ],
    "UADFV": [("UADFV_Fake", "0000_fake", "UADFV/fake/frames/0000_fake")],
}
SPEC = {"size": 32, "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}


def _write(path: Path, data: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, data) if path.suffix == ".npy" else cv2.imwrite(str(path), data)


@pytest.fixture()
def tree(tmp_path):
    """Frames, masks and int32 (81, 2) landmarks for three videos, plus their dataset JSONs."""
    rgb = tmp_path / "rgb"
    (tmp_path / "json").mkdir()
    files: dict[str, list[str]] = {}
    for ds, videos in VIDEOS.items():
        labels: dict = {}
        for label, video, folder in videos:
            rng = np.random.default_rng(zlib.crc32(folder.encode()))
            frames = [f"{folder}/{i:03d}.png" for i in range(4)]
            for fr in frames:
                _write(rgb / fr, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
                _write(rgb / derive_sibling(fr, "masks"), rng.integers(0, 256, (32, 32), dtype=np.uint8))
                lm = rng.integers(0, 32, (81, 2)).astype(np.int32)
                _write(rgb / derive_sibling(fr, "landmarks", ".npy"), lm)
            info = {video: {"label": label, "frames": frames}}
            nested = {"c23": info} if ds == "FaceForensics++" else info
            labels[label] = {s: nested for s in ("train", "val", "test")}
            files.setdefault(ds, []).extend(frames)
        (tmp_path / "json" / f"{ds}.json").write_text(json.dumps({ds: labels}))
    return tmp_path, files


def build_lmdb(rgb: Path, lmdb_dir: Path, files: dict[str, list[str]], style: str) -> None:
    """`ours`: POSIX keys, file bytes. `dfb_win` / `dfb_linux`: DeepfakeBench keys, raw landmark buffers."""
    lmdb_dir.mkdir(exist_ok=True)
    for ds, frames in files.items():
        env = lmdb.open(str(lmdb_dir / f"{ds}_lmdb"), map_size=1 << 24)
        with env.begin(write=True) as txn:
            for fr in frames:
                for rel in (fr, derive_sibling(fr, "masks"), derive_sibling(fr, "landmarks", ".npy")):
                    value = (rgb / rel).read_bytes()
                    key = rel
                    if style != "ours":
                        first, rest = rel.split("/", 1)
                        rest = rest.replace("/", "\\") if style == "dfb_win" else rest
                        key = f"{first}\\{rest}"
                        if rel.endswith(".npy"):
                            value = np.load(rgb / rel).tobytes()  # headerless int32 buffer
                    txn.put(key.encode(), value)
        env.close()


@pytest.mark.parametrize("style", ["ours", "dfb_win", "dfb_linux"])
def test_lmdb_matches_files_byte_for_byte(tree, style):
    root, files = tree
    build_lmdb(root / "rgb", root / "lmdb", files, style)
    fr_reader, db_reader = FileReader(root / "rgb"), LmdbReader(root / "lmdb")
    for frames in files.values():
        for fr in frames:
            a, b = fr_reader.read_image(fr), db_reader.read_image(fr)
            assert a.dtype == b.dtype == np.uint8 and a.shape == (32, 32, 3) and np.array_equal(a, b)
            m = derive_sibling(fr, "masks")
            assert np.array_equal(fr_reader.read_mask(m), db_reader.read_mask(m))
            lm = derive_sibling(fr, "landmarks", ".npy")
            la, lb = fr_reader.read_landmark(lm), db_reader.read_landmark(lm)
            assert la.dtype == lb.dtype == np.float32 and la.shape == (81, 2) and np.array_equal(la, lb)
    # RGB order: the file reader returns cv2's BGR reversed
    fr = files["UADFV"][0]
    assert np.array_equal(fr_reader.read_image(fr), cv2.imread(str(root / "rgb" / fr))[..., ::-1])


def test_ff_family_shares_one_env_and_errors_name_env_and_key(tree):
    root, files = tree
    build_lmdb(root / "rgb", root / "lmdb", files, "ours")
    reader = LmdbReader(root / "lmdb")
    for first in ("FaceForensics++", "FF-DF", "FaceShifter", "DeepFakeDetection"):
        assert reader.env_path(f"{first}/x.png") == root / "lmdb" / "FaceForensics++_lmdb"
    with pytest.raises(
        FrameNotFound, match=r"UADFV_lmdb\[UADFV/fake/frames/0000_fake/999.png\].*key not found"
    ):
        reader.read_image("UADFV/fake/frames/0000_fake/999.png")
    with pytest.raises(FileNotFoundError, match=r"Celeb-DF-v2_lmdb.*dataset2lmdb"):
        reader.read_image("Celeb-DF-v2/x/frames/a/000.png")
    close_lmdb_envs()  # py-lmdb refuses a second handle on an env open in this process
    env = lmdb.open(str(root / "lmdb" / "UADFV_lmdb"), map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"UADFV/bad/frames/v/000.png", b"not an image")
    env.close()
    with pytest.raises(FrameError, match="cv2 could not decode 12-byte file"):
        LmdbReader(root / "lmdb").read_image("UADFV/bad/frames/v/000.png")


def test_headerless_landmarks_written_as_int64():
    """DeepfakeBench run on Linux stores np.int64 landmark buffers: 81x2x8 bytes."""
    from training.dataset.readers import decode_landmark

    lm = np.arange(162, dtype=np.int64).reshape(81, 2)
    assert np.array_equal(decode_landmark(lm.tobytes(), "k"), lm.astype(np.float32))
    with pytest.raises(FrameError, match="k: cannot read landmarks"):
        decode_landmark(b"abc", "k")


def test_dataloader_workers_over_lmdb_match_files(tree):
    root, files = tree
    build_lmdb(root / "rgb", root / "lmdb", files, "dfb_win")
    cfg = yaml.safe_load((REPO_ROOT / "training/config/defaults.yaml").read_text())
    cfg.update(
        rgb_dir=str(root / "rgb"),
        lmdb_dir=str(root / "lmdb"),
        dataset_json_folder=str(root / "json"),
        with_mask=True,
        with_landmark=True,
        workers=2,
        test_batchSize=3,
        frame_num={"train": 2, "val": 2, "test": 3},
    )
    names = ["FaceForensics++", "UADFV"]
    file_ds = build_dataset(cfg, "test", names, SPEC)
    lmdb_ds = build_dataset(dict(cfg, lmdb=True), "test", names, SPEC)
    assert isinstance(lmdb_ds.reader, LmdbReader) and len(lmdb_ds) == len(file_ds) == 9
    lmdb_ds[0]  # the parent opens the envs first: forked workers must still get their own handles
    batches = list(build_loader(lmdb_ds, dict(cfg, lmdb=True), train=False, distributed=False))
    ref = [file_ds[i] for i in range(len(file_ds))]
    got_index = torch.cat([b["index"] for b in batches]).tolist()
    assert got_index == list(range(9))
    for key in ("image", "mask", "landmark"):
        assert torch.equal(torch.cat([b[key] for b in batches]), torch.stack([r[key] for r in ref]))
    assert [f for b in batches for f in b["frame"]] == [r["frame"] for r in ref]
