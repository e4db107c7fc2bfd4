"""Face tracks: the faces of a video's sampled frames linked into one track per person.

Linking is greedy per frame with an optimal assignment (scipy's Hungarian solver) between the tracks'
latest faces and the frame's faces: a pair may link when the boxes overlap (IoU) or their centres are
close relative to the face size — sampled frames are often far apart in time, so a moving or resized
face keeps little overlap but stays near. With dlib face descriptors (optional), a pair must also look
like the same person, and a face far from every track can re-join the track whose person it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from fbi_common.face.detect import Face

IOU_MIN = 0.3  # boxes overlapping this much are the same face
CENTRE_MAX = 0.5  # or centres closer than this fraction of the larger box side
REID_MAX = 0.6  # dlib's own same-person threshold on descriptor distance
_NO = 1e6


@dataclass
class Track:
    """One person across the sampled frames: frame index -> Face (at most one face per frame)."""

    faces: dict[int, Face] = field(default_factory=dict)
    descriptors: dict[int, np.ndarray] = field(default_factory=dict)
    id: int = -1

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def frames(self) -> list[int]:
        return sorted(self.faces)

    @property
    def mean_area(self) -> float:
        return float(np.mean([f.area for f in self.faces.values()])) if self.faces else 0.0

    def nearest(self, idx: int) -> Face:
        """The track's face at the frame closest to `idx` (where to look for it in a neighbour frame)."""
        return self.faces[min(self.faces, key=lambda i: (abs(i - idx), i))]


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Distance between box centres in units of the larger box side."""
    ca = np.array([(a[0] + a[2]) / 2, (a[1] + a[3]) / 2])
    cb = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
    side = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 1)
    return float(np.linalg.norm(ca - cb) / side)


def link_cost(a: Face, b: Face, da: np.ndarray | None = None, db: np.ndarray | None = None) -> float:
    """Cost of linking two faces (lower is better); `_NO` when they are not the same person."""
    same_place = iou(a.box, b.box) >= IOU_MIN or centre_distance(a.box, b.box) <= CENTRE_MAX
    spatial = (1.0 - iou(a.box, b.box)) + centre_distance(a.box, b.box)
    if da is None or db is None:
        return spatial if same_place else _NO
    d = float(np.linalg.norm(da - db))
    if d > REID_MAX:
        return _NO  # another person, even at the same place
    return spatial if same_place else 10.0 + d  # re-identification: worse than any spatial link


def link_tracks(
    detections: dict[int, list[Face]], descriptors: dict[int, list[np.ndarray]] | None = None
) -> list[Track]:
    """Tracks over the frames (in index order), longest first (ties: larger faces first); ids 0, 1, …"""
    tracks: list[Track] = []
    for idx in sorted(detections):
        faces = detections[idx]
        descs = descriptors.get(idx) if descriptors else None
        cost = np.full((len(tracks), len(faces)), _NO)
        for ti, tr in enumerate(tracks):
            last = tr.frames[-1]
            for fi, face in enumerate(faces):
                da = tr.descriptors.get(last) if descs is not None else None
                cost[ti, fi] = link_cost(tr.faces[last], face, da, descs[fi] if descs is not None else None)
        linked = set()
        if tracks and faces:
            for ti, fi in zip(*linear_sum_assignment(cost), strict=True):
                if cost[ti, fi] < _NO:
                    _add(tracks[ti], idx, faces[fi], descs, fi)
                    linked.add(fi)
        for fi, face in enumerate(faces):
            if fi not in linked:
                tracks.append(_add(Track(), idx, face, descs, fi))
    tracks.sort(key=lambda t: (-len(t), -t.mean_area, t.faces[t.frames[0]].box[0]))
    for k, t in enumerate(tracks):
        t.id = k
    return tracks


def _add(track: Track, idx: int, face: Face, descs: list[np.ndarray] | None, fi: int) -> Track:
    track.faces[idx] = face
    if descs is not None:
        track.descriptors[idx] = descs[fi]
    return track


def track_of(tracks: list[Track], idx: int, face: Face) -> int:
    """Id of the track holding `face` at frame `idx` (-1: none)."""
    return next((t.id for t in tracks if t.faces.get(idx) is face), -1)


def identity_switches(track_ids: list[int]) -> int:
    """How often consecutive chosen faces belong to different tracks (policy `largest`)."""
    return sum(1 for a, b in zip(track_ids, track_ids[1:], strict=False) if a != b)


def smooth_landmarks(track: Track, window: int) -> None:
    """Centred moving average of each face's landmarks over `window` consecutive frames of the track.

    Off (window ≤ 1) by default so existing data reproduces; landmarks must be set on every face."""
    if window <= 1 or len(track) < 2:
        return
    frames = track.frames
    raw = np.stack([track.faces[i].landmarks for i in frames]).astype(np.float64)
    half = window // 2
    for k, i in enumerate(frames):
        lo, hi = max(0, k - half), min(len(frames), k + half + 1)
        track.faces[i].landmarks = raw[lo:hi].mean(0).astype(np.float32)
