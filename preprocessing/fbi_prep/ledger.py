"""Per-video ledger (JSON lines, appended and fsynced): what happened to every video, and resume state."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from fbi_common.errors import DataError
from fbi_common.logging import get_logger

log = get_logger("preprocess.ledger")

DONE = ("ok", "partial")  # outputs written; a re-run skips these
FAILED = ("unreadable", "no_face", "error")  # recorded; a re-run skips them unless retry_failed

# Settings that change the pixels or files written; anything else (workers, decode method) does not.
OUTPUT_KEYS = (
    "mode", "num_frames", "stride", "detector", "detect_max_side", "detect_upsample", "face_policy",
    "no_face", "neighbour_window", "size", "scale", "image_format", "jpeg_quality", "masks",
)  # fmt: skip


# Output settings added later: hashed only when not at their default, so earlier data keeps its hash.
LATER_OUTPUT_KEYS = {"track_min_frames": 1, "track_reid": False, "smooth_landmarks": 0}


def settings_hash(cfg: dict[str, Any], landmark_model: str) -> str:
    """Short hash of the output-relevant settings; a changed hash means videos are redone."""
    later = {k: cfg[k] for k, default in LATER_OUTPUT_KEYS.items() if cfg.get(k, default) != default}
    blob = json.dumps(
        {k: cfg.get(k) for k in OUTPUT_KEYS} | {"landmark_model": landmark_model} | later, sort_keys=True
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


class Ledger:
    """Append-only JSONL file; the last record for a video wins."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: dict[str, dict] = {}
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(
                f"cannot read the preprocessing ledger {self.path}: {e}; move it away to start that dataset afresh"
            ) from None
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                # A run killed mid-write leaves a torn last line; that video is simply redone.
                log.warning("%s line %d is not valid JSON (interrupted write?); ignoring it", self.path, n)
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("video"), str) or "status" not in rec:
                log.warning("%s line %d is not a ledger record (no video/status); ignoring it", self.path, n)
                continue
            self.records[rec["video"]] = rec

    def finished(self, video: str, hash_: str, retry_failed: bool = False) -> bool:
        """True if a re-run should skip this video."""
        rec = self.records.get(video)
        if rec is None or rec.get("settings_hash") != hash_:
            return False
        return rec["status"] in DONE or (rec["status"] in FAILED and not retry_failed)

    def append(self, record: dict) -> None:
        """Write one record durably (flush + fsync) so a kill -9 loses at most the video in flight."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records[record["video"]] = record

    def by_output(self) -> dict[str, dict]:
        """Latest record per output frame folder (`<out_dir>/frames/<video>`), for rearrange."""
        out = {}
        for rec in self.records.values():
            for folder in rec.get("outputs", []):
                out[folder] = rec
        return out
