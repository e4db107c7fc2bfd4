"""Xception baseline (Chollet 2017; the FaceForensics++ / DeepfakeBench reference CNN) via timm."""

from __future__ import annotations

from typing import Any, ClassVar

from training.detectors.base import TimmDetector
from training.registry import DETECTORS


@DETECTORS.register("xception")
class XceptionDetector(TimmDetector):
    """timm `legacy_xception`: the original Xception as ported by Cadene's `pretrainedmodels`, whose
    Keras-ported ImageNet weights DeepfakeBench loads as `xception-b5690688.pth` (that file can be
    passed as `model.pretrained`). timm's `xception41/65/71` are the deeper "aligned" DeepLab variants."""

    config_defaults: ClassVar[dict[str, Any]] = {
        "backbone": "legacy_xception",  # timm model name
        "pretrained": "legacy_xception.tf_in1k",  # timm weight tag, a local file, or none
        "dropout": 0.0,  # before the linear head
        "image_size": None,  # null: the weights' native size (299)
    }
    test_config: ClassVar[dict[str, Any]] = {"pretrained": "none", "image_size": 64}
