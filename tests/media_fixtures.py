"""Test media built from real face photos: a group photo collage and a two-person clip whose people swap size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data

# The astronaut's face in skimage's 512x512 photo (dlib HOG box (179,83)-(266,170)), with margin.
_ASTRO_FACE = (150, 50, 300, 210)  # left, top, right, bottom


def astronaut_face(side: int) -> np.ndarray:
    """The astronaut's head and shoulders (BGR), `side` px wide."""
    left, top, right, bottom = _ASTRO_FACE
    crop = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[top:bottom, left:right]
    return cv2.resize(
        crop, (side, round(side * (bottom - top) / (right - left))), interpolation=cv2.INTER_AREA
    )


def lfw_face(k: int, side: int) -> np.ndarray:
    """Real LFW face crop k (skimage's lfw_subset, 25x25 grey) upscaled to `side` px, as BGR."""
    grey = (data.lfw_subset()[k] * 255).astype(np.uint8)
    big = cv2.resize(grey, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)


# (which face, crop side in px, x, y): faces from ~45 px to ~100 px wide, as in a real group photo.
GROUP_LAYOUT = [("astro", 150, 40, 60), ("lfw3", 72, 260, 90), ("lfw11", 64, 380, 70), ("lfw20", 56, 490, 110),
                ("lfw31", 90, 600, 60), ("lfw42", 60, 740, 100), ("lfw57", 120, 300, 250), ("lfw66", 66, 520, 280)]  # fmt: skip


def group_photo(path: str | Path | None = None) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A 900x440 BGR group picture of 8 real faces on a photo background; returns it and the paste boxes."""
    bg = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (900, 440))
    img = cv2.addWeighted(bg, 0.35, np.full_like(bg, 90), 0.65, 0)  # keep the texture, mute the cup
    boxes = []
    for name, side, x, y in GROUP_LAYOUT:
        face = astronaut_face(side) if name == "astro" else lfw_face(int(name[3:]), side)
        h, w = face.shape[:2]
        img[y : y + h, x : x + w] = face
        boxes.append((x, y, x + w, y + h))
    if path is not None:
        cv2.imwrite(str(path), img)
    return img, boxes


def swap_clip(path: str | Path, n_frames: int = 8, size: tuple[int, int] = (640, 360)) -> Path:
    """Two people side by side (astronaut left, an LFW face right); halfway through they swap size, so the
    largest face changes person while each person stays in place (mp4v)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w, h))
    for t in range(n_frames):
        big_left = t < n_frames // 2
        frame = np.full((h, w, 3), 100, np.uint8)
        left = astronaut_face(200 if big_left else 120)
        right = lfw_face(3, 110 if big_left else 190)
        for img, cx in ((left, w // 4), (right, 3 * w // 4)):
            ih, iw = img.shape[:2]
            x, y = cx - iw // 2 + (t % 3), h // 2 - ih // 2
            frame[y : y + ih, x : x + iw] = img
        writer.write(frame)
    writer.release()
    return Path(path)


class StubMember:
    """Stands in for a Predictor where only the face path matters: fixed score, no model."""

    def __init__(self, face_settings: dict | None = None, threshold: float = 0.5, prob: float = 0.25):
        self.path, self.model_name, self.threshold = Path("stub.pth"), "stub", threshold
        self.face_settings, self.prob = face_settings, prob
        self.crops: list = []

    def score_crops(self, crops: list) -> list[float]:
        self.crops += crops
        return [self.prob] * len(crops)

    def describe(self) -> dict:
        return {"path": str(self.path), "model_name": self.model_name, "threshold": self.threshold}


def tiny_checkpoint(path: Path, face: dict | None = None, threshold: float = 0.5) -> Path:
    """A random-init tiny ViT checkpoint as train.py writes it (optionally with face-pipeline settings)."""
    from tests.conftest import TINY_VIT
    from training.config import load_config
    from training.trainer.build import build_detector
    from training.trainer.checkpoint import save_checkpoint

    cfg = load_config("training/config/detector/clip_demo.yaml", opts=[TINY_VIT])
    model = build_detector(cfg, {"num_identities": 1, "label_names": ["FBI-Demo_real", "FBI-Demo_fake"]})
    spec = model.input_spec
    pre = {"size": spec["size"], "mean": list(spec["mean"]), "std": list(spec["std"])}
    if face is not None:
        pre["face"] = face
    state = {"model": model.state_dict(), "config": cfg, "threshold": threshold, "identity_map": {}}
    save_checkpoint(path, state | {"preprocessing": pre})
    return path
