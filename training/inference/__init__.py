"""Scoring new media with trained checkpoints: `from training.inference import Detector`.

    d = Detector.from_checkpoint("logs/training/<run>/ckpt/best.pth")
    result = d.predict("photo.jpg")          # or a video, or an RGB numpy array
    results = d.predict_many(paths)          # with a progress bar; per-file errors stay per file

Modules: `predictor` (one checkpoint → model, transform, threshold), `face_settings` (the training
data's face pipeline, from the checkpoint), `media` (reading inputs), `ensemble` (ensemble, frame and
video rules), `detector` (the API), `report` (CSV, JSON, annotated pictures, score plot).
"""

from training.inference.detector import Detector
from training.inference.ensemble import ENSEMBLE_RULES, FRAME_RULES, VIDEO_RULES, combine
from training.inference.media import IMAGE_EXTS, VIDEO_EXTS, MediaError, list_media
from training.inference.predictor import Predictor

__all__ = [
    "ENSEMBLE_RULES", "FRAME_RULES", "IMAGE_EXTS", "VIDEO_EXTS", "VIDEO_RULES", "Detector", "MediaError",
    "Predictor", "combine", "list_media",
]  # fmt: skip
