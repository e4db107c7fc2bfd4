"""Synthetic face videos built from `skimage.data.astronaut()` for tests, demos and benchmarks."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from skimage import data as skdata

# Centre of the astronaut's face in the 512x512 photo (from dlib's HOG box (179,83)-(266,170)).
_FACE_CENTRE = (222.0, 126.0)


def astronaut_frame(t: int, size: int = 320, shift: float = 3.0, angle: float = 1.5) -> np.ndarray:
    """Frame `t` (BGR) of a moving astronaut: the face drifts and rotates a little every frame."""
    img = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    dx = shift * math.sin(t * 0.7) * 3
    dy = shift * math.cos(t * 0.5) * 2
    rot = cv2.getRotationMatrix2D(_FACE_CENTRE, angle * math.sin(t * 0.9) * 3, 1.0)
    # Put the face centre at the frame centre, then move it by (dx, dy).
    rot[0, 2] += size / 2 - _FACE_CENTRE[0] + dx
    rot[1, 2] += size / 2 - _FACE_CENTRE[1] + dy
    return cv2.warpAffine(img, rot, (size, size), borderMode=cv2.BORDER_REFLECT)


def write_video(path: str | Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """Write BGR frames to an mp4v video (OpenCV's always-available codec)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV could not open a video writer for {path}")
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def face_video(path: str | Path, n_frames: int = 12, size: int = 320, colour_shift: bool = False) -> Path:
    """A moving-face video; `colour_shift` recolours the face region (a crude "fake")."""
    frames = []
    for t in range(n_frames):
        f = astronaut_frame(t, size)
        if colour_shift:
            c = size // 2
            roi = f[c - 50 : c + 50, c - 45 : c + 45].astype(np.int16)
            roi += np.array([25, -10, -20], dtype=np.int16)
            f[c - 50 : c + 50, c - 45 : c + 45] = np.clip(roi, 0, 255).astype(np.uint8)
        frames.append(f)
    return write_video(path, frames)


def noface_video(path: str | Path, n_frames: int = 8, size: int = 160) -> Path:
    """A video with no face in it (the coffee-cup photo, slowly panning)."""
    img = cv2.cvtColor(skdata.coffee(), cv2.COLOR_RGB2BGR)
    frames = [
        np.ascontiguousarray(img[10 + t : 10 + t + size, 100 + 2 * t : 100 + 2 * t + size])
        for t in range(n_frames)
    ]
    return write_video(path, frames)


def corrupt_video(path: str | Path, n_bytes: int = 4096, seed: int = 0) -> Path:
    """A file of random bytes with a video extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n_bytes, dtype=np.uint8).tobytes())
    return path


def empty_video(path: str | Path) -> Path:
    """A zero-byte file with a video extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def two_face_video(path: str | Path, mask_path: str | Path, n_frames: int = 6) -> tuple[Path, Path]:
    """A big face (left) and a smaller blue-tinted face (right), plus a mask video marking the right one.

    Mimics an FF++ video where the manipulated face is not the largest one.
    """
    frames, masks = [], []
    for t in range(n_frames):
        left = cv2.resize(astronaut_frame(t, 320), (384, 384), interpolation=cv2.INTER_LINEAR)
        right = np.zeros((384, 320, 3), np.uint8)
        right[32:352] = astronaut_frame(t + 3, 320)
        right[..., 0] = np.clip(right[..., 0].astype(np.int16) + 60, 0, 255).astype(np.uint8)
        frames.append(np.hstack([left, right]))
        m = np.zeros((384, 704, 3), np.uint8)
        m[192 - 60 : 192 + 60, 384 + 160 - 55 : 384 + 160 + 55] = 255
        masks.append(m)
    return write_video(path, frames), write_video(mask_path, masks)
