"""FBI-CLIP loss terms: (margin-)CE, FFT/DWT frequency consistency, identity CE, boundary-map supervision."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def margin_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on logits that already carry the margin (see `CosineHead.train_logits`)."""
    return F.cross_entropy(logits.float(), labels.long())


def freq_consistency(emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
    """Mean (1 − cos) between two per-image branch embeddings (B×D each); 0 when they agree."""
    return (1.0 - F.cosine_similarity(emb_a.float(), emb_b.float(), dim=-1)).mean()


def identity_ce(logits: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
    """Identity cross-entropy over the samples with a known identity (label −1 is ignored).

    A batch with no known identity gives an exact 0 that still depends on `logits`, so the identity
    head stays in the autograd graph (DDP needs every trainable parameter to receive a gradient).
    """
    identity = identity.long()
    known = identity >= 0
    if not bool(known.any()):
        return logits.float().sum() * 0.0
    return F.cross_entropy(logits.float()[known], identity[known])


def boundary_supervision(
    logits: torch.Tensor, target: torch.Tensor, bce_weight: float = 1.0, dice_weight: float = 1.0
) -> torch.Tensor:
    """BCE (on logits, autocast-safe) + soft Dice between the boundary map and its target in [0, 1].

    Dice is computed per image over the images whose target is non-empty (real faces have an empty
    boundary and are covered by BCE alone, where Dice would be undefined).
    """
    logits, target = logits.float(), target.float()
    loss = logits.new_zeros(())
    if bce_weight:
        loss = loss + bce_weight * F.binary_cross_entropy_with_logits(logits, target)
    if dice_weight:
        p = torch.sigmoid(logits).flatten(1)
        t = target.flatten(1)
        has = t.sum(dim=1) > 1e-6
        if bool(has.any()):
            inter = (p * t).sum(dim=1)
            dice = 1.0 - (2.0 * inter + 1.0) / (p.sum(dim=1) + t.sum(dim=1) + 1.0)
            loss = loss + dice_weight * dice[has].mean()
        else:
            loss = loss + logits.sum() * 0.0
    return loss
