"""Classification losses on detector logits."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from training.registry import LOSSES


@LOSSES.register("cross_entropy")
def cross_entropy(logits: Tensor, labels: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy of B×C logits against B integer labels."""
    return F.cross_entropy(logits, labels.long(), label_smoothing=label_smoothing)
