"""Spherical interpolation of embeddings and same-class slerp feature augmentation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-6


def slerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Great-circle interpolation between the directions of `a` and `b` (B×D), at `t` (scalar or B).

    Inputs are L2-normalised first, so the result is always a unit vector: t = 0 gives â, t = 1 gives b̂.
    Nearly parallel pairs fall back to normalised linear interpolation (same limit, no 0/0).
    """
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    t = t.reshape(-1, 1) if t.ndim else t
    cos = (a * b).sum(dim=-1, keepdim=True).clamp(-1.0 + _EPS, 1.0 - _EPS)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    # the fallback branch is computed everywhere, so the slerp branch must stay finite (sin ≥ eps)
    spherical = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin.clamp_min(_EPS)
    linear = (1 - t) * a + t * b
    return F.normalize(torch.where(sin > 1e-3, spherical, linear), dim=-1)


def slerp_augment(
    z: Tensor,
    labels: Tensor,
    prob: float,
    t_range: tuple[float, float] | list[float] = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Move each embedding, with probability `prob`, along the sphere towards a random other sample
    of the same class in the batch, t ~ U(t_range).

    Returns `(z_aug, labels_aug, mask)`: `z_aug` is B×D (rows with `mask` False are z normalised and
    otherwise unchanged), `labels_aug` equals `labels` (partners share the label) and `mask` (B, bool)
    marks the rows that were interpolated. A sample whose class has no other member is never augmented.
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"slerp prob={prob} must be in [0, 1]")
    t0, t1 = float(t_range[0]), float(t_range[1])
    if not 0.0 <= t0 <= t1 <= 1.0:
        raise ValueError(f"slerp t_range={list(t_range)} must satisfy 0 <= t0 <= t1 <= 1")
    n = len(z)
    dev = z.device
    candidates = (labels[:, None] == labels[None, :]) & ~torch.eye(n, dtype=torch.bool, device=dev)
    # a random score per candidate; argmax picks a uniformly random same-class partner
    scores = torch.rand(n, n, generator=generator, device=dev).masked_fill(~candidates, -1.0)
    partner = scores.argmax(dim=1)
    mask = (torch.rand(n, generator=generator, device=dev) < prob) & candidates.any(dim=1)
    t = t0 + (t1 - t0) * torch.rand(n, generator=generator, device=dev, dtype=z.dtype)
    moved = slerp(z, z[partner], t)
    z_aug = torch.where(mask[:, None], moved, F.normalize(z, dim=-1))
    return z_aug, labels.clone(), mask
