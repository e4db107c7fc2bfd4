"""Custom data: a folder of videos plus labels.csv (path,label[,split,identity]) -> NAME_real / NAME_fake."""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath
from typing import Any

from fbi_common.datasets import SPLITS
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path

from .base import SEEDED, Adapter, Entry, LayoutError, VideoJob, find_videos, job_for

log = get_logger("preprocess.custom")

LABELS = {"real": 0, "0": 0, "fake": 1, "1": 1}


def _rel_path(raw: str, root: Path | None) -> str:
    """A labels.csv path → POSIX path relative to the dataset folder (`./x`, `x\\y` and absolute paths
    inside the folder are accepted); '' when it cannot be one (absolute elsewhere, or `..`)."""
    text = raw.strip().replace("\\", "/")
    path = PurePosixPath(text)
    if path.is_absolute() or (len(text) > 1 and text[1] == ":"):
        if root is None:
            return ""
        try:
            return Path(text).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return ""
    parts = [x for x in path.parts if x not in ("", ".")]
    return "" if not parts or ".." in parts else "/".join(parts)


def read_labels(path: Path, root: Path | None = None) -> dict[str, dict[str, str]]:
    """rel video path (POSIX) -> {label: real|fake, split, identity}; every bad row is reported at once.

    `path` values are relative to the dataset folder `root` (absolute paths inside it are accepted).
    Column names are matched case-insensitively; extra columns are ignored.
    """
    if not path.is_file():
        raise LayoutError(
            f"labels file {path} not found; custom data needs a CSV with columns path,label[,split,identity]"
        )
    rows: dict[str, dict[str, str]] = {}
    problems = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames:
                reader.fieldnames = [(h or "").strip().lower() for h in reader.fieldnames]
            missing = {"path", "label"} - set(reader.fieldnames or [])
            if missing:
                raise LayoutError(
                    f"{path}: missing column(s) {sorted(missing)} (header: {reader.fieldnames or 'none'}); "
                    "the first line must name the columns: path,label[,split,identity]"
                )
            for n, row in enumerate(reader, 2):
                if None in row:
                    problems.append(f"line {n}: more fields than the header has columns")
                    continue
                raw = row.get("path") or ""
                rel = _rel_path(raw, root)
                label = (row.get("label") or "").strip().lower()
                split = (row.get("split") or "").strip().lower()
                if not raw.strip():
                    problems.append(f"line {n}: empty path")
                elif not rel:
                    problems.append(
                        f"line {n}: path {raw!r} must be relative to the dataset folder {root or ''}"
                    )
                elif label not in LABELS:
                    problems.append(f"line {n}: label {row.get('label')!r} must be real/fake or 0/1")
                elif split and split not in SPLITS:
                    problems.append(f"line {n}: split {row.get('split')!r} must be train/val/test or empty")
                elif rel in rows:
                    problems.append(f"line {n}: {rel} listed twice (first on line {rows[rel]['line']})")
                else:
                    rows[rel] = {
                        "label": "real" if LABELS[label] == 0 else "fake",
                        "split": split,
                        "identity": (row.get("identity") or "").strip(),
                        "line": str(n),
                    }
    except UnicodeDecodeError as e:
        raise LayoutError(f"{path}: not UTF-8 text (byte {e.start}); save the CSV as UTF-8") from None
    except csv.Error as e:
        raise LayoutError(f"{path}: not a readable CSV ({e})") from None
    if len(problems) == 1:
        raise LayoutError(f"{path} {problems[0]}")
    if problems:
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise LayoutError(f"{path} has {len(problems)} bad rows:\n  " + "\n  ".join(problems[:20]) + more)
    if not rows:
        raise LayoutError(f"{path} lists no videos; add one row per video: path,label[,split,identity]")
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
        return resolve_path(cfg["labels"]) if cfg.get("labels") else root / "labels.csv"

    def list_videos(self, root: Path, cfg: dict[str, Any]) -> list[VideoJob]:
        self.require_root(root)
        labels = self.labels_path(root, cfg)
        rows = read_labels(labels, root)
        on_disk = {p.relative_to(root).as_posix() for p in find_videos(root)}
        unlisted = sorted(on_disk - set(rows))
        if unlisted:
            log.warning(
                "%d video(s) under %s are not in the labels file and are skipped: %s",
                len(unlisted),
                root,
                unlisted[:20],
            )
        absent = sorted(rel for rel in rows if not (root / rel).is_file())
        if absent and len(absent) == len(rows):
            raise LayoutError(
                f"none of the {len(rows)} paths in {labels} exists under {root} (e.g. {absent[:3]}); "
                "paths must be relative to the folder given as --root"
            )
        if absent:
            # Listed-but-missing files still become jobs, so the ledger records them as unreadable.
            log.warning(
                "%d path(s) in %s do not exist under %s and will be recorded as unreadable: %s",
                len(absent),
                labels,
                root,
                absent[:20],
            )
        return [job_for(root, root / rel) for rel in sorted(rows)]

    def load_meta(self, meta_root: Path, cfg: dict[str, Any]) -> dict[str, Any]:
        path = self.labels_path(meta_root, cfg)
        rows = read_labels(path, meta_root)
        by_out = {}
        for rel, row in rows.items():
            job = job_for(meta_root, meta_root / rel)
            by_out[(job.out_dir, job.video)] = (str(PurePosixPath(rel).with_suffix("")), row)
        return {"rows": by_out, "name": self.folder_for(cfg), "sources": sorted(rows)} | {
            k: cfg[k] for k in ("seed", "val_fraction", "test_fraction")
        }

    def describe(self, out_dir: str, video: str, meta: dict[str, Any]) -> Entry | None:
        hit = meta["rows"].get((out_dir, video))
        if hit is None:
            return None
        key, row = hit
        group = row["identity"] or key
        split = row["split"] or SEEDED  # rearrange splits these together, stratified by class
        return Entry(f"{meta['name']}_{row['label']}", (meta["name"],), split, key=key, group=group)
