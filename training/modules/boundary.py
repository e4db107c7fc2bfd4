"""Boundary mining: high-pass + edge cues → soft boundary map W → W-weighted pooling of ViT patch tokens."""

from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F
from torch import nn

from training.utils.pixels import to_unit


def boundary_cues(x01: torch.Tensor, blur_kernel: int, blur_sigma: float, canny: bool) -> torch.Tensor:
    """Hand-made blending cues from a B×3×H×W image in [0, 1], stacked on channels.

    High-pass residual (image − Gaussian blur, 3 channels: blends often mismatch per colour channel),
    Sobel edge magnitude of the grey image (1 channel) and, optionally, its Canny edge map (1 channel;
    not differentiable, used as a cue). Sobel runs on grey and the blur non-separably because both are
    ~2× cheaper that way on CPU at these sizes (measured by benchmarks/bench_fbi_step.py). Computed in
    fp32 (kornia's Sobel magnitude takes a square root of small numbers).
    """
    with torch.autocast(device_type=x01.device.type, enabled=False):
        x = x01.float()
        k, s = (blur_kernel, blur_kernel), (blur_sigma, blur_sigma)
        blur = kornia.filters.gaussian_blur2d(x, k, s, separable=False)
        grey = kornia.color.rgb_to_grayscale(x)
        cues = [x - blur, kornia.filters.sobel(grey)]
        if canny:
            cues.append(kornia.filters.canny(grey)[1].detach())
        return torch.cat(cues, dim=1)


def mask_boundary(
    mask: torch.Tensor,
    blur_kernel: int = 7,
    blur_sigma: float = 2.0,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Soft boundary of a blending mask (uint8 0–255 as the loaders deliver it, or float in [0, 1]):
    4·m̃·(1 − m̃) of the blurred mask m̃ in [0, 1].

    Peaks at 1 where the (blurred) mask crosses 0.5 and is 0 inside and outside the blended region;
    for a real image (all-zero mask) the target is all zero. The blur gives hard masks a width.
    `size`: area-average the target down to the boundary map's resolution.
    """
    with torch.autocast(device_type=mask.device.type, enabled=False):
        m = kornia.filters.gaussian_blur2d(
            to_unit(mask).float(), (blur_kernel, blur_kernel), (blur_sigma, blur_sigma)
        )
        t = (4.0 * m * (1.0 - m)).clamp(0.0, 1.0)
        return F.adaptive_avg_pool2d(t, size) if size is not None and t.shape[-2:] != size else t


def weighted_pool(patch: torch.Tensor, weights: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Σᵢ wᵢ pᵢ / Σᵢ wᵢ over the patch tokens: `patch` B×N×D, `weights` B×N (≥ 0) → B×D."""
    w = weights.to(patch.dtype)
    return torch.einsum("bn,bnd->bd", w, patch) / (w.sum(dim=1, keepdim=True) + eps)


class BoundaryMining(nn.Module):
    """Cues → small conv net → sigmoid map W (¼ resolution) → W pooled to the patch grid.

    `forward(x01, patch)` returns the boundary feature (B×width), the map logits (B×1×H/4×W/4, for the
    optional supervision; see `boundary_supervision`, which brings the target to that size) and the
    pooled weights (B×N, for inspection/CAMs).
    """

    def __init__(
        self,
        grid_size: tuple[int, int],
        channels: int = 16,
        blur_kernel: int = 5,
        blur_sigma: float = 1.0,
        canny: bool = False,
    ) -> None:
        super().__init__()
        if blur_kernel < 3 or blur_kernel % 2 == 0:
            raise ValueError(f"model.boundary.blur_kernel={blur_kernel}: an odd size ≥ 3")
        self.grid_size = tuple(grid_size)
        self.blur_kernel, self.blur_sigma, self.canny = int(blur_kernel), float(blur_sigma), bool(canny)
        in_ch = 4 + int(canny)
        # Two stride-2 convs: W lives at 1/4 of the input resolution (56×56 at 224 px), still 4×4 values
        # per 16-px patch, at ~1/10 of the cost of a full-resolution net.
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, channels, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(channels, 1, 1),
        )

    def forward(self, x01: torch.Tensor, patch: torch.Tensor) -> dict[str, torch.Tensor]:
        cues = boundary_cues(x01, self.blur_kernel, self.blur_sigma, self.canny)
        logits = self.net(cues)
        w = torch.sigmoid(logits)
        pooled = F.adaptive_avg_pool2d(w, self.grid_size).flatten(1)
        if pooled.shape[1] != patch.shape[1]:
            raise ValueError(
                f"boundary grid {self.grid_size} gives {pooled.shape[1]} weights for {patch.shape[1]} patch tokens"
            )
        return {"feature": weighted_pool(patch, pooled), "logits": logits, "weights": pooled}
