"""Per-video seeds for frame selection; the selection rule itself is `fbi_common.frames.select_frames`."""

from __future__ import annotations

import hashlib

from fbi_common.frames import select_frames

__all__ = ["select_frames", "stable_hash", "video_seed"]


def stable_hash(text: str) -> int:
    """A 63-bit hash of `text` that is the same in every process and run (unlike Python's `hash`)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big") >> 1


def video_seed(base_seed: int, video_key: str) -> int:
    """Per-video seed: the run seed plus a stable hash of the video key."""
    return (int(base_seed) + stable_hash(video_key)) % (2**63)
