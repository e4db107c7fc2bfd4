"""The fast data path (uint8 across workers, normalisation and optionally augmentation on the device)
gives what the plain per-frame path gives: the same frames, the same tensors without augmentation,
and the same set and probabilities of operations with it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from training.dataset.device_aug import apply_device_ops
from training.dataset.loaders import build_dataset, build_loader
from training.dataset.transforms import AugOps, FrameTransform, apply_ops, sample_ops
from training.trainer.build import to_device
from training.utils.pixels import normalize

MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
SPEC = {"size": 20, "mean": MEAN, "std": STD}
AUG = {
    "flip_prob": 0.5,
    "rotate_prob": 0.3,
    "rotate_limit": [-10, 10],
    "blur_prob": 0.5,
    "blur_limit": [3, 7],
    "brightness_prob": 0.5,
    "brightness_limit": [-0.1, 0.1],
    "contrast_limit": [-0.1, 0.1],
    "quality_lower": 40,
    "quality_upper": 100,
    "quality_prob": 0.5,
}


def _cfg(demo_data, **kw) -> dict:
    from training.config import load_config

    opts = [f"rgb_dir={demo_data['rgb_dir']}", f"dataset_json_folder={demo_data['json_folder']}", "workers=0"]
    cfg = load_config("training/config/detector/clip_demo.yaml", opts=opts)
    cfg.update(train_batchSize=8, test_batchSize=8, frame_num={"train": 2, "val": 2, "test": 2}, **kw)
    return cfg


def _plain(path) -> torch.Tensor:
    """The plain path: cv2.imread → RGB → resize → normalise in NumPy (what the loader did before)."""
    img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    interp = cv2.INTER_AREA if min(img.shape[:2]) > 40 else cv2.INTER_CUBIC
    x = cv2.resize(img, (20, 20), interpolation=interp).astype(np.float32).transpose(2, 0, 1) / 255.0
    m, s = np.float32(MEAN).reshape(3, 1, 1), np.float32(STD).reshape(3, 1, 1)
    return torch.from_numpy((x - m) / s)


@pytest.mark.parametrize("workers", [0, 1])
def test_fast_path_same_frames_and_tensors_without_augmentation(demo_data, workers):
    cfg = _cfg(demo_data, workers=workers, use_data_augmentation=False, augment_on="device")
    ds = build_dataset(cfg, "train", None, SPEC)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    seen = []
    for batch in build_loader(ds, cfg, train=True, distributed=False):
        assert batch["image"].dtype == torch.uint8 and "aug_ops" not in batch
        x = normalize(to_device(batch, torch.device("cpu"))["image"], mean, std)
        for i, rel in enumerate(batch["frame"]):
            assert torch.equal(x[i], _plain(demo_data["rgb_dir"] / rel)), rel
        seen += batch["frame"]
    assert sorted(seen) == sorted(ds.describe(i)["frame"] for i in range(len(ds)))[: len(seen)]
    assert len(seen) == len(ds) // 8 * 8  # drop_last, nothing else missing


def test_operations_are_drawn_once_with_the_configured_probabilities():
    rng = np.random.default_rng(0)
    ops = [sample_ops(AUG, rng) for _ in range(4000)]
    n = len(ops)
    rates = {
        "flip": sum(o.flip for o in ops) / n,
        "rotate": sum(o.angle is not None for o in ops) / n,
        "blur": sum(o.blur is not None for o in ops) / n,
        "brightness": sum(o.alpha is not None for o in ops) / n,
        "jpeg": sum(o.quality is not None for o in ops) / n,
    }
    want = {"flip": 0.5, "rotate": 0.3, "blur": 0.5, "brightness": 0.5, "jpeg": 0.5}
    for k, p in want.items():
        assert abs(rates[k] - p) < 4 * (p * (1 - p) / n) ** 0.5, (k, rates[k])  # 4 sigma
    assert {o.blur for o in ops if o.blur} == {3, 5, 7}
    assert all(-10 <= o.angle <= 10 for o in ops if o.angle is not None)
    assert all(40 <= o.quality <= 100 for o in ops if o.quality is not None)
    assert all(0.9 <= o.alpha <= 1.1 and -25.5 <= o.beta <= 25.5 for o in ops if o.alpha is not None)


def test_device_path_applies_the_operations_the_worker_path_applies(demo_data):
    """Same seed → the same drawn operations per item, whichever side applies them."""
    cfg = _cfg(demo_data, use_data_augmentation=True, data_aug=AUG, with_mask=True)
    workers_ds = build_dataset(dict(cfg, augment_on="workers"), "train", None, SPEC)
    device_ds = build_dataset(dict(cfg, augment_on="device"), "train", None, SPEC)
    np.random.seed(3)
    a = [workers_ds[i] for i in range(len(workers_ds))]
    np.random.seed(3)
    b = [device_ds[i] for i in range(len(device_ds))]
    assert all("aug_ops" not in x for x in a) and all(x["aug_ops"].shape == (6,) for x in b)
    for x, y in zip(a, b, strict=True):
        assert x["frame"] == y["frame"]
        if torch.isnan(y["aug_ops"][1:]).all() and y["aug_ops"][0] == 0:  # nothing drawn: same uint8 frame
            assert torch.equal(x["image"], y["image"])


def _frame() -> np.ndarray:
    """A smooth 40-px RGB frame with detail (so blur/JPEG/rotation all change it)."""
    yy, xx = np.mgrid[0:40, 0:40].astype(np.float32)
    img = np.stack([128 + 90 * np.sin(xx / 5), 128 + 90 * np.cos(yy / 7), 60 + 3 * (xx + yy)], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "ops, tol",
    [
        (AugOps(flip=True), 0.0),
        (AugOps(alpha=1.08, beta=-12.0), 0.0025),  # uint8 truncation on the CPU side
        (AugOps(blur=5), 0.0015),
        (AugOps(angle=8.0), 0.003),  # bilinear at the same points, reflected borders
        (AugOps(quality=60), 0.008),  # libjpeg vs kornia's codec: same tables, approximate rounding
    ],
    ids=["flip", "brightness", "blur", "rotate", "jpeg"],
)
def test_device_operation_matches_the_opencv_operation(ops, tol):
    img, mask = _frame(), np.zeros((40, 40), np.uint8)
    mask[:, :12] = 255
    lm = np.array([[5.0, 7.0], [30.0, 12.0], [20.0, 33.0]], np.float32)
    cpu_img, cpu_mask, cpu_lm = apply_ops(ops, img, mask, lm.copy())
    batch = {
        "image": torch.from_numpy(img.transpose(2, 0, 1).copy())[None],
        "mask": torch.from_numpy(mask)[None, None],
        "landmark": torch.from_numpy(lm)[None],
        "aug_ops": ops.to_tensor()[None],
    }
    out = apply_device_ops(batch)
    assert "aug_ops" not in out and out["image"].dtype == torch.float32
    cpu = torch.from_numpy(cpu_img.transpose(2, 0, 1) / 255.0).float()
    diff = (out["image"][0] - cpu).abs()
    assert float(diff.mean()) <= tol, float(diff.mean())
    change = (cpu - torch.from_numpy(img.transpose(2, 0, 1) / 255.0).float()).abs().mean()
    assert float(change) > max(tol, 1e-3)  # the tolerance is finer than what the operation does
    assert float((out["mask"][0, 0] - torch.from_numpy(cpu_mask / 255.0).float()).abs().mean()) <= 0.02
    torch.testing.assert_close(out["landmark"][0], torch.from_numpy(cpu_lm), atol=1e-4, rtol=0)


def test_frame_transform_on_device_ships_the_drawn_operations():
    t = FrameTransform(20, AUG, on_device=True)
    out = t(_frame(), rng=np.random.default_rng(5))
    drawn = sample_ops(AUG, np.random.default_rng(5))
    want = drawn.to_tensor()
    assert torch.equal(out["aug_ops"].isnan(), want.isnan())
    assert torch.equal(out["aug_ops"].nan_to_num(), want.nan_to_num())
    plain = FrameTransform(20)(_frame())["image"]
    assert torch.equal(out["image"], plain)  # not applied in the worker
    assert repr(t).endswith("on the device)")
