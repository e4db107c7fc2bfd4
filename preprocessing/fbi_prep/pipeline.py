"""One video -> aligned crops, landmarks and masks on disk, plus the ledger record saying what happened."""

from __future__ import annotations

import glob
import shutil
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fbi_common.face import FaceEngine, FacePipeline, StageTimer, warp_image
from fbi_common.face.video_faces import VIDEO_POLICIES, faces_of_video, find_in_frame
from fbi_common.video import VideoError, decode_selected, open_video, read_frames, read_window

from .adapters.base import VideoJob
from .streams import face_folder, is_stream_of


class VideoProcessor:
    """Holds the settings and the per-process face path; `__call__(job, out_root)` processes one video."""

    def __init__(self, cfg: dict[str, Any], engine: FaceEngine | None = None):
        self.cfg = cfg
        self.engine = engine or FaceEngine(
            cfg["detector"], str(cfg["landmarks"]), cfg["detect_max_side"], cfg["detect_upsample"]
        )
        self.faces = FacePipeline(self.engine, cfg["size"], cfg["scale"], cfg["face_policy"])
        ext = "jpg" if cfg["image_format"] == "jpg" else "png"
        self.ext = ext
        self.params = (
            [cv2.IMWRITE_JPEG_QUALITY, int(cfg["jpeg_quality"])]
            if ext == "jpg"
            else [cv2.IMWRITE_PNG_COMPRESSION, int(cfg["png_compression"])]
        )

    def __call__(self, job: VideoJob, out_root: str | Path, settings_hash: str = "") -> dict:
        rec = {
            "video": job.rel, "settings_hash": settings_hash, "status": "error", "error": None,
            "detector": self.engine.detector_name, "landmark_model": self.engine.landmark_model,
            "face_policy": self.cfg["face_policy"], "outputs": [],
        }  # fmt: skip
        timer = StageTimer()
        t_start = time.perf_counter()
        base = Path(out_root) / job.out_dir if job.out_dir else Path(out_root)
        try:
            self._clear(base, job.video)
            self._run(job, base, rec, timer)
        except VideoError as e:
            rec.update(status="unreadable", error=str(e))
        except Exception as e:  # recorded, never silently swallowed: the ledger keeps the traceback tail
            rec.update(
                status="error", error=f"{type(e).__name__}: {e} | {traceback.format_exc(limit=3)[-400:]}"
            )
        if rec["status"] not in ("ok", "partial"):
            self._clear(base, job.video)
            rec["outputs"] = []
        rec["seconds"] = round(time.perf_counter() - t_start, 4)
        rec["timing"] = {k: round(v, 4) for k, v in timer.t.items()}
        return rec

    def _clear(self, base: Path, video: str) -> None:
        """Remove earlier (possibly half-written) outputs of this video before (re)writing."""
        for kind in ("frames", "landmarks", "masks"):
            d = base / kind
            if d.is_dir():
                for p in d.glob(f"{glob.escape(video)}*"):
                    if is_stream_of(p.name, video):
                        shutil.rmtree(p, ignore_errors=True)

    def _run(self, job: VideoJob, base: Path, rec: dict, timer: StageTimer) -> None:
        cfg = self.cfg
        t = time.perf_counter()
        dec = decode_selected(job.src, cfg["mode"], cfg["num_frames"], cfg["stride"], cfg["decode"])
        t = timer.add("decode", t)
        wanted = sorted(dec.frames)
        masks, mask_note = self._masks(job, wanted)
        timer.add("decode", t)
        rec.update(
            frames_reported=dec.reported_count, frames_real=dec.real_count, frames_wanted=len(wanted),
            frames_decoded=len(dec.frames), masks=mask_note,
        )  # fmt: skip
        policy_used: Counter = Counter()
        if cfg["face_policy"] in VIDEO_POLICIES:
            written, n_streams = self._run_streams(job, dec.frames, masks, base, rec, timer, policy_used)
        else:
            written, n_streams = self._run_frames(job, dec.frames, masks, base, rec, timer, policy_used)
        rec["policy_applied"] = dict(policy_used)
        rec["frames_written"] = len(written)
        rec["outputs"] = [
            f"{job.out_dir}/frames/{face_folder(job.video, k, cfg['face_policy'])}".lstrip("/")
            for k in range(n_streams)
        ]
        if not written:
            rec.update(
                status="no_face",
                error=f"no face in any of {len(wanted)} decoded frames (detector {self.engine.detector_name}, "
                f"upsample {list(self.engine.upsample)}); try --detector cnn or --detect_max_side 0",
            )
        else:
            rec["status"] = "ok" if len(written) >= len(wanted) else "partial"

    def _run_frames(self, job, frames, masks, base, rec, timer, policy_used) -> tuple[dict[int, int], int]:
        """Per-frame policies (mask, all): each frame chooses its own faces."""
        written: dict[int, int] = {}  # output index -> faces written
        missing = []
        for idx in sorted(frames):
            n = self._process_frame(frames[idx], idx, masks.get(idx), base, job.video, timer, policy_used)
            if n:
                written[idx] = n
            else:
                missing.append(idx)
        rec["frames_with_face"] = len(written)

        def retry(frame, j, mask):
            return self._process_frame(frame, j, mask, base, job.video, timer, policy_used)

        self._replace_missing(job, missing, set(frames), masks, timer, written, retry, rec)
        return written, max(written.values(), default=0)

    def _run_streams(self, job, frames, masks, base, rec, timer, policy_used) -> tuple[dict[int, int], int]:
        """Video policies (track, tracks, largest): faces linked into tracks over the sampled frames first."""
        cfg, policy = self.cfg, self.cfg["face_policy"]
        vf = faces_of_video(self.faces, frames, timer, cfg["track_reid"], cfg["smooth_landmarks"],
                            cfg["track_min_frames"])  # fmt: skip
        rec.update(vf.info)
        rec["frames_with_face"] = sum(1 for fs in vf.detections.values() if fs)
        first: dict[int, int] = {}
        for k, (stream, track) in enumerate(zip(vf.streams, vf.stream_tracks, strict=True)):
            folder = face_folder(job.video, k, policy)
            for idx, face in stream.items():
                self._write_face(base, folder, idx, face, masks.get(idx), timer)
            policy_used[policy] += len(stream)
            if k == 0:
                first = dict.fromkeys(stream, 1)
                if policy != "tracks":  # a track's own coverage is what `tracks` reports; no stand-ins

                    def retry(frame, j, mask, track=track, folder=folder):
                        face = find_in_frame(self.faces, frame, track, j, timer)
                        if face is not None:
                            self._write_face(base, folder, j, face, mask, timer)
                            policy_used[policy] += 1
                        return int(face is not None)

                    missing = [i for i in sorted(frames) if i not in stream]
                    self._replace_missing(job, missing, set(frames), masks, timer, first, retry, rec)
        rec.setdefault("replaced", {})
        rec.setdefault("dropped", [])
        return first, len(vf.streams)

    def _write_face(self, base: Path, folder: str, idx: int, face, mask, timer: StageTimer) -> None:
        t = time.perf_counter()
        mcrop = None
        if mask is not None and self.cfg["masks"]:
            mcrop = warp_image(mask, face.matrix, self.cfg["size"])
            t = timer.add("align", t)
        self._write(base, folder, idx, face.crop, face.crop_landmarks, mcrop)
        timer.add("write", t)

    def _masks(self, job: VideoJob, wanted: list[int]) -> tuple[dict[int, np.ndarray], str]:
        if not (job.mask_src and (self.cfg["masks"] or self.cfg["face_policy"] == "mask")):
            return {}, "none"
        try:
            cap = open_video(job.mask_src)
            try:
                frames = read_frames(cap, wanted, "grab")
            finally:
                cap.release()
        except VideoError as e:
            return {}, f"error: {e}"
        got = {i: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for i, f in frames.items()}
        return got, "ok" if len(got) == len(
            wanted
        ) else f"partial: {len(got)}/{len(wanted)} mask frames decoded"

    def _process_frame(self, frame, idx, mask, base, video, timer, policy_used) -> int:
        """Detect, choose, align and write one frame; returns the number of faces written (0 = none)."""
        faces, applied = self.faces.frame(frame, mask, timer)
        if not faces:
            return 0
        policy_used[applied] += 1
        for k, face in enumerate(faces):
            self._write_face(base, face_folder(video, k), idx, face, mask, timer)
        return len(faces)

    def _write(self, base: Path, video: str, idx: int, crop, lm, mcrop) -> None:
        name = f"{idx:03d}"
        targets = [(base / "frames" / video / f"{name}.{self.ext}", crop, self.params)]
        if mcrop is not None:
            targets.append((base / "masks" / video / f"{name}.png", mcrop, []))
        for path, img, params in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), img, params):
                raise OSError(f"cv2.imwrite failed for {path} (disk full or no permission?)")
        lm_path = base / "landmarks" / video / f"{name}.npy"
        lm_path.parent.mkdir(parents=True, exist_ok=True)
        np.save(lm_path, lm)

    def _replace_missing(self, job, missing, taken, masks, timer, written, retry, rec) -> None:
        """Policy `neighbour`: a face-less frame is replaced by the nearest frame (±window) that has a face
        (`retry(frame, j, mask)` writes it and returns the faces written).

        The replacement is saved under its own true index, so file names never lie about the source frame.
        """
        replaced: dict[int, int] = {}
        dropped = []
        # No face in any sampled frame: neighbours will not have one either, so do not pay to look.
        if self.cfg["no_face"] != "neighbour" or not missing or not written:
            dropped = list(missing)
            missing = []
        w = self.cfg["neighbour_window"]
        for idx in missing:
            t = time.perf_counter()
            window = read_window(job.src, idx - w, idx + w + 1)
            cand = [i for i in sorted(window, key=lambda i: (abs(i - idx), i)) if i not in taken]
            timer.add("decode", t)
            mask_win = self._masks(job, cand)[0] if masks else {}
            for j in cand:
                n = retry(window[j], j, mask_win.get(j))
                if n:
                    replaced[idx] = j
                    taken.add(j)
                    written[j] = n
                    break
            else:
                dropped.append(idx)
        rec.update(replaced={str(k): v for k, v in replaced.items()}, dropped=dropped)
