"""Video decoding with OpenCV for preprocessing and demo: only the selected frames are converted to images."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fbi_common.errors import FBIError
from fbi_common.frames import select_frames


class VideoError(FBIError, RuntimeError):
    """The video cannot be opened or yields no frames; the message names the file and the likely cause."""


MODES = ("fixed_num_frames", "fixed_stride")


def select_indices(count: int, mode: str, num_frames: int, stride: int) -> list[int]:
    """Preprocessing's `mode` setting mapped onto the one selection rule (`fbi_common.frames`)."""
    if mode == "fixed_num_frames":
        return select_frames(count, num_frames, spread="ends")
    return select_frames(count, num_frames, stride=stride)


@dataclass
class Decoded:
    """Frames decoded from one video, keyed by original frame index."""

    frames: dict[int, np.ndarray] = field(default_factory=dict)
    reported_count: int = 0
    real_count: int = 0


def open_video(path: str | Path) -> cv2.VideoCapture:
    """Open a video or raise VideoError naming the file and the likely cause."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: zero-byte file (an interrupted download or copy?); re-download it")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{path}: OpenCV/FFmpeg cannot open it (corrupt or unsupported container)")
    return cap


def _grab_walk(cap: cv2.VideoCapture, wanted: set[int], stop_after: int) -> tuple[dict[int, np.ndarray], int]:
    """Walk the stream from frame 0; retrieve (convert) only wanted frames. Returns frames and frames seen."""
    out: dict[int, np.ndarray] = {}
    i = 0
    while i <= stop_after:
        if not cap.grab():
            break
        if i in wanted:
            ok, frame = cap.retrieve()
            if ok:
                out[i] = frame
        i += 1
    return out, i


def _count_rest(cap: cv2.VideoCapture, start: int) -> int:
    n = start
    while cap.grab():
        n += 1
    return n


def decode_selected(
    path: str | Path, mode: str, num_frames: int, stride: int, method: str = "grab"
) -> Decoded:
    """Decode the frames chosen over the video's *real* frame count.

    The container's frame count is only a hint: when the stream ends early or runs past it, the indices
    are re-chosen over the true count and the missing frames are decoded in a second pass.
    """
    cap = open_video(path)
    try:
        reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        count = reported if reported > 0 else 10**9
        indices = select_indices(count, mode, num_frames, stride) if reported > 0 else []
        if method == "seek" and reported > 0:
            frames = read_frames(cap, indices, "seek")
            real = _verify_end_by_seek(cap, reported)
        else:
            frames, seen = _grab_walk(cap, set(indices), stop_after=max(count - 1, 0))
            # One extra grab tells whether the container under-reported its length.
            real = _count_rest(cap, seen) if seen >= count else seen
    finally:
        cap.release()
    if real == 0:
        raise VideoError(f"{path}: the container opens but no frame decodes (corrupt stream)")
    if real != reported:
        indices = select_indices(real, mode, num_frames, stride)
        missing = [i for i in indices if i not in frames]
        if missing:
            cap = open_video(path)
            try:
                frames.update(read_frames(cap, missing, "grab"))
            finally:
                cap.release()
        frames = {i: frames[i] for i in indices if i in frames}
    return Decoded(frames=frames, reported_count=reported, real_count=real)


def _verify_end_by_seek(cap: cv2.VideoCapture, reported: int) -> int:
    """With seeking we never walk to the end, so check the last reported frame exists and nothing follows."""
    cap.set(cv2.CAP_PROP_POS_FRAMES, reported - 1)
    if not cap.grab():
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        return _count_rest(cap, 0)
    return _count_rest(cap, reported)


def read_frames(cap: cv2.VideoCapture, indices: Iterable[int], method: str = "grab") -> dict[int, np.ndarray]:
    """Decode specific frame indices from an open capture (grab walk from the start, or one seek each)."""
    indices = sorted(set(indices))
    if not indices:
        return {}
    if method == "grab":
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        return _grab_walk(cap, set(indices), stop_after=indices[-1])[0]
    out = {}
    for i in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, frame = cap.read()
        if ok:
            out[i] = frame
    return out


def read_window(path: str | Path, start: int, stop: int) -> dict[int, np.ndarray]:
    """Frames start..stop-1 (one seek, then sequential reads): candidates to replace a face-less frame."""
    cap = open_video(path)
    out = {}
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, max(start, 0))
        for i in range(max(start, 0), stop):
            ok, frame = cap.read()
            if not ok:
                break
            out[i] = frame
    finally:
        cap.release()
    return out
