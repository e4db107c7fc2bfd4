"""SSD-style multi-scale anchors, matching and the multibox loss used by CADDM's artifact detection module.

Boxes are normalised to the image: anchors as (cx, cy, w, h), ground truth as (x0, y0, x1, y1).
Hand-written (about 80 lines) because torchvision's SSD pieces are tied to its detection models and
their target dict format; `torchvision.ops.box_iou` does the IoU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import box_iou


def make_anchors(sizes: list[tuple[int, int]], min_sizes: list[float], max_sizes: list[float]) -> Tensor:
    """A×4 anchors (cx, cy, w, h): per level k and cell, a square of side min_k and one of √(min_k·max_k)."""
    out = []
    for (h, w), lo, hi in zip(sizes, min_sizes, max_sizes, strict=True):
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        cx, cy = (xs.flatten() + 0.5) / w, (ys.flatten() + 0.5) / h
        for side in (lo, math.sqrt(lo * hi)):
            s = torch.full_like(cx, side, dtype=torch.float32)
            out.append(torch.stack([cx, cy, s, s], dim=1))
    # the two sizes of a cell are adjacent in the heads' channel order: interleave per level
    return _interleave(out, sizes).clamp(0.0, 1.0)


def _interleave(parts: list[Tensor], sizes: list[tuple[int, int]]) -> Tensor:
    levels = []
    for k in range(len(sizes)):
        a, b = parts[2 * k], parts[2 * k + 1]
        levels.append(torch.stack([a, b], dim=1).reshape(-1, 4))
    return torch.cat(levels)


def corners(boxes: Tensor) -> Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def encode(gt: Tensor, anchors: Tensor, variance: float) -> Tensor:
    """SSD offsets of corner boxes `gt` relative to (cx, cy, w, h) `anchors`."""
    g_c = (gt[:, :2] + gt[:, 2:]) / 2
    g_wh = (gt[:, 2:] - gt[:, :2]).clamp_min(1e-6)
    d_c = (g_c - anchors[:, :2]) / (variance * anchors[:, 2:])
    d_wh = torch.log(g_wh / anchors[:, 2:]) / variance
    return torch.cat([d_c, d_wh], dim=1)


def match(gt: Tensor, anchors: Tensor, threshold: float, variance: float) -> tuple[Tensor, Tensor]:
    """(labels A, loc targets A×4) for one image: 1 where an anchor overlaps a box by ≥ threshold
    (and each box's best anchor), else 0 (background); no boxes → all background."""
    n = anchors.shape[0]
    if gt.numel() == 0:
        return torch.zeros(n, dtype=torch.long, device=anchors.device), anchors.new_zeros(n, 4)
    iou = box_iou(gt, corners(anchors))  # G × A
    best_gt_iou, best_gt = iou.max(dim=0)
    best_anchor = iou.argmax(dim=1)
    best_gt_iou[best_anchor] = 1.0  # every box keeps at least its best anchor
    best_gt[best_anchor] = torch.arange(gt.shape[0], device=gt.device)
    labels = (best_gt_iou >= threshold).long()
    return labels, encode(gt[best_gt], anchors, variance)


def multibox_loss(
    loc: Tensor, conf: Tensor, labels: Tensor, targets: Tensor, neg_pos: int
) -> tuple[Tensor, Tensor]:
    """Smooth-L1 on positive anchors + CE with hard negative mining (neg:pos = `neg_pos`, at least
    `neg_pos` negatives per image so all-real batches still train the confidence head), both / #pos."""
    pos = labels > 0
    num_pos = pos.sum(dim=1, keepdim=True)
    loss_l = F.smooth_l1_loss(loc[pos], targets[pos], reduction="sum") if pos.any() else loc.sum() * 0.0
    ce = F.cross_entropy(conf.reshape(-1, 2), labels.reshape(-1), reduction="none").view_as(labels)
    mining = ce.detach().masked_fill(pos, 0.0)
    rank = mining.argsort(dim=1, descending=True).argsort(dim=1)
    num_neg = (neg_pos * num_pos.clamp_min(1)).clamp_max(labels.shape[1] - 1)
    neg = rank < num_neg
    loss_c = ce[pos | neg].sum()
    denom = num_pos.sum().clamp_min(1).float()
    return loss_l / denom, loss_c / denom
