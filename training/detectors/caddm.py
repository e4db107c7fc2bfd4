"""CADDM (Dong et al., CVPR 2023): a CNN with an artifact detection module (multi-scale anchors)
trained on multi-scale facial swaps, against the implicit identity leakage of binary classifiers.

"Implicit Identity Leakage: The Stumbling Block to Improving Deepfake Detection Generalization".

What each part implements:
- §3.3 Artifact Detection Module (ADM): extra conv blocks on the backbone's last feature map give
  `num_scales` feature maps (1×1 block, then stride-2 blocks down to a global 1×1 map); on each, two
  anchors per cell (sides min_k and √(min_k·max_k)) predict "artifact / background" and box offsets.
  Anchors matching an artifact box by IoU ≥ `overlap` are positives; smooth-L1 + cross-entropy with
  hard negative mining (neg:pos 2) (`training/modules/anchors.py`). The global classifier reads the
  pooled backbone feature plus the ADM's final 1×1 feature, as in the release.
- §3.4 Multi-scale Facial Swap (MFS): during training, real images of the batch get a region of a
  donor (its own-identity fake when the batch has one, else another image) blended in at a random
  window scale; these extra fakes carry the swapped box (`training/modules/mfs.py`). Fakes from the
  dataset have the whole image as their artifact box, reals none.
- Loss: CE(global) + `det_weight`·(loc + conf), det_weight 0.1 as in the release.

Simplified / chosen here, and why:
- MFS runs on the device on the training batch (the release prepares swaps offline from landmarks
  with Poisson or alpha blending and a DSSIM box search): alpha blending with a feathered box, the
  box placed where donor and real differ most (mean absolute difference). Global swaps blend the
  whole crop (no landmark hull, since batches carry no landmarks by default).
- ADM extra blocks use stride-2 3×3 convolutions (padding 1) instead of the release's unpadded
  ones, so any input size (64 px demo, 224 px paper) gives `num_scales` maps; one variance (0.1)
  for all offsets as in the release config.
- With no artifact box in the batch (all reals), at least `neg_pos` negatives per image still train
  the confidence head.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.dataset.pairing import pair_group_of_key
from training.detectors.base import BaseDetector, batch_labels
from training.modules.anchors import make_anchors, match, multibox_loss
from training.modules.mfs import multi_scale_facial_swap
from training.modules.staged_cnn import StagedCNN
from training.registry import DETECTORS


def _block(c: int, stride: int, k: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c, c, k, stride, k // 2, bias=False), nn.BatchNorm2d(c), nn.ReLU())


@DETECTORS.register("caddm")
class CADDMDetector(BaseDetector):
    """timm CNN → ADM (multi-scale anchors: artifact conf + boxes) and global head; MFS in training."""

    config_defaults: ClassVar[dict[str, Any]] = {
        "backbone": "efficientnet_b4",  # staged timm CNN (resnet34, efficientnet_b4, ...)
        "pretrained": "efficientnet_b4.ra2_in1k",  # timm weight tag, local file, or none
        "image_size": 224,
        "num_scales": 4,
        "min_sizes": [0.179, 0.357, 0.536, 1.0],  # anchor sides / image (release: 40, 80, 120, 224 of 224)
        "max_sizes": [0.357, 0.536, 0.714, 1.0],  # (release: 80, 120, 160, 224 of 224)
        "overlap": 0.9,  # IoU for a positive anchor (release: 0.9)
        "neg_pos": 2,  # hard negatives per positive
        "det_weight": 0.1,
        "mfs": {"prob": 0.5, "windows": [0.179, 0.357, 0.536, 1.0]},  # window sides / image; 1.0 = global
        "pairing_pattern": None,  # MFS donor groups (training/dataset/pairing.py); null: target identity
    }
    display_name: ClassVar[str | None] = "CADDM"
    test_config: ClassVar[dict[str, Any]] = {
        "backbone": "test_resnet",
        "pretrained": "none",
        "image_size": 64,
        "mfs": {"prob": 1.0},
    }

    def __init__(
        self,
        backbone: str,
        pretrained: str | None,
        image_size: int,
        num_scales: int,
        min_sizes: list[float],
        max_sizes: list[float],
        overlap: float,
        neg_pos: int,
        det_weight: float,
        mfs: dict[str, Any],
        pairing_pattern: str | None,
    ) -> None:
        super().__init__()
        if not (len(min_sizes) == len(max_sizes) == num_scales >= 2):
            raise ValueError(f"model.min_sizes/max_sizes need num_scales={num_scales} (≥ 2) entries each")
        if not mfs.get("windows") or not 0 <= float(mfs.get("prob", -1)) <= 1:
            raise ValueError(f"model.mfs needs prob in [0, 1] and a non-empty windows list; got {mfs}")
        self.backbone = StagedCNN(backbone, pretrained)
        c = self.backbone.num_features
        self.extra = nn.ModuleList([_block(c, 1, 1)] + [_block(c, 2, 3) for _ in range(num_scales - 2)])
        self.end = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1), nn.ReLU())
        self.loc = nn.ModuleList([nn.Conv2d(c, 2 * 4, 3, padding=1) for _ in range(num_scales)])
        self.conf = nn.ModuleList([nn.Conv2d(c, 2 * 2, 3, padding=1) for _ in range(num_scales)])
        self.fc = nn.Linear(c, 2)
        self.set_input_spec(int(image_size), self.backbone.mean, self.backbone.std)
        self.cfg = {
            "min_sizes": [float(v) for v in min_sizes],
            "max_sizes": [float(v) for v in max_sizes],
            "overlap": float(overlap),
            "neg_pos": int(neg_pos),
            "det_weight": float(det_weight),
            "mfs_prob": float(mfs["prob"]),
            "windows": [float(v) for v in mfs["windows"]],
            "pattern": pairing_pattern,
        }

    def _features(self, x: Tensor) -> tuple[Tensor, list[Tensor], Tensor]:
        b = self.backbone
        f = b.head(self._trunk(b.stem(x)))
        maps, m = [], f
        for blk in self.extra:
            m = blk(m)
            maps.append(m)
        end = self.end(m)
        maps.append(end)
        return f, maps, end

    def _trunk(self, x: Tensor) -> Tensor:
        for stage in self.backbone.stages:
            x = stage(x)
        return x

    def forward(self, batch: dict, inference: bool = False) -> dict[str, Tensor]:
        images, labels = batch["image"], batch.get("label")
        x01 = self.to_unit(images)
        pred: dict[str, Any] = {}
        if self.training and not inference and labels is not None and self.cfg["mfs_prob"] > 0:
            y = batch_labels(batch, x01.device)
            groups = [pair_group_of_key(k, self.cfg["pattern"]) for k in batch["video_key"]]
            extra, boxes = multi_scale_facial_swap(x01, y, groups, self.cfg["mfs_prob"], self.cfg["windows"])
            x01 = torch.cat([x01, extra])
            pred["mfs_boxes"] = boxes
        f, maps, end = self._features(self.normalize(x01))
        feat = self.backbone.pool(f) + end.flatten(1)
        logits = self.fc(feat)
        n = images.shape[0]
        pred.update({"cls": logits[:n], "prob": self.fake_prob(logits[:n]), "feat": feat[:n]})
        if self.training and not inference:
            bsz = x01.shape[0]
            pred["all_cls"] = logits
            pred["loc"] = torch.cat(
                [h(m).permute(0, 2, 3, 1).reshape(bsz, -1, 4) for h, m in zip(self.loc, maps, strict=True)], 1
            )
            pred["conf"] = torch.cat(
                [h(m).permute(0, 2, 3, 1).reshape(bsz, -1, 2) for h, m in zip(self.conf, maps, strict=True)],
                1,
            )
            pred["map_sizes"] = [tuple(m.shape[-2:]) for m in maps]
        return pred

    def get_losses(self, batch: dict, pred: dict) -> dict[str, Tensor]:
        y = batch_labels(batch, pred["cls"].device)
        if "loc" not in pred:  # evaluation mode: the global head only
            ce = F.cross_entropy(pred["cls"], y)
            return {"overall": ce, "ce": ce}
        boxes = pred.get("mfs_boxes", [])
        all_y = torch.cat([y, y.new_ones(len(boxes))])
        ce = F.cross_entropy(pred["all_cls"], all_y)
        anchors = make_anchors(pred["map_sizes"], self.cfg["min_sizes"], self.cfg["max_sizes"]).to(y.device)
        full = torch.tensor([[0.0, 0.0, 1.0, 1.0]], device=y.device)
        gts = [full if int(v) == 1 else full[:0] for v in y] + list(boxes)
        matched = [match(g, anchors, self.cfg["overlap"], 0.1) for g in gts]
        labels = torch.stack([m[0] for m in matched])
        targets = torch.stack([m[1] for m in matched])
        loss_l, loss_c = multibox_loss(pred["loc"], pred["conf"], labels, targets, self.cfg["neg_pos"])
        overall = ce + self.cfg["det_weight"] * (loss_l + loss_c)
        return {"overall": overall, "ce": ce, "det_loc": loss_l, "det_conf": loss_c}
