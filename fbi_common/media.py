"""Which files are images and which are videos: the one list of extensions for every reader and scanner."""

from __future__ import annotations

from pathlib import Path

# Lower-case suffixes OpenCV reads; a file's suffix is compared lower-cased (`.PNG` is an image).
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTS
