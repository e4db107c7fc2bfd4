"""FBI-Demo-ID, the identity-rich demo set: every video of an identity starts from a different "photo" of it.

The LFW subset that ships with scikit-image has one 25×25 photo per identity and no names, so in FBI-Demo
all videos of an identity are the same photo with a 1-2 px drift: an identity probe there can match a
held-out video to a training video by memorising the *image*. FBI-Demo-ID makes "same image" differ from
"same identity" the only way this data allows: before the FBI-Demo recipe runs (motion, tint, white
balance, SBI-style blend for fakes — ``demo_render.render_video``, unchanged), each video's photo is a strong,
identity-preserving re-rendering of the face, drawn independently per video:

| change | range |
|---|---|
| mirror | p = 0.5 (faces are nearly symmetric; a mirrored photo is another view) |
| head pose | rotation ±10°, scale 0.9-1.1, shift ±2.5 px at 64 px |
| expression / pose, non-rigid | a smooth random displacement field (5×5 control grid, ~2 px at 64 px) |
| lighting | a directional light gradient (±15-35 %), gamma 0.75-1.35, contrast 0.85-1.15 |
| skin tint | the identity's tint × a per-photo jitter of ±6 % per channel |

What it can show: whether features recognise a person across differently posed and lit images of them —
the probe's folds are grouped by video, so here they are also grouped by photo. What it cannot show: real
between-photo variation (age, hairstyle, expression, make-up, camera) and real between-person similarity;
every "photo" is still one LFW image underneath, so identity and image are less tied than in FBI-Demo but
not independent. Same identity split as FBI-Demo (its test identities are unseen by any demo model), its
own random streams; FBI-Demo's bytes do not change.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.dataset.demo_render import Rendered, render_video


def _elastic(rng: np.random.Generator, size: int, amplitude: float) -> tuple[np.ndarray, np.ndarray]:
    """A smooth displacement field (cubic-upsampled 5×5 control grid) as cv2.remap maps: float32 (S, S) ×2."""
    grid = rng.normal(0.0, amplitude, (2, 5, 5)).astype(np.float32)
    dx, dy = (cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC) for g in grid)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return xs + dx, ys + dy


def photo_variant(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another "photo" of the same person: mirrored, re-posed, non-rigidly warped, re-lit. float32 (S, S) in [0, 1]."""
    size = face.shape[0]
    px = size / 64.0
    img = face[:, ::-1].copy() if rng.random() < 0.5 else face.copy()
    c = (size / 2.0 - 0.5, size / 2.0 - 0.5)
    m = cv2.getRotationMatrix2D(c, rng.uniform(-10, 10), rng.uniform(0.9, 1.1))
    m[:, 2] += rng.uniform(-2.5, 2.5, 2) * px
    img = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    mx, my = _elastic(rng, size, 2.0 * px)
    img = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    theta = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) - 0.5
    light = 1.0 + rng.uniform(0.15, 0.35) * (np.cos(theta) * xs + np.sin(theta) * ys) * 2
    img = np.clip(img * light, 0.0, 1.0) ** rng.uniform(0.75, 1.35)
    mean = float(img.mean())
    img = (img - mean) * rng.uniform(0.85, 1.15) + mean
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def render_video_id(
    face: np.ndarray, tint: np.ndarray, fake: bool, rng: np.random.Generator, n_frames: int
) -> Rendered:
    """One FBI-Demo-ID video: a fresh photo of the identity, then FBI-Demo's video recipe on it."""
    photo_rng, video_rng = rng.spawn(2)
    photo = photo_variant(face, photo_rng)
    tint = (tint * photo_rng.uniform(0.94, 1.06, 3)).astype(np.float32)
    return render_video(photo, tint, fake, video_rng, n_frames)
