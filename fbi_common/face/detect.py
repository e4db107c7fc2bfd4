"""dlib face detection (HOG or MMOD CNN, on a downscaled copy) and landmarks (81-point if present, else 68)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from fbi_common.face.models import MODEL_CNN, MODEL_REID, landmark_model_path, packaged_model


@dataclass
class Face:
    """One detected face in full-frame coordinates."""

    box: tuple[int, int, int, int]  # left, top, right, bottom
    landmarks: np.ndarray | None = None  # (K, 2) float32, full-frame pixels
    score: float = 0.0  # dlib's detection score (HOG) or confidence (CNN)

    @property
    def area(self) -> int:
        left, top, right, bottom = self.box
        return max(0, right - left) * max(0, bottom - top)


class FaceEngine:
    """Detector + landmark predictor, loaded once per process."""

    def __init__(
        self,
        detector: str = "hog",
        landmarks: str = "auto",
        max_side: int = 640,
        upsample=(0, 1),
        extra_passes: tuple[tuple[int, tuple[int, ...]], ...] = (),
        search_min_score: float = 0.5,
    ):
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
        self._reid = None  # loaded on first use
        self.extra_passes = tuple((int(m), tuple(u)) for m, u in extra_passes)
        self.search_min_score = float(search_min_score)

    def detect(self, grey: np.ndarray, levels: tuple[int, ...] | None = None) -> list[Face]:
        """Faces in a greyscale frame; detection runs on a downscaled copy, boxes come back full-size.

        Upsampling levels are tried in order until one finds a face (`levels` overrides the configured ones).
        With `extra_passes` (inference), each further (max_side, levels) pass adds the faces the earlier
        passes missed: the first pass gives the boxes — hence the landmarks and crops — the training
        data got, the later ones find small faces.

        Inference also keeps only detections whose detector score is at least `search_min_score`:
        HOG fires with a score of about 0 on face-like patches (on skimage's astronaut: her mission
        patch and name badge), and a "video is fake if any face is" rule must not score those; real
        faces of ~40 px and more score about 1-2.6 (the group-photo test). When no first-pass face
        reaches the floor, the best one is kept, so a hard real face is not lost. Preprocessing (no
        extra passes) keeps dlib's own threshold (0) and chooses among the faces with its policy.
        """
        faces = self._detect_pass(grey, self.max_side, self.upsample if levels is None else levels)
        if levels is None and self.extra_passes:
            strong = [f for f in faces if f.score >= self.search_min_score]
            faces = strong or sorted(faces, key=lambda f: -f.score)[:1]
            for max_side, more in self.extra_passes:
                new = [f for f in self._detect_pass(grey, max_side, more) if f.score >= self.search_min_score]
                faces += [f for f in new if not any(_same_face(f, g) for g in faces)]
        return faces

    def _detect_pass(self, grey: np.ndarray, max_side: int, levels: tuple[int, ...]) -> list[Face]:
        h, w = grey.shape[:2]
        s = min(1.0, max_side / max(h, w)) if max_side > 0 else 1.0
        small = (
            cv2.resize(grey, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else grey
        )
        found: list[tuple[dlib.rectangle, float]] = []
        for up in levels:
            if self.detector_name == "cnn":
                found = [(r.rect, float(r.confidence)) for r in self._detector(small, int(up))]
            else:  # run(..., 0.0) returns what detector(small, up) returns, with the scores
                boxes, scores, _ = self._detector.run(small, int(up), 0.0)
                found = list(zip(boxes, scores, strict=True))
            if found:
                break
        return [
            Face(box=(int(r.left() / s), int(r.top() / s), int(r.right() / s), int(r.bottom() / s)), score=sc)
            for r, sc in found
        ]

    def add_landmarks(self, grey: np.ndarray, face: Face) -> Face:
        """Run the shape predictor on the full-resolution frame inside the face box."""
        shape = self._predictor(grey, dlib.rectangle(*face.box))
        face.landmarks = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        return face

    def descriptor(self, frame_rgb: np.ndarray, face: Face) -> np.ndarray:
        """dlib's 128-d face descriptor (ResNet of face_recognition_models) for re-identification; same
        person when two descriptors are closer than 0.6. Needs the face's landmarks (68 or 81 points)."""
        if self._reid is None:
            path = packaged_model(MODEL_REID, "reinstall face_recognition_models or turn track re-id off")
            self._reid = dlib.face_recognition_model_v1(str(path))
        pts = [dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks[:68]]
        shape = dlib.full_object_detection(dlib.rectangle(*face.box), pts)
        return np.asarray(self._reid.compute_face_descriptor(np.ascontiguousarray(frame_rgb), shape))


def _same_face(a: Face, b: Face) -> bool:
    """Two detections of one face: a's centre inside b's box or b's inside a's."""

    def inside(p: Face, q: Face) -> bool:
        cx, cy = (p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2
        return q.box[0] <= cx <= q.box[2] and q.box[1] <= cy <= q.box[3]

    return inside(a, b) or inside(b, a)
