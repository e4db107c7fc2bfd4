"""Batched augmentation on the training device (kornia): applies the `AugOps` the workers drew per frame.

With `augment_on: device` the DataLoader workers only decode and resize; each item carries the
operations `transforms.sample_ops` drew for it (`aug_ops`, B×6 after collate), and
`apply_device_ops` performs them on the whole batch where it lives (GPU): flip, rotation, Gaussian
blur, brightness/contrast and JPEG — the same operations, in the same order, with the same drawn
values as `transforms.apply_ops` does with OpenCV, so the distribution of augmentations is the same
by construction (tests/test_fast_path.py). Images come back as float [0, 1] (and masks too), which
every detector's `normalize` accepts. Pixel values differ from OpenCV's within interpolation
(bilinear, reflected border) and JPEG-codec detail: kornia's differentiable codec uses the standard
tables with 4:2:0 chroma but a smooth approximation of rounding.
"""

from __future__ import annotations

from typing import Any

import kornia
import torch
from torch import Tensor

from training.utils.pixels import to_unit

OPS_KEY = "aug_ops"


def _sigma(k: int) -> float:
    """OpenCV's Gaussian sigma for kernel size k when sigma is 0 (what `cv2.GaussianBlur(img, (k, k), 0)` uses)."""
    return 0.3 * ((k - 1) * 0.5 - 1) + 0.8


def _rotate(x: Tensor, mask: Tensor | None, lm: Tensor | None, angle: Tensor, sel: Tensor):
    h, w = x.shape[-2:]
    centre = torch.tensor([[(w - 1) / 2.0, (h - 1) / 2.0]], device=x.device, dtype=x.dtype)
    centre = centre.expand(int(sel.sum()), 2)
    a = angle[sel].to(x.dtype)
    # align_corners + reflection = reflection about the edge pixels' centres (OpenCV BORDER_REFLECT_101)
    kw = {"center": centre, "mode": "bilinear", "padding_mode": "reflection", "align_corners": True}
    x[sel] = kornia.geometry.transform.rotate(x[sel], a, **kw)
    if mask is not None:
        mask[sel] = kornia.geometry.transform.rotate(mask[sel], a, **kw)
    if lm is not None:
        m = kornia.geometry.transform.get_rotation_matrix2d(centre, a, torch.ones_like(centre))
        pts = lm[sel].to(m.dtype)
        lm[sel] = (pts @ m[:, :, :2].transpose(1, 2) + m[:, None, :, 2]).to(lm.dtype)


@torch.no_grad()
def apply_device_ops(batch: dict[str, Any]) -> dict[str, Any]:
    """Apply a batch's `aug_ops` (removed from the dict) to `image`, `mask`, `landmark`; no-op without them."""
    ops = batch.pop(OPS_KEY, None)
    if ops is None:
        return batch
    x = to_unit(batch["image"]).clone()
    mask = to_unit(batch["mask"]).clone() if "mask" in batch else None
    lm = batch["landmark"].clone() if "landmark" in batch else None
    flip, angle, blur, alpha, beta, quality = ops.to(x.device).unbind(1)
    w = x.shape[-1]
    f = flip > 0.5
    if f.any():
        x[f] = x[f].flip(-1)
        if mask is not None:
            mask[f] = mask[f].flip(-1)
        if lm is not None:
            lm[f, :, 0] = (w - 1) - lm[f, :, 0]
    sel = ~angle.isnan()
    if sel.any():
        _rotate(x, mask, lm, angle, sel)
    for k in blur[~blur.isnan()].unique().tolist():
        s = blur == k
        k = int(k)
        x[s] = kornia.filters.gaussian_blur2d(x[s], (k, k), (_sigma(k), _sigma(k)), border_type="reflect")
    sel = ~alpha.isnan()
    if sel.any():
        gain, offset = alpha[sel].to(x.dtype), (beta[sel] / 255.0).to(x.dtype)
        x[sel] = (x[sel] * gain[:, None, None, None] + offset[:, None, None, None]).clamp(0.0, 1.0)
    sel = ~quality.isnan()
    if sel.any():
        x[sel] = kornia.enhance.jpeg_codec_differentiable(x[sel], quality[sel].to(x.dtype)).clamp(0.0, 1.0)
    batch["image"] = x
    if mask is not None:
        batch["mask"] = mask
    if lm is not None:
        batch["landmark"] = lm
    return batch
