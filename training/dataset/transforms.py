"""Per-frame transform: resize to the network size, then training augmentation, moving image, mask and landmarks together.

OpenCV/NumPy on uint8 arrays (fast inside DataLoader workers). Order, as in DeepfakeBench: resize to
`size` first (every later step works on the final, smaller frame), then horizontal flip, rotation
(image, mask and landmarks), Gaussian blur, brightness/contrast, JPEG re-encoding. Which operations
apply to a frame, and with which values, is drawn once per frame by `sample_ops` (`AugOps`); the
frame is then changed here (`apply_ops`), or — with `on_device=True` — the drawn `AugOps` travel
with the item and `training.dataset.device_aug` applies them batched on the training device, so both
paths share one distribution of operations by construction.

The result stays uint8 RGB: images are never mean/std-normalised here — each detector normalises its
input itself (`BaseDetector.normalize`), so 4× fewer bytes cross the worker boundary and the
normalisation runs batched on the device. Landmarks use pixel-centre coordinates, matching OpenCV:
a flip maps x → W−1−x, a resize maps x → (x+0.5)·S/W − 0.5. A flip mirrors landmark coordinates but
does not reorder points (left-eye points end up on the right), as in DeepfakeBench.

`data_aug` keys: flip_prob, rotate_prob, rotate_limit, blur_prob, blur_limit, brightness_prob,
brightness_limit, contrast_limit (applied with brightness_prob), quality_lower, quality_upper
(JPEG with probability `quality_prob`, default 0.5 as in DeepfakeBench).

Hand-written on OpenCV rather than an albumentations `Compose` (measured with albumentations 2.0.8):
its rotation with reflected borders returns extra, mirrored copies of the keypoints (81 landmarks
come back as 729), its resize scales keypoints in corner convention while its flip uses the
pixel-centre one, and a Compose with masks and keypoints costs ≈0.4 ms per frame before any pixel
is touched — a third of this whole transform. The batched path uses kornia (`device_aug`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from training.dataset.readers import decode_rgb


def _limits(value: float | Sequence[float], symmetric: bool = True) -> tuple[float, float]:
    """`10` → (-10, 10); `[a, b]` → (a, b)."""
    if isinstance(value, int | float):
        return (-float(value), float(value)) if symmetric else (float(value), float(value))
    lo, hi = value
    return float(lo), float(hi)


@dataclass(frozen=True)
class AugOps:
    """The augmentation drawn for one frame; None means "not applied"."""

    flip: bool = False
    angle: float | None = None  # rotation in degrees (counter-clockwise, about the frame centre)
    blur: int | None = None  # odd Gaussian kernel size (sigma from OpenCV's rule for the size)
    alpha: float | None = None  # contrast gain, applied with `beta`
    beta: float | None = None  # brightness offset in 0–255 pixel units
    quality: int | None = None  # JPEG quality

    def to_tensor(self) -> torch.Tensor:
        """6 float32 values (NaN = not applied), so a batch of them collates into B×6."""
        vals = [float(self.flip), self.angle, self.blur, self.alpha, self.beta, self.quality]
        return torch.tensor([float("nan") if v is None else float(v) for v in vals], dtype=torch.float32)


def sample_ops(aug: dict, rng: np.random.Generator) -> AugOps:
    """Draw which operations apply to one frame and their values (the one distribution of augmentations)."""
    flip = bool(rng.random() < aug.get("flip_prob", 0.0))
    angle = blur = alpha = beta = quality = None
    if rng.random() < aug.get("rotate_prob", 0.0):
        angle = float(rng.uniform(*_limits(aug.get("rotate_limit", 10))))
    if rng.random() < aug.get("blur_prob", 0.0):
        lo, hi = _limits(aug.get("blur_limit", [3, 7]), symmetric=False)
        odd = [k for k in range(max(3, int(lo)), int(hi) + 1) if k % 2 == 1] or [3]
        blur = int(rng.choice(odd))
    if rng.random() < aug.get("brightness_prob", 0.0):
        beta = float(rng.uniform(*_limits(aug.get("brightness_limit", 0.1))) * 255.0)
        alpha = float(1.0 + rng.uniform(*_limits(aug.get("contrast_limit", 0.1))))
    if "quality_lower" in aug and rng.random() < aug.get("quality_prob", 0.5):
        quality = int(rng.integers(int(aug["quality_lower"]), int(aug.get("quality_upper", 100)) + 1))
    return AugOps(flip, angle, blur, alpha, beta, quality)


def rotation_matrix(angle: float, width: int, height: int) -> np.ndarray:
    """2×3 matrix rotating by `angle` degrees about the frame centre ((W−1)/2, (H−1)/2)."""
    return cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), angle, 1.0)


def apply_ops(ops: AugOps, image: np.ndarray, mask: np.ndarray | None, lm: np.ndarray | None):
    """Apply drawn `AugOps` to a uint8 RGB frame (and its mask/landmarks) with OpenCV."""
    h, w = image.shape[:2]
    if ops.flip:
        image = cv2.flip(image, 1)
        mask = None if mask is None else cv2.flip(mask, 1)
        if lm is not None:
            lm[:, 0] = (w - 1) - lm[:, 0]
    if ops.angle is not None:
        m = rotation_matrix(ops.angle, w, h)
        border = cv2.BORDER_REFLECT_101
        image = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
        if mask is not None:
            mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
        if lm is not None:
            lm = lm @ m[:, :2].T.astype(np.float32) + m[:, 2].astype(np.float32)
    if ops.blur is not None:
        image = cv2.GaussianBlur(image, (ops.blur, ops.blur), 0)
    if ops.alpha is not None:
        # a 256-entry table of the same float32 formula: identical values, one pass over the frame
        lut = np.clip(np.arange(256, dtype=np.float32) * ops.alpha + ops.beta, 0, 255).astype(np.uint8)
        image = cv2.LUT(image, lut)
    if ops.quality is not None:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # the encoder's luma weights assume BGR
        _, enc = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, ops.quality])
        image = decode_rgb(enc)
    return image, mask, lm


class FrameTransform:
    """Callable `(image, mask, landmark, rng) -> dict` producing the tensors of one dataset item:
    `image` uint8 3×S×S RGB, `mask` uint8 1×S×S (0–255), `landmark` float32 K×2 (output pixels), and
    with `on_device` the drawn, not yet applied, operations as `aug_ops` (float32 6, see `AugOps`)."""

    def __init__(self, size: int, aug: dict | None = None, on_device: bool = False) -> None:
        self.size = int(size)
        self.aug = dict(aug) if aug else None
        self.on_device = bool(on_device) and self.aug is not None

    def __repr__(self) -> str:
        where = ", on the device" if self.on_device else ""
        return f"FrameTransform(size={self.size}, augment={self.aug is not None}{where})"

    def __call__(
        self,
        image: np.ndarray,
        mask: np.ndarray | None = None,
        landmark: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        lm = None if landmark is None else np.asarray(landmark, dtype=np.float32).copy()
        image, mask, lm = self.resize(image, mask, lm)
        out = {}
        if self.aug is not None:
            ops = sample_ops(self.aug, rng if rng is not None else np.random.default_rng())
            if self.on_device:
                out["aug_ops"] = ops.to_tensor()
            else:
                image, mask, lm = apply_ops(ops, image, mask, lm)
        out["image"] = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if mask is not None:
            out["mask"] = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8)[None])
        if lm is not None:
            out["landmark"] = torch.from_numpy(lm)
        return out

    def resize(self, image: np.ndarray, mask: np.ndarray | None, lm: np.ndarray | None):
        """The frame (and mask, landmarks) at the network size: what augmentation starts from and what
        `frame_cache` stores. A frame already at the size is returned as it is."""
        h, w = image.shape[:2]
        s = self.size
        if mask is not None and mask.shape[:2] != (s, s):
            mask = cv2.resize(mask, (s, s), interpolation=cv2.INTER_LINEAR)
        if (h, w) != (s, s):
            # bicubic (as DeepfakeBench and CLIP's preprocessing); area averaging only when shrinking
            # by more than 2×, where bicubic would alias — INTER_AREA costs 3× more at 256 → 224
            interp = cv2.INTER_AREA if 2 * s < min(h, w) else cv2.INTER_CUBIC
            image = cv2.resize(image, (s, s), interpolation=interp)
            if lm is not None:
                lm = scale_landmarks(lm, (h, w), s)
        return image, mask, lm


def scale_landmarks(lm: np.ndarray, hw: tuple[int, int], size: int) -> np.ndarray:
    """Landmarks of an h×w frame → the size×size frame, in place (pixel centres: x → (x+0.5)·S/W − 0.5)."""
    h, w = hw
    if (h, w) != (size, size):
        lm[:, 0] = (lm[:, 0] + 0.5) * (size / w) - 0.5
        lm[:, 1] = (lm[:, 1] + 0.5) * (size / h) - 0.5
    return lm
