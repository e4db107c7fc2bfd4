"""DeepfakeDataset, frame sampling, transforms and loaders: items, seeding, bad frames, flips."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.distributed as dist
import yaml
from torch.utils.data import DistributedSampler, RandomSampler, SequentialSampler

from fbi_common.paths import REPO_ROOT
from training.dataset.dataset import DeepfakeDataset, DropLog, DroppedFrame, collate_drop_none
from training.dataset.index import build_index, derive_sibling
from training.dataset.loaders import build_dataset, build_loader, build_transform, dataset_names
from training.dataset.readers import FileReader, FrameError
from training.dataset.sampling import select_frames, video_seed
from training.dataset.transforms import FrameTransform

SPEC = {"size": 16, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
NO_AUG = {"flip_prob": 0.0, "rotate_prob": 0.0, "blur_prob": 0.0, "brightness_prob": 0.0, "quality_prob": 0.0}


@pytest.fixture()
def demo(tmp_path):
    """UADFV-like dataset: 2 real + 2 fake videos of 12 frames (train/val), 1 + 1 test videos."""
    rgb = tmp_path / "rgb"
    labels: dict = {"UADFV_Real": {}, "UADFV_Fake": {}}
    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("val", 2), ("test", 1)):
        for label, kind in (("UADFV_Real", "real"), ("UADFV_Fake", "fake")):
            videos = {}
            for v in range(n):
                name = f"{split}{v}_{kind}"
                frames = [f"UADFV/{kind}/frames/{name}/{i:03d}.png" for i in range(12)]
                for fr in frames:
                    for rel, data in (
                        (fr, rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)),
                        (derive_sibling(fr, "masks"), rng.integers(0, 256, (24, 24), dtype=np.uint8)),
                        (
                            derive_sibling(fr, "landmarks", ".npy"),
                            rng.integers(0, 24, (81, 2)).astype(np.int32),
                        ),
                    ):
                        (rgb / rel).parent.mkdir(parents=True, exist_ok=True)
                        np.save(rgb / rel, data) if rel.endswith(".npy") else cv2.imwrite(
                            str(rgb / rel), data
                        )
                videos[name] = {"label": label, "frames": frames[::-1]}
            labels[label][split] = videos
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "UADFV.json").write_text(json.dumps({"UADFV": labels}))
    cfg = yaml.safe_load((REPO_ROOT / "training/config/defaults.yaml").read_text())
    cfg.update(
        rgb_dir=str(rgb),
        dataset_json_folder=str(tmp_path / "json"),
        train_dataset=["UADFV"],
        test_dataset=["UADFV"],
        frame_num={"train": 4, "val": 3, "test": 12},
        workers=0,
        train_batchSize=4,
        test_batchSize=4,
    )
    return cfg


def test_select_frames_even_spread_and_seeding():
    assert select_frames(12, 4) == [1, 4, 7, 10]  # stride centres
    assert select_frames(3, 8) == [0, 1, 2] and select_frames(5, None) == list(range(5))
    a, b = select_frames(300, 8, 7), select_frames(300, 8, np.random.default_rng(7))
    assert a == b and a != select_frames(300, 8, 8)
    assert all(i * 37.5 <= x < (i + 1) * 37.5 for i, x in enumerate(a))  # one frame per stride
    assert video_seed(1, "UADFV/x/v") == video_seed(1, "UADFV/x/v") != video_seed(2, "UADFV/x/v")


def test_items_and_frame_selection(demo):
    ds = build_dataset(demo, "train", None, SPEC)
    assert len(ds) == 4 * 4
    item = ds[0]
    assert set(item) == {"image", "label", "label_name", "video_key", "frame", "identity", "index"}
    assert item["image"].shape == (3, 16, 16) and item["image"].dtype == torch.uint8  # never normalised
    per_video: dict[str, list[int]] = {}
    for i in range(len(ds)):
        d = ds.describe(i)
        per_video.setdefault(d["video_key"], []).append(int(d["frame"].rsplit("/", 1)[1][:3]))
    for key, idx in per_video.items():
        assert idx == select_frames(12, 4, video_seed(demo["manualSeed"], key))
        assert all(3 * i <= x < 3 * (i + 1) for i, x in enumerate(idx))
    again = build_dataset(demo, "train", None, SPEC)
    assert [again.describe(i)["frame"] for i in range(len(again))] == [
        ds.describe(i)["frame"] for i in range(len(ds))
    ]
    other = build_dataset(dict(demo, manualSeed=5), "train", None, SPEC)
    assert [other.describe(i)["frame"] for i in range(len(ds))] != [
        ds.describe(i)["frame"] for i in range(len(ds))
    ]
    val = build_dataset(demo, "val", None, SPEC)  # val_dataset null: val split of train_dataset
    assert dataset_names(demo, "val") == ["UADFV"] and len(val) == 4 * 3
    assert {val.describe(i)["frame"][-7:-4] for i in range(3)} == {"002", "006", "010"}  # stride centres


def test_identity_map_and_data_info(demo):
    train = build_dataset(demo, "train", None, SPEC)
    info = train.data_info()
    assert info == {"num_identities": 4, "label_names": ["UADFV_Fake", "UADFV_Real"]}
    assert sorted({train.describe(i)["identity"] for i in range(len(train))}) == [0, 1, 2, 3]
    test = build_dataset(demo, "test", None, SPEC, identity_map=train.identity_map)
    assert {test.describe(i)["identity"] for i in range(len(test))} == {-1}


def test_mask_landmark_and_eval_has_no_augmentation(demo):
    ds = build_dataset(dict(demo, with_mask=True, with_landmark=True), "test", None, SPEC)
    a, b = ds[3], ds[3]
    assert torch.equal(a["image"], b["image"]) and a["mask"].shape == (1, 16, 16)
    assert a["landmark"].shape == (81, 2) and a["mask"].dtype == torch.uint8
    reader = FileReader(demo["rgb_dir"])
    raw_mask = cv2.resize(reader.read_mask(derive_sibling(a["frame"], "masks")), (16, 16))
    assert torch.equal(a["mask"][0], torch.from_numpy(raw_mask))
    raw = reader.read_landmark(derive_sibling(a["frame"], "landmarks", ".npy"))
    assert torch.allclose(a["landmark"], torch.from_numpy((raw + 0.5) * (16 / 24) - 0.5))
    t = build_transform(demo, "test", dict(SPEC, size=20))  # the size comes from the model's spec
    out = t(reader.read_image(a["frame"]))
    assert out["image"].shape == (3, 20, 20) and out["image"].dtype == torch.uint8
    assert (
        build_transform(demo, "train", SPEC).aug is not None
        and build_transform(demo, "val", SPEC).aug is None
    )


def _dots_image(points: np.ndarray, size: int = 40) -> np.ndarray:
    img = np.zeros((size, size, 3), np.uint8)
    for x, y in points.astype(int):
        img[y - 1 : y + 2, x - 1 : x + 2] = 255
    return img


@pytest.mark.parametrize("aug", [{"flip_prob": 1.0}, {"rotate_prob": 1.0, "rotate_limit": [25, 25]}, {}])
def test_geometric_aug_moves_landmarks_and_mask_with_image(aug):
    pts = np.array([[8, 10], [30, 12], [20, 31]], np.float32)
    image = _dots_image(pts)
    mask = np.zeros((40, 40), np.uint8)
    mask[:, :10] = 255  # left band
    t = FrameTransform(80, dict(NO_AUG, **aug))
    out = t(image, mask, pts, np.random.default_rng(0))
    img = out["image"][0].numpy() / 255.0
    for x, y in out["landmark"].numpy():
        # the dot's intensity centroid must be where the landmark went (sub-pixel)
        x0, y0 = int(round(x)) - 6, int(round(y)) - 6
        win = np.clip(img[y0 : y0 + 13, x0 : x0 + 13], 0, None)
        yy, xx = np.mgrid[y0 : y0 + 13, x0 : x0 + 13]
        cx, cy = (win * xx).sum() / win.sum(), (win * yy).sum() / win.sum()
        assert abs(cx - x) < 0.3 and abs(cy - y) < 0.3, (aug, (x, y), (cx, cy))
    m = out["mask"][0].numpy() / 255.0
    if aug.get("flip_prob"):
        assert m[:, -10:].mean() > 0.95 and m[:, :60].mean() < 0.05
    elif not aug:
        assert m[:, :10].mean() > 0.95 and m[:, 30:].mean() < 0.05


def test_photometric_aug_is_seeded_and_changes_pixels():
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    aug = dict(
        NO_AUG, blur_prob=1.0, brightness_prob=1.0, quality_prob=1.0, quality_lower=30, quality_upper=40
    )
    aug.update(brightness_limit=[0.2, 0.2], contrast_limit=[0.0, 0.0])
    t = FrameTransform(32, aug)
    a, b = t(image, rng=np.random.default_rng(3)), t(image, rng=np.random.default_rng(3))
    assert torch.equal(a["image"], b["image"])
    plain = FrameTransform(32)(image)["image"]
    assert float(a["image"].float().mean() - plain.float().mean()) / 255 > 0.1  # +0.2 survives blur and JPEG


@pytest.mark.parametrize("corruption", ["missing", "empty", "garbage"])
def test_bad_frame_policies(demo, corruption, fbi_log):
    ds = build_dataset(demo, "test", None, SPEC)
    victim = Path(demo["rgb_dir"]) / ds.describe(2)["frame"]
    if corruption == "missing":
        victim.unlink()
        reason = "file not found"
    else:
        victim.write_bytes(b"" if corruption == "empty" else b"\x89PNG garbage")
        reason = f"cv2 could not decode {victim.stat().st_size}-byte file"
    with pytest.raises(FrameError, match=rf"{victim.name}: {reason}.*bad_frame_policy: drop"):
        ds[2]
    dropped = build_dataset(dict(demo, bad_frame_policy="drop"), "test", None, SPEC)
    item = dropped[2]
    assert isinstance(item, DroppedFrame) and item.frame == ds.describe(2)["frame"] and reason in item.reason
    assert any(str(victim) in m and reason in m for m in fbi_log.messages)
    drops = DropLog()
    batches = [drops.take(b) for b in build_loader(dropped, demo, train=False, distributed=False)]
    assert len(batches) == 6 and batches[0]["image"].shape[0] == 3 and "dropped" not in batches[0]
    assert 2 not in batches[0]["index"].tolist() and batches[1]["index"].tolist() == [4, 5, 6, 7]
    summary = drops.summary()
    assert summary["n_dropped"] == 1 and summary["dropped_frames"][0]["frame"] == item.frame


def test_whole_batch_dropped_still_carries_its_count():
    assert collate_drop_none([None, None]) is None
    out = collate_drop_none([None, {"a": 1, "s": "x"}])
    assert out["a"].tolist() == [1] and out["s"] == ["x"]
    gone = [DroppedFrame(i, "v", f"f{i}.png", "bad") for i in (3, 4)]
    batch = collate_drop_none(gone)
    assert batch == {"dropped": [d._asdict() for d in gone]}
    drops = DropLog()
    assert drops.take(batch) is None and len(drops) == 2
    drops.add([gone[0]._asdict()])  # a DDP-padding repeat of index 3 is not counted twice
    assert drops.summary()["n_dropped"] == 2


def test_mask_of_real_video_may_be_missing_but_not_of_fake(demo):
    cfg = dict(demo, with_mask=True)
    records = build_index("UADFV", "test", cfg)
    for rec in records:
        for m in rec.masks:
            (Path(cfg["rgb_dir"]) / m).unlink()
    ds = DeepfakeDataset(
        records, FileReader(cfg["rgb_dir"]), "test", 1, build_transform(cfg, "test", SPEC), with_mask=True
    )
    labels = {ds.describe(i)["label"]: i for i in range(len(ds))}
    assert float(ds[labels[0]]["mask"].abs().sum()) == 0.0
    with pytest.raises(FrameError, match="masks.*file not found"):
        ds[labels[1]]


def test_loaders_train_vs_eval(demo, tmp_path):
    train = build_dataset(demo, "train", None, SPEC)
    loader = build_loader(train, demo, train=True, distributed=False)
    assert isinstance(loader.sampler, RandomSampler) and loader.drop_last
    first = [b["index"].tolist() for b in loader]
    assert first == [b["index"].tolist() for b in build_loader(train, demo, train=True, distributed=False)]
    ev = build_loader(build_dataset(demo, "test", None, SPEC), demo, train=False, distributed=False)
    assert isinstance(ev.sampler, SequentialSampler) and not ev.drop_last
    small = build_loader(train, dict(demo, train_batchSize=64), train=True, distributed=False)
    assert not small.drop_last and sum(len(b["index"]) for b in small) == len(train)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        tl = build_loader(train, demo, train=True, distributed=True)
        el = build_loader(train, demo, train=False, distributed=True)
        assert (
            isinstance(tl.sampler, DistributedSampler)
            and tl.sampler.shuffle
            and tl.sampler.seed == demo["manualSeed"]
        )
        assert isinstance(el.sampler, DistributedSampler) and not el.sampler.shuffle and not el.drop_last
    finally:
        dist.destroy_process_group()
