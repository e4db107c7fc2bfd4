"""SPSL (Liu et al., CVPR 2021): RGB + phase-spectrum image into a shallow CNN.

"Spatial-Phase Shallow Learning: Rethinking Face Forgery Detection in Frequency Domain".

What each part implements:
- §3.1–3.2 (phase spectrum): the up-sampling of face forgeries shows in the phase spectrum. The
  grey image is Fourier-transformed, its amplitude set to 1, and the phase-only spectrum inverted
  back to the spatial domain (`phase_image`); that image is a 4th input channel next to RGB.
- §3.3 (shallow learning): local texture matters more than high-level semantics, so the receptive
  field is reduced by cutting the network after `num_stages` blocks (pooled features of the last
  kept block → linear classifier). The first convolution takes 4 channels (pretrained RGB filters
  adapted by timm's `adapt_input_conv`).

Simplified / chosen here, and why:
- The paper's exact cut of Xception is not restated in a form we could check, so the depth is a
  setting: `num_stages: 4` keeps Xception's entry flow and the first middle block (blocks 1–4);
  `num_stages: null` is the full network (what DeepfakeBench's re-implementation trains).
- The phase image is standardised per image (zero mean, unit variance) because its raw scale is
  ~1/N of the pixel range; the paper does not say how it scales it.
- Plain cross-entropy (the paper's loss).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from training.detectors.base import BaseDetector
from training.modules.staged_cnn import StagedCNN
from training.registry import DETECTORS

_LUMA = (0.299, 0.587, 0.114)


def phase_image(x01: Tensor, eps: float = 1e-6) -> Tensor:
    """B×1×H×W spatial image rebuilt from the phase spectrum of the grey image, standardised per image."""
    w = x01.new_tensor(_LUMA).view(1, 3, 1, 1)
    grey = (x01.float() * w).sum(1, keepdim=True)
    spec = torch.fft.fft2(grey)
    rebuilt = torch.fft.ifft2(torch.exp(1j * torch.angle(spec))).real
    mean = rebuilt.mean(dim=(-2, -1), keepdim=True)
    std = rebuilt.std(dim=(-2, -1), keepdim=True)
    return (rebuilt - mean) / (std + eps)


@DETECTORS.register("spsl")
class SPSLDetector(BaseDetector):
    """SPSL: [RGB ‖ phase image] → shallow timm CNN (first `num_stages` blocks) → Linear(2)."""

    config_defaults: ClassVar[dict[str, Any]] = {
        "backbone": "legacy_xception",  # legacy_xception | a ResNet | an EfficientNet (timm name)
        "pretrained": "legacy_xception.tf_in1k",  # timm weight tag, local file, or none
        "num_stages": 4,  # blocks kept (shallow network); null: the full network
        "dropout": 0.0,
        "image_size": None,  # null: the backbone's native size
    }
    display_name: ClassVar[str | None] = "SPSL"
    test_config: ClassVar[dict[str, Any]] = {
        "backbone": "test_resnet",
        "pretrained": "none",
        "num_stages": 2,
        "image_size": 32,
    }

    def __init__(
        self,
        backbone: str,
        pretrained: str | None,
        num_stages: int | None,
        dropout: float,
        image_size: int | None,
    ) -> None:
        super().__init__()
        self.backbone = StagedCNN(backbone, pretrained, in_chans=4, num_stages=num_stages)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone.num_features, 2)
        b = self.backbone
        self.set_input_spec(image_size or b.image_size, b.mean, b.std)

    def forward(self, batch: dict, inference: bool = False) -> dict[str, Tensor]:
        images = batch["image"]
        x = torch.cat([self.normalize(images), phase_image(self.to_unit(images))], dim=1)
        feat = self.backbone(x)
        logits = self.head(self.dropout(feat))
        return {"cls": logits, "prob": self.fake_prob(logits), "feat": feat}
