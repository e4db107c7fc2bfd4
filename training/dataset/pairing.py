"""Which real video a fake derives from: the pairing group of a video, shared by the paired sampler
and detectors that pair inside a batch (CADDM's facial swap).

A fake and its source real share a group. Default rule (`pattern: null`): the *target* identity of
`identity_of` — FF++ `a_b` → `a` (a's video, b's face) and the real `a`; Celeb-DF `id0_id1_0000` →
`id0` and the real `id0_0000`; DeepFakeDetection `01_02__...` → `01`; FBI-Demo `id042_v0` (real and
fake) → `id042`. Other datasets: a regular expression whose first group, searched in the video
name, is the group (e.g. `^(\\d+)` or `^([^_]+)`); a video it does not match is its own group
(no partner).
"""

from __future__ import annotations

import re
from functools import lru_cache

from training.dataset.identity import identity_of
from training.dataset.index import VideoRecord, dataset_folder


@lru_cache(maxsize=32)
def _compiled(pattern: str) -> re.Pattern:
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ValueError(f"pairing pattern {pattern!r} is not a regular expression: {e}") from e
    if rx.groups < 1:
        raise ValueError(f"pairing pattern {pattern!r} needs one capture group (the pairing id)")
    return rx


def pair_group(record: VideoRecord, pattern: str | None = None) -> str:
    """The pairing group of a video (see the module docstring)."""
    if pattern is None:
        return identity_of(record, "target")
    m = _compiled(pattern).search(record.video)
    return f"{dataset_folder(record.dataset)}/{m.group(1)}" if m else record.key


def pair_group_of_key(video_key: str, pattern: str | None = None) -> str:
    """`pair_group` from a video key `dataset/label[/compression]/video` (what a batch carries)."""
    parts = video_key.split("/")
    rec = VideoRecord(parts[0], parts[1], -1, None, parts[-1], "", video_key, [])
    return pair_group(rec, pattern)
