"""Reading and checking a DeepfakeBench dataset JSON: every malformed part is one `DataError` naming the file.

Shared by the training index (`training/dataset/index.py`) and the dataset doctor
(`preprocessing/fbi_prep/doctor.py`), so both accept and refuse exactly the same files. The shape
(docs/DESIGN.md §2) is `{Dataset: {LabelName: {split: {[compression:] {video: {"label", "frames", "masks"?}}}}}}`
plus optional top-level metadata keys starting with `_` (`_label_dict` for custom data).

Checks: the file is valid UTF-8 JSON (else the line and column of the problem); no object repeats
a key (`json.load` would silently keep only the last of two videos with the same name); the single
dataset key matches the file name (else what to rename); labels hold `train`/`val`/`test` splits;
a split holds videos or compression levels of videos; every video has a list of frame paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fbi_common.datasets import SPLITS
from fbi_common.errors import DataError

EXPECTED = (
    "{Dataset: {LabelName: {split: {[compression:] {video: {'label': LabelName, 'frames': [...], "
    "'masks'?: [...]}}}}}} with split in train/val/test"
)
_REGENERATE = "fix the file or regenerate it with preprocessing/rearrange.py"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise _Duplicate(k)
        seen[k] = v
    return seen


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; any problem (unreadable, not UTF-8, syntax, duplicate key) is a `DataError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); {_REGENERATE}") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; check that it is a readable file") from None
    if not text.strip():
        raise DataError(f"{path} is empty; {_REGENERATE}")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}; {_REGENERATE}"
        ) from None
    except _Duplicate as e:
        raise DataError(
            f"{path}: the key '{e.key}' appears twice in the same object (two videos or labels with one "
            "name; JSON keeps only the last, so the other would be lost silently); rename or remove one"
        ) from None


def dataset_node(data: Any, name: str, path: str | Path) -> tuple[dict, dict]:
    """(`{label: {split: ...}}` of dataset `name`, the `_`-prefixed metadata keys) of a parsed JSON."""
    if not isinstance(data, dict):
        raise DataError(f"{path}: the top level is a JSON {_kind(data)}; expected {EXPECTED}")
    meta = {k: v for k, v in data.items() if k.startswith("_")}
    keys = [k for k in data if not k.startswith("_")]
    if name in data:
        top = data[name]
    elif len(keys) == 1:
        other = keys[0]
        raise DataError(
            f"{path}: its top-level key is '{other}' but the file is named '{Path(path).name}'. Rename the "
            f"file to '{other}.json' (and use the dataset name '{other}'), or rename the key to '{name}'"
        )
    elif not keys:
        raise DataError(f"{path} holds no dataset (no top-level key); expected {EXPECTED}")
    else:
        raise DataError(
            f"{path}: no top-level key '{name}' (found {sorted(keys)}); a dataset JSON holds one key "
            "named like the file — split it into one file per dataset, or rename the file"
        )
    if not isinstance(top, dict) or not top:
        what = "empty" if isinstance(top, dict) else f"a JSON {_kind(top)}"
        raise DataError(f"{path}: '{name}' is {what}; expected {{LabelName: {{split: ...}}}} ({EXPECTED})")
    return top, meta


def _kind(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(v), type(v).__name__)


def label_splits(top: dict, path: str | Path) -> Iterator[tuple[str, dict]]:
    """(label name, {split: node}) per label, refusing a label that is not an object of known splits."""
    for label, by_split in top.items():
        if not isinstance(by_split, dict):
            raise DataError(
                f"{path} [{label}]: expected {{split: ...}} under the label, got a JSON {_kind(by_split)} "
                f"({EXPECTED})"
            )
        unknown = sorted(set(by_split) - set(SPLITS))
        if unknown:
            hint = (
                " — is this a compression level or a video? The split level comes first" if by_split else ""
            )
            raise DataError(
                f"{path} [{label}]: unknown split(s) {unknown}; splits must be {list(SPLITS)}{hint} ({EXPECTED})"
            )
        yield label, by_split


def _is_video(node: Any) -> bool:
    return isinstance(node, dict) and ("frames" in node or "label" in node)


def split_videos(node: Any, where: str) -> dict[str | None, dict[str, dict]]:
    """`{compression or None: {video: info}}` of one label/split node (empty dict for an empty split)."""
    if node is None or node == {}:
        return {}
    if not isinstance(node, dict):
        raise DataError(
            f"{where}: expected {{video: {{...}}}} or {{compression: {{video: ...}}}}, got a JSON {_kind(node)}"
        )
    if all(_is_video(v) for v in node.values()):
        videos = {None: node}
    elif all(isinstance(v, dict) and not _is_video(v) for v in node.values()):
        for comp, vids in node.items():
            bad = [k for k, v in vids.items() if not _is_video(v)]
            if bad:
                raise DataError(
                    f"{where} [{comp}]: entry '{bad[0]}' is not a video (expected {{'label', 'frames': [...]}})"
                )
        videos = dict(node)
    else:
        kinds = sorted({"video" if _is_video(v) else _kind(v) for v in node.values()})
        raise DataError(
            f"{where}: mixes videos with other entries ({kinds}); expected {{video: {{'label', 'frames'}}}} "
            "or {compression: {video: ...}}"
        )
    for comp, vids in videos.items():
        for video, info in vids.items():
            check_video(info, f"{where}{f' [{comp}]' if comp else ''} video '{video}'")
    return videos


def check_video(info: dict, where: str) -> None:
    """`frames` is a list of path strings (possibly empty); `masks`, when given, too; `label` a string."""
    frames = info.get("frames")
    if not isinstance(frames, list) or not all(isinstance(f, str) and f for f in frames):
        raise DataError(f"{where}: 'frames' must be a list of frame paths, got {_short(frames)}")
    masks = info.get("masks")
    if masks is not None and (not isinstance(masks, list) or not all(isinstance(m, str) for m in masks)):
        raise DataError(f"{where}: 'masks' must be a list of mask paths or absent, got {_short(masks)}")
    if "label" in info and not isinstance(info["label"], str):
        raise DataError(f"{where}: 'label' must be a label name (string), got {_short(info['label'])}")
    dup = _first_duplicate(frames)
    if dup is not None:
        raise DataError(f"{where}: frame '{dup}' is listed twice; remove the duplicate from the JSON")


def _first_duplicate(items: list[str]) -> str | None:
    seen: set[str] = set()
    for x in items:
        if x in seen:
            return x
        seen.add(x)
    return None


def _short(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class VideoEntry:
    label: str  # the label level the video sits under
    split: str
    comp: str | None
    video: str
    info: dict


def iter_videos(top: dict, path: str | Path, splits: tuple[str, ...] = SPLITS) -> Iterator[VideoEntry]:
    """Every video of the chosen splits, every compression level, after the structural checks."""
    for label, by_split in label_splits(top, path):
        for split in splits:
            if split not in by_split:
                continue
            for comp, vids in split_videos(by_split[split], f"{path} [{label}/{split}]").items():
                for video, info in vids.items():
                    yield VideoEntry(label, split, comp, video, info)
