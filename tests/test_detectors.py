"""Every registered detector builds from its test_config and takes one optimiser step; base + baseline specifics."""

from __future__ import annotations

import time

import huggingface_hub.constants as hf_constants
import pytest
import timm
import torch

import training.detectors  # noqa: F401  (fills the registry)
from analysis.pipeline.cost import synthetic_batch
from training.config.merge import merge
from training.detectors.base import BaseDetector, human_count
from training.networks.timm_backbone import TimmBackbone
from training.registry import DETECTORS

DATA_INFO = {"num_identities": 4, "label_names": ["FF-real", "FF-DF"]}


def build(name: str, **overrides) -> BaseDetector:
    """`config_defaults` ← `test_config` ← `overrides`, merged the way the config loader merges."""
    cls = DETECTORS.get(name)
    return cls.from_config(merge(cls.test_config, overrides), DATA_INFO)


def make_batch(model: BaseDetector, n: int = 4) -> dict:
    """A batch with every key the dataset can produce: the cost tool's (one definition for both)."""
    return synthetic_batch(model, n, DATA_INFO["num_identities"])


@pytest.mark.parametrize("name", DETECTORS.names())
def test_detector_builds_and_steps(name):
    torch.manual_seed(0)
    cls = DETECTORS.get(name)
    assert issubclass(cls, BaseDetector)
    assert set(cls.test_config) <= set(cls.config_defaults), "test_config keys must be config_defaults keys"
    model = build(name)
    spec = model.input_spec
    assert spec["size"] <= 64, "test_config must make the detector tiny"
    assert len(spec["mean"]) == 3 and len(spec["std"]) == 3
    assert "trainable" in model.param_report()

    model.train()
    model.set_progress(0.5)
    batch = make_batch(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    pred = model(batch)
    assert pred["cls"].shape == (4, 2) and pred["prob"].shape == (4,)
    assert pred["feat"].ndim == 2 and pred["feat"].shape[0] == 4
    assert ((pred["prob"] >= 0) & (pred["prob"] <= 1)).all()
    torch.testing.assert_close(pred["prob"], pred["cls"].softmax(1)[:, 1])
    losses = model.get_losses(batch, pred)
    assert torch.isfinite(losses["overall"]) and losses["overall"].ndim == 0
    opt.zero_grad()
    losses["overall"].backward()
    # DDP (find_unused_parameters=False) needs a gradient for every trainable parameter.
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"trainable parameters without a gradient (DDP would fail): {no_grad[:5]}"
    opt.step()

    params = dict(model.named_parameters())
    changed = [n for n, p in params.items() if p.requires_grad and not torch.equal(p, before[n])]
    assert changed, "no trainable parameter changed after one step"
    frozen_moved = [n for n, p in params.items() if not p.requires_grad and not torch.equal(p, before[n])]
    assert not frozen_moved

    model.eval()
    with torch.no_grad():
        out = model(batch, inference=True)
    assert out["cls"].shape == (4, 2) and torch.isfinite(out["prob"]).all()


def test_from_config_refuses_unknown_keys_and_keeps_nested_defaults():
    cls = DETECTORS.get("clip")
    with pytest.raises(ValueError, match="model.nope"):
        cls.from_config({**cls.test_config, "nope": 1}, DATA_INFO)
    with pytest.raises(ValueError, match=r"'model.dropout'.*expected a number"):
        cls.from_config({**cls.test_config, "dropout": "high"}, DATA_INFO)
    # a partial nested section keeps the other defaults: ce/uniform from config_defaults
    model = cls.from_config({**cls.test_config, "loss_weights": {"align": 0.3}}, DATA_INFO)
    assert model.loss_weights == {"ce": 1.0, "align": 0.3, "uniform": 0.0}


def test_human_count_and_param_report():
    assert [human_count(n) for n in (999, 12_345, 12_345_678, 3_000_000_000)] == [
        "999",
        "12.3K",
        "12.3M",
        "3.0B",
    ]
    report = build("clip").param_report().splitlines()
    assert report[0].startswith("ClipDetector:") and "trainable" in report[0]
    assert any(line.strip().startswith("backbone:") for line in report)
    assert any(line.strip().startswith("head: 130 (130 trainable)") for line in report)


# ---- clip detector ---------------------------------------------------------------------------------
def test_clip_linear_probe_trains_only_the_head():
    model = build(
        "clip", tune="none", l2_norm=False, slerp={"prob": 0.0}, loss_weights={"align": 0, "uniform": 0}
    )
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"head.weight", "head.bias"}


def test_clip_features_and_l2_norm():
    for feature, dim in (("cls", 64), ("embed", 512)):
        model = build("clip", feature=feature).eval()
        z = model(make_batch(model))["feat"]
        assert z.shape == (4, dim)
        torch.testing.assert_close(z.norm(dim=1), torch.ones(4))
    raw = build("clip", l2_norm=False, slerp={"prob": 0.0}, loss_weights={"align": 0, "uniform": 0}).eval()
    assert not torch.allclose(raw(make_batch(raw))["feat"].norm(dim=1), torch.ones(4))


def test_clip_loss_terms_weights_and_skips():
    model = build("clip", slerp={"prob": 0.0}).train()
    batch = make_batch(model)
    pred = model(batch)
    losses = model.get_losses(batch, pred)
    assert set(losses) == {"overall", "ce", "align", "uniform"}
    expected = losses["ce"] + 0.1 * losses["align"] + 0.5 * losses["uniform"]
    torch.testing.assert_close(losses["overall"], expected)
    only_ce = build("clip", slerp={"prob": 0.0}, loss_weights={"ce": 1.0, "align": 0.0, "uniform": 0.0})
    assert set(only_ce.get_losses(batch, only_ce(batch))) == {"overall", "ce"}


@pytest.mark.parametrize("mode", ["extend", "replace"])
def test_clip_slerp_changes_ce_only_in_training(mode):
    torch.manual_seed(0)
    model = build(
        "clip",
        slerp={"prob": 1.0, "t_range": [0.5, 0.5], "mode": mode},
        loss_weights={"align": 0, "uniform": 0},
    )
    batch = make_batch(model)
    model.eval()
    with torch.no_grad():
        pred = model(batch)
        plain = torch.nn.functional.cross_entropy(pred["cls"], batch["label"])
        torch.testing.assert_close(model.get_losses(batch, pred)["ce"], plain)  # eval: no slerp
        model.train()  # no dropout in the model, so the forward is unchanged
        augmented = model.get_losses(batch, pred)["ce"]
    assert not torch.allclose(augmented, plain)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"feature": "patch"}, "model.feature"),
        ({"head": "cosine"}, "model.head"),
        ({"loss_weights": {"ce": 0.0, "align": 0.0, "uniform": 0.0}}, "nothing to train"),
        ({"loss_weights": {"ce": 1.0, "align": 0.0, "uniform": 0.0, "focal": 1.0}}, "model.loss_weights"),
        ({"slerp": {"mode": "mix"}}, "model.slerp"),
        ({"slerp": {"t_range": [0.8, 0.2]}}, "t_range"),
        ({"l2_norm": False}, "l2_norm: true"),
        ({"tune": "lora"}, "model.tune"),
    ],
)
def test_clip_bad_options_are_explained(overrides, match):
    with pytest.raises(ValueError, match=match):
        build("clip", **overrides)


# ---- timm detectors and backbone -------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, arch, native", [("xception", "legacy_xception", 299), ("efficientnetb4", "efficientnet_b4", 320)]
)
def test_timm_detectors_use_the_documented_backbone(name, arch, native):
    model = build(name, image_size=None)
    assert model.backbone.model.pretrained_cfg["architecture"] == arch
    assert model.input_spec["size"] == native
    assert model.input_spec["mean"] == tuple(
        timm.data.resolve_data_config({}, model=model.backbone.model)["mean"]
    )


def test_timm_local_weights_round_trip_and_cadene_format(tmp_path):
    torch.manual_seed(0)
    src = timm.create_model("resnet10t", num_classes=1000).eval()
    x = torch.randn(2, 3, 32, 32)
    ref = src.forward_head(src.forward_features(x), pre_logits=True)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}}, path)
    loaded = TimmBackbone("resnet10t", pretrained=str(path)).eval()
    torch.testing.assert_close(loaded(x), ref)
    assert loaded.num_features == 512 and len(loaded.mean) == 3

    # Cadene / DeepfakeBench Xception files keep 1×1 pointwise kernels as 2-D matrices
    xsrc = timm.create_model("legacy_xception", num_classes=1000).eval()
    cadene = {k: (v[:, :, 0, 0] if "pointwise" in k else v) for k, v in xsrc.state_dict().items()}
    torch.save(cadene, tmp_path / "xception-b5690688.pth")
    xb = TimmBackbone("legacy_xception", pretrained=str(tmp_path / "xception-b5690688.pth")).eval()
    xin = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(xb(xin), xsrc.forward_head(xsrc.forward_features(xin), pre_logits=True))

    with pytest.raises(RuntimeError, match="do not fit timm"):
        TimmBackbone("resnet18", pretrained=str(path))


def test_timm_bad_names_and_tags_are_explained():
    with pytest.raises(ValueError, match="unknown timm model"):
        TimmBackbone("no_such_net")
    with pytest.raises(ValueError, match="not a timm weight tag"):
        TimmBackbone("efficientnet_b4", pretrained="tf_in1k")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TimmBackbone("efficientnet_b4", pretrained="weights/missing.pth")


def test_timm_unreachable_weights_fail_fast(monkeypatch, tmp_path):
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(hf_constants, "ENDPOINT", "http://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        TimmBackbone("efficientnet_b4", pretrained="efficientnet_b4.ra2_in1k")
    assert time.monotonic() - start < 5
    msg = str(info.value)
    assert "hf download timm/efficientnet_b4.ra2_in1k model.safetensors" in msg
    assert "model.pretrained=/path/to/model.safetensors" in msg
