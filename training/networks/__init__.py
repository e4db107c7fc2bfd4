"""Backbone wrappers (open_clip visual towers, timm CNNs), registered in `BACKBONES`."""

from training.networks.clip_backbone import ClipBackbone

__all__ = ["ClipBackbone"]
