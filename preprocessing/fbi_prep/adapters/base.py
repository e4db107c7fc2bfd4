"""What a dataset adapter is: list a dataset's videos for preprocessing, and label/split them for rearrange."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from fbi_common.errors import DataError
from fbi_common.media import is_video

# Entry.split of a video without an official split that rearrange assigns, together with the others,
# by a seeded, identity-disjoint split stratified by class (splits.stratified_split).
SEEDED = "seeded"
# Entry.split of a training video of a dataset with an official test but no val split: rearrange holds
# a seeded validation share out of these (`val_fraction`), identity-disjoint and stratified by class.
HOLDOUT = "holdout"


class LayoutError(DataError):
    """The dataset folder does not look like the official tree (or a labels file is malformed)."""


@dataclass(frozen=True)
class VideoJob:
    """One video to preprocess."""

    src: str  # absolute path of the video file
    rel: str  # POSIX path relative to the dataset root (the ledger key)
    out_dir: str  # POSIX folder under <out>/<Dataset> that receives frames/, landmarks/, masks/
    video: str  # folder name under frames/ (the video's stem)
    mask_src: str | None = None  # manipulation-mask video (FF++ / DFD), if any


@dataclass(frozen=True)
class Entry:
    """How one processed video enters the dataset JSONs."""

    label: str  # label name, e.g. FF-DF
    json_names: tuple[str, ...]  # dataset JSONs it belongs to
    split: str | None  # train / val / test; SEEDED = seeded split; None = decided by the rearrange policy
    comp: str | None = None  # FF++ family only
    key: str = ""  # video key inside the JSON (default: the folder name)
    group: str = ""  # identity / group for seeded splits (default: the key)


def out_dir_for(rel: str) -> str:
    """DeepfakeBench layout: `<dir>/videos/x.mp4` and `<dir>/x.mp4` both get frames in `<dir>/frames/x/`."""
    parent = PurePosixPath(rel).parent
    if parent.name == "videos":
        parent = parent.parent
    return "" if str(parent) == "." else str(parent)


def find_videos(folder: Path) -> list[Path]:
    """Every video file under `folder` (recursive, sorted); frame/mask output folders are not descended.

    A sub-folder that cannot be listed (permissions) is an error, not a silent gap in the dataset.
    """
    if not folder.is_dir():
        return []
    unreadable: list[str] = []

    def note(err: OSError) -> None:
        unreadable.append(f"{err.filename} ({err.strerror or err})")

    found = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=note, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in ("frames", "masks", "landmarks"))
        found += [Path(dirpath) / f for f in filenames if is_video(Path(f))]
    if unreadable:
        raise LayoutError(
            f"cannot list {len(unreadable)} folder(s) under {folder}: {unreadable[:5]}; fix their "
            "permissions (videos in them would be missing from the dataset)"
        )
    return sorted(p for p in found if p.is_file())


def job_for(root: Path, path: Path, mask_src: Path | None = None) -> VideoJob:
    rel = path.relative_to(root).as_posix()
    return VideoJob(
        src=str(path),
        rel=rel,
        out_dir=out_dir_for(rel),
        video=path.stem,
        mask_src=str(mask_src) if mask_src is not None and mask_src.is_file() else None,
    )


class Adapter:
    """Base adapter: subclasses set the names and implement `list_videos` and `describe`."""

    name: str = ""  # --dataset value
    folder: str = ""  # folder under rgb_dir
    meta_files: tuple[
        str, ...
    ] = ()  # glob patterns (relative to the root) rearrange needs; copied by preprocess
    layout_hint: str = ""  # shown when the root does not match

    def folder_for(self, cfg: dict[str, Any]) -> str:
        return self.folder

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        raise NotImplementedError

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> Any:
        """Split/label metadata rearrange needs (read from the raw root or the copy in the output folder)."""
        return None

    def describe(self, out_dir: str, video: str, meta: Any) -> Entry | None:
        """Label and split of the processed video `<out_dir>/frames/<video>`; None = not part of this dataset."""
        raise NotImplementedError

    def require_root(self, root: Path) -> None:
        what = "does not exist" if not root.exists() else None if root.is_dir() else "is a file, not a folder"
        if what is None and not os.access(root, os.R_OK | os.X_OK):
            what = "cannot be read (permission denied)"
        if what:
            raise LayoutError(f"--root {root} {what}; expected the {self.name} dataset. {self.layout_hint}")
