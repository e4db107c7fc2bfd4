"""Detectors, registered in `DETECTORS`; every module here is imported, so a new detector is one new file."""

import importlib
import pkgutil

from training.detectors.base import BaseDetector

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["BaseDetector"]
