"""Finding and reading the media people bring: images, videos, folders of them, and in-memory arrays."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fbi_common.errors import FBIError
from fbi_common.media import IMAGE_EXTS, VIDEO_EXTS, is_image, is_video
from fbi_common.video import VideoError, decode_selected


class MediaError(FBIError):
    """One input cannot be read; reported for that file while the others go on."""


def list_media(inp: str | Path) -> list[Path]:
    """The images/videos at `inp` (a file, or a folder searched recursively), sorted."""
    p = Path(inp)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and (is_image(f) or is_video(f)))
        if not files:
            raise MediaError(f"no images or videos ({list(IMAGE_EXTS + VIDEO_EXTS)}) under {p}")
        return files
    raise MediaError(f"--input {p} does not exist; give an image, a video or a folder of them")


def kind_of(path: Path) -> str:
    return "video" if is_video(path) else "image"


def read_media(path: Path, num_frames: int) -> tuple[str, dict[int, np.ndarray]]:
    """(kind, {frame index: BGR frame}); a video gives `num_frames` evenly spaced frames (preprocessing's
    `fixed_num_frames` rule). Raises MediaError naming the file and the reason."""
    if kind_of(path) == "image":
        if path.stat().st_size and is_truncated(path):
            raise MediaError(
                f"{path}: the image file ends early (truncated download or copy; OpenCV would fill the "
                "missing part with grey or fail); copy or export it again"
            )
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            why = "empty file" if path.stat().st_size == 0 else "corrupt or not an image"
            raise MediaError(f"{path}: OpenCV could not decode the image ({why})")
        return "image", {0: img}
    try:
        decoded = decode_selected(path, "fixed_num_frames", num_frames, 1)
    except VideoError as e:
        raise MediaError(str(e)) from e
    if not decoded.frames:
        raise MediaError(f"{path}: no frame could be decoded (corrupt or unsupported video)")
    return "video", decoded.frames


def is_truncated(path: Path) -> bool:
    """True when a JPEG or PNG lacks its end marker (JPEG EOI ``FF D9``, PNG ``IEND`` chunk).

    OpenCV decodes such files with the missing rows grey and only prints a warning, so a cut-off
    picture would otherwise be scored (or be "face-less") without a word. Other formats: False.
    """
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 4096))
        tail = f.read().rstrip(b"\x00\r\n\t ")
    if head[:3] == b"\xff\xd8\xff":
        return b"\xff\xd9" not in tail[-1024:]
    if head == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in tail[-64:]
    return False


def as_bgr(array: np.ndarray) -> np.ndarray:
    """An in-memory picture (H×W×3 RGB uint8, or H×W grey) as the BGR frame the face path reads."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.size and a.max() <= 1.0:
            a = a * 255.0
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise MediaError(f"an array input must be H×W×3 RGB (or grey); got shape {a.shape}")
    return cv2.cvtColor(a, cv2.COLOR_RGBA2BGR if a.shape[2] == 4 else cv2.COLOR_RGB2BGR)
