"""Pixels into the model: uint8 frames from the loaders, normalisation in the detector, overrides restored
from checkpoints — and the same numbers as normalising in the loader (the code before this contract)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import training.detectors  # noqa: F401  (fills the registry)
from training.dataset.transforms import FrameTransform
from training.registry import DETECTORS
from training.trainer.build import input_spec
from training.utils.pixels import to_unit

DATA_INFO = {"num_identities": 4, "label_names": ["FF-real", "FF-DF"]}
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def build(name: str):
    cls = DETECTORS.get(name)
    cfg = {**copy.deepcopy(cls.config_defaults), **copy.deepcopy(cls.test_config)}
    torch.manual_seed(0)
    return cls.from_config(cfg, DATA_INFO).eval()


def frames(size: int, n: int = 3) -> torch.Tensor:
    """Loader output: n uint8 frames through FrameTransform (resized from 48 px, no augmentation)."""
    rng = np.random.default_rng(0)
    t = FrameTransform(size)
    return torch.stack([t(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))["image"] for _ in range(n)])


def loader_normalised(x: torch.Tensor, mean, std) -> torch.Tensor:
    """What the loader computed before normalisation moved into the model (NumPy, float32)."""
    m = np.asarray(mean, np.float32).reshape(3, 1, 1)
    s = np.asarray(std, np.float32).reshape(3, 1, 1)
    return torch.stack([torch.from_numpy((f.numpy().astype(np.float32) / 255.0 - m) / s) for f in x])


@pytest.mark.parametrize("name", ["clip", "fbi_clip", "xception"])
def test_model_normalisation_equals_the_old_loader_normalisation_exactly(name):
    model = build(name)
    x = frames(model.input_spec["size"])
    assert x.dtype == torch.uint8
    old = loader_normalised(x, model.input_spec["mean"], model.input_spec["std"])
    assert torch.equal(model.normalize(x), old)  # bit for bit: same float32 operations
    # uint8 and [0, 1] floats are the same input
    with torch.no_grad():
        a, b = model({"image": x}, inference=True), model({"image": x.float() / 255}, inference=True)
    assert torch.equal(a["prob"], b["prob"])


def test_fbi_clip_branches_read_exact_unit_pixels():
    """The frequency and boundary branches get x/255 itself, not an un-normalised round trip."""
    model = build("fbi_clip")
    x = frames(model.input_spec["size"])
    assert torch.equal(model.encode(x)["x01"], x.float() / 255)


def test_to_unit_rules():
    u8 = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.equal(to_unit(u8), torch.tensor([0.0, 0.2, 1.0]))
    f = torch.rand(3, dtype=torch.float64)
    assert to_unit(f) is f
    with pytest.raises(TypeError, match="uint8"):
        to_unit(torch.tensor([1, 2]))


def test_gradients_reach_the_pixels():
    """Grad-CAM / attribution: d prob / d pixels through the model's own normalisation."""
    model = build("clip")
    x = (frames(model.input_spec["size"]).float() / 255).requires_grad_(True)
    model({"image": x}, inference=True)["prob"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_config_override_reaches_buffers_not_the_state_dict():
    model = build("xception")
    cfg = {"model_name": "xception", "resolution": 48, "mean": list(MEAN), "std": list(STD)}
    spec = input_spec(cfg, model)
    assert spec == model.input_spec == {"size": 48, "mean": MEAN, "std": STD}
    assert torch.equal(model.pixel_mean.flatten(), torch.tensor(MEAN))
    assert not any(k.startswith("pixel_") for k in model.state_dict())  # old checkpoints still load
    x = frames(48)
    assert torch.equal(model.normalize(x), loader_normalised(x, MEAN, STD))


def test_checkpoint_preprocessing_wins_and_vit_resolution_is_refused(fbi_log):
    model = build("clip")
    native = model.input_spec["size"]
    saved = {"size": native, "mean": list(MEAN), "std": list(STD)}
    cfg = {"model_name": "clip", "resolution": None, "mean": [0.1, 0.1, 0.1], "std": None}
    spec = input_spec(cfg, model, saved)
    assert spec["mean"] == MEAN and spec["std"] == STD
    assert any("mean=[0.1, 0.1, 0.1]" in m and "checkpoint" in m for m in fbi_log.messages)
    with pytest.raises(ValueError, match="model.image_size"):
        input_spec({"model_name": "clip", "resolution": native + 8}, model)


def test_demo_predictor_restores_a_custom_normalisation(tmp_path):
    """A checkpoint trained with mean/std overrides scores new crops with them (demo.py's path)."""
    from tests.conftest import TINY_VIT
    from training.config import load_config
    from training.inference import Predictor
    from training.trainer.build import build_detector
    from training.trainer.checkpoint import save_checkpoint

    cfg = load_config("training/config/detector/clip_demo.yaml", opts=[TINY_VIT])
    torch.manual_seed(0)
    model = build_detector(cfg, {"num_identities": 1, "label_names": sorted(cfg["label_dict"])}).eval()
    size = model.input_spec["size"]
    pre = {"size": size, "mean": list(MEAN), "std": list(STD)}
    path = tmp_path / "ckpt.pth"
    save_checkpoint(path, {"model": model.state_dict(), "config": cfg, "preprocessing": pre})
    crops = [c.permute(1, 2, 0).numpy() for c in frames(size)]
    with torch.no_grad():
        backbone_in = loader_normalised(frames(size), MEAN, STD)
        want = model.head(model.backbone(backbone_in)["cls"]).softmax(1)[:, 1]
    got = Predictor(path).score_crops(crops)
    assert np.allclose(got, want.tolist(), rtol=0, atol=1e-6)
