"""Processed frame folders -> `dataset_json/<Dataset>.json` (docs/DESIGN.md §2), with official or seeded splits."""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from fbi_common.io import atomic_write_json
from fbi_common.logging import get_logger
from fbi_common.media import IMAGE_EXTS
from fbi_common.paths import resolve_path

from .adapters import LayoutError, get_adapter
from .ledger import DONE, Ledger
from .splits import seeded_split

log = get_logger("rearrange")

SPLITS = ("train", "val", "test")
SHARED_LABELS = {
    "FF-real"
}  # a label that alone does not justify writing a JSON (FF-real is in every FF-* file)
_FACE_SUFFIX = re.compile(r"^(.*?)(_face\d+)?$")


def scan_processed(base: Path):
    """Yield (out_dir, video) for every `<out_dir>/frames/<video>/` folder under `base`."""
    for dirpath, dirnames, _ in os.walk(base):
        if "frames" in dirnames:
            out_dir = Path(dirpath).relative_to(base).as_posix()
            out_dir = "" if out_dir == "." else out_dir
            for v in sorted(os.listdir(Path(dirpath) / "frames")):
                if (Path(dirpath) / "frames" / v).is_dir():
                    yield out_dir, v
        dirnames[:] = sorted(d for d in dirnames if d not in ("frames", "landmarks", "masks"))


def _frame_index(name: str) -> int:
    stem = Path(name).stem
    return int(stem) if stem.isdigit() else -1


def _video_files(base: Path, prefix: str, out_dir: str, video: str) -> tuple[list[str], list[str] | None]:
    """Frame paths (relative to rgb_dir, `/`, sorted by frame index) and aligned mask paths if masks exist."""
    sub = f"{out_dir}/" if out_dir else ""
    fdir = base / sub / "frames" / video
    names = sorted(
        (n for n in os.listdir(fdir) if n.lower().endswith(IMAGE_EXTS)), key=lambda n: (_frame_index(n), n)
    )
    frames = [f"{prefix}/{sub}frames/{video}/{n}" for n in names]
    masks = None
    if (base / sub / "masks" / video).is_dir():
        masks = [f"{prefix}/{sub}masks/{video}/{Path(n).stem}.png" for n in names]
    return frames, masks


def _splits_for(entry, policy: str, meta: dict) -> list[str]:
    if entry.split:
        return [entry.split]
    if policy == "all":
        return list(SPLITS)
    if policy == "seeded":
        return [
            seeded_split(entry.group or entry.key, meta["seed"], meta["val_fraction"], meta["test_fraction"])
        ]
    return ["test"]


def build_tree(cfg: dict[str, Any]) -> tuple[dict[str, dict], dict[str, Any]]:
    """{json_name: {label: {split: {[comp:] {video: {...}}}}}} plus a stats dict; raises on key collisions."""
    adapter = get_adapter(cfg["dataset"])
    folder = adapter.folder_for(cfg | {"root": cfg.get("root") or cfg.get("name") or ""})
    base = resolve_path(cfg["rgb_dir"]) / folder
    if not base.is_dir():
        raise LayoutError(
            f"{base} does not exist; run preprocess.py --dataset {cfg['dataset']} --out {cfg['rgb_dir']} first"
        )
    meta_root = resolve_path(cfg["root"]) if cfg.get("root") else base
    meta = adapter.load_meta(meta_root, cfg)
    policy_meta = {k: cfg[k] for k in ("seed", "val_fraction", "test_fraction")}
    ledger_path = base / "preprocess_ledger.jsonl"
    finished = Ledger(ledger_path).by_output() if ledger_path.is_file() else None
    tree: dict = defaultdict(lambda: defaultdict(lambda: {s: {} for s in SPLITS}))
    sources: dict[tuple, str] = {}
    stats: dict[str, Any] = {"videos": 0, "skipped_unfinished": [], "skipped_unknown": [], "not_in_split": []}
    for out_dir, video in scan_processed(base):
        rel = f"{out_dir}/frames/{video}".lstrip("/")
        if finished is not None and finished.get(rel, {}).get("status") not in DONE:
            stats["skipped_unfinished"].append(rel)  # no finished ledger record: half-written or failed
            continue
        stem, suffix = _FACE_SUFFIX.match(video).groups()
        entry = adapter.describe(out_dir, stem, meta)
        if entry is None:
            stats["skipped_unknown"].append(rel)
            continue
        if entry.split == "missing":
            stats["not_in_split"].append(rel)
            continue
        frames, masks = _video_files(base, folder, out_dir, video)
        if not frames:
            stats["skipped_unknown"].append(rel)
            continue
        key = (entry.key or stem) + (suffix or "")
        item = {"label": entry.label, "frames": frames} | ({"masks": masks} if masks else {})
        for split in _splits_for(entry, cfg["unsplit"], policy_meta):
            for name in entry.json_names:
                node = tree[name][entry.label][split]
                if entry.comp:
                    node = node.setdefault(entry.comp, {})
                ident = (name, entry.label, split, entry.comp, key)
                if ident in sources and sources[ident] != rel:
                    raise LayoutError(
                        f"two videos map to key {key!r} in {name}/{entry.label}/{split}: {sources[ident]} and {rel}"
                    )
                sources[ident] = rel
                node[key] = item
        stats["videos"] += 1
    return tree, stats


def write_jsons(cfg: dict[str, Any]) -> dict[str, Path]:
    """Build and write every JSON the dataset yields; returns {json_name: path}."""
    tree, stats = build_tree(cfg)
    out_dir = resolve_path(cfg["out"])
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter = get_adapter(cfg["dataset"])
    own = adapter.folder_for(cfg | {"root": cfg.get("root") or cfg.get("name") or ""})
    custom = cfg["dataset"] == "custom"
    written = {}
    for name, labels in sorted(tree.items()):
        if name != own and all(lbl in SHARED_LABELS for lbl in labels):
            continue
        doc: dict[str, Any] = {name: {lbl: dict(splits) for lbl, splits in sorted(labels.items())}}
        if custom:
            # The training side merges this into label_dict, so `--train_dataset NAME` needs no config edit.
            doc["_label_dict"] = {f"{name}_real": 0, f"{name}_fake": 1}
        path = out_dir / f"{name}.json"
        atomic_write_json(path, doc, indent=1)
        written[name] = path
        log.info("wrote %s: %s", path, _counts(doc[name]))
    _report_skips(stats)
    if not written:
        raise LayoutError(
            f"no processed videos of {cfg['dataset']} found under {resolve_path(cfg['rgb_dir']) / own}"
        )
    return written


def _counts(top: dict) -> str:
    c: Counter = Counter()
    for label, splits in top.items():
        for split, node in splits.items():
            n = (
                sum(len(v) for v in node.values())
                if node and "frames" not in next(iter(node.values()))
                else len(node)
            )
            c[f"{label}/{split}"] = n
    return ", ".join(f"{k}={v}" for k, v in sorted(c.items()) if v)


def _report_skips(stats: dict) -> None:
    for key, why in (
        (
            "skipped_unfinished",
            "have no finished ledger record (interrupted or failed; re-run preprocess.py)",
        ),
        (
            "skipped_unknown",
            "do not belong to any label of this dataset (unexpected folder or not in the metadata)",
        ),
        ("not_in_split", "are not in the official split files"),
    ):
        if stats[key]:
            log.warning("%d video folder(s) %s, e.g. %s", len(stats[key]), why, stats[key][:3])
