"""FBI-Demo-X, the cross-domain demo test set: the same LFW faces as FBI-Demo, fakes made by another recipe.

FBI-Demo (``demo_data.py``) and FBI-Demo-X share the identities and their train/val/test split, so a
model trained on FBI-Demo has never seen FBI-Demo-X's test identities either. Everything else differs,
the way one manipulation method differs from another in FF++ → Celeb-DF transfer:

| step | FBI-Demo | FBI-Demo-X |
|---|---|---|
| blending mask | feathered ellipse (Gaussian feather) | convex hull of the eye/nose/mouth/chin/brow points, eroded and feathered by a distance ramp |
| colour mismatch | per-channel RGB gain and offset | Reinhard colour transfer in CIELAB (mean/std of L, a, b moved towards another "donor" face) |
| warp of the source | small affine (rotation, scale ±3 %, shift) | smooth non-rigid displacement field plus an up-scaling of 2-6 % (face-size mismatch) |
| source filter | Gaussian blur with p = 0.5 | unsharp-mask sharpening with p = 0.5, then a JPEG pass of the source (quality 50-80): double compression inside the face |
| whole frame | lossless | every frame, real and fake, JPEG-encoded at quality 80-95 (then stored as PNG) |
| lighting | tint + white balance | tint + white balance + a soft directional light gradient, for both classes |

The colour cue is as strong as FBI-Demo's, but its statistics, the mask's outline and the high-frequency
traces are different, so a detector that learned FBI-Demo's cues transfers only partly. Reals and fakes of
one video share colour, light, motion and the frame JPEG, so none of those says anything about the label.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.dataset.demo_render import FACE_CENTRE_25, LANDMARKS_25, Rendered, render_frames

# Hull points on the 25x25 LFW-subset crop (x, y): outer brows, cheeks, chin; with LANDMARKS_25.
_HULL_25 = np.array(
    [(4.0, 6.0), (17.0, 6.0), (3.5, 13.0), (17.5, 13.0), (6.0, 20.5), (15.0, 20.5), (10.5, 22.5)]
)


def _hull_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Landmark-hull mask (FF++-style) with a random inflation and a distance-ramp feather: float32 [0, 1]."""
    k = size / 25.0
    centre = np.array(FACE_CENTRE_25)
    pts = np.concatenate([LANDMARKS_25, _HULL_25])
    pts = centre + (pts - centre) * rng.uniform(0.85, 1.05) + rng.normal(0, 0.3, pts.shape)
    pts = (pts + 0.5) * k - 0.5
    hard = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(hard, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
    ramp = rng.uniform(0.04, 0.09) * size  # feather width: distance from the hull edge to full weight
    dist = cv2.distanceTransform(hard, cv2.DIST_L2, 5)
    return np.clip(dist / ramp, 0.0, 1.0).astype(np.float32)


def _nonrigid_map(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps of a smooth random displacement (≈1-2 px at 64 px) plus a 2-6 % zoom about the face."""
    px = size / 64.0
    coarse = rng.normal(0, 1.0, (2, 4, 4)).astype(np.float32)
    field = [cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) * 1.2 * px for c in coarse]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = (np.array(FACE_CENTRE_25, np.float32) + 0.5) * (size / 25.0) - 0.5
    zoom = 1.0 + rng.uniform(0.02, 0.06)  # sampling towards the centre = the source face is larger
    map_x = cx + (xx - cx) / zoom + field[0]
    map_y = cy + (yy - cy) / zoom + field[1]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def _jpeg(img01: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip of a float RGB image in [0, 1] (OpenCV's encoder expects BGR)."""
    u8 = np.round(np.clip(img01, 0, 1) * 255).astype(np.uint8)
    ok, enc = cv2.imencode(
        ".jpg", cv2.cvtColor(u8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode a demo frame")
    return cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB), 0.0, 1.0)


def _blend_params_x(rng: np.random.Generator, size: int) -> dict:
    return {
        "mask": _hull_mask(rng, size),
        "alpha": rng.uniform(0.7, 1.0),
        # donor statistics: L shift (brightness), a/b shifts (chroma), per-channel contrast scale
        "shift": np.array([rng.uniform(-6, 6), rng.uniform(-7, 7), rng.uniform(-7, 7)], np.float32),
        "std_scale": rng.uniform(0.8, 1.2, 3).astype(np.float32),
        "remap": _nonrigid_map(rng, size),
        "sharpen": rng.uniform(0.5, 1.2) if rng.random() < 0.5 else 0.0,
        "src_quality": int(rng.integers(50, 81)),
    }


def _source_x(target: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Warped, optionally sharpened, colour-transferred (Reinhard, CIELAB, masked statistics), JPEG'd source."""
    src = cv2.remap(target, *p["remap"], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    if p["sharpen"] > 0:
        src = src + p["sharpen"] * (src - cv2.GaussianBlur(src, (0, 0), 1.0))
    jitter = rng.normal(0, [0.5, 0.6, 0.6]).astype(np.float32)  # frame-to-frame flicker of the transfer
    lab = cv2.cvtColor(np.clip(src, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    w = p["mask"][..., None] / max(float(p["mask"].sum()), 1e-6)
    mu = (lab * w).sum((0, 1))
    lab = (lab - mu) * p["std_scale"] + mu + p["shift"] + jitter
    return _jpeg(_lab_to_rgb(lab), p["src_quality"])


def _light(rng: np.random.Generator, size: int) -> np.ndarray:
    """A soft directional light: a linear ramp of ±6-12 % across the frame at a random angle."""
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)) - 0.5
    return (1.0 + rng.uniform(0.12, 0.24) * (np.cos(ang) * xx + np.sin(ang) * yy))[..., None]


def render_video_x(
    face: np.ndarray, tint: np.ndarray, fake: bool, rng: np.random.Generator, n_frames: int
) -> Rendered:
    """One FBI-Demo-X video: RGB uint8 frames, uint8 blending masks (zeros for reals), float32 (5, 2) landmarks."""
    size = face.shape[0]
    video_rng, blend_rng = rng.spawn(2)  # as in FBI-Demo: a real and a fake share colour, light and motion
    base = face[..., None] * (tint * video_rng.uniform(0.95, 1.05, 3)).astype(np.float32)
    base = base * _light(video_rng, size)
    quality = int(video_rng.integers(80, 96))
    blend = _blend_params_x(blend_rng, size) if fake else None

    def source(img: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return _source_x(img, {**blend, "mask": weight}, blend_rng)  # colour statistics under the moved mask

    return render_frames(base, video_rng, n_frames, blend, source, finish=lambda img: _jpeg(img, quality))
