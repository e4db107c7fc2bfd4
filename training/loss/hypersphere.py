"""Alignment and uniformity losses on L2-normalised embeddings (Wang & Isola, 2020)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def pairwise_sq_dists(z: Tensor) -> Tensor:
    """B×B squared Euclidean distances, via the Gram matrix (no B×B×D tensor), clamped at 0."""
    sq = z.pow(2).sum(dim=1)
    return (sq[:, None] + sq[None, :] - 2.0 * z @ z.T).clamp_min(0.0)


def alignment_loss(z: Tensor, labels: Tensor) -> Tensor:
    """Mean ‖zᵢ − zⱼ‖² over ordered pairs i ≠ j with the same label; 0 (still on the graph) when no pair."""
    same = labels[:, None] == labels[None, :]
    same &= ~torch.eye(len(z), dtype=torch.bool, device=z.device)
    if not bool(same.any()):
        return z.sum() * 0.0
    return pairwise_sq_dists(z)[same].mean()


def uniformity_loss(z: Tensor, t: float = 2.0) -> Tensor:
    """log mean exp(−t‖zᵢ − zⱼ‖²) over pairs i ≠ j (t = 2 as in the paper); 0 for fewer than 2 samples."""
    n = len(z)
    if n < 2:
        return z.sum() * 0.0
    off = ~torch.eye(n, dtype=torch.bool, device=z.device)
    # logsumexp keeps the log finite when every pair is far apart
    return torch.logsumexp(-t * pairwise_sq_dists(z)[off], dim=0) - math.log(n * (n - 1))
