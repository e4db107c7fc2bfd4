"""DFDC (train parts with metadata.json, test with labels.csv) and DFDC preview (dataset.json)."""

from __future__ import annotations

import csv
import json
from pathlib import Path, PurePosixPath
from typing import Any

from .base import HOLDOUT, Adapter, Entry, LayoutError, VideoJob, find_videos, job_for


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise LayoutError(f"cannot read {path}: {e}") from e


class DFDCAdapter(Adapter):
    name = folder = "DFDC"
    meta_files = ("**/metadata.json", "**/labels.csv")
    layout_hint = (
        "Expected train/dfdc_train_part_*/{*.mp4,metadata.json} and test/{videos/*.mp4 or *.mp4, labels.csv}."
    )

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        self.require_root(root)
        jobs = [job_for(root, v) for v in find_videos(root)]
        if not jobs:
            raise LayoutError(f"no videos under {root}. {self.layout_hint}")
        return jobs

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> dict[str, Any]:
        labels: dict[tuple[str, str], tuple[str, str]] = {}  # (out_dir, video) -> (label, split)
        for path in sorted(meta_root.rglob("metadata.json")):
            out_dir = path.parent.relative_to(meta_root).as_posix()
            for name, info in _read_json(path).items():
                label = {"REAL": "DFDC_Real", "FAKE": "DFDC_Fake"}.get(str(info.get("label")).upper())
                if label is None:
                    raise LayoutError(
                        f"{path}: video {name} has label {info.get('label')!r}; expected REAL/FAKE"
                    )
                labels[(out_dir, PurePosixPath(name).stem)] = (label, "train")
        for path in sorted(meta_root.rglob("labels.csv")):
            out_dir = path.parent.relative_to(meta_root).as_posix()
            with open(path, newline="", encoding="utf-8") as f:
                for n, row in enumerate(csv.DictReader(f), 2):
                    try:
                        label = ("DFDC_Real", "DFDC_Fake")[int(float(row["label"]))]
                        labels[(out_dir, PurePosixPath(row["filename"]).stem)] = (label, "test")
                    except (KeyError, ValueError, IndexError) as e:
                        raise LayoutError(f"{path} line {n}: need columns filename,label (0/1): {e}") from e
        if not labels:
            raise LayoutError(f"no metadata.json / labels.csv under {meta_root}. {self.layout_hint}")
        return {"labels": labels, "seed": cfg["seed"], "val_fraction": cfg["val_fraction"]}

    def describe(self, out_dir: str, video: str, meta: dict[str, Any]) -> Entry | None:
        hit = meta["labels"].get((out_dir, video))
        if hit is None:
            return None
        label, split = hit
        if split == "train":
            split = HOLDOUT  # train or a seeded val share, stratified by rearrange
        return Entry(label=label, json_names=(self.name,), split=split, key=video)


class DFDCPAdapter(Adapter):
    name = folder = "DFDCP"
    meta_files = ("dataset.json",)
    layout_hint = "Expected method_A/, method_B/, original_videos/ (*.mp4) and dataset.json."

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        self.require_root(root)
        jobs = [
            job_for(root, v)
            for sub in ("method_A", "method_B", "original_videos")
            for v in find_videos(root / sub)
        ]
        if not jobs:
            raise LayoutError(f"no videos under {root}. {self.layout_hint}")
        return jobs

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> dict[str, Any]:
        path = meta_root / "dataset.json"
        if not path.is_file():
            raise LayoutError(f"{path} not found; DFDCP's dataset.json holds labels and splits (pass --root)")
        info = {}
        for rel, item in _read_json(path).items():
            rel = PurePosixPath(rel.replace("\\", "/"))
            top = rel.parts[0]
            if item.get("label") == "real":
                label = "DFDCP_Real"
            elif item.get("label") == "fake" and top in ("method_A", "method_B"):
                label = "DFDCP_FakeA" if top == "method_A" else "DFDCP_FakeB"
            else:
                raise LayoutError(f"{path}: entry {rel} has label {item.get('label')!r} under {top}/")
            info[rel.stem] = (label, item.get("set", "train"), top)
        return {"info": info, "seed": cfg["seed"], "val_fraction": cfg["val_fraction"]}

    def describe(self, out_dir: str, video: str, meta: dict[str, Any]) -> Entry | None:
        hit = meta["info"].get(video)
        if hit is None or not out_dir.startswith(hit[2]):
            return None
        label, split, _ = hit
        # Preview ids look like "1224068_A_001": the first field is the source identity.
        group = video.split("_")[0]
        if split == "train":
            split = HOLDOUT  # train or a seeded val share, stratified by rearrange
        return Entry(label=label, json_names=(self.name,), split=split, key=video, group=group)
