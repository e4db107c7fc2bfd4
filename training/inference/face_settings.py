"""The face pipeline used at inference: the training data's settings from the checkpoint, flags on top.

Crop-defining settings (detector, landmark model, alignment template, crop scale, crop size, image
format) come from the checkpoint when it records them (preprocess_meta.json → dataset JSON
`_preprocessing` → checkpoint `preprocessing.face`); a flag that overrides one logs a warning naming
the training value. Detection runs twice: first as the training data was detected (so a face gets the
box, landmarks and crop training would have given it), then a search pass (`search_upsample`,
`search_max_side`; demo flags `--detect_upsample`, `--detect_max_side`) adds the faces the first
missed — by default every face of about 40 px or more in the full-size picture.
"""

from __future__ import annotations

import json
from typing import Any

import cv2
import numpy as np

from fbi_common.face import FaceEngine, FacePipeline
from fbi_common.face.align import TEMPLATE_112, TEMPLATE_SHIFT_Y
from fbi_common.logging import get_logger
from training.dataset.index import resolve_json

log = get_logger("inference")

# Used when the checkpoint does not record them (data not made by preprocess.py, older checkpoints);
# the crop and first-pass detection settings equal preprocessing/config.yaml's.
DEFAULTS: dict[str, Any] = {
    "detector": "hog",
    "landmark_model": "auto",
    "scale": 1.3,
    "size": 256,
    "image_format": "png",
    "jpeg_quality": 95,
    "detect_max_side": 640,  # first pass = the training data's detection: same boxes, landmarks, crops
    "detect_upsample": [0, 1],
    "search_max_side": 0,  # second pass finds the faces the first missed: full-size picture,
    "search_upsample": [1],  # HOG's 80 px window / 2 = faces down to ~40 px
    "search_min_score": 0.5,  # search-pass detections below this detector score are not faces
}
TRAINING_BOUND = ("detector", "landmark_model", "scale", "size", "image_format", "jpeg_quality",
                  "detect_max_side", "detect_upsample")  # fmt: skip
_LANDMARKS = {"dlib_68": "68", "dlib_81": "81", "auto": "auto", "68": "68", "81": "81"}


def current_template() -> dict[str, Any]:
    """The alignment template this code aligns to (recorded in preprocess_meta.json and checkpoints)."""
    return {"points_112": TEMPLATE_112.tolist(), "shift_y": TEMPLATE_SHIFT_Y}


def resolve(trained: dict | None, flags: dict[str, Any], source: str = "the checkpoint") -> dict[str, Any]:
    """Settings = DEFAULTS ← training values ← flags given (not None); overriding a training value warns."""
    out = dict(DEFAULTS)
    trained = {k: v for k, v in (trained or {}).items() if v is not None}
    for k in TRAINING_BOUND:
        if k in trained:
            out[k] = trained[k]
    tmpl = trained.get("template")
    if tmpl is not None and not _same_template(tmpl):
        log.warning(
            "%s was trained on crops aligned to another template (%s); this code aligns to %s, so crops differ",
            source, tmpl, current_template(),
        )  # fmt: skip
    for k, v in flags.items():
        if v is None:
            continue
        if k in trained and k in TRAINING_BOUND and v != trained[k]:
            log.warning("--%s %s overrides the training value %s recorded in %s", k, v, trained[k], source)
        out[k] = v
    return out


def _same_template(tmpl: dict) -> bool:
    cur = current_template()
    try:
        return np.allclose(tmpl["points_112"], cur["points_112"]) and float(tmpl["shift_y"]) == cur["shift_y"]
    except (KeyError, TypeError, ValueError):
        return False


def build_pipeline(settings: dict[str, Any], engine: FaceEngine | None = None) -> FacePipeline:
    """A FacePipeline with these settings (policy `tracks`: every face of every frame, linked)."""
    if engine is None:
        engine = FaceEngine(
            settings["detector"],
            _LANDMARKS.get(str(settings["landmark_model"]), "auto"),
            int(settings["detect_max_side"]),
            tuple(int(u) for u in settings["detect_upsample"]),
            extra_passes=(
                (int(settings["search_max_side"]), tuple(int(u) for u in settings["search_upsample"])),
            ),
            search_min_score=float(settings["search_min_score"]),
        )
    return FacePipeline(engine, settings["size"], settings["scale"], "tracks")


def as_trained(crop_bgr: np.ndarray, settings: dict[str, Any]) -> np.ndarray:
    """The crop as the training data stored it (JPEG round trip for jpg data), converted to RGB."""
    if settings["image_format"] == "jpg":
        ok, buf = cv2.imencode(".jpg", crop_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(settings["jpeg_quality"])])
        crop_bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else crop_bgr
    return cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB)


def training_face_pipeline(cfg: dict) -> dict | None:
    """The face pipeline of the training datasets (their JSONs' `_preprocessing`), for the checkpoint.

    None when no training JSON records one; when they differ, the first dataset's is kept (logged)."""
    found = []
    for name in cfg["train_dataset"]:
        try:
            _, path, _ = resolve_json(name, cfg["dataset_json_folder"])
            with open(path, encoding="utf-8") as f:
                face = json.load(f).get("_preprocessing")
        except (OSError, ValueError) as e:
            log.info("%s: no face-pipeline settings (%s)", name, e)
            continue
        if isinstance(face, dict):
            found.append((name, face))
    if len({json.dumps(f, sort_keys=True) for _, f in found}) > 1:
        log.warning("training datasets were preprocessed differently (%s); the checkpoint records %s's",
                    [n for n, _ in found], found[0][0])  # fmt: skip
    return found[0][1] if found else None
