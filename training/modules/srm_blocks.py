"""Building blocks of the SRM two-stream detector (Luo et al., CVPR 2021): fixed SRM high-pass
filters, feature-level SRM, residual-guided spatial attention, dual cross-modality attention, fusion.

The three 5×5 kernels are the standard SRM residual filters of steganalysis (Fridrich & Kodovsky
2012) that Luo et al. adopt: the 2nd-order "3×3 square" (/4), the 5×5 "square" (/12) and the
horizontal 2nd-order difference (/2). They are fixed (buffers, never trained).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_K1 = [[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]]
_K2 = [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]]
_K3 = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]


def srm_kernels() -> Tensor:
    """3×5×5 float tensor of the three SRM kernels, each normalised by its quantisation factor."""
    return torch.stack([torch.tensor(_K1) / 4.0, torch.tensor(_K2) / 12.0, torch.tensor(_K3) / 2.0]).float()


class SRMImageFilter(nn.Module):
    """Image → 3 high-frequency residual maps: each SRM kernel summed over the colour channels,
    truncated to [−T, T] (SRM's truncation, T = 3)."""

    def __init__(self, in_chans: int = 3, truncation: float = 3.0) -> None:
        super().__init__()
        k = srm_kernels()[:, None].repeat(1, in_chans, 1, 1)  # 3 × C × 5 × 5
        self.register_buffer("weight", k, persistent=False)
        self.truncation = float(truncation)

    def forward(self, x: Tensor) -> Tensor:
        y = F.conv2d(x, self.weight.to(x.dtype), padding=2)
        return y.clamp(-self.truncation, self.truncation)


class FeatureSRM(nn.Module):
    """Feature-level SRM (multi-scale high-frequency extraction): the kernels applied to every channel
    of an RGB-stream feature map (depthwise), then 1×1 conv + BN + ReLU back to its channel count."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = srm_kernels()[:, None].repeat(channels, 1, 1, 1)  # (3·C) × 1 × 5 × 5, grouped per channel
        self.register_buffer("weight", k, persistent=False)
        self.channels = channels
        self.mix = nn.Sequential(
            nn.Conv2d(3 * channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
        )

    def forward(self, x: Tensor) -> Tensor:
        hf = F.conv2d(x, self.weight.to(x.dtype), padding=2, groups=self.channels)
        return self.mix(hf)


class ResidualSpatialAttention(nn.Module):
    """Residual-guided spatial attention (RSA): a map from the high-frequency features re-weights the
    RGB features, f ← f · σ(a) + f."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.att = nn.Sequential(nn.Conv2d(channels, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, rgb: Tensor, high: Tensor) -> Tensor:
        return rgb * self.att(high) + rgb


class DualCrossModalAttention(nn.Module):
    """Dual cross-modality attention (DCMA): each stream attends over the other's positions
    (non-local, query from one modality, key/value from the other), added back through a
    zero-initialised gain so training starts from the plain two streams."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        inner = max(1, channels // reduction)
        self.q = nn.ModuleList([nn.Conv2d(channels, inner, 1) for _ in range(2)])
        self.k = nn.ModuleList([nn.Conv2d(channels, inner, 1) for _ in range(2)])
        self.v = nn.ModuleList([nn.Conv2d(channels, channels, 1) for _ in range(2)])
        self.gamma = nn.Parameter(torch.zeros(2))

    def _attend(self, i: int, query_src: Tensor, kv_src: Tensor) -> Tensor:
        b, c, h, w = query_src.shape
        q = self.q[i](query_src).flatten(2).transpose(1, 2)  # B × HW × c'
        k = self.k[i](kv_src).flatten(2).transpose(1, 2)
        v = self.v[i](kv_src).flatten(2).transpose(1, 2)  # B × HW × C
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, c, h, w)

    def forward(self, rgb: Tensor, high: Tensor) -> tuple[Tensor, Tensor]:
        rgb_new = rgb + self.gamma[0] * self._attend(0, rgb, high)
        high_new = high + self.gamma[1] * self._attend(1, high, rgb)
        return rgb_new, high_new


class FusionModule(nn.Module):
    """Concatenate both streams' final maps → 1×1 conv + BN + ReLU → channel attention (SE) → pooled."""

    def __init__(self, in_channels: int, out_channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU()
        )
        inner = max(1, out_channels // reduction)
        self.se = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(out_channels, inner, 1),
            nn.ReLU(),
            nn.Conv2d(inner, out_channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        x = self.conv(torch.cat([a, b], dim=1))
        return (x * self.se(x)).mean(dim=(-2, -1))
