"""Pixel tensors between the data pipeline and the models: uint8 (0–255) or floating point in [0, 1]."""

from __future__ import annotations

import torch
from torch import Tensor


def to_unit(x: Tensor) -> Tensor:
    """Floats in [0, 1]: uint8 → float32 / 255; floating-point input is returned unchanged.

    The one conversion rule for images and masks: loaders deliver uint8 (4× less to move across
    worker processes and to the device than float32), device-side augmentation and analysis tools
    pass floats in [0, 1].
    """
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255.0
    if not x.is_floating_point():
        raise TypeError(f"pixels must be uint8 (0–255) or floating point in [0, 1]; got {x.dtype}")
    return x


def normalize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """`(to_unit(x) − mean) / std`; `mean`/`std` broadcast against B×3×H×W (e.g. 1×3×1×1 buffers)."""
    if x.dtype == torch.uint8:
        # in place on the one fresh float buffer: the same float32 operations as out of place (the
        # same values), without allocating (and page-faulting) three more B×3×S×S tensors on CPUs
        y = x.to(torch.float32).div_(255.0)
        return y.sub_(mean.to(y.dtype)).div_(std.to(y.dtype))
    x = to_unit(x)
    return (x - mean.to(x.dtype)) / std.to(x.dtype)
