"""Processed frame folders -> `dataset_json/<Dataset>.json` (docs/DESIGN.md §2), with official or seeded splits."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

from fbi_common.datasets import SPLITS
from fbi_common.io import atomic_write_json
from fbi_common.logging import get_logger
from fbi_common.media import IMAGE_EXTS
from fbi_common.paths import resolve_path

from .adapters import LayoutError, get_adapter
from .adapters.base import HOLDOUT, SEEDED
from .ledger import DONE, Ledger
from .rearrange_report import REPORT_NAME, report_skips, unfinished_sources, warn_empty
from .splits import stratified_split
from .streams import STREAM_SUFFIX

log = get_logger("rearrange")

SHARED_LABELS = {
    "FF-real"
}  # a label that alone does not justify writing a JSON (FF-real is in every FF-* file)


def scan_processed(base: Path):
    """Yield (out_dir, video) for every `<out_dir>/frames/<video>/` folder under `base`.

    A folder that cannot be listed is an error: its videos would otherwise be missing silently.
    """

    def refuse(err: OSError) -> None:
        raise LayoutError(f"cannot list {err.filename}: {err.strerror or err}; fix its permissions") from None

    for dirpath, dirnames, _ in os.walk(base, onerror=refuse):
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


def _policy_split(entry, policy: str) -> list[str]:
    """The split(s) of an entry; [SEEDED] when the stratified seeded split decides."""
    if entry.split:
        return [entry.split]
    if policy == "all":
        return list(SPLITS)
    if policy == "seeded":
        return [SEEDED]
    return ["test"]


def is_real(label: str) -> bool:
    """Every real label name of docs/DESIGN.md §2 (FF-real, DFDC_Real, NAME_real, ...) ends in 'real'."""
    return label.lower().endswith("real")


def _seeded_splits(found: list[tuple], cfg: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(marker, group) -> split for the entries a seeded split decides (SEEDED: train/val/test, HOLDOUT:
    train/val), stratified by class so val and test keep real and fake videos when the data allow."""
    pools: dict[str, dict[str, set[int]]] = {SEEDED: defaultdict(set), HOLDOUT: defaultdict(set)}
    for entry, *_ in found:
        for marker in _policy_split(entry, cfg["unsplit"]):
            if marker in pools:
                pools[marker][entry.group or entry.key].add(0 if is_real(entry.label) else 1)
    out: dict[tuple[str, str], str] = {}
    for marker, groups in pools.items():
        if not groups:
            continue
        splits = SPLITS if marker == SEEDED else ("train", "val")
        split_of, problems = stratified_split(
            groups, cfg["seed"], cfg["val_fraction"], cfg["test_fraction"], splits=splits
        )
        n = Counter(split_of.values())
        log.info(
            "seeded %s (seed %s) of %d group(s) (identities, else videos): %s",
            "split" if marker == SEEDED else "validation hold-out", cfg["seed"], len(groups),
            ", ".join(f"{s} {n[s]}" for s in splits),
        )  # fmt: skip
        for msg in problems:
            log.warning("seeded split: %s; add videos, give a split explicitly, or use val_dataset", msg)
        out |= {(marker, g): s for g, s in split_of.items()}
    return out


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
    ledger_path = base / "preprocess_ledger.jsonl"
    ledger = Ledger(ledger_path) if ledger_path.is_file() else None
    finished = ledger.by_output() if ledger is not None else None
    stats: dict[str, Any] = {"videos": 0, "skipped_unfinished": [], "skipped_unknown": [], "not_in_split": []}
    stats["unfinished_sources"] = unfinished_sources(adapter, cfg, base, meta, ledger)
    found = []
    for out_dir, video in scan_processed(base):
        rel = f"{out_dir}/frames/{video}".lstrip("/")
        if finished is not None and finished.get(rel, {}).get("status") not in DONE:
            stats["skipped_unfinished"].append(rel)  # no finished ledger record: half-written or failed
            continue
        stem, suffix = _source_stem(video, (finished or {}).get(rel))
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
        found.append((entry, rel, (entry.key or stem) + (suffix or ""), frames, masks))
    seeded = _seeded_splits(found, cfg)
    tree: dict = defaultdict(lambda: defaultdict(lambda: {s: {} for s in SPLITS}))
    sources: dict[tuple, str] = {}
    for entry, rel, key, frames, masks in found:
        item = {"label": entry.label, "frames": frames} | ({"masks": masks} if masks else {})
        for split in _policy_split(entry, cfg["unsplit"]):
            split = seeded.get((split, entry.group or entry.key), split)
            for name in entry.json_names:
                node = tree[name][entry.label][split]
                if entry.comp:
                    node = node.setdefault(entry.comp, {})
                ident = (name, entry.label, split, entry.comp, key)
                if ident in sources and sources[ident] != rel:
                    raise LayoutError(
                        f"two videos map to key {key!r} in {name}/{entry.label}/{split}: {sources[ident]} and "
                        f"{rel}; rename one of the source videos"
                    )
                sources[ident] = rel
                node[key] = item
        stats["videos"] += 1
    return tree, stats


def write_jsons(cfg: dict[str, Any]) -> dict[str, Path]:
    """Build and write every JSON the dataset yields; returns {json_name: path}."""
    tree, stats = build_tree(cfg)
    out_dir = resolve_path(cfg["out"])
    adapter = get_adapter(cfg["dataset"])
    own = adapter.folder_for(cfg | {"root": cfg.get("root") or cfg.get("name") or ""})
    custom = cfg["dataset"] == "custom"
    face = _face_pipeline(resolve_path(cfg["rgb_dir"]) / own)
    written = {}
    for name, labels in sorted(tree.items()):
        if name != own and all(lbl in SHARED_LABELS for lbl in labels):
            continue
        doc: dict[str, Any] = {name: {lbl: dict(splits) for lbl, splits in sorted(labels.items())}}
        if custom:
            # The training side merges this into label_dict, so `--train_dataset NAME` needs no config edit.
            doc["_label_dict"] = {f"{name}_real": 0, f"{name}_fake": 1}
        if face:  # the face pipeline of these crops; DeepfakeBench-format readers ignore the key
            doc["_preprocessing"] = face
        path = atomic_write_json(out_dir / f"{name}.json", doc, indent=1)
        written[name] = path
        log.info("wrote %s: %s", path, _counts(doc[name]))
        stats.setdefault("empty", {})[name] = warn_empty(name, doc[name], cfg["unsplit"])
    report_skips(stats)
    report = resolve_path(cfg["rgb_dir"]) / own / REPORT_NAME
    if report.parent.is_dir():
        log.info("every skipped video is listed in %s", atomic_write_json(report, stats))
    if not written:
        raise LayoutError(
            f"no processed videos of {cfg['dataset']} found under {resolve_path(cfg['rgb_dir']) / own}"
            + (
                f" ({len(stats['skipped_unfinished'])} without a finished ledger record)"
                if stats["skipped_unfinished"]
                else ""
            )
            + "; run preprocess.py for it first (see the messages above for what was skipped)"
        )
    return written


def _source_stem(folder: str, record: dict | None) -> tuple[str, str]:
    """(source video name, stream suffix) of an output folder: from its ledger record when there is one
    (exact even for a video whose own name ends like `_t1`), else by the `_face<k>`/`_t<k>` suffix."""
    if record and record.get("video"):
        src = PurePosixPath(str(record["video"]).replace("\\", "/")).stem
        if folder.startswith(src):
            return src, folder[len(src) :]
    stem, suffix = STREAM_SUFFIX.match(folder).groups()
    return stem, suffix or ""


def _face_pipeline(base: Path) -> dict | None:
    """`face_pipeline` of the dataset's preprocess_meta.json (None for data preprocess.py did not make)."""
    meta = base / "preprocess_meta.json"
    if not meta.is_file():
        return None
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("face_pipeline")
    except (OSError, json.JSONDecodeError) as e:
        log.warning("%s unreadable (%s); the dataset JSON will not record the face pipeline", meta, e)
        return None


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
