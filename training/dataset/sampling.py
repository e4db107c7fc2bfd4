"""Which frames of a video are used: evenly spaced over the whole video, seeded per video."""

from __future__ import annotations

import hashlib

import numpy as np


def stable_hash(text: str) -> int:
    """A 63-bit hash of `text` that is the same in every process and run (unlike Python's `hash`)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big") >> 1


def video_seed(base_seed: int, video_key: str) -> int:
    """Per-video seed: the run seed plus a stable hash of the video key."""
    return (int(base_seed) + stable_hash(video_key)) % (2**63)


def select_frames(
    n_total: int, n_wanted: int | None, rng: np.random.Generator | int | None = None
) -> list[int]:
    """Indices of `n_wanted` frames spread evenly over `range(n_total)`, in increasing order.

    The video is cut into `n_wanted` equal strides and one frame is taken from each: at a random
    offset inside the stride when `rng` (a Generator or an int seed) is given — training sees
    different frames of a video under different seeds — or at the stride's centre when `rng` is
    None (deterministic, for val/test). Fewer frames than wanted, or `n_wanted` None/≤0: all frames.
    """
    if n_total <= 0:
        return []
    if n_wanted is None or n_wanted <= 0 or n_wanted >= n_total:
        return list(range(n_total))
    # Integer stride boundaries: every stride holds >= 1 frame, so the picks are distinct.
    bounds = np.floor(np.linspace(0, n_total, n_wanted + 1)).astype(np.int64)
    starts, widths = bounds[:-1], np.diff(bounds)
    if rng is None:
        return (starts + widths // 2).tolist()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))
    return (starts + np.floor(gen.random(n_wanted) * widths).astype(np.int64)).tolist()
