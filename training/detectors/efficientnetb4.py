"""EfficientNet-B4 baseline (DeepfakeBench's `efficientnetb4`) via timm."""

from __future__ import annotations

from typing import Any, ClassVar

from training.detectors.base import TimmDetector
from training.registry import DETECTORS


@DETECTORS.register("efficientnetb4")
class EfficientNetB4Detector(TimmDetector):
    """timm `efficientnet_b4` with its `ra2_in1k` ImageNet weights. DeepfakeBench loads TensorFlow-ported
    weights (lukemelas/EfficientNet-PyTorch); the closest timm equivalent is `backbone:
    tf_efficientnet_b4` (TF "same" padding) with `pretrained: tf_efficientnet_b4.aa_in1k`."""

    config_defaults: ClassVar[dict[str, Any]] = {
        "backbone": "efficientnet_b4",  # timm model name
        "pretrained": "efficientnet_b4.ra2_in1k",  # timm weight tag, a local file, or none
        "dropout": 0.0,  # before the linear head
        "image_size": None,  # null: the weights' native size (320)
    }
    test_config: ClassVar[dict[str, Any]] = {"pretrained": "none", "image_size": 64}
