"""Classifier heads: linear, cosine with ArcFace additive angular margin, and the GRL identity head."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from training.modules.grl import GradientReversal

HEAD_TYPES = ("linear", "cosine")


def arcface_logits(cos: torch.Tensor, labels: torch.Tensor, scale: float, margin: float) -> torch.Tensor:
    """ArcFace logits: s·cos(θ_y + m) for the true class y, s·cos θ_j for the others.

    Where θ_y + m would pass π (cos θ_y < cos(π − m)) the usual monotone fallback
    cos θ_y − m·sin m is used, so the target logit keeps decreasing with θ_y.
    """
    if margin == 0.0:
        return scale * cos
    cos = cos.float()
    sin = (1.0 - cos.pow(2)).clamp_min(0.0).sqrt()
    cos_m = cos * math.cos(margin) - sin * math.sin(margin)
    cos_m = torch.where(cos > math.cos(math.pi - margin), cos_m, cos - margin * math.sin(margin))
    onehot = F.one_hot(labels.long(), cos.shape[1]).to(torch.bool)
    return scale * torch.where(onehot, cos_m, cos)


class LinearHead(nn.Module):
    """Plain linear classifier on the embedding (no margin)."""

    margin = 0.0

    def __init__(self, in_dim: int, num_classes: int = 2) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z)

    def train_logits(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.fc(z)


class CosineHead(nn.Module):
    """s·cos(z, wⱼ) with L2-normalised class weights; `train_logits` adds the ArcFace margin m."""

    def __init__(self, in_dim: int, num_classes: int = 2, scale: float = 16.0, margin: float = 0.0) -> None:
        super().__init__()
        if scale <= 0 or not 0.0 <= margin < math.pi / 2:
            raise ValueError(f"model.head: need scale > 0 and 0 ≤ margin < π/2, got s={scale}, m={margin}")
        self.weight = nn.Parameter(torch.empty(num_classes, in_dim))
        nn.init.normal_(self.weight, std=in_dim**-0.5)
        self.scale, self.margin = float(scale), float(margin)

    def cosine(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z, dim=-1) @ F.normalize(self.weight, dim=-1).t()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Inference logits s·cos θ (no margin)."""
        return self.scale * self.cosine(z)

    def train_logits(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Training logits with the additive angular margin on the true class."""
        return arcface_logits(self.cosine(z), labels, self.scale, self.margin)


def build_head(kind: str, in_dim: int, num_classes: int, scale: float, margin: float) -> nn.Module:
    """`linear` or `cosine` head; a margin needs the cosine head."""
    if kind not in HEAD_TYPES:
        raise ValueError(f"model.head.type='{kind}' is not one of {list(HEAD_TYPES)}")
    if kind == "linear":
        if margin:
            raise ValueError(
                f"model.head.margin={margin} needs model.head.type: cosine (linear has no angle)"
            )
        return LinearHead(in_dim, num_classes)
    return CosineHead(in_dim, num_classes, scale, margin)


class IdentityHead(nn.Module):
    """Identity classifier behind a GRL: minimising its CE pushes the features to forget identity.

    `depth` linear layers (1: a linear classifier; k ≥ 2: k − 1 hidden layers of `hidden` units with GELU).
    A deeper classifier can find identity a linear one cannot, so the reversed gradient removes more of it.
    """

    def __init__(self, in_dim: int, num_identities: int, hidden: int = 0, lambda_max: float = 1.0,
                 gamma: float = 10.0, depth: int = 1, ramp: str = "dann") -> None:  # fmt: skip
        super().__init__()
        if depth < 1 or (depth > 1 and hidden < 1):
            raise ValueError(
                f"model.identity: depth={depth}, hidden={hidden}; need depth ≥ 1 and hidden ≥ 1 when depth ≥ 2"
            )
        self.grl = GradientReversal(lambda_max, gamma, ramp)
        if depth == 1:
            self.classifier = nn.Linear(in_dim, num_identities)
        else:
            dims = [in_dim] + [hidden] * (depth - 1)
            layers: list[nn.Module] = []
            for a, b in zip(dims[:-1], dims[1:], strict=True):
                layers += [nn.Linear(a, b), nn.GELU()]
            self.classifier = nn.Sequential(*layers, nn.Linear(dims[-1], num_identities))

    def set_progress(self, progress: float) -> None:
        self.grl.set_progress(progress)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.grl(feat))
