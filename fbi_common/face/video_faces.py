"""The face path over a whole video: detect every sampled frame, link tracks, choose, align and crop.

Policies: `track` (the longest track: one person per video), `tracks` (every track is its own output
stream), `largest` (the largest face of each frame, with the identity switches it makes counted).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from fbi_common.face.crop import AlignedFace, FacePipeline, StageTimer
from fbi_common.face.detect import Face
from fbi_common.face.tracks import (
    Track,
    identity_switches,
    link_cost,
    link_tracks,
    smooth_landmarks,
    track_of,
)

VIDEO_POLICIES = ("track", "tracks", "largest")  # linked into tracks over the video first
FACE_POLICIES = (*VIDEO_POLICIES, "mask", "all")  # mask, all: per frame (fbi_common.face.policy)


@dataclass
class VideoFaces:
    """Aligned faces per output stream (stream k: frame index -> face) and what the ledger reports."""

    streams: list[dict[int, AlignedFace]] = field(default_factory=list)
    stream_tracks: list[Track | None] = field(default_factory=list)  # the track a stream follows
    tracks: list[Track] = field(default_factory=list)
    detections: dict[int, list[Face]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def faces_of_video(
    pipe: FacePipeline,
    frames: dict[int, np.ndarray],
    timer: StageTimer | None = None,
    reid: bool = False,
    smooth: int = 0,
    min_frames: int = 1,
) -> VideoFaces:
    """Run the face path of `pipe.policy` (one of VIDEO_POLICIES) over a video's decoded BGR frames."""
    timer = timer or StageTimer()
    greys, out = {}, VideoFaces()
    for idx, frame in sorted(frames.items()):
        t = time.perf_counter()
        greys[idx] = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        out.detections[idx] = pipe.engine.detect(greys[idx])
        timer.add("detect", t)
    descs = _descriptors(pipe, frames, greys, out.detections, timer) if reid else None
    out.tracks = link_tracks(out.detections, descs)
    if pipe.policy == "largest":
        chosen = {i: max(fs, key=lambda f: f.area) for i, fs in out.detections.items() if fs}
        ids = [track_of(out.tracks, i, f) for i, f in sorted(chosen.items())]
        out.info = {"identity_switches": identity_switches(ids), "tracks_used": sorted(set(ids))}
        out.stream_tracks = [None]
        plan = [chosen]
    else:
        keep = [t for t in out.tracks if len(t) >= min_frames] or out.tracks[:1]
        keep = keep[:1] if pipe.policy == "track" else keep
        out.stream_tracks = keep
        plan = [dict(t.faces) for t in keep]
        n = max(len(frames), 1)
        out.info = {"tracks": [{"id": t.id, "frames": len(t), "coverage": round(len(t) / n, 4)} for t in keep],
                    "n_tracks": len(out.tracks)}  # fmt: skip
    for stream, track in zip(plan, out.stream_tracks, strict=True):
        t = time.perf_counter()
        for i, face in stream.items():
            if face.landmarks is None:
                pipe.engine.add_landmarks(greys[i], face)
        if track is not None:
            smooth_landmarks(track, smooth)
        t = timer.add("landmarks", t)
        out.streams.append({i: pipe.warp(frames[i], face) for i, face in sorted(stream.items())})
        timer.add("align", t)
    return out


def _descriptors(pipe, frames, greys, detections, timer) -> dict[int, list[np.ndarray]]:
    t = time.perf_counter()
    out = {}
    for i, faces in detections.items():
        rgb = cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB)
        out[i] = [pipe.engine.descriptor(rgb, pipe.engine.add_landmarks(greys[i], f)) for f in faces]
    timer.add("landmarks", t)
    return out


def find_in_frame(
    pipe: FacePipeline, frame: np.ndarray, track: Track | None, idx: int, timer: StageTimer | None = None
) -> AlignedFace | None:
    """The stream's face in another (neighbour) frame: the one linking to the track near `idx`, or
    (no track: policy `largest`) the largest; None when there is none."""
    timer = timer or StageTimer()
    t = time.perf_counter()
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    faces = pipe.engine.detect(grey)
    t = timer.add("detect", t)
    if track is not None:
        ref = track.nearest(idx)
        faces = sorted((f for f in faces if link_cost(ref, f) < 1e5), key=lambda f: link_cost(ref, f))
    else:
        faces = sorted(faces, key=lambda f: -f.area)
    if not faces:
        return None
    pipe.engine.add_landmarks(grey, faces[0])
    t = timer.add("landmarks", t)
    face = pipe.warp(frame, faces[0])
    timer.add("align", t)
    return face


def policy_counts(vf: VideoFaces, policy: str) -> Counter:
    """Per-frame counts of the policy applied, as the ledger's `policy_applied` records them."""
    return Counter({policy: sum(len(s) for s in vf.streams)})
