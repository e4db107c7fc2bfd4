"""The video-level robustness path: perturb each source video's frames, THEN detect, align and crop the face.

This is the DeeperForensics-1.0 order (distortions are applied to the videos a detector would receive).
For every test frame `<Dataset>/<dir>/frames/<video>/<idx>.png` the source is found under `--video_root`
as `<dir>/<video>.<ext>` or `<dir>/videos/<video>.<ext>` (the layouts preprocessing reads), frame `<idx>`
is decoded, perturbed (VC: the whole video is first re-encoded by ffmpeg at the CRF), and cropped by the
shared face path (`fbi_common.face`: `faces_of_video` for the video policies such as `track`, which link
the frames into tracks first as preprocess.py does) with the settings of `preprocessing/config.yaml` and
the crop size of the stored crops. A frame whose perturbed copy has no detectable face is dropped and
counted (`n_dropped`), never replaced. "clean (re-cropped)" runs the same path without a perturbation,
so the effect of re-detection alone is visible next to the stored-crop clean row.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from fbi_common.face import FaceEngine, FacePipeline
from fbi_common.face.video_faces import VIDEO_POLICIES, faces_of_video
from fbi_common.logging import get_logger
from fbi_common.media import VIDEO_EXTS
from fbi_common.paths import REPO_ROOT
from fbi_common.video import open_video, read_frames
from training.dataset import DeepfakeDataset
from training.perturb.cache import MARKER, write_png
from training.perturb.evaluate import Loaded, RobustnessError, evaluate
from training.perturb.ops import ffmpeg_binary
from training.perturb.protocols import PerturbType
from training.perturb.readers import CachedReader, cache_name, frame_rng

log = get_logger("robustness.video")


def face_settings() -> dict:
    """Detector / landmarks / margin / policy as preprocessing/config.yaml sets them."""
    cfg = yaml.safe_load((REPO_ROOT / "preprocessing" / "config.yaml").read_text(encoding="utf-8"))[
        "preprocess"
    ]
    return {
        k: cfg[k]
        for k in ("detector", "landmarks", "detect_max_side", "detect_upsample", "scale", "face_policy")
    }


def source_of(rel: str, root: Path) -> tuple[Path | None, int]:
    """(source video, frame index) of a crop path, or (None, index) when no video is found."""
    parts = rel.split("/")
    if "frames" not in parts[:-2]:
        raise RobustnessError(
            f"{rel}: not a <dir>/frames/<video>/<idx>.png path; the video path needs the preprocessing layout"
        )
    i = len(parts) - 1 - parts[::-1].index("frames")
    folder, video = "/".join(parts[1:i]), parts[i + 1]
    idx = int("".join(ch for ch in Path(parts[-1]).stem if ch.isdigit()) or -1)
    for sub in (root / folder, root / folder / "videos"):
        for ext in VIDEO_EXTS:
            if (sub / f"{video}{ext}").is_file():
                return sub / f"{video}{ext}", idx
    return None, idx


def h264_copy(src: Path, crf: int, dest: Path) -> Path:
    """The whole source video re-encoded with libx264 at ``crf`` (every frame kept, no audio)."""
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-an", "-c:v", "libx264",
           "-crf", str(int(crf)), "-pix_fmt", "yuv420p", "-fps_mode", "passthrough", "-threads", "1", str(dest)]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise RobustnessError(f"ffmpeg could not re-encode {src}: {p.stderr.strip()[-300:]}")
    return dest


class VideoSource:
    """Re-cropped, perturbed test frames from the source videos of one test set."""

    def __init__(self, video_root: str | Path, ld: Loaded, cache: Path) -> None:
        self.root, self.ld, self.cache = Path(video_root).resolve(), ld, cache
        if not self.root.is_dir():
            raise RobustnessError(f"--video_root {video_root}: not a folder of source videos")
        s = face_settings()
        self.settings = s
        engine = FaceEngine(s["detector"], str(s["landmarks"]), s["detect_max_side"], s["detect_upsample"])
        self.engine = engine

    def _jobs(self, ds: DeepfakeDataset) -> dict[Path, list[tuple[int, str]]]:
        """Source video → [(frame index, crop path)] of the frames the dataset evaluates."""
        jobs: dict[Path, list] = defaultdict(list)
        missing = []
        for ri, fi in ds.items:
            rel = ds.records[ri].frames[fi]
            src, idx = source_of(rel, self.root)
            (missing.append(rel) if src is None else jobs[src].append((idx, rel)))
        if missing:
            raise RobustnessError(
                f"{len(missing)} test frames have no source video under --video_root {self.root} (first: {missing[0]}); "
                "point it at the dataset as downloaded, or leave it out to perturb the stored crops"
            )
        return jobs

    def _crops(self, frames: dict[int, np.ndarray], size: int) -> dict[int, np.ndarray]:
        """RGB crops per frame index of one video, by the preprocessing face policy (video policies link
        the frames into tracks first, as preprocess.py does; per-frame policies crop each frame)."""
        pipe = FacePipeline(self.engine, size, self.settings["scale"], self.settings["face_policy"])
        if pipe.policy in VIDEO_POLICIES:
            vf = faces_of_video(pipe, frames)
            stream = vf.streams[0] if vf.streams else {}
            return {i: cv2.cvtColor(f.crop, cv2.COLOR_BGR2RGB) for i, f in stream.items()}
        out = {}
        for i, frame in frames.items():
            faces, _ = pipe.frame(frame)
            if faces:
                out[i] = cv2.cvtColor(faces[0].crop, cv2.COLOR_BGR2RGB)
        return out

    def build(self, ds: DeepfakeDataset, ptype: PerturbType | None, level: int, seed: int, dest: Path) -> int:
        """Write the perturbed re-crops of ``ds`` under ``dest``; returns how many frames had no face."""
        if (dest / MARKER).is_file():
            return int((dest / MARKER).read_text().split()[0])
        size = ds.reader.read_image(ds.records[0].frames[0]).shape[0]
        dropped = 0
        jobs = self._jobs(ds)
        with tempfile.TemporaryDirectory() as tmp:
            for src, frames in tqdm(
                jobs.items(), desc=f"re-crop {ptype.code if ptype else 'clean'} {level}", leave=False
            ):
                video = (
                    h264_copy(src, ptype.levels[level - 1], Path(tmp) / "vc.mp4")
                    if ptype and ptype.per_video
                    else src
                )
                cap = open_video(video)
                try:
                    decoded = read_frames(cap, [i for i, _ in frames])
                finally:
                    cap.release()
                perturbed = {}
                for idx, rel in frames:
                    img = decoded.get(idx)
                    if img is not None and ptype is not None and not ptype.per_video:
                        rng = frame_rng(seed, ptype.code, level, rel)
                        rgb = ptype.op(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), ptype.levels[level - 1], rng)
                        img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                    if img is not None:
                        perturbed[idx] = img
                crops = self._crops(perturbed, size) if perturbed else {}
                for idx, rel in frames:
                    if idx in crops:
                        write_png(dest / cache_name(rel), crops[idx])
                    else:
                        dropped += 1
        dest.mkdir(parents=True, exist_ok=True)
        (dest / MARKER).write_text(f"{dropped} frames without a face\n")
        return dropped

    def evaluate_all(
        self, ds: DeepfakeDataset, name: str, plan: list, seed: int, out_dir: Path
    ) -> list[dict]:
        from training.perturb.run import _done, _row

        rows = []
        levels = [(None, None, 0)] + [(proto, t, i) for proto, t, idx in plan for i in idx]
        for proto, ptype, level in levels:
            code = "recrop" if ptype is None else f"{ptype.code}_{level}"
            dropped = self.build(ds, ptype, level, seed, self.cache / code / name)
            if dropped >= len(ds):
                log.warning("%s %s: no face found in any perturbed frame; AUC undefined", name, code)
                rows.append(
                    _row(proto or "clean", ptype, level, name, {"n_frames": 0, "n_videos": 0}, "video")
                )
                continue
            policy, ds.bad_frame_policy = ds.bad_frame_policy, "drop"  # a face-less frame is dropped, counted
            try:
                out = (
                    out_dir
                    / ("clean_recrop" if ptype is None else f"{proto}/{ptype.code}/level{level}")
                    / name
                )
                stamp = {"perturbation": code, "seed": seed, "mode": "video", "n_dropped": dropped}
                reader = CachedReader(self.cache / code / name, ds.reader)
                m = _done(out, {**stamp, "checkpoint": str(self.ld.checkpoint)}) or evaluate(
                    self.ld, ds, reader, out, stamp, desc=f"{name} {code}"
                )
            finally:
                ds.bad_frame_policy = policy
            row = _row(proto or "clean", ptype, level, name, m, "video")
            if ptype is None:
                row.update(type="clean (re-cropped)", type_name="clean, re-detected from the source video")
            rows.append(row)
        return rows
