"""One trained checkpoint ready to score face crops: its model, input transform, threshold and face settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fbi_common.logging import get_logger
from training.dataset.transforms import FrameTransform
from training.trainer.build import build_detector, data_info, input_spec
from training.trainer.checkpoint import CheckpointError, load_checkpoint, load_model_weights

log = get_logger("inference")

BATCH = 32  # crops per forward pass


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
        self.path = Path(weights_path)
        self.model = build_detector(cfg, data_info(cfg, ckpt.get("identity_map") or {}))
        load_model_weights(self.model, ckpt, source=str(weights_path))
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        pre = ckpt["preprocessing"]
        # Resize only: the detector applies the checkpoint's normalisation to the uint8 pixels itself.
        self.transform = FrameTransform(input_spec(cfg, self.model, pre)["size"])
        thr = ckpt.get("threshold")
        self.threshold = float(thr) if thr is not None else 0.5
        self.model_name = cfg["model_name"]
        # The face pipeline the training data was made with (preprocess_meta.json -> dataset JSON -> here).
        self.face_settings: dict | None = pre.get("face")

    @torch.no_grad()
    def score_crops(self, crops_rgb: list[np.ndarray]) -> list[float]:
        """Fake probability of each aligned RGB uint8 face crop."""
        out: list[float] = []
        for i in range(0, len(crops_rgb), BATCH):
            x = torch.stack([self.transform(c)["image"] for c in crops_rgb[i : i + BATCH]]).to(self.device)
            out += self.model({"image": x}, inference=True)["prob"].float().cpu().tolist()
        return out

    def describe(self) -> dict:
        """What the output files say about this member."""
        return {"path": str(self.path), "model_name": self.model_name, "threshold": self.threshold}
