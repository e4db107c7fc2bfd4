"""The rival detectors' own parts: Effort's SVD split, SPSL's phase image, F3Net's DCT bands, CADDM's
anchors and facial swap, the staged backbone, and the pixels contract (uint8 = float [0, 1])."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import training.detectors  # noqa: F401  (fills the registry)
from training.detectors.spsl import phase_image
from training.modules.anchors import corners, make_anchors, match
from training.modules.dct import FAD, dct_matrix
from training.modules.mfs import multi_scale_facial_swap
from training.modules.staged_cnn import StagedCNN
from training.modules.svd_residual import SVDResidualLinear, SVDSelfAttention
from training.networks.clip_backbone import ClipBackbone
from training.registry import DETECTORS

RIVALS = ["effort", "srm", "spsl", "f3net", "caddm"]
INFO = {"num_identities": 4, "label_names": ["FF-real", "FF-DF"]}


def build(name: str, **overrides):
    cls = DETECTORS.get(name)
    return cls.from_config({**copy.deepcopy(cls.test_config), **overrides}, INFO)


# ---- Effort ------------------------------------------------------------------------------------------
def test_svd_residual_reconstructs_the_weight_and_attention_at_init():
    torch.manual_seed(0)
    lin = nn.Linear(24, 40)
    svd = SVDResidualLinear(lin.weight, lin.bias, residual_rank=3)
    torch.testing.assert_close(svd.weight(), lin.weight.detach(), atol=1e-5, rtol=0)
    x = torch.randn(5, 24)
    torch.testing.assert_close(svd(x), lin(x), atol=1e-5, rtol=0)
    assert svd.orthogonal_loss().item() < 1e-8 and svd.singular_value_loss().item() < 1e-3

    mha = nn.MultiheadAttention(32, 4, batch_first=True)
    tokens = torch.randn(2, 7, 32)
    ref = mha(tokens, tokens, tokens, need_weights=False)[0]
    torch.testing.assert_close(SVDSelfAttention(mha, 2)(tokens, tokens, tokens)[0], ref, atol=1e-5, rtol=0)


def test_effort_at_init_reconstructs_every_decomposed_clip_weight_and_the_features():
    """The detector as built: each SVD layer's W_p + residual equals the CLIP weight it replaced,
    and the decomposed tower computes the same class token as the undecomposed one."""
    cfg = DETECTORS.get("effort").test_config
    torch.manual_seed(0)
    plain = ClipBackbone(cfg["arch"], "none", "none", 0, cfg["vision_cfg"], None, None).eval()
    torch.manual_seed(0)  # the same seed: Effort builds the same tower first, then decomposes it
    model = build("effort").eval()
    pairs = zip(plain.visual.transformer.resblocks, model.backbone.visual.transformer.resblocks, strict=True)
    for ref, blk in pairs:
        qkv = torch.cat([blk.attn.q.weight(), blk.attn.k.weight(), blk.attn.v.weight()])
        torch.testing.assert_close(qkv, ref.attn.in_proj_weight.detach(), atol=1e-5, rtol=0)
        torch.testing.assert_close(
            blk.attn.out_proj.weight(), ref.attn.out_proj.weight.detach(), atol=1e-5, rtol=0
        )
        for name in ("c_fc", "c_proj"):
            w = getattr(blk.mlp, name).weight()
            torch.testing.assert_close(w, getattr(ref.mlp, name).weight.detach(), atol=1e-5, rtol=0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x)["cls"], plain(x)["cls"], atol=1e-4, rtol=0)


def test_effort_trains_only_residuals_and_keeps_the_principal_part_frozen():
    torch.manual_seed(0)
    model = build("effort").train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("residual" in n or n.startswith("head.") for n in trainable)
    x = torch.rand(4, 3, 32, 32)
    batch = {"image": x, "label": torch.tensor([0, 1, 0, 1])}
    model(batch)  # first use runs the SVD
    frozen = {n: b.clone() for n, b in model.named_buffers() if "principal" in n}
    assert len(frozen) == 3 * 6 * 2  # (W_p, U_p, V_p) × (q, k, v, out, c_fc, c_proj) × 2 blocks
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        losses = model.get_losses(batch, model(batch))
        assert {"ce", "orthogonal", "singular_value"} <= set(losses)
        losses["overall"].backward()
        opt.step()
    for n, b in model.named_buffers():
        if n in frozen:
            assert torch.equal(b, frozen[n]), f"{n} changed"
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if "residual" in n)


def test_effort_state_dict_round_trip_keeps_the_decomposition():
    torch.manual_seed(0)
    a = build("effort").eval()
    x = torch.rand(2, 3, 32, 32)
    ref = a({"image": x})["prob"]
    torch.manual_seed(1)  # a different random init: everything must come from the state dict
    b = build("effort").eval()
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b({"image": x})["prob"], ref)


# ---- SPSL / F3Net ------------------------------------------------------------------------------------
def test_phase_image_ignores_the_amplitude_spectrum():
    x = torch.rand(2, 3, 16, 16)
    ph = phase_image(x)
    assert ph.shape == (2, 1, 16, 16)
    torch.testing.assert_close(phase_image(0.3 * x), ph, atol=1e-4, rtol=0)
    assert not torch.allclose(phase_image(x.flip(-1)), ph, atol=1e-3)


def test_dct_is_orthonormal_and_fad_bands_partition_the_spectrum():
    d = dct_matrix(12)
    torch.testing.assert_close(d @ d.t(), torch.eye(12), atol=1e-5, rtol=0)
    fad = FAD(12)
    low, mid, high, everything = fad.base
    torch.testing.assert_close(low + mid + high, everything)
    assert torch.equal(everything, torch.ones(12, 12))
    with torch.no_grad():
        fad.learn.zero_()  # σ(0) = 0: only the base filters
    x = torch.randn(2, 3, 12, 12)
    bands = fad(x).view(2, 4, 3, 12, 12)
    torch.testing.assert_close(bands[:, 3], x, atol=1e-4, rtol=0)  # the "all" band is the image
    torch.testing.assert_close(bands[:, :3].sum(1), x, atol=1e-4, rtol=0)


# ---- CADDM ---------------------------------------------------------------------------------------------
def test_anchors_match_the_whole_face_box_and_nothing_for_reals():
    anchors = make_anchors([(4, 4), (2, 2), (1, 1)], [0.2, 0.5, 1.0], [0.5, 0.8, 1.0])
    assert anchors.shape == (2 * (16 + 4 + 1), 4)
    labels, targets = match(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), anchors, 0.9, 0.1)
    assert labels.sum() >= 1 and torch.equal(
        corners(anchors[labels.bool()][:1]), torch.tensor([[0.0, 0, 1, 1]])
    )
    assert torch.isfinite(targets).all()
    empty, _ = match(torch.zeros(0, 4), anchors, 0.9, 0.1)
    assert empty.sum() == 0


def test_mfs_blends_the_donor_only_inside_its_box():
    torch.manual_seed(0)
    real, fake = torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)
    fake[..., 8:16, 20:28] = 1.0  # where the donor differs
    x = torch.cat([real, fake])
    out, boxes = multi_scale_facial_swap(x, torch.tensor([0, 1]), ["a", "a"], 1.0, [0.25])
    assert out.shape == (1, 3, 32, 32) and len(boxes) == 1
    x0, y0, x1, y1 = (boxes[0][1] * 32).round().int().tolist()
    assert (x0, y0, x1, y1) == (20, 8, 28, 16)
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[y0:y1, x0:x1] = False
    assert out[0][:, outside].abs().max() == 0
    assert out[0][:, y0 + 2 : y1 - 2, x0 + 2 : x1 - 2].min() > 0.5


# ---- shared ------------------------------------------------------------------------------------------
def test_staged_cnn_adapts_the_input_conv_and_cuts_stages():
    net = StagedCNN("test_resnet", "none", in_chans=6, num_stages=2)
    assert len(net.stages) == 2 and isinstance(net.head, nn.Identity)
    assert net(torch.randn(2, 6, 32, 32)).shape == (2, net.stage_channels[1])
    with pytest.raises(ValueError, match="num_stages"):
        StagedCNN("test_resnet", "none", num_stages=9)
    with pytest.raises(ValueError, match="staged backbone knows"):
        StagedCNN("test_vit", "none")


@pytest.mark.parametrize("name", RIVALS)
def test_uint8_and_unit_float_pixels_give_the_same_scores(name):
    torch.manual_seed(0)
    model = build(name).eval()
    s = model.input_spec["size"]
    u8 = torch.randint(0, 256, (2, 3, s, s), dtype=torch.uint8)
    with torch.no_grad():
        a = model({"image": u8}, inference=True)["prob"]
        b = model({"image": u8.float() / 255.0}, inference=True)["prob"]
    torch.testing.assert_close(a, b)
