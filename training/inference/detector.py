"""The Python API of inference: `Detector.from_checkpoint(path).predict(path_or_array)` → a result dict.

`demo.py` and `app.py` call exactly this. A result (JSON-safe) has, per input: `verdict`, `score`,
`threshold`, `error`, the rules used, each ensemble member's score, every frame (its score, the tracks
in it, `no_face`) and every face track (its score and per-frame boxes and scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from fbi_common.face.video_faces import faces_of_video
from fbi_common.logging import get_logger
from training.inference import face_settings
from training.inference.ensemble import combine, frame_score, verdict, video_score
from training.inference.media import MediaError, as_bgr, kind_of, read_media
from training.inference.predictor import Predictor

log = get_logger("inference")


class Detector:
    """One checkpoint or an ensemble of them, with the face path of their training data."""

    def __init__(
        self,
        members: Sequence[Predictor],
        *,
        detect: bool = True,
        num_frames: int = 16,
        face: dict[str, Any] | None = None,
        frame_rule: str = "max",
        video_rule: str = "mean",
        ensemble: str = "mean",
        weights: Sequence[float] | None = None,
        reid: bool = False,
        smooth: int = 0,
    ) -> None:
        self.members = list(members)
        self.detect, self.num_frames, self.reid, self.smooth = detect, int(num_frames), reid, int(smooth)
        self.rules = {"frame": frame_rule, "video": video_rule, "ensemble": ensemble}
        self.weights = None if weights is None else [float(w) for w in weights]
        flags = face or {}
        self.settings = [face_settings.resolve(m.face_settings, flags, str(m.path)) for m in self.members]
        self.thresholds = [m.threshold for m in self.members]
        _, self.threshold = combine(np.zeros((len(self.members), 1)), self.thresholds, ensemble, self.weights)
        self.pipes = []
        if detect:
            first = face_settings.build_pipeline(self.settings[0])
            for s in self.settings[1:]:
                if s["detector"] != self.settings[0]["detector"]:
                    log.warning("ensemble members were trained with different face detectors; using %s",
                                self.settings[0]["detector"])  # fmt: skip
            self.pipes = [first] + [face_settings.build_pipeline(s, first.engine) for s in self.settings[1:]]

    @classmethod
    def from_checkpoint(
        cls, paths: str | Path | Sequence[str | Path], device: str = "cpu", **options: Any
    ) -> Detector:
        """Load one checkpoint (or several: an ensemble); `options` are the constructor's keywords."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        return cls([Predictor(p, device) for p in paths], **options)

    def describe(self) -> dict[str, Any]:
        """Checkpoints, rules and face settings, as the output files record them."""
        return {
            "checkpoints": [m.describe() for m in self.members],
            "threshold": self.threshold,
            "rules": dict(self.rules),
            "ensemble_weights": self.weights,
            "detect": self.detect,
            "face_pipeline": self.settings[0] if self.detect else None,
        }

    def predict(self, item: str | Path | np.ndarray, name: str | None = None) -> dict[str, Any]:
        """Score one image/video file or an RGB array; bad files give a result with `error` set."""
        return self.analyse(item, name)[0]

    def predict_many(self, items: Sequence[str | Path | np.ndarray], progress: bool = True) -> list[dict]:
        """Score many inputs with a progress bar; a failure is reported in that input's result only."""
        return [res for res, _ in self.analyse_many(items, progress)]

    def analyse_many(self, items: Sequence[str | Path | np.ndarray], progress: bool = True):
        """Yield (result, frames) per input; an unexpected failure becomes that input's `error`, logged."""
        for item in tqdm(items, desc="scoring", unit="file", disable=not progress, dynamic_ncols=True):
            try:
                yield self.analyse(item)
            except Exception as e:  # one bad file must not stop the others; its result says what happened
                name = self._name(item, None)
                log.warning("%s: %s: %s", name, type(e).__name__, e)
                kind = "image" if isinstance(item, np.ndarray) else kind_of(Path(item))
                yield self._empty(name, kind, f"{type(e).__name__}: {e}"), {}

    def analyse(self, item, name: str | None = None) -> tuple[dict[str, Any], dict[int, np.ndarray]]:
        """(result, the decoded BGR frames) — the frames let callers draw on them."""
        label = self._name(item, name)
        if isinstance(item, np.ndarray):
            kind, frames = "image", {0: as_bgr(item)}
        else:
            kind = kind_of(Path(item))
            try:
                kind, frames = read_media(Path(item), self.num_frames)
            except MediaError as e:
                return self._empty(label, kind, str(e)), {}
        faces = self._faces(frames)  # [(track, frame, box, [member crops])]
        member_probs = [m.score_crops([f[3][k] for f in faces]) for k, m in enumerate(self.members)]
        probs = np.asarray(member_probs, dtype=np.float64).reshape(len(self.members), len(faces))
        scores = combine(probs, self.thresholds, self.rules["ensemble"], self.weights)[0] if faces else []
        return self._result(label, kind, frames, faces, probs, scores), frames

    def crops_of(self, frame_bgr: np.ndarray) -> list[tuple[list | None, list[np.ndarray]]]:
        """(box, one RGB crop per member) of every face of one frame, as the members score them."""
        return [(box, crops) for _, _, box, crops in self._faces({0: frame_bgr})]

    def _faces(self, frames: dict[int, np.ndarray]) -> list[tuple[int, int, list | None, list]]:
        if not self.detect:  # every frame is an aligned face crop already
            return [
                (0, i, None, [cv2.cvtColor(f, cv2.COLOR_BGR2RGB)] * len(self.members))
                for i, f in frames.items()
            ]
        vf = faces_of_video(self.pipes[0], frames, reid=self.reid, smooth=self.smooth)
        out = []
        for track in vf.stream_tracks:  # policy `tracks`: every track, landmarks set (and smoothed)
            for i in track.frames:
                face = track.faces[i]
                try:
                    crops = [face_settings.as_trained(p.warp(frames[i], face).crop, s)
                             for p, s in zip(self.pipes, self.settings, strict=True)]  # fmt: skip
                except ValueError as e:  # degenerate landmarks: no alignment fits; say so, keep the rest
                    log.warning("frame %d, face %s: not scored (%s)", i, list(face.box), e)
                    continue
                out.append((track.id, i, list(face.box), crops))
        return out

    def _result(self, label, kind, frames, faces, probs, scores) -> dict[str, Any]:
        res = self._empty(label, kind, None)
        tracks: dict[int, list] = {}
        per_frame: dict[int, list] = {i: [] for i in sorted(frames)}
        member_frames = [{i: [] for i in frames} for _ in self.members]
        for n, (tid, i, box, _) in enumerate(faces):
            members = [float(p) for p in probs[:, n]]
            tracks.setdefault(tid, []).append(
                {"frame": i, "box": box, "score": float(scores[n]), "members": members}
            )
            per_frame[i].append((tid, float(scores[n])))
            for k, p in enumerate(members):
                member_frames[k][i].append(p)
        fr, vr = self.rules["frame"], self.rules["video"]
        res["frames"] = [{"frame": i, "score": frame_score([s for _, s in fs], fr), "tracks": [t for t, _ in fs],
                          "no_face": not fs} for i, fs in per_frame.items()]  # fmt: skip
        res["tracks"] = [{"track": t, "score": video_score([f["score"] for f in fs], vr), "n_frames": len(fs),
                          "frames": sorted(fs, key=lambda f: f["frame"])} for t, fs in sorted(tracks.items())]  # fmt: skip
        res["score"] = video_score([f["score"] for f in res["frames"]], vr)
        res["members"] = [
            {"checkpoint": str(m.path), "threshold": m.threshold,
             "score": video_score([frame_score(v, fr) for v in member_frames[k].values()], vr)}
            for k, m in enumerate(self.members)
        ]  # fmt: skip
        res["n_frames"], res["n_faces"] = len(frames), len(faces)
        res["frames_without_face"] = [f["frame"] for f in res["frames"] if f["no_face"]]
        res["verdict"] = verdict(res["score"], self.threshold)
        if res["score"] is None:
            hint = "" if not self.detect else "; use --no-detect if the input is already an aligned face crop"
            res["error"] = f"no face found in {len(frames)} frame(s){hint}"
        return res

    def _empty(self, label: str, kind: str, error: str | None) -> dict[str, Any]:
        return {
            "path": label, "kind": kind, "verdict": "error", "score": None, "threshold": self.threshold,
            "error": error, "rules": dict(self.rules), "n_frames": 0, "n_faces": 0, "frames_without_face": [],
            "members": [], "frames": [], "tracks": [],
        }  # fmt: skip

    @staticmethod
    def _name(item, name: str | None) -> str:
        if name is not None:
            return name
        return "<array>" if isinstance(item, np.ndarray) else str(item)
