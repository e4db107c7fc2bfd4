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
