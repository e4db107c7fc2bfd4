"""Names of the output folders when one video yields several faces (policy `all`) or tracks (`tracks`)."""

from __future__ import annotations

import re

# <video>_face<k> (policy all, k >= 1) and <video>_t<k> (policy tracks, k >= 0): rearrange strips the suffix
# to find the source video and keeps it in the video key.
STREAM_SUFFIX = re.compile(r"^(.*?)(_face\d+|_t\d+)?$")


def face_folder(video: str, k: int, policy: str = "largest") -> str:
    """Output folder of stream k: `tracks` -> `<video>_t<k>`; otherwise the first keeps the video's name."""
    if policy == "tracks":
        return f"{video}_t{k}"
    return video if k == 0 else f"{video}_face{k}"


def is_stream_of(name: str, video: str) -> bool:
    """Whether folder `name` holds output of `video` (its own name or a stream suffix of it)."""
    stem, _ = STREAM_SUFFIX.match(name).groups()
    return name == video or stem == video
