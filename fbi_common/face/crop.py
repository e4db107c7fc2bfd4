"""The one face path of preprocessing and demo: detect → choose → landmarks → align → crop."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from fbi_common.face.align import five_points, similarity_matrix, warp_image, warp_points
from fbi_common.face.detect import Face, FaceEngine
from fbi_common.face.policy import choose_faces


class StageTimer:
    """Seconds per stage (decode / detect / landmarks / align / write) for the ledger and the benchmark."""

    def __init__(self) -> None:
        self.t: Counter = Counter()

    def add(self, stage: str, t0: float) -> float:
        """Add the time since `t0` to `stage`; returns now (the next stage's t0)."""
        now = time.perf_counter()
        self.t[stage] += now - t0
        return now


@dataclass
class AlignedFace:
    """A chosen face: where it is in the frame and its aligned crop."""

    box: tuple[int, int, int, int]  # left, top, right, bottom in the frame
    landmarks: np.ndarray  # (K, 2) float32, frame pixels
    matrix: np.ndarray  # 2x3 frame -> crop similarity (warp masks with it)
    crop: np.ndarray  # size x size x 3 uint8, the frame's channel order (BGR from OpenCV)
    crop_landmarks: np.ndarray  # (K, 2) float32, crop pixels


class FacePipeline:
    """A FaceEngine plus the crop settings; `frame()` turns one frame into its aligned face crops."""

    def __init__(self, engine: FaceEngine, size: int = 256, scale: float = 1.3, policy: str = "largest"):
        self.engine, self.size, self.scale, self.policy = engine, int(size), float(scale), policy

    def choose(self, grey: np.ndarray, faces: list[Face], mask: np.ndarray | None) -> tuple[list[Face], str]:
        """Apply the face policy. `mask` policy: when no detected face overlaps a non-empty mask, the
        manipulated face may be smaller than the upsampling level that found the others — look harder."""
        chosen, applied = choose_faces(faces, self.policy, mask)
        if self.policy == "mask" and applied != "mask" and mask is not None and (mask > 127).any():
            for level in self.engine.upsample[1:] or (self.engine.upsample[0] + 1,):
                picked, how = choose_faces(self.engine.detect(grey, (level,)), "mask", mask)
                if how == "mask":
                    return picked, how
        return chosen, applied

    def warp(self, frame: np.ndarray, face: Face) -> AlignedFace:
        """5-point similarity from the face's landmarks to the template, and the crop."""
        m = similarity_matrix(five_points(face.landmarks), self.size, self.scale)
        crop = warp_image(frame, m, self.size)
        return AlignedFace(face.box, face.landmarks, m, crop, warp_points(face.landmarks, m))

    def frame(
        self, frame: np.ndarray, mask: np.ndarray | None = None, timer: StageTimer | None = None
    ) -> tuple[list[AlignedFace], str | None]:
        """The chosen faces of one colour frame, aligned and cropped, and the policy applied (None: no face)."""
        timer = timer or StageTimer()
        t = time.perf_counter()
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        faces = self.engine.detect(grey)
        if not faces:
            timer.add("detect", t)
            return [], None
        chosen, applied = self.choose(grey, faces, mask)
        t = timer.add("detect", t)
        out = []
        for face in chosen:
            self.engine.add_landmarks(grey, face)
            t = timer.add("landmarks", t)
            out.append(self.warp(frame, face))
            t = timer.add("align", t)
        return out, applied
