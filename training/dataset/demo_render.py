"""The demo datasets' renderer: LFW faces as short moving videos, and FBI-Demo's SBI-style self-blended fakes.

``render_video`` is FBI-Demo's recipe (its decisions are below); ``render_frames`` is the
frame loop every demo recipe shares (FBI-Demo-X's ``demo_x.py`` passes its own source and finish, FBI-Demo-ID's
``demo_id.py`` runs ``render_video`` on another photo). Writing the videos to disk is ``demo_data.py``'s job.

Decisions worth knowing:
- The crops are grey. Every video gets a skin-like colour tint (per identity) and a white-balance jitter
  (per video), for reals and fakes alike, so colour itself says nothing about the label; only the
  *inconsistency* between the blended face and its surroundings does.
- Fakes: the target frame is blended with a transformed copy of itself (per-channel gain/offset, small
  affine warp, optional blur) inside a feathered ellipse. A single global gain is close to invisible to a
  small ViT; the per-channel colour mismatch is what makes the cue learnable (docs/DESIGN.md §8). With these
  settings a random-init ViT (width 192, 6 layers, patch 8, AdamW 1e-3, batch 64, 15-step warm-up, grad
  clip 1) reaches held-out video AUC ~0.9 after ~60-75 steps and ~0.97 after 150; without the warm-up it
  stays near chance for 150 steps. Global colour statistics alone give chance (frame AUC 0.5).
- Masks are the blending weights actually used (uint8 0-255); real frames get an all-zero mask so a
  loader with ``with_mask`` finds a file for every frame.
- Landmarks are synthetic approximations: five points (left eye, right eye, nose tip, left and right mouth
  corner) measured once on the mean LFW-subset face and moved with each frame's motion. They are not
  detections on the individual face.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

NUM_FACES = 100
# Five landmarks on the 25x25 LFW-subset crop (x, y), measured on the mean face.
LANDMARKS_25 = np.array([(6.2, 8.0), (14.8, 8.0), (10.5, 13.0), (7.5, 17.5), (13.5, 17.5)], np.float32)
FACE_CENTRE_25 = (10.5, 12.5)

Rendered = tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]


def load_faces(size: int) -> np.ndarray:
    """The 100 LFW-subset faces, bicubically upscaled to ``size`` px: float32 (100, size, size) in [0, 1]."""
    from skimage.data import lfw_subset  # imported lazily: only the demo needs scikit-image's data

    faces = lfw_subset()[:NUM_FACES].astype(np.float32)
    up = [cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in faces]
    return np.clip(np.stack(up), 0.0, 1.0)


def skin_tint(rng: np.random.Generator) -> np.ndarray:
    """A skin-like RGB tint for a grey face (red strongest, blue weakest), varied per identity."""
    return np.array([1.0, rng.uniform(0.78, 0.9), rng.uniform(0.62, 0.8)], np.float32)


def _affine(centre: tuple[float, float], angle: float, scale: float, tx: float, ty: float) -> np.ndarray:
    m = cv2.getRotationMatrix2D(centre, angle, scale)
    m[:, 2] += (tx, ty)
    return m


def _video_motion(rng: np.random.Generator, n: int, size: int) -> list[np.ndarray]:
    """Smooth per-frame affines (drifting 1-2 px shift, small rotation/zoom), like a slowly moving head."""
    px = size / 64.0
    c = (size / 2.0 - 0.5, size / 2.0 - 0.5)
    start = rng.uniform([-1, -1, -2, -0.02], [1, 1, 2, 0.02]) * [px, px, 1, 1]
    drift = rng.uniform([-1.5, -1.5, -2, -0.02], [1.5, 1.5, 2, 0.02]) * [px, px, 1, 1]
    out = []
    for t in np.linspace(0.0, 1.0, n) if n > 1 else [0.0]:
        tx, ty, ang, sc = start + t * drift + rng.normal(0, [0.15 * px, 0.15 * px, 0.2, 0.002])
        out.append(_affine(c, float(ang), 1.0 + float(sc), float(tx), float(ty)))
    return out


def render_frames(
    base: np.ndarray,
    video_rng: np.random.Generator,
    n_frames: int,
    blend: dict | None,
    source: Callable[[np.ndarray, np.ndarray], np.ndarray],
    finish: Callable[[np.ndarray], np.ndarray] = lambda img: img,
) -> Rendered:
    """The frame loop of every demo recipe: move the tinted face, blend a source inside the mask, finish the frame.

    ``blend`` (None for a real video) holds the ``mask`` (float (S, S) in [0, 1]) and its ``alpha``;
    ``source(img, weight)`` is the recipe's transformed copy of the frame, mixed in with the moved mask's
    ``weight``; ``finish`` runs on the whole frame after the brightness flicker (FBI-Demo-X: a JPEG pass).
    Returns RGB uint8 frames, uint8 blending masks (zeros for reals) and float32 (5, 2) landmarks.
    """
    size = base.shape[0]
    lm_canon = (LANDMARKS_25 + 0.5) * (size / 25.0) - 0.5
    frames, masks, lms = [], [], []
    for m in _video_motion(video_rng, n_frames, size):
        img = cv2.warpAffine(base, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        weight = np.zeros((size, size), np.float32)
        if blend is not None:
            weight = cv2.warpAffine(blend["mask"], m, (size, size)) * blend["alpha"]
            img = weight[..., None] * source(img, weight) + (1.0 - weight[..., None]) * img
        img = finish(img * video_rng.uniform(0.97, 1.03))  # brightness flicker, same for both classes
        frames.append(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
        masks.append(np.round(weight * 255).astype(np.uint8))
        lms.append((lm_canon @ m[:, :2].T + m[:, 2]).astype(np.float32))
    return frames, masks, lms


def _face_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A soft ellipse over the inner face with random size, tilt and feathering: float32 (S, S) in [0, 1]."""
    k = size / 25.0
    cx, cy = ((np.array(FACE_CENTRE_25) + 0.5) * k - 0.5) + rng.normal(0, 0.015 * size, 2)
    ax, ay = rng.uniform(0.22, 0.28) * size, rng.uniform(0.29, 0.36) * size
    hard = np.zeros((size, size), np.float32)
    cv2.ellipse(hard, (round(cx), round(cy)), (round(ax), round(ay)), rng.uniform(-8, 8), 0, 360, 1.0, -1)
    sigma = rng.uniform(0.02, 0.05) * size  # random feathering width
    return cv2.GaussianBlur(hard, (0, 0), sigma)


def _source(target: np.ndarray, p: dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """The self-blend source: the target with a colour mismatch, a small warp and an optional blur.

    The colour gain flickers a little from frame to frame, like the temporal inconsistency of real face swaps.
    """
    c = (size / 2.0 - 0.5, size / 2.0 - 0.5)
    src = cv2.warpAffine(target, _affine(c, *p["warp"]), (size, size), borderMode=cv2.BORDER_REFLECT101)
    if p["blur"] > 0:
        src = cv2.GaussianBlur(src, (0, 0), p["blur"])
    return src * (p["gain"] * rng.normal(1.0, 0.02, 3).astype(np.float32)) + p["offset"]


def _blend_params(rng: np.random.Generator, size: int) -> dict:
    px = size / 64.0
    return {
        "mask": _face_mask(rng, size),
        "alpha": rng.uniform(0.7, 1.0),  # blend strength, as in SBI
        "gain": rng.uniform(0.82, 1.18, 3).astype(np.float32),  # per channel: the crucial cue
        "offset": rng.uniform(-0.08, 0.08, 3).astype(np.float32),  # about SBI's RGB shift of 20/255
        "warp": (rng.uniform(-2, 2), rng.uniform(0.97, 1.03), *rng.uniform(-1, 1, 2) * px),
        "blur": rng.uniform(0.4, 1.0) * px if rng.random() < 0.5 else 0.0,
    }


def render_video(
    face: np.ndarray, tint: np.ndarray, fake: bool, rng: np.random.Generator, n_frames: int
) -> Rendered:
    """One FBI-Demo video of a face: RGB uint8 frames, uint8 blending masks (zeros for reals), float32 (5, 2) landmarks."""
    size = face.shape[0]
    # Separate streams: with the same ``rng`` a real and a fake video share colour and motion exactly,
    # so they differ only inside the blending mask.
    video_rng, blend_rng = rng.spawn(2)
    base = face[..., None] * (tint * video_rng.uniform(0.95, 1.05, 3)).astype(np.float32)  # white balance
    blend = _blend_params(blend_rng, size) if fake else None
    return render_frames(
        base, video_rng, n_frames, blend, lambda img, _w: _source(img, blend, size, blend_rng)
    )
