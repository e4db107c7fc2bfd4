"""Self-Blended Images (SBI, Shiohara & Yamasaki, CVPR 2022): a fake made on the fly from one real
frame and its landmarks, so a detector can train on real videos only (`data_aug.sbi`).

Steps (paper §3): (1) source–target generator: the source is a copy of the frame with a colour
mismatch (per-channel RGB shift, brightness/contrast), a frequency change (down- and up-sampling)
and a small scale/translation (the authors' release: x ±3 %, y ±1.5 % of the crop, scale 0.95–1/0.95,
on a face crop — a shift of the same fraction on a frame where the face is small shows as a double
image); the target is the untouched frame; (2) mask generator: the convex
hull of the landmarks, randomly deformed (a smooth elastic displacement field), then blurred twice
with random Gaussian kernels and scaled by a blend ratio drawn from `blend_ratios`; (3) blending
I = M·source + (1 − M)·target.

Landmark sets: 81 points (dlib 81, includes the forehead: with probability ½ only the first 68
are used, as SBI varies the region), 68 points (jaw line to eyebrows), and sparse sets such as the
demo's 5 points (eyes, nose, mouth corners), whose hull covers only the inner face: it is enlarged
about its centroid by `sparse_hull_scale` — an approximation of the face region, not a face outline.

Choices: only the source is augmented (the paper augments source or target at random) so that a
blend changes the frame inside the hull only; the deformed mask is intersected with the hull and
eroded by the blur radius before blurring, so the soft blend also stays inside the hull. Blur
kernels are fractions of the image side so 64 px demo crops and 256 px crops behave alike.
Hand-written with OpenCV/NumPy (this runs in DataLoader workers on uint8 frames).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

SBI_DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "prob": 0.5,
    "real_only": True,
    "blend_ratios": [0.25, 0.5, 0.75, 1.0, 1.0, 1.0],
    "blur_kernel": [0.03, 0.1],
    "deform_alpha": 0.03,
    "rgb_shift": 20,
    "brightness_contrast": 0.1,
    "scale": [0.95, 1.0526],  # 1/0.95
    "shift": [0.03, 0.015],  # (x, y) fractions of the image side
    "sparse_hull_scale": 1.8,
}


def _xy(value: list[float]) -> tuple[float, float]:
    """`shift` as (x, y) fractions of the image side."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"data_aug.sbi.shift={value} must be [x, y] (fractions of the image side)")
    return float(value[0]), float(value[1])


def _odd(k: float) -> int:
    k = max(3, int(round(k)))
    return k if k % 2 else k + 1


def hull_mask(
    shape: tuple[int, int], landmark: np.ndarray, rng: np.random.Generator, sparse_scale: float
) -> np.ndarray:
    """H×W float32 0/1 mask of the landmarks' convex hull (81 → sometimes 68; sparse sets enlarged)."""
    pts = np.asarray(landmark, np.float32).reshape(-1, 2)
    if len(pts) == 81 and rng.random() < 0.5:
        pts = pts[:68]
    if len(pts) < 68:
        centre = pts.mean(0, keepdims=True)
        pts = centre + (pts - centre) * sparse_scale
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    mask = np.zeros(shape, np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    return mask


def _deform(mask: np.ndarray, alpha: float, rng: np.random.Generator) -> np.ndarray:
    h, w = mask.shape
    sigma = max(1.0, 0.08 * min(h, w))
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    scale = alpha * min(h, w) / max(1e-6, float(np.abs(np.stack([dx, dy])).max()))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(mask, xs + dx * scale, ys + dy * scale, cv2.INTER_LINEAR, borderValue=0.0)


def _source(image: np.ndarray, cfg: dict, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    src = image.astype(np.float32)
    src = src + rng.uniform(-cfg["rgb_shift"], cfg["rgb_shift"], 3).astype(np.float32)
    bc = cfg["brightness_contrast"]
    src = (src - 128.0) * (1.0 + rng.uniform(-bc, bc)) + 128.0 + rng.uniform(-bc, bc) * 255.0
    src = np.clip(src, 0, 255)
    if rng.random() < 0.5:  # frequency change: down- and up-sampling
        f = rng.uniform(0.5, 0.9)
        small = cv2.resize(src, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        src = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    s = rng.uniform(*cfg["scale"])
    sx, sy = _xy(cfg["shift"])
    t = rng.uniform(-1.0, 1.0, 2) * (sx * w, sy * h)
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, s)
    m[:, 2] += t
    return cv2.warpAffine(src, m, (w, h), borderMode=cv2.BORDER_REFLECT101)


class SelfBlend:
    """Callable `(image uint8 H×W×3, landmark K×2, rng) -> (blended uint8 H×W×3, mask uint8 H×W)`."""

    def __init__(self, cfg: dict | None = None) -> None:
        unknown = sorted(set(cfg or {}) - set(SBI_DEFAULTS))
        if unknown:
            raise ValueError(f"data_aug.sbi: unknown keys {unknown}; valid: {sorted(SBI_DEFAULTS)}")
        self.cfg = {**SBI_DEFAULTS, **(cfg or {})}
        if not 0.0 <= float(self.cfg["prob"]) <= 1.0:
            raise ValueError(f"data_aug.sbi.prob={self.cfg['prob']} must be in [0, 1]")
        self.prob = float(self.cfg["prob"])
        _xy(self.cfg["shift"])

    def mask(
        self, shape: tuple[int, int], landmark: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """(soft blend mask in [0, 1], the hard hull it stays inside)."""
        c = self.cfg
        hull = hull_mask(shape, landmark, rng, float(c["sparse_hull_scale"]))
        m = _deform(hull, float(c["deform_alpha"]), rng) * hull
        side = min(shape)
        k1, k2 = (_odd(rng.uniform(*c["blur_kernel"]) * side) for _ in range(2))
        r = k1 // 2 + k2 // 2 + 1
        m = cv2.erode((m > 0.5).astype(np.float32), np.ones((2 * r + 1, 2 * r + 1), np.uint8))
        m = cv2.GaussianBlur(cv2.GaussianBlur(m, (k1, k1), 0), (k2, k2), 0)
        return m * float(rng.choice(c["blend_ratios"])), hull

    def __call__(
        self, image: np.ndarray, landmark: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        m, _ = self.mask(image.shape[:2], landmark, rng)
        src = _source(image, self.cfg, rng)
        out = m[..., None] * src + (1.0 - m[..., None]) * image.astype(np.float32)
        return np.clip(np.round(out), 0, 255).astype(np.uint8), np.round(m * 255).astype(np.uint8)
