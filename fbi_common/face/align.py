"""5-point similarity alignment of a face to the standard template, with a configurable margin."""

from __future__ import annotations

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

# The widely used 5-point template (eye centres, nose tip, mouth corners) on a 112x112 face crop,
# in image order: the left-most eye in the picture first.
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners from 68- or 81-point dlib landmarks (the first 68 agree)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape[0] < 68:
        raise ValueError(f"expected 68 or 81 landmarks, got {lm.shape[0]}")
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])


# The recognition template centres eyes-to-chin; moving it up by 8% of the crop centres the whole face
# (forehead to chin), which is what a detector crop should show. Measured on dlib landmarks of
# skimage's astronaut: forehead-top-to-chin midpoint lands within ~5 px of the centre of a 256 crop.
TEMPLATE_SHIFT_Y = -0.08


def template(size: int, scale: float) -> np.ndarray:
    """The template for a `size` crop; `scale` > 1 shrinks it about the centre to leave a margin."""
    t = TEMPLATE_112 / 112.0 + np.array([0.0, TEMPLATE_SHIFT_Y])
    return ((t - 0.5) / scale + 0.5) * size


def similarity_matrix(src5: np.ndarray, size: int, scale: float) -> np.ndarray:
    """2x3 least-squares similarity (rotation, uniform scale, translation) mapping src5 onto the template."""
    tform = SimilarityTransform.from_estimate(np.asarray(src5, np.float64), template(size, scale))
    if not tform:
        raise ValueError("degenerate landmarks: no similarity transform fits them")
    return tform.params[:2].astype(np.float64)


def warp_image(img: np.ndarray, m: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    """Warp a frame (or mask) into the aligned crop; outside the frame stays black."""
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(img, m, (size, size), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply the same 2x3 transform to (K, 2) points."""
    pts = np.asarray(points, np.float64)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def eye_angle_deg(landmarks: np.ndarray) -> float:
    """Angle of the line between the eye centres (0 = level); used by checks and tests."""
    p = five_points(landmarks)
    dx, dy = p[1] - p[0]
    return float(np.degrees(np.arctan2(dy, dx)))
