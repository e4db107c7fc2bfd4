"""F3Net's frequency blocks: the DCT matrix, Frequency-Aware Decomposition (FAD) and Local Frequency
Statistics (LFS), both with the paper's "base + learnable" band filters.

The DCT is a matrix product with the orthonormal DCT-II basis (torch has no differentiable DCT;
`scipy.fft.dct` is not autograd-aware), D·X·Dᵀ forward and Dᵀ·Y·D inverse.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def dct_matrix(n: int) -> Tensor:
    """n×n orthonormal DCT-II basis: row k is α_k cos(π(2i+1)k / 2n)."""
    i = torch.arange(n, dtype=torch.float64)
    k = i[:, None]
    d = torch.cos(math.pi * (2 * i[None] + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


def diagonal_band(n: int, lo: float, hi: float) -> Tensor:
    """n×n 0/1 mask of the DCT coefficients (i, j) with lo < i + j ≤ hi (lo < 0 includes DC)."""
    s = torch.arange(n)[:, None] + torch.arange(n)[None]
    return ((s > lo) & (s <= hi)).float()


def learnable_band(x: Tensor) -> Tensor:
    """σ(x) = (1 − e^{−x}) / (1 + e^{−x}) = tanh(x/2): the paper's squashing of the learnable filter."""
    return torch.tanh(x / 2)


class FAD(nn.Module):
    """Frequency-aware decomposition (§3.2): per colour channel, y_k = D⁻¹(D(x) ⊙ (f_base,k + σ(f_w,k)))
    for the low, middle, high and all-frequency bands; output 3·4 = 12 channels.

    Band boundaries on the anti-diagonal index i + j: low ≤ n/2√2 (1/16 of the spectrum),
    middle ≤ n/2 (next 1/16), high: the rest (7/8), all: everything.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        cuts = [
            (-1, size / (2 * math.sqrt(2))),
            (size / (2 * math.sqrt(2)), size / 2),
            (size / 2, 2 * size),
            (-1, 2 * size),
        ]
        self.register_buffer("d", dct_matrix(size), persistent=False)
        self.register_buffer(
            "base", torch.stack([diagonal_band(size, lo, hi) for lo, hi in cuts]), persistent=False
        )
        self.learn = nn.Parameter(torch.randn(len(cuts), size, size) * 0.1)
        self.size = size

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            raise ValueError(
                f"f3net: FAD filters are sized for {self.size} px but the input is {tuple(x.shape[-2:])}; "
                "set model.image_size (not resolution) to change the input size"
            )
        d = self.d.to(x.dtype)
        spec = d @ x @ d.t()  # B×3×S×S
        filt = (self.base + learnable_band(self.learn)).to(x.dtype)  # 4×S×S
        bands = d.t() @ (spec[:, None] * filt[None, :, None]) @ d  # B×4×3×S×S
        return bands.flatten(1, 2)


class LFS(nn.Module):
    """Local frequency statistics (§3.3): a sliding `window`×`window` DCT (stride 2) over the grey
    image; per window and band m, q_m = log10 of the mean |DCT| under (f_base,m + σ(f_w,m)), with M
    bands equally spaced on i + j. Output M × S/2 × S/2, resized back to S×S (see the detector)."""

    def __init__(self, window: int = 10, bands: int = 6, stride: int = 2) -> None:
        super().__init__()
        w = window
        cuts = [(2.0 * w / bands * m - (1 if m == 0 else 0), 2.0 * w / bands * (m + 1)) for m in range(bands)]
        base = torch.stack([diagonal_band(w, lo, hi) for lo, hi in cuts])
        self.register_buffer("d", dct_matrix(w), persistent=False)
        self.register_buffer("base", base, persistent=False)
        self.register_buffer("count", base.sum(dim=(1, 2)).clamp_min(1.0), persistent=False)
        self.learn = nn.Parameter(torch.randn(bands, w, w) * 0.1)
        self.window, self.stride, self.bands = w, stride, bands

    def forward(self, grey: Tensor) -> Tensor:
        b, _, h, wd = grey.shape
        w, pad = self.window, (self.window - self.stride) // 2
        patches = F.unfold(grey, w, padding=pad, stride=self.stride)  # B × w² × L
        n = patches.shape[-1]
        p = patches.transpose(1, 2).reshape(b, n, w, w)
        d = self.d.to(grey.dtype)
        spec = (d @ p @ d.t()).abs()  # B×L×w×w
        filt = (self.base + learnable_band(self.learn)).to(grey.dtype)  # M×w×w
        stats = torch.einsum("blij,mij->bml", spec, filt) / self.count.to(grey.dtype)[None, :, None]
        q = torch.log10(stats.abs() + 1e-6)
        oh = (h + 2 * pad - w) // self.stride + 1
        ow = (wd + 2 * pad - w) // self.stride + 1
        return q.view(b, self.bands, oh, ow)
