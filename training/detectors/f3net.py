"""F3Net (Qian et al., ECCV 2020): frequency-aware decomposition (FAD) and local frequency statistics
(LFS) streams, two CNNs exchanging information through MixBlocks.

"Thinking in Frequency: Face Forgery Detection by Mining Frequency-aware Clues".

What each part implements (FAD/LFS in `training/modules/dct.py`):
- §3.2 FAD: the image's DCT spectrum split by base band filters (low 1/16, middle 1/16, high 7/8,
  all) plus learnable filters σ(f_w), each band transformed back to the spatial domain; the 4 bands ×
  3 colours (12 channels) are the input of the FAD stream.
- §3.3 LFS: sliding-window (10×10, stride 2) DCT of the grey image; per window the log10 of the
  filtered DCT amplitudes in M = 6 bands (base + learnable filters) — a 6-channel map into the LFS
  stream.
- §3.4 MixBlock: after the stages in `mix_after` (Xception blocks 7 and 12, as in the paper) the two
  streams exchange information by cross-attention (each stream attends over the other's positions)
  added back to each stream.
- Classifier: the two streams' pooled features concatenated → dropout → Linear(2), cross-entropy.

Simplified / chosen here, and why:
- The LFS map (S/2 × S/2) is resized to S × S before its stream, so both streams have the same
  feature-map sizes at every MixBlock; the paper does not spell out how it aligns them.
- MixBlock is the dual cross-modality attention block shared with the SRM detector (non-local
  cross-attention with a zero-initialised gain per direction), not the paper's exact layer recipe.
- LFS band statistics are means (the L1 norm divided by the band size) so bands of different sizes
  share a scale; FAD/LFS act on the normalised image.
- The DC coefficient is counted in the low (and all) band.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.detectors.base import BaseDetector
from training.modules.dct import FAD, LFS
from training.modules.srm_blocks import DualCrossModalAttention
from training.modules.staged_cnn import StagedCNN
from training.registry import DETECTORS

_LUMA = (0.299, 0.587, 0.114)


@DETECTORS.register("f3net")
class F3NetDetector(BaseDetector):
    """FAD stream + LFS stream (two timm CNNs) with MixBlocks → concatenated features → Linear(2)."""

    config_defaults: ClassVar[dict[str, Any]] = {
        "backbone": "legacy_xception",  # staged timm CNN (legacy_xception, ResNets, EfficientNets)
        "pretrained": "legacy_xception.tf_in1k",  # timm weight tag, local file, or none (both streams)
        "image_size": None,  # null: the backbone's native size (299 for Xception, as in the paper)
        "lfs_window": 10,
        "lfs_bands": 6,
        "mix_after": [7, 12],  # MixBlocks after these stages (1-based)
        "dropout": 0.5,
    }
    display_name: ClassVar[str | None] = "F3Net"
    test_config: ClassVar[dict[str, Any]] = {
        "backbone": "test_resnet",
        "pretrained": "none",
        "image_size": 32,
        "mix_after": [2, 4],
        "dropout": 0.0,
    }

    def __init__(
        self,
        backbone: str,
        pretrained: str | None,
        image_size: int | None,
        lfs_window: int,
        lfs_bands: int,
        mix_after: list[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.fad_net = StagedCNN(backbone, pretrained, in_chans=12)
        self.lfs_net = StagedCNN(backbone, pretrained, in_chans=int(lfs_bands))
        n = len(self.fad_net.stages)
        bad = [k for k in mix_after if not 1 <= int(k) <= n]
        if bad or len(set(mix_after)) != len(mix_after):
            raise ValueError(f"model.mix_after={mix_after}: distinct stages in 1..{n} of {backbone}")
        size = int(image_size or self.fad_net.image_size)
        self.fad = FAD(size)
        self.lfs = LFS(int(lfs_window), int(lfs_bands))
        self.mix_after = [int(k) for k in mix_after]
        self.mix = nn.ModuleDict(
            {str(k): DualCrossModalAttention(self.fad_net.stage_channels[k - 1]) for k in self.mix_after}
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.fad_net.num_features + self.lfs_net.num_features, 2)
        self.set_input_spec(size, self.fad_net.mean, self.fad_net.std)

    def forward(self, batch: dict, inference: bool = False) -> dict[str, Tensor]:
        x = self.normalize(batch["image"])
        grey = (x * x.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
        lfs = F.interpolate(self.lfs(grey), size=x.shape[-2:], mode="bilinear", align_corners=False)
        a, b = self.fad_net.stem(self.fad(x)), self.lfs_net.stem(lfs)
        for i, (sa, sb) in enumerate(zip(self.fad_net.stages, self.lfs_net.stages, strict=True), start=1):
            a, b = sa(a), sb(b)
            if i in self.mix_after:
                a, b = self.mix[str(i)](a, b)
        fa = self.fad_net.pool(self.fad_net.head(a))
        fb = self.lfs_net.pool(self.lfs_net.head(b))
        feat = torch.cat([fa, fb], dim=1)
        logits = self.head(self.dropout(feat))
        return {"cls": logits, "prob": self.fake_prob(logits), "feat": feat}
