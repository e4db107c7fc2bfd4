"""Backbone wrappers (open_clip visual towers, timm CNNs), registered in `BACKBONES`."""

from training.networks.clip_backbone import ClipBackbone
from training.networks.timm_backbone import TimmBackbone

__all__ = ["ClipBackbone", "TimmBackbone"]
