"""What rearrange left out, said out loud: unprocessed source videos, skipped folders, empty splits/classes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from fbi_common.datasets import SPLITS
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path

from .adapters import LayoutError
from .ledger import DONE, Ledger

log = get_logger("rearrange")

REPORT_NAME = "rearrange_report.json"  # next to the frames: every skipped video, by reason
SHOWN = 50  # lines per list in the console; the report file has them all


def _source_list(adapter, cfg: dict[str, Any], base: Path, meta: Any) -> tuple[list[str] | None, str]:
    """The source videos (ledger keys) and where the list came from; None when it cannot be known."""
    if isinstance(meta, dict) and "sources" in meta:
        return list(meta["sources"]), "the labels file"
    meta_path = base / "preprocess_meta.json"
    try:
        settings = json.loads(meta_path.read_text(encoding="utf-8"))["settings"]
        root = resolve_path(settings["root"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, f"no readable {meta_path}"
    if not root.is_dir():
        return None, f"the source folder {root} is not available"
    try:
        return [j.rel for j in adapter.list_videos(root, settings)], f"the videos under {root}"
    except (LayoutError, KeyError, OSError) as e:
        return None, f"cannot list {root} ({e})"


def unfinished_sources(
    adapter, cfg: dict[str, Any], base: Path, meta: Any, ledger: Ledger | None
) -> list[dict]:
    """Every source video without a finished preprocessing record (failed, or never run), logged."""
    videos, origin = _source_list(adapter, cfg, base, meta)
    if videos is None or ledger is None:
        why = origin if videos is None else f"there is no ledger {base / 'preprocess_ledger.jsonl'}"
        log.info("cannot check which source videos were not preprocessed: %s", why)
        return []
    missing = []
    for v in videos:
        rec = ledger.records.get(v)
        if rec is None:
            missing.append({"video": v, "status": "not_run", "error": "no preprocessing record"})
        elif rec.get("status") not in DONE:
            missing.append({"video": v, "status": rec.get("status"), "error": rec.get("error")})
    if missing:
        counts = Counter(m["status"] for m in missing)
        log.warning(
            "%d of %d source video(s) (from %s) have no finished preprocessing record and are not in the "
            "JSON (%s); re-run preprocess.py (--retry_failed for failed ones):",
            len(missing), len(videos), origin, ", ".join(f"{k}={v}" for k, v in sorted(counts.items())),
        )  # fmt: skip
        for m in missing[:SHOWN]:
            log.warning("  %s: %s (%s)", m["video"], m["status"], m["error"])
        if len(missing) > SHOWN:
            log.warning("  ... and %d more (all listed in %s)", len(missing) - SHOWN, base / REPORT_NAME)
    return missing


def _videos_per(top: dict) -> Counter:
    """(split, 'real'|'fake') -> number of videos of one dataset JSON node."""
    c: Counter = Counter()
    for label, splits in top.items():
        kind = "real" if label.lower().endswith("real") else "fake"
        for split, node in splits.items():
            nested = node and not all(isinstance(v, dict) and "frames" in v for v in node.values())
            c[(split, kind)] += sum(len(v) for v in node.values()) if nested else len(node)
    return c


def warn_empty(name: str, top: dict, policy: str) -> list[str]:
    """Warn (and return the messages) when a split of a written JSON is empty or lacks a class."""
    c = _videos_per(top)
    msgs = []
    for kind in ("real", "fake"):
        if not any(c[(s, kind)] for s in SPLITS):
            msgs.append(f"{name} has no {kind} videos at all: AUC is undefined on every split")
    for split in SPLITS:
        real, fake = c[(split, "real")], c[(split, "fake")]
        if not real and not fake:
            hint = (
                f" (--unsplit {policy} puts videos without an official split in test)"
                if policy == "test"
                else ""
            )
            msgs.append(f"{name}: the {split} split is empty{hint}")
        elif not real or not fake:
            msgs.append(
                f"{name}: the {split} split has only {'real' if real else 'fake'} videos ({real or fake})"
            )
    for m in msgs:
        log.warning("%s", m)
    return msgs


def report_skips(stats: dict) -> None:
    for key, why in (
        ("skipped_unfinished", "have no finished ledger record (interrupted or failed; re-run preprocess.py)"),
        ("skipped_unknown", "do not belong to any label of this dataset (unexpected folder or not in the metadata)"),
        ("not_in_split", "are not in the official split files"),
    ):  # fmt: skip
        if stats[key]:
            log.warning("%d video folder(s) %s:", len(stats[key]), why)
            for rel in stats[key][:SHOWN]:
                log.warning("  %s", rel)
            if len(stats[key]) > SHOWN:
                log.warning("  ... and %d more", len(stats[key]) - SHOWN)
