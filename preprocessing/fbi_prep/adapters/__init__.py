"""Dataset layout adapters by name (`--dataset`), and which rgb folder / LMDB a JSON name lives in."""

from __future__ import annotations

import difflib

from fbi_common.datasets import C40_SUFFIX, FF_FAMILY, FF_ROOT, dataset_folder
from fbi_common.registry import Registry

from .base import Adapter, Entry, LayoutError, VideoJob
from .celebdf import CelebDFAdapter
from .custom import CustomAdapter
from .dfdc import DFDCAdapter, DFDCPAdapter
from .ff import FaceForensicsAdapter
from .others import DeeperForensicsAdapter, DeepSpeakAdapter, FFIWAdapter, UADFVAdapter

ADAPTERS = Registry("dataset")
for _adapter in (
    FaceForensicsAdapter(),
    CelebDFAdapter(1),
    CelebDFAdapter(2),
    DFDCAdapter(),
    DFDCPAdapter(),
    DeeperForensicsAdapter(),
    UADFVAdapter(),
    FFIWAdapter(),
    DeepSpeakAdapter(),
    CustomAdapter(),
):
    ADAPTERS.register(_adapter.name)(_adapter)
for _name in FF_FAMILY:  # every FF++-family name (FF-DF, FaceShifter, ...) selects the FF++ adapter
    if _name not in ADAPTERS:
        ADAPTERS.register(_name)(ADAPTERS.get(FF_ROOT))

__all__ = ["ADAPTERS", "Adapter", "Entry", "LayoutError", "VideoJob", "get_adapter", "family_folder"]


def get_adapter(name: str) -> Adapter:
    """The adapter for `--dataset NAME`; an unknown name is a LayoutError with "did you mean" and the list."""
    if name in ADAPTERS:
        return ADAPTERS.get(name)
    known = ADAPTERS.names()
    lower = {k.lower(): k for k in known}
    guess = [lower[g] for g in difflib.get_close_matches(str(name).lower(), list(lower), n=1, cutoff=0.6)]
    raise LayoutError(
        f"unknown --dataset {name!r}{f' (did you mean {guess[0]!r}?)' if guess else ''}; known: {known} "
        "(for your own videos: --dataset custom --root DIR with a labels.csv)"
    )


def family_folder(json_name: str) -> str:
    """rgb folder and LMDB name for a dataset JSON name (FF-DF, FaceShifter, DFD... -> FaceForensics++)."""
    return dataset_folder(json_name.removesuffix(C40_SUFFIX))
