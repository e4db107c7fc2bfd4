"""Dataset JSON → `VideoRecord` index: DeepfakeBench nesting, label mapping, path normalisation, identities.

Frame-path rule (`normalize_frame_path`): JSON files written on other machines hold paths relative
to `rgb_dir`, cwd-relative (`./datasets/rgb/...`), absolute, or Windows-style
(`UADFV\\real\\frames\\0000\\000.png`, or drive-letter absolute paths). Every path is turned into a POSIX
path relative to `rgb_dir` by the first rule that applies:

1. backslashes become `/`; empty and `.` segments are dropped;
2. a leading `rgb_dir` (the resolved absolute path, or the configured string) is stripped;
3. else everything up to and including the first segment equal to the rgb folder name (`rgb`, or
   `rgb_dir`'s own last component) is stripped;
4. else everything before the first segment equal to the dataset's folder name (the dataset name;
   `FaceForensics++` for the FF++ family) is stripped — this covers DeepfakeBench's `./datasets\\X\\...`;
5. else a relative path is kept as is, and an absolute one stays absolute (read verbatim by
   `FileReader`; it cannot be an LMDB key).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fbi_common.datasets import dataset_folder
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.config.choices import IDENTITY_RULES

log = get_logger("dataset.index")

SPLITS = ("train", "val", "test")
_DRIVE = re.compile(r"^[A-Za-z]:/")
_DIGITS = re.compile(r"(\d+)(?!.*\d)")


@dataclass
class VideoRecord:
    """One video of one dataset split; `key` is the unit of video metrics and identities."""

    dataset: str
    label_name: str
    label: int
    compression: str | None
    video: str
    split: str
    key: str
    frames: list[str]
    masks: list[str] | None = None
    landmarks: list[str] | None = None


def _parts(path: str | Path) -> list[str]:
    return [s for s in str(path).replace("\\", "/").split("/") if s not in ("", ".")]


@lru_cache(maxsize=16)
def _rgb_prefixes(rgb_dir: str | None) -> tuple[list[list[str]], frozenset[str]]:
    """Segment lists that mean "this is rgb_dir" (as configured, and resolved), and rgb folder names."""
    if rgb_dir is None:
        return [], frozenset({"rgb"})
    configured = _parts(Path(rgb_dir).expanduser())
    markers = {"rgb", configured[-1]} if configured else {"rgb"}
    return [configured, _parts(resolve_path(rgb_dir))], frozenset(markers)


def normalize_frame_path(raw: str, rgb_dir: str | Path | None = None, anchors: tuple[str, ...] = ()) -> str:
    """Turn any JSON frame path into a POSIX path relative to `rgb_dir` (rules in the module docstring)."""
    posix = raw.replace("\\", "/")
    parts = _parts(posix)
    prefixes, markers = _rgb_prefixes(None if rgb_dir is None else str(rgb_dir))
    for prefix in prefixes:
        if prefix and parts[: len(prefix)] == prefix and len(parts) > len(prefix):
            return "/".join(parts[len(prefix) :])
    for i, seg in enumerate(parts[:-1]):
        if seg in markers:
            return "/".join(parts[i + 1 :])
    for i, seg in enumerate(parts[:-1]):
        if seg in anchors:
            return "/".join(parts[i:])
    if posix.startswith("/"):
        return "/" + "/".join(parts)
    return "/".join(parts)


def frame_sort_key(path: str) -> tuple[float, str]:
    """Numeric frame index from the file stem (`000.png` → 0, `frame_12.png` → 12), name as tie-break."""
    name = path.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0]
    m = _DIGITS.search(stem)
    return (int(m.group(1)) if m else float("inf"), name)


def derive_sibling(frame: str, folder: str, ext: str | None = None) -> str:
    """`.../frames/<video>/<idx>.png` → `.../<folder>/<video>/<idx><ext>` (last `frames` segment only)."""
    parts = frame.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "frames":
            parts[i] = folder
            break
    else:
        raise ValueError(f"cannot derive the {folder} path of frame '{frame}': it has no 'frames' folder")
    if ext is not None:
        parts[-1] = parts[-1].rsplit(".", 1)[0] + ext
    return "/".join(parts)


def resolve_json(name: str, json_folder: str | Path) -> tuple[str, Path, str | None]:
    """Dataset name → (JSON dataset name, JSON path, forced compression). `X_c40` reads `X.json` at c40."""
    folder = resolve_path(json_folder)
    path = folder / f"{name}.json"
    if path.is_file():
        return name, path, None
    if name.endswith("_c40") and (folder / f"{name[:-4]}.json").is_file():
        return name[:-4], folder / f"{name[:-4]}.json", "c40"
    have = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    raise FileNotFoundError(
        f"dataset JSON not found: {path}. Create it with preprocessing/rearrange.py, or fix "
        f"dataset_json_folder / the dataset name; JSONs in {folder}: {have}"
    )


def _is_video_level(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and bool(node)
        and all(isinstance(v, dict) and "frames" in v for v in node.values())
    )


def _videos_of(split_node: dict, where: str, compression: str) -> tuple[dict, str | None]:
    """Return the {video: info} dict of one label/split and its compression (None if not nested)."""
    if not split_node or _is_video_level(split_node):
        return split_node, None
    if all(_is_video_level(v) or v == {} for v in split_node.values()):
        if compression not in split_node:
            raise KeyError(
                f"{where}: compression '{compression}' not found; the JSON has {sorted(split_node)}. "
                "Set `compression` (or use the Name_c40 dataset name)"
            )
        return split_node[compression], compression
    raise ValueError(f"{where}: cannot read the split: expected {{video: {{'label','frames'}}}}")


def _make_record(
    ds: str, video: str, info: dict, split: str, comp: str | None, cfg: dict, where: str
) -> VideoRecord | None:
    label_name = info.get("label")
    label_dict = cfg["label_dict"]
    if label_name not in label_dict:
        raise KeyError(
            f"{where}: video '{video}' has label '{label_name}', which is not in label_dict; "
            f"add it to label_dict (0 = real, 1 = fake). Known: {sorted(label_dict)}"
        )
    frames_raw = info.get("frames") or []
    key = "/".join([ds, label_name, *([comp] if comp else []), video])
    if not frames_raw:
        msg = f"{where}: video '{video}' has an empty frame list"
        if cfg.get("bad_frame_policy", "error") == "drop":
            log.warning("%s; dropping video %s", msg, key)
            return None
        raise ValueError(f"{msg}; re-run preprocessing for it or set bad_frame_policy: drop")
    anchors = tuple({ds, dataset_folder(ds)})
    norm = [normalize_frame_path(f, cfg.get("rgb_dir"), anchors) for f in frames_raw]
    frames = sorted(norm, key=frame_sort_key)
    given = {
        frame_sort_key(m)[0]: m
        for m in (normalize_frame_path(x, cfg.get("rgb_dir"), anchors) for x in info.get("masks") or [])
    }
    masks = [given.get(frame_sort_key(f)[0]) or derive_sibling(f, "masks") for f in frames]
    landmarks = [derive_sibling(f, "landmarks", ".npy") for f in frames]
    return VideoRecord(
        dataset=ds,
        label_name=label_name,
        label=int(label_dict[label_name]),
        compression=comp,
        video=video,
        split=split,
        key=key,
        frames=frames,
        masks=masks,
        landmarks=landmarks,
    )


def _with_json_labels(cfg: dict, extra: Any, path: Path) -> dict:
    """Custom datasets (rearrange.py --dataset custom) ship their label names in a top-level
    `_label_dict`; they fill in label_dict, and the config's own entries win on a conflict."""
    if extra is None:
        return cfg
    if not isinstance(extra, dict) or any(v not in (0, 1) for v in extra.values()):
        raise ValueError(f"{path}: '_label_dict' must map label names to 0 (real) or 1 (fake); got {extra!r}")
    for k, v in extra.items():
        if k in cfg["label_dict"] and cfg["label_dict"][k] != v:
            log.warning(
                "%s: label '%s' is %s in the JSON but %s in label_dict; using label_dict",
                path,
                k,
                v,
                cfg["label_dict"][k],
            )
    return {**cfg, "label_dict": {**extra, **cfg["label_dict"]}}


def index_one(name: str, split: str, cfg: dict) -> list[VideoRecord]:
    """Records of one dataset name (`FaceForensics++`, `FF-DF_c40`, `Celeb-DF-v2`, ...) for one split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; use one of {SPLITS}")
    ds, path, forced_comp = resolve_json(name, cfg["dataset_json_folder"])
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    cfg = _with_json_labels(cfg, data.pop("_label_dict", None), path)
    if ds in data:
        top = data[ds]
    elif len(data) == 1:
        top = next(iter(data.values()))
    else:
        raise KeyError(f"{path}: no top-level key '{ds}'; found {sorted(data)}")
    compression = forced_comp or cfg.get("compression", "c23")
    records: list[VideoRecord] = []
    for level_label, by_split in top.items():
        if split not in by_split:
            raise KeyError(
                f"{path}: label '{level_label}' has no '{split}' split (it has {sorted(by_split)}); "
                "pick another dataset for this split (e.g. val_dataset) or regenerate the JSON"
            )
        where = f"{path} [{level_label}/{split}]"
        videos, comp = _videos_of(by_split[split], where, compression)
        if forced_comp and comp is None and videos:
            raise ValueError(f"{name} asks for compression c40 but {path} has no compression level")
        for video, info in videos.items():
            rec = _make_record(ds, video, info, split, comp, cfg, where)
            if rec is not None:
                records.append(rec)
    keys = [r.key for r in records]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:5]
        raise ValueError(f"{path}: duplicate video keys in split '{split}': {dup}; fix the JSON")
    return records


def build_index(names: str | list[str], split: str, cfg: dict) -> list[VideoRecord]:
    """Concatenate the records of every dataset name for one split; an empty result is an error."""
    names = [names] if isinstance(names, str) else list(names)
    records: list[VideoRecord] = []
    for name in names:
        recs = index_one(name, split, cfg)
        log.info("%s [%s]: %d videos, %d frames", name, split, len(recs), sum(len(r.frames) for r in recs))
        records.extend(recs)
    if not records:
        raise ValueError(f"no videos found for split '{split}' in datasets {names}")
    return records


_PAIR = re.compile(r"^(\d+)_(\d+)$")  # FF++ fake: target_source
_SINGLE = re.compile(r"^(\d+)$")  # FF++ real, UADFV real
_DFD = re.compile(r"^(\d+)(?:_(\d+))?__")  # DFD: 01_02__scene__hash (fake), 01__scene (real)
# Celeb-DF: id0_id1_0000 (fake), id0_0000 (real); also any `idN_...` name (FBI-Demo's id042_v0).
_CELEB = re.compile(r"^(id\d+)(?:_(id\d+))?(?=_|$)")


def identity_of(record: VideoRecord, rule: str = "target") -> str:
    """Identity string of a video under `rule` (target | source | video).

    Names parsed: FF++ `a_b` (target a, source b) and `a` (both a); DeepFakeDetection `01_02__...`
    and `01__...`; Celeb-DF `id0_id1_0000` (target id0, source id1), `id0_0000` and any other
    `idN_...` name (target = source = idN). Parsed ids are
    prefixed by the dataset folder (`FaceForensics++/000`), so the FF++ family shares ids and other
    datasets never collide with it. Any other name, and rule `video`, gives the record key.
    """
    if rule not in IDENTITY_RULES:
        raise ValueError(f"unknown identity_rule '{rule}'; use one of {IDENTITY_RULES}")
    if rule == "video":
        return record.key
    for pattern in (_PAIR, _SINGLE, _DFD, _CELEB):
        m = pattern.match(record.video)
        if m:
            target, source = m.group(1), m.group(2) if m.lastindex and m.lastindex > 1 else None
            ident = target if rule == "target" else (source or target)
            return f"{dataset_folder(record.dataset)}/{ident}"
    return record.key
