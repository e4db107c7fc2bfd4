"""Dataset layout adapters by name (`--dataset`), and which rgb folder / LMDB a JSON name lives in."""

from __future__ import annotations

from .base import Adapter, Entry, LayoutError, VideoJob
from .celebdf import CelebDFAdapter
from .custom import CustomAdapter
from .dfdc import DFDCAdapter, DFDCPAdapter
from .ff import FAMILY, FaceForensicsAdapter
from .others import DeeperForensicsAdapter, DeepSpeakAdapter, FFIWAdapter, UADFVAdapter

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
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
    )
}

__all__ = ["ADAPTERS", "Adapter", "Entry", "LayoutError", "VideoJob", "get_adapter", "family_folder"]


def get_adapter(name: str) -> Adapter:
    """The adapter for `--dataset NAME`; the FF++ family names select the FaceForensics++ adapter."""
    if name in FAMILY:
        return ADAPTERS["FaceForensics++"]
    if name in ADAPTERS:
        return ADAPTERS[name]
    raise KeyError(
        f"unknown dataset {name!r}; known: {sorted(ADAPTERS) + sorted(set(FAMILY) - set(ADAPTERS))}"
    )


def family_folder(json_name: str) -> str:
    """rgb folder and LMDB name for a dataset JSON name (FF-DF, FaceShifter, DFD... -> FaceForensics++)."""
    name = json_name.removesuffix("_c40")
    if name in FAMILY:
        return "FaceForensics++"
    return name
