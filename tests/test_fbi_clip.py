"""FBI-CLIP detector: zero-gate equality with the plain backbone, exact GRL gradients, losses, ablation YAMLs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from fbi_common.paths import REPO_ROOT
from training.config import load_config
from training.detectors.fbi_clip import FBIClipDetector
from training.loss.hypersphere import alignment_loss, uniformity_loss
from training.modules.heads import arcface_logits
from training.modules.slerp import slerp, slerp_augment
from training.networks.clip_backbone import ClipBackbone

TINY = {"width": 32, "layers": 3, "head_width": 16, "patch_size": 8, "image_size": 32}
FBI_YAMLS = sorted((REPO_ROOT / "training" / "config" / "detector").glob("fbi_clip*.yaml"))


def tiny(tune: str = "ln", num_identities: int = 5, **kw) -> FBIClipDetector:
    torch.manual_seed(0)
    cfg = {"pretrained": "none", "tune": tune, "vision_cfg": TINY, "freq": {"channels": 8}, **kw}
    return FBIClipDetector.from_config(cfg, {"num_identities": num_identities})


def batch(n: int = 6, size: int = 32, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        "image": torch.randn(n, 3, size, size, generator=g),
        "label": torch.arange(n) % 2,
        "identity": torch.tensor([0, 1, 2, -1, 4, 3] * (n // 6 + 1))[:n],
        "mask": torch.rand(n, 1, size, size, generator=g),
    }


# ---- zero gates: FBI-CLIP features == the plain LN-tuned backbone's ---------------------------------
def test_zero_gates_equal_plain_ln_backbone() -> None:
    det = tiny(tune="ln").eval()
    assert torch.count_nonzero(det.freq.gates) == 0
    plain = ClipBackbone(arch="ViT-B-16", pretrained="none", tune="ln", vision_cfg=TINY).eval()
    plain.load_state_dict(det.backbone.state_dict())
    x = batch()["image"]
    with torch.no_grad():
        enc, ref = det.encode(x), plain(det.normalize(x))  # encode() normalises its pixels itself
        assert torch.allclose(enc["cls"], ref["cls"], atol=1e-6, rtol=0)
        assert torch.allclose(enc["patch"], ref["patch"], atol=1e-6, rtol=0)
        det.freq.gates.fill_(0.5)  # the hook really is in the path: open gates change the features
        assert not torch.allclose(det.encode(x)["patch"], ref["patch"], atol=1e-3)


# ---- the GRL: identity-loss gradient on the backbone = −λ × the gradient without GRL ---------------
def test_grl_gradient_is_exact_negative_scaled() -> None:
    det = tiny(tune="ln", boundary={"enabled": False}, loss_weights={"identity": 1.0}).double()
    det.set_progress(0.3)
    lam = det.identity.grl.lambd
    assert lam == pytest.approx(0.1 * (2 / (1 + math.exp(-3.0)) - 1))  # λ_max 0.1 by default
    b = batch()
    b["image"] = b["image"].double()
    trainable = [p for p in det.backbone.parameters() if p.requires_grad]
    assert trainable, "LN-tuned backbone has trainable LayerNorms"

    def backbone_grads(through_grl: bool) -> list[torch.Tensor]:
        det.zero_grad(set_to_none=True)
        cls = det.encode(b["image"])["cls"]
        logits = det.identity(cls) if through_grl else det.identity.classifier(cls)
        F.cross_entropy(logits[b["identity"] >= 0], b["identity"][b["identity"] >= 0]).backward()
        return [p.grad.clone() for p in trainable]

    with_grl, without = backbone_grads(True), backbone_grads(False)
    assert any(g.abs().max() > 0 for g in without)
    for g_rev, g in zip(with_grl, without, strict=True):
        assert torch.allclose(g_rev, -lam * g, rtol=1e-9, atol=1e-14)


# ---- hand-checked formulas used by the losses ----------------------------------------------------
def test_alignment_uniformity_slerp_hand_checked() -> None:
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert alignment_loss(z, torch.tensor([0, 0, 1])).item() == pytest.approx(2.0)  # ‖e1 − e2‖² = 2
    antipodal = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert uniformity_loss(antipodal).item() == pytest.approx(-8.0)  # log e^{−2·4}
    half = slerp(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), 0.5)
    assert torch.allclose(half, torch.tensor([[math.sqrt(0.5), math.sqrt(0.5)]]), atol=1e-6)
    third = slerp(torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 3.0]]), 1 / 3)
    assert torch.allclose(third, torch.tensor([[math.cos(math.pi / 6), math.sin(math.pi / 6)]]), atol=1e-6)


def test_margin_ce_uses_arcface_logits_in_training_only() -> None:
    det = tiny(
        boundary={"enabled": False},
        freq={"enabled": False},
        head={"margin": 0.3, "scale": 8.0},
        loss_weights={"identity": 0.0},
    )
    b = batch()
    pred = det(b)
    cos = F.normalize(pred["feat"], dim=-1) @ F.normalize(det.head.weight, dim=-1).t()
    assert torch.allclose(pred["cls"], 8.0 * cos, atol=1e-5)  # inference logits: no margin
    expected = F.cross_entropy(arcface_logits(cos, b["label"], 8.0, 0.3), b["label"])
    assert torch.allclose(det.get_losses(b, pred)["ce"], expected, atol=1e-5)


def test_slerp_extend_and_replace() -> None:
    b = {**batch(), "label": torch.tensor([0, 0, 1, 1, 1, 0])}
    det = tiny(
        freq={"enabled": False},
        boundary={"enabled": False},
        loss_weights={"identity": 0.0},
        head={"type": "linear", "margin": 0.0},
        slerp={"prob": 0.7, "t_range": [0.2, 0.8]},
    )
    pred = det(b)
    z, y = pred["feat"], b["label"]
    torch.manual_seed(7)
    z_aug, _, moved = slerp_augment(z, y, 0.7, [0.2, 0.8])
    assert 0 < int(moved.sum()) < 6
    extend = F.cross_entropy(det.head(torch.cat([z, z_aug[moved]])), torch.cat([y, y[moved]]))
    replace = F.cross_entropy(det.head(z_aug), y)
    torch.manual_seed(7)
    assert torch.allclose(det.get_losses(b, pred)["ce"], extend, atol=1e-6)
    det.cfg["slerp"]["mode"] = "replace"
    torch.manual_seed(7)
    assert torch.allclose(det.get_losses(b, pred)["ce"], replace, atol=1e-6)
    assert not torch.allclose(extend, replace)


# ---- switches, DDP condition, loss logging, bad configs -------------------------------------------
ABLATIONS = {
    "full": {
        "loss_weights": {
            "identity": 0.1,
            "freq_consistency": 0.1,
            "align": 0.1,
            "uniform": 0.1,
            "boundary": 0.1,
        }
    },
    "no_freq": {"freq": {"enabled": False}},
    "no_boundary": {"boundary": {"enabled": False}},
    "no_identity": {"loss_weights": {"identity": 0.0}},
    "only_dwt": {"freq": {"fft": False, "channels": 8}},
    "ln_l2": {"freq": {"enabled": False}, "boundary": {"enabled": False}, "loss_weights": {"identity": 0.0}},
    "identity_z": {"identity": {"attach": "z", "ramp": "linear"}},
    "identity_both": {"identity": {"attach": "both", "depth": 3, "hidden": 8, "ramp": "constant"}},
}


@pytest.mark.parametrize("tune", ["full", "ln"])
@pytest.mark.parametrize("name", list(ABLATIONS))
def test_every_trainable_param_gets_grad(name: str, tune: str) -> None:
    det = tiny(tune=tune, **ABLATIONS[name])
    det.set_progress(0.5)
    b = batch()
    losses = det.get_losses(b, det(b))
    losses["overall"].backward()
    missing = [n for n, p in det.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"unused parameters under DDP: {missing}"
    assert all(torch.isfinite(v) for v in losses.values())
    weights = {k: v for k, v in det.weights.items() if v}
    ramp = {"grl_lambda"} if "identity" in weights else set()
    gates = {f"freq_gate_b{b}" for b in det.freq.blocks} if hasattr(det, "freq") else set()
    assert set(losses) == {"overall", *weights, *ramp, *gates}  # active terms logged, inactive ones absent
    if ramp:
        assert all(
            losses["grl_lambda"].item() == pytest.approx(h.grl.lambd) for h in det.identity_heads().values()
        )
    expected = sum(weights[k] * losses[k] for k in weights)
    assert torch.allclose(losses["overall"], expected)
    assert hasattr(det, "freq") == (name not in ("no_freq", "ln_l2"))
    assert hasattr(det, "identity") == (name not in ("no_identity", "ln_l2", "identity_z"))
    assert hasattr(det, "identity_z") == (name in ("identity_z", "identity_both"))


def test_boundary_loss_needs_masks_and_bad_configs_are_named() -> None:
    det = tiny(loss_weights={"boundary": 0.5})
    b = batch()
    del b["mask"]
    with pytest.raises(KeyError, match="with_mask"):
        det.get_losses(b, det(b))
    with pytest.raises(ValueError, match="freq_consistency"):
        tiny(freq={"dwt": False}, loss_weights={"freq_consistency": 0.1})
    with pytest.raises(ValueError, match="identity"):
        tiny(num_identities=1)
    with pytest.raises(ValueError, match="inject_at"):
        tiny(freq={"inject_at": [1.5]})
    with pytest.raises(ValueError, match="model.freq.nope"):
        tiny(freq={"nope": 1})
    with pytest.raises(ValueError, match="model.nope"):
        FBIClipDetector.from_config({"nope": 1}, {"num_identities": 4})


def test_any_grid_via_image_size() -> None:
    """A non-default input size (40 px → 5×5 grid) flows through every branch."""
    det = tiny(image_size=40, loss_weights={"boundary": 0.1})
    assert det.backbone.grid_size == (5, 5) and det.input_spec["size"] == 40
    b = batch(size=40)
    losses = det.get_losses(b, det(b))
    assert all(torch.isfinite(v) for v in losses.values())


def test_param_report_lists_modules() -> None:
    report = tiny().param_report()
    for name in ("backbone", "freq", "boundary", "identity", "proj", "head", "trainable"):
        assert name in report


@pytest.mark.parametrize("path", FBI_YAMLS, ids=[p.stem for p in FBI_YAMLS])
def test_fbi_yaml_builds_and_steps(path) -> None:
    """Every shipped FBI-CLIP YAML loads, builds (tiny tower, offline) and takes a finite loss step."""
    opts = [
        "model.pretrained=none",
        "model.vision_cfg={width: 32, layers: 2, head_width: 16, patch_size: 8, image_size: 32}",
    ]
    cfg = load_config(path, None, opts)
    det = FBIClipDetector.from_config(cfg["model"], {"num_identities": 6, "label_names": ["a", "b"]})
    ablated = {"no_freq": {"freq"}, "no_boundary": {"boundary"}, "no_identity": {"identity"}}
    ablated["ln_l2_baseline"] = {"freq", "boundary", "identity"}
    gone = ablated.get(path.stem.removeprefix("fbi_clip_").removeprefix("demo_"), set())
    built = {
        "freq": hasattr(det, "freq"),
        "boundary": hasattr(det, "boundary"),
        "identity": bool(det.identity_heads()),
    }
    assert {p for p, yes in built.items() if not yes} == gone
    det.set_progress(0.2)
    b = batch()
    losses = det.get_losses(b, det(b))
    losses["overall"].backward()
    assert all(torch.isfinite(v) for v in losses.values())


def test_few_steps_reduce_the_loss() -> None:
    """On a learnable toy task (fakes carry a high-frequency pattern) 15 AdamW steps lower the loss."""
    torch.manual_seed(0)
    det = tiny(
        tune="full", loss_weights={"identity": 0.1, "align": 0.1, "uniform": 0.1, "freq_consistency": 0.1}
    )
    opt = torch.optim.AdamW([p for p in det.parameters() if p.requires_grad], lr=3e-3)
    b = batch(n=12)
    checker = ((torch.arange(32)[:, None] + torch.arange(32)[None]) % 2).float() * 2 - 1
    b["image"] = b["image"] * 0.3 + b["label"].view(-1, 1, 1, 1).float() * checker
    history = []
    for step in range(15):
        det.set_progress(step / 15)
        losses = det.get_losses(b, det(b))
        opt.zero_grad()
        losses["overall"].backward()
        opt.step()
        history.append(losses["ce"].item())
        assert all(torch.isfinite(v) for v in losses.values())
    assert min(history[-3:]) < history[0]
