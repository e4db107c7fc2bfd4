"""Which detected faces of a frame are kept: the per-frame face policies (largest, mask, all)."""

from __future__ import annotations

import numpy as np

from fbi_common.face.detect import Face


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
