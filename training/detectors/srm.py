"""SRM two-stream detector (Luo et al., CVPR 2021): an RGB stream and an SRM high-frequency stream
with residual-guided spatial attention, dual cross-modality attention and attention fusion.

"Generalizing Face Forgery Detection with High-frequency Features".

What each part implements (blocks in `training/modules/srm_blocks.py`):
- §3.2 multi-scale high-frequency feature extraction: the three fixed SRM filters on the image feed
  the high-frequency stream (same CNN as the RGB stream); at the first `srm_scales` scales (after
  the stem, then after each early stage) SRM filters are also applied to the RGB stream's feature
  maps and the result is added to the high-frequency stream.
- §3.3 residual guided spatial attention (RSA): at those scales an attention map computed from the
  high-frequency features re-weights the RGB features (f ← f·σ(a) + f).
- §3.4 dual cross-modality attention (DCMA): after stage `dcma_after` each stream attends over the
  other's positions (non-local, query from one modality, key/value from the other).
- Fusion and classifier: both final feature maps are concatenated, fused by a 1×1 conv with channel
  attention, pooled and classified; AM-Softmax loss (`loss.type: am_softmax`, additive cosine
  margin) as in the paper, or plain cross-entropy.

Simplified / chosen here, and why:
- The backbone is any staged timm CNN (Xception as in the paper; ResNets/EfficientNets for small
  runs); the high-frequency stream is a second copy of it with its own weights.
- RSA uses a single 3×3 conv + sigmoid per scale; DCMA uses a zero-initialised gain per direction
  (the module starts as the identity); the paper's exact channel reductions are not reproduced.
- SRM filters act on the normalised input (truncation at ±3, SRM's usual T).
- AM-Softmax scale 30 and margin 0.35 (the AM-Softmax paper's defaults; Luo et al.'s values are not
  in our notes).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from training.detectors.base import BaseDetector, batch_labels
from training.modules.heads import CosineHead
from training.modules.srm_blocks import (
    DualCrossModalAttention,
    FeatureSRM,
    FusionModule,
    ResidualSpatialAttention,
    SRMImageFilter,
)
from training.modules.staged_cnn import StagedCNN
from training.registry import DETECTORS

LOSSES = ("am_softmax", "ce")


@DETECTORS.register("srm")
class SRMDetector(BaseDetector):
    """RGB stream + SRM stream (two timm CNNs) with RSA, DCMA and fusion → AM-Softmax / linear head."""

    config_defaults: ClassVar[dict[str, Any]] = {
        "backbone": "legacy_xception",  # staged timm CNN (legacy_xception, ResNets, EfficientNets)
        "pretrained": "legacy_xception.tf_in1k",  # timm weight tag, local file, or none (both streams)
        "image_size": None,  # null: the backbone's native size
        "srm_scales": 3,  # feature-level SRM + RSA after the stem and the first srm_scales-1 stages
        "dcma_after": 3,  # DCMA after this stage (1-based; Xception: block 3 = end of the entry flow)
        "fusion_channels": 1024,
        "dropout": 0.0,
        "loss": {"type": "am_softmax", "scale": 30.0, "margin": 0.35},
    }
    display_name: ClassVar[str | None] = "SRM"
    test_config: ClassVar[dict[str, Any]] = {
        "backbone": "test_resnet",
        "pretrained": "none",
        "image_size": 32,
        "srm_scales": 2,
        "dcma_after": 2,
        "fusion_channels": 16,
    }

    def __init__(
        self,
        backbone: str,
        pretrained: str | None,
        image_size: int | None,
        srm_scales: int,
        dcma_after: int,
        fusion_channels: int,
        dropout: float,
        loss: dict[str, Any],
    ) -> None:
        super().__init__()
        self.rgb = StagedCNN(backbone, pretrained)
        self.high = StagedCNN(backbone, pretrained)
        n = len(self.rgb.stages)
        problems = []
        if not 1 <= srm_scales <= n:
            problems.append(f"model.srm_scales={srm_scales} must be in 1..{n}")
        if not 1 <= dcma_after <= n:
            problems.append(f"model.dcma_after={dcma_after} must be in 1..{n} (stages of {backbone})")
        if loss.get("type") not in LOSSES:
            problems.append(f"model.loss.type={loss.get('type')!r} is not one of {list(LOSSES)}")
        if problems:
            raise ValueError("srm config: " + "; ".join(problems))
        stem_c = self._stem_channels()
        scale_c = [stem_c, *self.rgb.stage_channels[: srm_scales - 1]]
        self.image_srm = SRMImageFilter()
        self.feature_srm = nn.ModuleList([FeatureSRM(c) for c in scale_c])
        self.rsa = nn.ModuleList([ResidualSpatialAttention(c) for c in scale_c])
        self.dcma_after = int(dcma_after)
        self.dcma = DualCrossModalAttention(self.rgb.stage_channels[dcma_after - 1])
        self.fusion = FusionModule(2 * self._final_channels(), int(fusion_channels))
        self.dropout = nn.Dropout(dropout)
        self.loss_cfg = {"type": loss["type"], "scale": float(loss["scale"]), "margin": float(loss["margin"])}
        if self.loss_cfg["type"] == "am_softmax":
            self.head: nn.Module = CosineHead(int(fusion_channels), 2, self.loss_cfg["scale"])
        else:
            self.head = nn.Linear(int(fusion_channels), 2)
        self.set_input_spec(image_size or self.rgb.image_size, self.rgb.mean, self.rgb.std)

    def _stem_channels(self) -> int:
        convs = [m for m in self.rgb.stem.modules() if isinstance(m, nn.Conv2d)]
        return int(convs[-1].out_channels)

    def _final_channels(self) -> int:
        return self.rgb.num_features

    def forward(self, batch: dict, inference: bool = False) -> dict[str, Tensor]:
        x = self.normalize(batch["image"])
        a = self.rgb.stem(x)
        h = self.high.stem(self.image_srm(x))
        a, h = self._scale(0, a, h)
        for i, (sa, sh) in enumerate(zip(self.rgb.stages, self.high.stages, strict=True), start=1):
            a, h = sa(a), sh(h)
            if i < len(self.feature_srm):
                a, h = self._scale(i, a, h)
            if i == self.dcma_after:
                a, h = self.dcma(a, h)
        feat = self.fusion(self.rgb.head(a), self.high.head(h))
        logits = self.head(self.dropout(feat))
        return {"cls": logits, "prob": self.fake_prob(logits), "feat": feat}

    def _scale(self, i: int, a: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """Multi-scale high-frequency extraction then RSA at scale i."""
        h = h + self.feature_srm[i](a)
        return self.rsa[i](a, h), h

    def get_losses(self, batch: dict, pred: dict) -> dict[str, Tensor]:
        y = batch_labels(batch, pred["cls"].device)
        if self.loss_cfg["type"] == "am_softmax":
            s, m = self.loss_cfg["scale"], self.loss_cfg["margin"]
            cos = self.head.cosine(pred["feat"])
            logits = s * (cos - m * F.one_hot(y, 2).to(cos.dtype))
            loss = F.cross_entropy(logits, y)
            return {"overall": loss, "am_softmax": loss}
        ce = F.cross_entropy(pred["cls"], y)
        return {"overall": ce, "ce": ce}
