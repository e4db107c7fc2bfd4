"""Dataset-name facts both packages use: the FaceForensics++ family and the folder a dataset lives in."""

from __future__ import annotations

FF_ROOT = "FaceForensics++"
# DeepfakeBench's FF++ family: their JSONs nest a compression level, their frames live under
# `<rgb_dir>/FaceForensics++/` and they share `FaceForensics++_lmdb`.
FF_FAMILY = (FF_ROOT, "FF-DF", "FF-F2F", "FF-FS", "FF-NT", "FaceShifter", "DeepFakeDetection")
COMPRESSIONS = ("raw", "c23", "c40")
SPLITS = ("train", "val", "test")  # the split level of every dataset JSON
# `<Name>_c40` is the dataset `<Name>` (same JSON, same folder) at compression c40.
C40_SUFFIX = "_c40"


def dataset_folder(name: str) -> str:
    """The folder under `rgb_dir` (and the `<folder>_lmdb` prefix) holding a dataset JSON's frames."""
    return FF_ROOT if name in FF_FAMILY else name
