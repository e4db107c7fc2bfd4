"""FBI-CLIP building blocks against their formulas: FFT/DWT, boundary pooling, GRL, ArcFace head, losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pywt
import torch
import torch.nn.functional as F

from training.loss.fbi_losses import boundary_supervision, freq_consistency, identity_ce, margin_ce
from training.modules.boundary import BoundaryMining, mask_boundary, weighted_pool
from training.modules.freq_adapter import FreqAdapter, WaveletDWT, fft_highpass
from training.modules.grl import GradientReversal, dann_lambda, grad_reverse
from training.modules.heads import CosineHead, IdentityHead, arcface_logits, build_head


# ---- frequency branches -------------------------------------------------------------------------
@pytest.mark.parametrize("wavelet", ["haar", "db2", "sym3"])
def test_dwt_equals_pywt_periodization(wavelet: str) -> None:
    x = torch.rand(2, 3, 16, 12, dtype=torch.float64)
    out = WaveletDWT(wavelet, ("LL", "LH", "HL", "HH")).double()(x).reshape(2, 3, 4, 8, 6)
    for b in range(2):
        for c in range(3):
            ca, (ch, cv, cd) = pywt.dwt2(x[b, c].numpy(), wavelet, mode="periodization")
            for k, ref in enumerate((ca, ch, cv, cd)):
                np.testing.assert_allclose(out[b, c, k].numpy(), ref, atol=1e-10)


def test_dwt_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="PyWavelets"):
        WaveletDWT("nope")
    with pytest.raises(ValueError, match="bands"):
        WaveletDWT("haar", ("XX",))
    with pytest.raises(ValueError, match="even"):
        WaveletDWT()(torch.rand(1, 3, 9, 8))


def test_fft_highpass_filters_by_radius() -> None:
    n = 32
    yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    low = torch.cos(2 * math.pi * xx / 16.0)[None, None].float()  # 1/16 cycle/px = 0.125 of Nyquist
    checker = ((xx + yy) % 2).float()[None, None] * 2 - 1  # Nyquist on both axes (radius √2)
    assert torch.allclose(fft_highpass(low, 0.0, ["highpass"]), low, atol=1e-5)  # radius 0 keeps all
    assert torch.allclose(fft_highpass(low, 0.1, ["highpass"]), low, atol=1e-5)
    assert fft_highpass(low, 0.2, ["highpass"]).abs().max() < 1e-5
    assert torch.allclose(fft_highpass(checker, 0.9, ["highpass"]), checker, atol=1e-5)
    const = torch.full((1, 3, n, n), 0.7)
    assert fft_highpass(const, 0.05, ["highpass"]).abs().max() < 1e-5  # DC removed
    both = fft_highpass(torch.rand(2, 3, n, n), 0.25)
    assert both.shape == (2, 6, n, n) and (both[:, 3:] >= 0).all()  # log-amplitude ≥ 0
    with pytest.raises(ValueError, match="fft outputs"):
        fft_highpass(const, 0.1, ["phase"])


@pytest.mark.parametrize("size", [(16, 16), (15, 13)])
def test_fft_views_match_full_fft_reference(size: tuple[int, int]) -> None:
    x = torch.rand(2, 3, *size, dtype=torch.float64)
    h, w = size
    fy, fx = torch.fft.fftfreq(h).abs() * 2, torch.fft.fftfreq(w).abs() * 2
    keep = (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt() >= 0.3
    spec = torch.fft.fft2(x, norm="ortho") * keep
    ref_hp = torch.fft.ifft2(spec, norm="ortho").real
    ref_la = torch.log1p(torch.fft.fftshift(spec.abs(), dim=(-2, -1)))
    out = fft_highpass(x.requires_grad_(), 0.3)
    assert torch.allclose(out[:, :3], ref_hp, atol=1e-10) and torch.allclose(out[:, 3:], ref_la, atol=1e-8)
    out.sum().backward()  # differentiable, with finite gradients at the removed (zero) frequencies
    assert torch.isfinite(x.grad).all()


def test_freq_adapter_tokens_gates_and_any_grid() -> None:
    fa = FreqAdapter(width=24, grid_size=(7, 5), patch_size=8, blocks=[2, 0], num_blocks=4, channels=8)
    out = fa(torch.rand(2, 3, 56, 40))
    assert out.tokens.shape == (2, 35, 24) and out.fft.shape == (2, 35, 8) and out.dwt.shape == (2, 35, 8)
    assert fa.blocks == [0, 2] and torch.count_nonzero(fa.gates) == 0
    hook = fa.block_hook(out.tokens)
    tok = torch.randn(2, 36, 24)
    assert torch.equal(hook(0, tok), tok)  # zero gate → unchanged
    with torch.no_grad():
        fa.gates[1].fill_(2.0)
    moved = hook(2, tok)
    assert torch.equal(moved[:, 0], tok[:, 0])  # CLS never touched
    assert torch.allclose(moved[:, 1:], tok[:, 1:] + 2.0 * out.tokens)
    assert torch.equal(hook(1, tok), tok)  # not an injection block
    with pytest.raises(ValueError, match="blocks"):
        FreqAdapter(width=8, grid_size=(2, 2), patch_size=8, blocks=[4], num_blocks=4)
    only_dwt = FreqAdapter(
        width=8, grid_size=(2, 2), patch_size=8, blocks=[0], num_blocks=1, use_fft=False, channels=4
    )
    odd = FreqAdapter(width=8, grid_size=(3, 3), patch_size=14, blocks=[0], num_blocks=1, channels=4)
    assert odd(torch.rand(1, 3, 42, 42)).tokens.shape == (1, 9, 8)  # ViT-L/14-like: DWT stride 7
    assert not hasattr(only_dwt, "fft_stem") and only_dwt(torch.rand(1, 3, 16, 16)).fft is None


# ---- boundary mining ----------------------------------------------------------------------------
def test_weighted_pool_formula() -> None:
    patch = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]]])
    w = torch.tensor([[1.0, 3.0, 0.0]])
    expected = (1 * patch[0, 0] + 3 * patch[0, 1]) / 4.0  # = [0.25, 1.5]
    assert torch.allclose(weighted_pool(patch, w, eps=0.0), expected)
    assert torch.allclose(expected, torch.tensor([0.25, 1.5]))


def test_mask_boundary_target() -> None:
    m = torch.zeros(1, 1, 32, 32)
    assert mask_boundary(m).abs().max() == 0  # real image → empty boundary
    m[..., 8:24, 8:24] = 1.0
    t = mask_boundary(m)
    assert t.max() > 0.9 and t[..., 16, 16] < 0.01 and t[..., 0, 0] < 0.01  # only near the edge
    assert t[..., 16, 8] > t[..., 16, 16]
    small = mask_boundary(m, size=(8, 8))
    assert small.shape == (1, 1, 8, 8) and torch.allclose(small, F.avg_pool2d(t, 4), atol=1e-6)


def test_boundary_mining_shapes_and_grad() -> None:
    bm = BoundaryMining(grid_size=(4, 4), channels=4)
    x = torch.rand(2, 3, 32, 32)
    patch = torch.randn(2, 16, 10, requires_grad=True)
    out = bm(x, patch)
    assert out["feature"].shape == (2, 10) and out["logits"].shape == (2, 1, 8, 8)
    assert out["weights"].shape == (2, 16) and ((out["weights"] > 0) & (out["weights"] < 1)).all()
    ref = (out["weights"][..., None] * patch).sum(1) / (out["weights"].sum(1, keepdim=True) + 1e-6)
    assert torch.allclose(out["feature"], ref, atol=1e-6)
    out["feature"].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in bm.parameters())
    canny = BoundaryMining(grid_size=(4, 4), channels=4, canny=True)
    assert canny(x, patch)["feature"].shape == (2, 10)


# ---- GRL / heads --------------------------------------------------------------------------------
def test_grl_reverses_and_scales_gradient() -> None:
    x = torch.randn(5, 3, requires_grad=True)
    w = torch.randn(5, 3)
    (grad_reverse(x, 0.3) * w).sum().backward()
    assert torch.allclose(x.grad, -0.3 * w)
    assert torch.equal(grad_reverse(x, 0.3), x)


def test_dann_lambda_schedule() -> None:
    assert dann_lambda(0.0, 0.5) == 0.0
    assert dann_lambda(0.5, 1.0) == pytest.approx(0.9866142981514303)  # 2/(1+e^-5) - 1
    assert dann_lambda(1.0, 0.5) == pytest.approx(0.5 * 0.9999092042625951)
    grl = GradientReversal(lambda_max=2.0)
    grl.set_progress(0.1)
    assert grl.lambd == pytest.approx(2.0 * (2 / (1 + math.exp(-1.0)) - 1))


def test_arcface_logits_hand_checked() -> None:
    cos = torch.tensor([[0.5, 0.8], [-0.9, 0.3]])
    labels = torch.tensor([0, 0])
    out = arcface_logits(cos, labels, scale=2.0, margin=0.5)
    # row 0: cos(π/3 + 0.5) = 0.5·cos 0.5 − (√3/2)·sin 0.5 = 0.0235966...
    # row 1: θ + m > π → fallback cos θ − m·sin m = −0.9 − 0.5·sin 0.5 = −1.1397128...
    expected = torch.tensor([[2 * 0.02359659, 1.6], [2 * -1.13971277, 0.6]])
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.equal(arcface_logits(cos, labels, 3.0, 0.0), 3.0 * cos)


def test_cosine_head_margin_only_in_train_logits() -> None:
    head = CosineHead(4, 2, scale=10.0, margin=0.3)
    z = torch.randn(3, 4)
    cos = F.normalize(z, dim=-1) @ F.normalize(head.weight, dim=-1).t()
    assert torch.allclose(head(z), 10.0 * cos, atol=1e-6)
    y = torch.tensor([0, 1, 1])
    assert torch.allclose(head.train_logits(z, y), arcface_logits(cos, y, 10.0, 0.3), atol=1e-5)
    with pytest.raises(ValueError, match="cosine"):
        build_head("linear", 4, 2, 1.0, 0.2)
    with pytest.raises(ValueError, match="head.type"):
        build_head("mlp", 4, 2, 1.0, 0.0)


def test_identity_head_reverses_into_features() -> None:
    head = IdentityHead(6, 5, hidden=0, lambda_max=1.0)
    head.set_progress(1.0)
    feat = torch.randn(4, 6, requires_grad=True)
    F.cross_entropy(head(feat), torch.tensor([0, 1, 2, 3])).backward()
    g_rev = feat.grad.clone()
    feat.grad = None
    F.cross_entropy(head.classifier(feat), torch.tensor([0, 1, 2, 3])).backward()
    assert torch.allclose(g_rev, -head.grl.lambd * feat.grad, atol=1e-7)


# ---- losses -------------------------------------------------------------------------------------
def test_margin_ce_and_freq_consistency() -> None:
    logits = torch.tensor([[2.0, 0.0]])
    assert margin_ce(logits, torch.tensor([1])).item() == pytest.approx(2.0 + math.log(1 + math.exp(-2.0)))
    a = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    b = torch.tensor([[0.0, 2.0], [1.0, 0.0]])
    assert freq_consistency(a, b).item() == pytest.approx(0.5)  # (1 − 0 + 1 − 1) / 2


def test_identity_ce_ignores_unknown() -> None:
    logits = torch.randn(4, 3, requires_grad=True)
    ids = torch.tensor([2, -1, 0, -1])
    ref = F.cross_entropy(logits[[0, 2]], ids[[0, 2]])
    assert torch.allclose(identity_ce(logits, ids), ref)
    none = identity_ce(logits, torch.full((4,), -1))
    none.backward()
    assert none.item() == 0.0 and logits.grad is not None and logits.grad.abs().sum() == 0


def test_boundary_supervision_formula() -> None:
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 1.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    target = torch.tensor([[[[0.0, 1.0], [0.5, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    bce = F.binary_cross_entropy_with_logits(logits, target)
    assert torch.allclose(boundary_supervision(logits, target, 1.0, 0.0), bce)
    p = torch.sigmoid(logits[0]).flatten()
    t = target[0].flatten()
    dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)  # image 2 has no boundary: BCE only
    assert torch.allclose(boundary_supervision(logits, target, 1.0, 1.0), bce + dice)
