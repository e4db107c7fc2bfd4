"""Backbone wrappers (open_clip visual towers, timm CNNs), built by the detectors that use them."""

from training.networks.clip_backbone import ClipBackbone
from training.networks.timm_backbone import TimmBackbone

__all__ = ["ClipBackbone", "TimmBackbone"]
