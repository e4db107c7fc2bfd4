"""Celeb-DF v1 / v2: Celeb-real, YouTube-real, Celeb-synthesis + List_of_testing_videos.txt."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from .base import HOLDOUT, Adapter, Entry, LayoutError, VideoJob, find_videos, job_for

REAL = ("Celeb-real", "YouTube-real")
FAKE = ("Celeb-synthesis",)
TEST_LIST = "List_of_testing_videos.txt"


class CelebDFAdapter(Adapter):
    meta_files = (TEST_LIST,)
    layout_hint = (
        "Expected Celeb-real/, YouTube-real/, Celeb-synthesis/ (*.mp4) and List_of_testing_videos.txt."
    )

    def __init__(self, version: int):
        self.name = self.folder = f"Celeb-DF-v{version}"
        self.prefix = f"CelebDFv{version}"

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        self.require_root(root)
        jobs = [job_for(root, v) for sub in REAL + FAKE for v in find_videos(root / sub)]
        if not jobs:
            raise LayoutError(f"no videos under {root}. {self.layout_hint}")
        return jobs

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> dict[str, Any]:
        path = meta_root / TEST_LIST
        if not path.is_file():
            raise LayoutError(
                f"{path} not found: Celeb-DF's official test list decides the split. Pass --root to the "
                "downloaded dataset (or copy the file there)."
            )
        test = set()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2:
                raise LayoutError(f"{path} line {n}: expected '<0|1> <folder>/<video>.mp4', got {line!r}")
            rel = PurePosixPath(fields[1].replace("\\", "/"))
            test.add(f"{rel.parent}/{rel.stem}")
        return {"test": test, "seed": cfg["seed"], "val_fraction": cfg["val_fraction"]}

    def describe(self, out_dir: str, video: str, meta: dict[str, Any]) -> Entry | None:
        if out_dir in REAL:
            label = f"{self.prefix}_real"
        elif out_dir in FAKE:
            label = f"{self.prefix}_fake"
        else:
            return None
        # Identity: "id0_0000" and "id0_id16_0000" -> id0 (the target); YouTube-real videos stand alone.
        group = video.split("_")[0] if video.startswith("id") else f"yt{video}"
        if f"{out_dir}/{video}" in meta["test"]:
            split = "test"
        else:
            split = HOLDOUT  # train or a seeded val share, stratified by rearrange
        return Entry(label=label, json_names=(self.name,), split=split, key=video, group=group)
