"""Scoring new media with the training-time preprocessing: face detection + 5-point alignment (the
face path `preprocessing/preprocess.py` uses, `fbi_common.face`), the checkpoint's resize, then the
detector (which applies the checkpoint's normalisation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from fbi_common.face import FaceEngine, FacePipeline
from fbi_common.logging import get_logger
from fbi_common.media import IMAGE_EXTS, VIDEO_EXTS, is_image, is_video
from fbi_common.video import decode_selected
from training.dataset.transforms import FrameTransform
from training.trainer.build import build_detector, input_spec
from training.trainer.checkpoint import CheckpointError, load_checkpoint, load_model_weights

log = get_logger("inference")


@dataclass
class FaceScore:
    frame: int
    box: tuple[int, int, int, int] | None  # left, top, right, bottom in the original frame; None: whole image
    prob: float


@dataclass
class MediaResult:
    path: Path
    kind: str  # image | video
    faces: list[FaceScore] = field(default_factory=list)
    frames_read: int = 0
    error: str | None = None
    preview: tuple[int, np.ndarray] | None = field(default=None, repr=False)  # first frame with a face

    @property
    def score(self) -> float | None:
        """Mean fake probability over every scored face (the video score aggregates frames)."""
        return float(np.mean([f.prob for f in self.faces])) if self.faces else None


class Predictor:
    """A detector loaded from one of our checkpoints, with its training-time input transform."""

    def __init__(self, weights_path: str | Path, device: str = "cpu") -> None:
        ckpt = load_checkpoint(weights_path)
        cfg = ckpt.get("config")
        if not isinstance(cfg, dict) or "preprocessing" not in ckpt:
            raise CheckpointError(
                f"{weights_path} is not a checkpoint written by training/train.py (no config/preprocessing "
                "inside); demo.py needs one to rebuild the model and its preprocessing"
            )
        identity_map = ckpt.get("identity_map") or {}
        data_info = {
            "num_identities": max(1, len(identity_map)),
            "label_names": sorted(cfg["label_dict"]),
            "identity_map": identity_map,
        }
        self.model = build_detector(cfg, data_info)
        load_model_weights(self.model, ckpt, source=str(weights_path))
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        spec = input_spec(cfg, self.model, ckpt["preprocessing"])
        self.transform = FrameTransform(spec["size"])
        thr = ckpt.get("threshold")
        self.threshold = float(thr) if thr is not None else 0.5
        self.model_name = cfg["model_name"]

    @torch.no_grad()
    def score_crops(self, crops_rgb: list[np.ndarray]) -> list[float]:
        """Fake probability of each aligned RGB uint8 face crop."""
        if not crops_rgb:
            return []
        x = torch.stack([self.transform(c)["image"] for c in crops_rgb]).to(self.device)
        return self.model({"image": x}, inference=True)["prob"].float().cpu().tolist()


class FaceCropper:
    """The preprocessing face path (`fbi_common.face.FacePipeline`), giving RGB crops for the detector."""

    def __init__(
        self, size: int = 256, scale: float = 1.3, policy: str = "largest", detector: str = "hog"
    ) -> None:
        self.pipeline = FacePipeline(FaceEngine(detector=detector), size, scale, policy)

    def crops(self, frame_bgr: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """(box, aligned RGB crop) for the chosen faces of one BGR frame; empty when no face is found."""
        faces, _ = self.pipeline.frame(frame_bgr)
        return [(f.box, cv2.cvtColor(f.crop, cv2.COLOR_BGR2RGB)) for f in faces]


def list_media(inp: str | Path) -> list[Path]:
    """The images/videos at `inp` (a file, or a folder searched recursively), sorted."""
    p = Path(inp)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if is_image(f) or is_video(f))
        if not files:
            raise FileNotFoundError(f"no images or videos ({sorted(IMAGE_EXTS + VIDEO_EXTS)}) under {p}")
        return files
    raise FileNotFoundError(f"--input {p} does not exist")


def _frames(path: Path, num_frames: int) -> tuple[str, list[tuple[int, np.ndarray]]]:
    if is_image(path):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError("OpenCV could not decode the image (corrupt or unsupported format)")
        return "image", [(0, img)]
    decoded = decode_selected(path, "fixed_num_frames", num_frames, 1)
    if not decoded.frames:
        raise ValueError("no frame could be decoded (corrupt or unsupported video)")
    return "video", sorted(decoded.frames.items())


def score_media(
    path: Path, predictor: Predictor, cropper: FaceCropper | None, num_frames: int = 16
) -> MediaResult:
    """Score one image or video; `cropper=None` treats each frame as an already aligned face crop."""
    res = MediaResult(path=path, kind="video" if is_video(path) else "image")
    try:
        res.kind, frames = _frames(path, num_frames)
    except (ValueError, OSError, RuntimeError) as e:
        res.error = str(e)
        return res
    res.frames_read = len(frames)
    for idx, frame in frames:
        if cropper is None:
            faces = [(None, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))]
        else:
            faces = cropper.crops(frame)
        probs = predictor.score_crops([c for _, c in faces])
        if faces and res.preview is None:
            res.preview = (idx, frame)
        res.faces.extend(FaceScore(idx, box, p) for (box, _), p in zip(faces, probs, strict=True))
    if not res.faces:
        res.error = f"no face found in {res.frames_read} frame(s); use --no-detect if the input is already a face crop"
    return res


def annotate(path: Path, result: MediaResult, threshold: float, out_dir: Path) -> Path | None:
    """Write a copy of the first frame with a face, each face box and its fake probability drawn on it."""
    if result.preview is None:
        return None
    idx, img = result.preview[0], result.preview[1].copy()
    for f in result.faces:
        if f.frame != idx:
            continue
        box = f.box or (0, 0, img.shape[1] - 1, img.shape[0] - 1)
        colour = (0, 0, 255) if f.prob >= threshold else (0, 200, 0)
        cv2.rectangle(img, box[:2], box[2:], colour, 2)
        cv2.putText(
            img,
            f"fake {f.prob:.2f}",
            (box[0], max(12, box[1] - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            max(0.4, img.shape[1] / 900),
            colour,
            2,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{path.stem}_scored.png"
    cv2.imwrite(str(out), img)
    return out


def results_rows(results: list[MediaResult], threshold: float) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        s = r.score
        rows.append(
            {
                "path": str(r.path),
                "kind": r.kind,
                "frames": r.frames_read,
                "faces": len(r.faces),
                "fake_prob": "" if s is None else f"{s:.4f}",
                "verdict": "error" if s is None else ("FAKE" if s >= threshold else "real"),
                "note": r.error or "",
            }
        )
    return rows
