"""Per-frame transform: training augmentation and resize, moving image, mask and landmarks together.

OpenCV/NumPy on uint8 arrays (fast inside DataLoader workers). Order: horizontal flip and rotation
(geometric, at the source resolution, applied to image, mask and landmarks), Gaussian blur, resize
to `size`, brightness/contrast, JPEG re-encoding. The result stays uint8 RGB: images are never
mean/std-normalised here — each detector normalises its input itself (`BaseDetector.normalize`), so
4× fewer bytes cross the worker boundary and the normalisation runs batched on the device.
Landmarks use pixel-centre coordinates, matching OpenCV: a flip maps x → W−1−x, a resize maps
x → (x+0.5)·S/W − 0.5. A flip mirrors landmark coordinates but does not reorder points (left-eye
points end up on the right), as in DeepfakeBench.

`data_aug` keys: flip_prob, rotate_prob, rotate_limit, blur_prob, blur_limit, brightness_prob,
brightness_limit, contrast_limit (applied with brightness_prob), quality_lower, quality_upper
(JPEG with probability `quality_prob`, default 0.5 as in DeepfakeBench).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch


def _limits(value: float | Sequence[float], symmetric: bool = True) -> tuple[float, float]:
    """`10` → (-10, 10); `[a, b]` → (a, b)."""
    if isinstance(value, int | float):
        return (-float(value), float(value)) if symmetric else (float(value), float(value))
    lo, hi = value
    return float(lo), float(hi)


class FrameTransform:
    """Callable `(image, mask, landmark, rng) -> dict` producing the tensors of one dataset item:
    `image` uint8 3×S×S RGB, `mask` uint8 1×S×S (0–255), `landmark` float32 K×2 (output pixels)."""

    def __init__(self, size: int, aug: dict | None = None) -> None:
        self.size = int(size)
        self.aug = dict(aug) if aug else None

    def __repr__(self) -> str:
        return f"FrameTransform(size={self.size}, augment={self.aug is not None})"

    def __call__(
        self,
        image: np.ndarray,
        mask: np.ndarray | None = None,
        landmark: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        if mask is not None and mask.shape[:2] != image.shape[:2]:
            # Masks are sometimes stored at another size; align before any geometric step.
            mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        lm = None if landmark is None else np.asarray(landmark, dtype=np.float32).copy()
        if self.aug is not None:
            rng = rng if rng is not None else np.random.default_rng()
            image, mask, lm = self._geometric(image, mask, lm, rng)
            image = self._blur(image, rng)
        image, mask, lm = self._resize(image, mask, lm)
        if self.aug is not None:
            image = self._photometric(image, rng)
        out = {"image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))}
        if mask is not None:
            out["mask"] = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8)[None])
        if lm is not None:
            out["landmark"] = torch.from_numpy(lm)
        return out

    def _geometric(self, image, mask, lm, rng):
        a = self.aug
        h, w = image.shape[:2]
        if rng.random() < a.get("flip_prob", 0.0):
            image = cv2.flip(image, 1)
            mask = None if mask is None else cv2.flip(mask, 1)
            if lm is not None:
                lm[:, 0] = (w - 1) - lm[:, 0]
        if rng.random() < a.get("rotate_prob", 0.0):
            angle = rng.uniform(*_limits(a.get("rotate_limit", 10)))
            m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
            border = cv2.BORDER_REFLECT_101
            image = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
            if mask is not None:
                mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
            if lm is not None:
                lm = lm @ m[:, :2].T.astype(np.float32) + m[:, 2].astype(np.float32)
        return image, mask, lm

    def _blur(self, image, rng):
        if rng.random() < self.aug.get("blur_prob", 0.0):
            lo, hi = _limits(self.aug.get("blur_limit", [3, 7]), symmetric=False)
            odd = [k for k in range(max(3, int(lo)), int(hi) + 1) if k % 2 == 1] or [3]
            k = int(rng.choice(odd))
            image = cv2.GaussianBlur(image, (k, k), 0)
        return image

    def _resize(self, image, mask, lm):
        h, w = image.shape[:2]
        s = self.size
        if (h, w) != (s, s):
            interp = cv2.INTER_AREA if s < min(h, w) else cv2.INTER_CUBIC
            image = cv2.resize(image, (s, s), interpolation=interp)
            if mask is not None:
                mask = cv2.resize(mask, (s, s), interpolation=cv2.INTER_LINEAR)
            if lm is not None:
                lm[:, 0] = (lm[:, 0] + 0.5) * (s / w) - 0.5
                lm[:, 1] = (lm[:, 1] + 0.5) * (s / h) - 0.5
        return image, mask, lm

    def _photometric(self, image, rng):
        a = self.aug
        if rng.random() < a.get("brightness_prob", 0.0):
            beta = rng.uniform(*_limits(a.get("brightness_limit", 0.1))) * 255.0
            alpha = 1.0 + rng.uniform(*_limits(a.get("contrast_limit", 0.1)))
            image = np.clip(image.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)
        if "quality_lower" in a and rng.random() < a.get("quality_prob", 0.5):
            q = int(rng.integers(int(a["quality_lower"]), int(a.get("quality_upper", 100)) + 1))
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # the encoder's luma weights assume BGR
            _, enc = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, q])
            image = cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return image
