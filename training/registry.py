"""The detector registry: `model_name` → detector class (`python training/train.py --list`)."""

from fbi_common.registry import Registry

DETECTORS = Registry("detector")
