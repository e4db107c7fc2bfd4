"""DeeperForensics-1.0, UADFV, FFIW and DeepSpeak v1: folder-named labels with simple split rules."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from ..splits import seeded_split
from .base import HOLDOUT, Adapter, Entry, LayoutError, VideoJob, find_videos, job_for

SPLITS = ("train", "val", "test")


def _policy_meta(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: cfg[k] for k in ("seed", "val_fraction", "test_fraction")}


class DeeperForensicsAdapter(Adapter):
    name = folder = "DeeperForensics-1.0"
    meta_files = ("lists/splits/*.txt",)
    layout_hint = (
        "Expected source_videos/<actor>/.../*.mp4, manipulated_videos/<perturbation>/*.mp4, lists/splits/."
    )

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        self.require_root(root)
        subsets = cfg.get("subsets") or ["source_videos", "end_to_end"]
        dirs = [
            root / "source_videos" if s == "source_videos" else root / "manipulated_videos" / s
            for s in subsets
        ]
        jobs = [job_for(root, v) for d in dirs for v in find_videos(d)]
        if not jobs:
            raise LayoutError(f"no videos under {[str(d) for d in dirs]}. {self.layout_hint}")
        return jobs

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> dict[str, Any]:
        fake_split = {}
        for split in SPLITS:
            path = meta_root / "lists" / "splits" / f"{split}.txt"
            if not path.is_file():
                raise LayoutError(
                    f"{path} not found; DeeperForensics' official split lists are needed (pass --root)"
                )
            for line in path.read_text(encoding="utf-8").split():
                fake_split[PurePosixPath(line).stem] = split
        return {"fake_split": fake_split} | _policy_meta(cfg)

    def describe(self, out_dir: str, video: str, meta: dict[str, Any]) -> Entry | None:
        parts = PurePosixPath(out_dir).parts
        if parts[:1] == ("manipulated_videos",):
            # Fakes are "<target>_<actor>": official lists split them.
            return Entry("DF_fake", (self.name,), meta["fake_split"].get(video, "missing"), key=video)
        if parts[:1] == ("source_videos",) and len(parts) > 1:
            # Real actor videos have no official split: split by actor, seeded.
            actor = parts[1]
            split = seeded_split(actor, meta["seed"], meta["val_fraction"], meta["test_fraction"])
            return Entry("DF_real", (self.name,), split, key=video, group=actor)
        return None


class FolderLabelAdapter(Adapter):
    """Label from a folder name anywhere in the path; split from a train/val/test folder if there is one."""

    real_dirs: tuple[str, ...] = ()
    fake_dirs: tuple[str, ...] = ()
    labels: tuple[str, str] = ("", "")

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        self.require_root(root)
        jobs = [j for j in (job_for(root, v) for v in find_videos(root)) if self._label(j.out_dir)]
        if not jobs:
            raise LayoutError(
                f"no videos under {root} in folders named {self.real_dirs + self.fake_dirs}. {self.layout_hint}"
            )
        return jobs

    def _label(self, out_dir: str) -> str | None:
        parts = [p.lower() for p in PurePosixPath(out_dir).parts]
        if any(p in self.fake_dirs for p in parts):
            return self.labels[1]
        if any(p in self.real_dirs for p in parts):
            return self.labels[0]
        return None

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> dict[str, Any]:
        # A val folder anywhere near the top means the dataset ships its own val split.
        has_val = any(p.is_dir() for pat in ("val", "*/val", "*/*/val") for p in meta_root.glob(pat))
        return _policy_meta(cfg) | {"has_val": has_val}

    def group_of(self, video: str) -> str:
        return video

    def describe(self, out_dir: str, video: str, meta: dict[str, Any]) -> Entry | None:
        label = self._label(out_dir)
        if label is None:
            return None
        parts = [p.lower() for p in PurePosixPath(out_dir).parts]
        split = next((p for p in parts if p in SPLITS), None)
        group = self.group_of(video)
        if split == "train" and not meta["has_val"]:
            split = HOLDOUT  # train or a seeded val share, stratified by rearrange
        return Entry(label, (self.name,), split, key=video, group=group)


class UADFVAdapter(FolderLabelAdapter):
    name = folder = "UADFV"
    real_dirs, fake_dirs, labels = ("real",), ("fake",), ("UADFV_Real", "UADFV_Fake")
    layout_hint = "Expected real/*.mp4 and fake/*.mp4."

    def group_of(self, video: str) -> str:
        return video.removesuffix("_fake")


class FFIWAdapter(FolderLabelAdapter):
    name = folder = "FFIW"
    real_dirs, fake_dirs, labels = ("source",), ("target",), ("FFIW_real", "FFIW_fake")
    layout_hint = "Expected source/{train,val,test}/*.mp4 (real) and target/{train,val,test}/*.mp4 (fake)."


class DeepSpeakAdapter(FolderLabelAdapter):
    name = folder = "DeepSpeak_v1"
    real_dirs, fake_dirs, labels = ("real",), ("fake",), ("DeepSpeak_real", "DeepSpeak_fake")
    layout_hint = "Expected the videos exported as [train|test]/real/... and [train|test]/fake/... (*.mp4)."
