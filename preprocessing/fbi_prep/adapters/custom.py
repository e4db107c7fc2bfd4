"""Custom data: a folder of videos plus labels.csv (path,label[,split,identity]) -> NAME_real / NAME_fake."""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath
from typing import Any

from fbi_common.logging import get_logger

from ..splits import seeded_split
from .base import Adapter, Entry, LayoutError, VideoJob, find_videos, job_for

log = get_logger("preprocess.custom")

LABELS = {"real": 0, "0": 0, "fake": 1, "1": 1}
SPLITS = ("train", "val", "test")


def read_labels(path: Path) -> dict[str, dict[str, str]]:
    """rel video path (POSIX) -> {label: real|fake, split, identity}; every bad row is reported at once."""
    if not path.is_file():
        raise LayoutError(
            f"labels file {path} not found; custom data needs a CSV with columns path,label[,split,identity]"
        )
    rows: dict[str, dict[str, str]] = {}
    problems = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"path", "label"} - set(reader.fieldnames or [])
        if missing:
            raise LayoutError(f"{path}: missing column(s) {sorted(missing)}; header must include path,label")
        for n, row in enumerate(reader, 2):
            rel = (row.get("path") or "").strip().replace("\\", "/").lstrip("./")
            label = (row.get("label") or "").strip().lower()
            split = (row.get("split") or "").strip().lower()
            if not rel:
                problems.append(f"line {n}: empty path")
            elif label not in LABELS:
                problems.append(f"line {n}: label {row.get('label')!r} must be real/fake or 0/1")
            elif split and split not in SPLITS:
                problems.append(f"line {n}: split {row.get('split')!r} must be train/val/test or empty")
            elif rel in rows:
                problems.append(f"line {n}: {rel} listed twice")
            else:
                rows[rel] = {
                    "label": "real" if LABELS[label] == 0 else "fake",
                    "split": split,
                    "identity": (row.get("identity") or "").strip(),
                }
    if problems:
        raise LayoutError(f"{path} has {len(problems)} bad row(s):\n  " + "\n  ".join(problems[:20]))
    if not rows:
        raise LayoutError(f"{path} lists no videos")
    return rows


class CustomAdapter(Adapter):
    name = "custom"
    layout_hint = "Expected a folder of videos and labels.csv with columns path,label[,split,identity]."

    def folder_for(self, cfg: dict[str, Any]) -> str:
        name = cfg.get("name") or Path(str(cfg["root"])).name
        if not name or any(c in name for c in "/\\ "):
            raise LayoutError(f"custom dataset name {name!r} is not a plain folder name; pass --name NAME")
        return name

    def labels_path(self, root: Path, cfg: dict[str, Any]) -> Path:
        return Path(cfg["labels"]) if cfg.get("labels") else root / "labels.csv"

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        self.require_root(root)
        rows = read_labels(self.labels_path(root, cfg))
        on_disk = {p.relative_to(root).as_posix() for p in find_videos(root)}
        unlisted = sorted(on_disk - set(rows))
        if unlisted:
            log.warning(
                "%d video(s) under %s are not in the labels file and are skipped, e.g. %s",
                len(unlisted),
                root,
                unlisted[:3],
            )
        # Listed-but-missing files still become jobs, so the ledger records them as unreadable.
        return [job_for(root, root / rel) for rel in sorted(rows)]

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> dict[str, Any]:
        path = Path(cfg["labels"]) if cfg.get("labels") else meta_root / "labels.csv"
        rows = read_labels(path)
        by_out = {}
        for rel, row in rows.items():
            job = job_for(meta_root, meta_root / rel)
            by_out[(job.out_dir, job.video)] = (str(PurePosixPath(rel).with_suffix("")), row)
        return {"rows": by_out, "name": self.folder_for(cfg)} | {
            k: cfg[k] for k in ("seed", "val_fraction", "test_fraction")
        }

    def describe(self, out_dir: str, video: str, meta: dict[str, Any]) -> Entry | None:
        hit = meta["rows"].get((out_dir, video))
        if hit is None:
            return None
        key, row = hit
        group = row["identity"] or key
        split = row["split"] or seeded_split(group, meta["seed"], meta["val_fraction"], meta["test_fraction"])
        return Entry(f"{meta['name']}_{row['label']}", (meta["name"],), split, key=key, group=group)
