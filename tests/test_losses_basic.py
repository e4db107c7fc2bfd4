"""Alignment / uniformity against hand-computed values; slerp and same-class slerp augmentation."""

from __future__ import annotations

import math

import pytest
import torch

from training.loss.hypersphere import alignment_loss, uniformity_loss
from training.modules.slerp import slerp, slerp_augment

# four unit vectors at 90° steps: neighbours are 2 apart (squared), opposite points 4
SQUARE = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def test_alignment_hand_computed():
    # same-label pairs (0,1) and (2,3) are neighbours: 2 each
    assert alignment_loss(SQUARE, torch.tensor([0, 0, 1, 1])).item() == pytest.approx(2.0)
    # same-label pairs (0,2) and (1,3) are opposite: 4 each
    assert alignment_loss(SQUARE, torch.tensor([0, 1, 0, 1])).item() == pytest.approx(4.0)
    # not normalised inside: pairs (0,1)=1, (0,2)=4, (1,2)=5 → 10/3; sample 3 has no partner
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    assert alignment_loss(z, torch.tensor([0, 0, 0, 1])).item() == pytest.approx(10 / 3)


def test_alignment_without_pairs_is_zero_and_differentiable():
    z = SQUARE.clone().requires_grad_(True)
    loss = alignment_loss(z, torch.tensor([0, 1, 2, 3]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))


def test_uniformity_hand_computed():
    # 4 neighbour pairs (d²=2) and 2 opposite pairs (d²=4), t=2
    expected = math.log((4 * math.exp(-4) + 2 * math.exp(-8)) / 6)
    assert uniformity_loss(SQUARE).item() == pytest.approx(expected, rel=1e-6)
    # all points equal: every distance 0 → log 1 = 0
    assert uniformity_loss(torch.ones(3, 2) / math.sqrt(2)).item() == pytest.approx(0.0, abs=1e-6)
    assert uniformity_loss(SQUARE[:1]).item() == 0.0


def test_uniformity_gradient_spreads_points():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]], requires_grad=True)
    uniformity_loss(z).backward()
    assert torch.isfinite(z.grad).all()
    # a descent step moves the two close points apart: d|z0 - z1|² = -2 (g0 - g1)·(z0 - z1) > 0
    assert ((z.grad[0] - z.grad[1]) @ (z[0] - z[1]).detach()).item() < 0


def test_slerp_endpoints_midpoint_and_unit_norm():
    a, b = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    torch.testing.assert_close(slerp(a, b, 0.0), torch.tensor([[1.0, 0.0]]), atol=1e-5, rtol=0)
    torch.testing.assert_close(slerp(a, b, 1.0), torch.tensor([[0.0, 1.0]]), atol=1e-5, rtol=0)
    h = math.sqrt(0.5)
    torch.testing.assert_close(slerp(a, b, 0.5), torch.tensor([[h, h]]), atol=1e-5, rtol=0)
    # t = 1/3 of a right angle is 30°
    torch.testing.assert_close(slerp(a, b, 1 / 3), torch.tensor([[math.sqrt(3) / 2, 0.5]]), atol=1e-5, rtol=0)
    x, y = torch.randn(16, 8), torch.randn(16, 8)
    out = slerp(x, y, torch.rand(16))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(16))


def test_slerp_parallel_inputs_are_finite_with_gradients():
    a = torch.tensor([[1.0, 0.0]], requires_grad=True)
    out = slerp(a, a.detach().clone(), 0.3)
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.0]]))
    out.sum().backward()
    assert torch.isfinite(a.grad).all()


def test_slerp_augment_same_class_partners_only():
    g = torch.Generator().manual_seed(0)
    # classes 0 and 1 live on separate coordinate axes, so any cross-class mixing would show
    z = torch.zeros(6, 4)
    z[[0, 1, 2], [0, 1, 0]] = 1.0
    z[[3, 4], [2, 3]] = 1.0
    z[5, 2] = 1.0
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    z_aug, labels_aug, mask = slerp_augment(z, labels, prob=1.0, t_range=(0.2, 0.8), generator=g)
    assert mask.all() and torch.equal(labels_aug, labels)
    assert (z_aug[:3, 2:] == 0).all() and (z_aug[3:, :2] == 0).all()
    torch.testing.assert_close(z_aug.norm(dim=1), torch.ones(6))


def test_slerp_augment_prob_mask_and_singletons():
    g = torch.Generator().manual_seed(1)
    z = torch.nn.functional.normalize(torch.randn(200, 8), dim=1)
    labels = torch.arange(200) % 2
    labels[0] = 7  # the only member of its class: never augmented
    z_aug, _, mask = slerp_augment(z, labels, prob=0.5, t_range=(0.5, 0.5), generator=g)
    assert not mask[0] and 60 < int(mask.sum()) < 140
    torch.testing.assert_close(z_aug[~mask], z[~mask])
    assert not torch.allclose(z_aug[mask], z[mask])
    _, _, none = slerp_augment(z, labels, prob=0.0, generator=g)
    assert not none.any()


@pytest.mark.parametrize("kw", [{"prob": 1.5}, {"prob": 0.5, "t_range": (0.9, 0.1)}])
def test_slerp_augment_bad_arguments(kw):
    with pytest.raises(ValueError, match="slerp"):
        slerp_augment(SQUARE, torch.tensor([0, 0, 1, 1]), **kw)
