"""Dataset JSON → `VideoRecord` index: DeepfakeBench nesting, label mapping, path normalisation.

Frame paths are normalised by the rules of `training.dataset.frame_paths`; a video's identity is
`training.dataset.identity.identity_of`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fbi_common.dataset_json import dataset_node, label_splits, read_json, split_videos
from fbi_common.datasets import SPLITS, dataset_folder
from fbi_common.errors import DataError
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.dataset.frame_paths import derive_sibling, frame_sort_key, normalize_frame_path

__all__ = [
    "VideoRecord",
    "build_index",
    "derive_sibling",
    "frame_sort_key",
    "normalize_frame_path",
]

log = get_logger("dataset.index")


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


class DatasetNotFound(DataError, FileNotFoundError):
    """A dataset name with no `<dataset_json_folder>/<Name>.json`; the message lists the ones there are."""


def available_datasets(json_folder: str | Path) -> list[str]:
    """Dataset names (JSON file stems) in a dataset_json folder, sorted."""
    folder = resolve_path(json_folder)
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def _suggest(name: str, have: list[str]) -> list[str]:
    """Case-insensitive exact matches first, then close spellings (`celeb-df-v2` → `Celeb-DF-v2`)."""
    lower = {h.lower(): h for h in have}
    base = name[:-4] if name.lower().endswith("_c40") else name
    exact = [lower[n.lower()] for n in (name, base) if n.lower() in lower]
    close = difflib.get_close_matches(base.lower(), list(lower), n=3, cutoff=0.6)
    return list(dict.fromkeys(exact + [lower[c] for c in close]))


def resolve_json(name: str, json_folder: str | Path) -> tuple[str, Path, str | None]:
    """Dataset name → (JSON dataset name, JSON path, forced compression). `X_c40` reads `X.json` at c40.

    Names match file names exactly (also on case-insensitive file systems, so a run means the same
    everywhere); a miss answers with "did you mean" and the list of available JSONs.
    """
    folder = resolve_path(json_folder)
    if not folder.is_dir():
        raise DatasetNotFound(
            f"dataset_json_folder {folder} does not exist (looking for {name}.json); set dataset_json_folder "
            "to the folder rearrange.py wrote, or create the JSONs with preprocessing/rearrange.py"
        )
    have = available_datasets(folder)
    if name in have:
        return name, folder / f"{name}.json", None
    if name.endswith("_c40") and name[:-4] in have:
        return name[:-4], folder / f"{name[:-4]}.json", "c40"
    guess = _suggest(name, have)
    hint = f" Did you mean {' or '.join(repr(g) for g in guess)}?" if guess else ""
    raise DatasetNotFound(
        f"unknown dataset '{name}': there is no {folder / (name + '.json')}.{hint} Available in "
        f"dataset_json_folder: {have or 'none'}. Fix the dataset name, or create its JSON with "
        "preprocessing/rearrange.py"
    )


def _make_record(
    ds: str, video: str, info: dict, split: str, comp: str | None, cfg: dict, where: str, level_label: str
) -> VideoRecord | str:
    """The record of one JSON video, or (bad_frame_policy: drop) the key of the dropped video.

    The label is the video's own `label` field (what DeepfakeBench reads), else the label level it
    sits under.
    """
    label_name = info.get("label", level_label)
    label_dict = cfg["label_dict"]
    if label_name not in label_dict:
        lower = {k.lower(): k for k in label_dict}
        guess = [
            lower[g]
            for g in difflib.get_close_matches(str(label_name).lower(), list(lower), n=1, cutoff=0.85)
        ]
        raise DataError(
            f"{where}: video '{video}' has label '{label_name}', which is not in label_dict"
            f"{f' (did you mean {guess[0]!r}?)' if guess else ''}; add it with --opts "
            f"label_dict.{label_name}=0 (real) or =1 (fake). Known: {sorted(label_dict)}"
        )
    frames_raw = info["frames"]
    key = "/".join([ds, label_name, *([comp] if comp else []), video])
    if not frames_raw:
        msg = f"{where}: video '{video}' has an empty frame list"
        if cfg.get("bad_frame_policy", "error") == "drop":
            log.warning("%s; dropping video %s", msg, key)
            return key
        raise DataError(f"{msg}; re-run preprocessing for it or set bad_frame_policy: drop")
    anchors = tuple({ds, dataset_folder(ds)})
    norm = [normalize_frame_path(f, cfg.get("rgb_dir"), anchors) for f in frames_raw]
    frames = sorted(norm, key=frame_sort_key)
    given = {
        frame_sort_key(m)[0]: m
        for m in (normalize_frame_path(x, cfg.get("rgb_dir"), anchors) for x in info.get("masks") or [])
    }
    try:
        masks = [given.get(frame_sort_key(f)[0]) or derive_sibling(f, "masks") for f in frames]
        landmarks = [derive_sibling(f, "landmarks", ".npy") for f in frames]
    except ValueError as e:
        raise DataError(
            f"{where}: video '{video}': {e} (docs/DESIGN.md §2 layout: .../frames/<video>/<idx>.png)"
        ) from None
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
    if not isinstance(extra, dict) or any(v not in (0, 1) or isinstance(v, bool) for v in extra.values()):
        raise DataError(f"{path}: '_label_dict' must map label names to 0 (real) or 1 (fake); got {extra!r}")
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


class VideoIndex(list):
    """The records of a split (a plain list) plus `dropped`: keys of videos left out at index time
    (an empty frame list under bad_frame_policy: drop), so what was lost can be reported."""

    def __init__(self, records: list[VideoRecord] = (), dropped: list[str] = ()) -> None:
        super().__init__(records)
        self.dropped: list[str] = list(dropped)


def load_dataset(name: str, cfg: dict) -> tuple[str, Path, str | None, dict, dict]:
    """Read and check a dataset's JSON: (dataset, path, forced compression, {label: {split: ...}}, cfg
    with the JSON's `_label_dict` merged in). Every problem is a `DataError` naming the file."""
    ds, path, forced_comp = resolve_json(name, cfg["dataset_json_folder"])
    top, meta = dataset_node(read_json(path), ds, path)
    cfg = _with_json_labels(cfg, meta.get("_label_dict"), path)
    return ds, path, forced_comp, top, cfg


def check_datasets(names: Sequence[str], cfg: dict, flag: str = "--test_dataset") -> None:
    """Resolve every name and read its JSON (`load_dataset`) before any model is built; all problems at once.

    For the tools that take dataset names next to a checkpoint (analysis, robustness): a typo costs seconds.
    """
    problems = []
    for name in names:
        try:
            load_dataset(name, cfg)
        except DataError as e:
            problems.append(f"{flag} {name}: {e}")
    if len(problems) == 1:
        raise DataError(problems[0])
    if problems:
        raise DataError(f"{len(problems)} problems with {flag}:\n" + "\n".join(f"  - {p}" for p in problems))


def index_one(name: str, split: str, cfg: dict) -> VideoIndex:
    """Records of one dataset name (`FaceForensics++`, `FF-DF_c40`, `Celeb-DF-v2`, ...) for one split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; use one of {SPLITS}")
    ds, path, forced_comp, top, cfg = load_dataset(name, cfg)
    compression = forced_comp or cfg.get("compression", "c23")
    records = VideoIndex()
    for level_label, by_split in label_splits(top, path):
        if split not in by_split:
            raise DataError(
                f"{path}: label '{level_label}' has no '{split}' split (it has {sorted(by_split)}); "
                "pick another dataset for this split (e.g. val_dataset) or regenerate the JSON"
            )
        where = f"{path} [{level_label}/{split}]"
        by_comp = split_videos(by_split[split], where)
        if None in by_comp:
            if forced_comp and by_comp[None]:
                raise DataError(
                    f"{name} asks for compression c40 but {path} has no compression level; use the name {ds}"
                )
            videos, comp = by_comp[None], None
        elif by_comp:
            if compression not in by_comp:
                raise DataError(
                    f"{where}: compression '{compression}' not found; the JSON has {sorted(by_comp)}. "
                    "Set `compression` (or use the Name_c40 dataset name)"
                )
            videos, comp = by_comp[compression], compression
        else:
            videos, comp = {}, None
        for video, info in videos.items():
            rec = _make_record(ds, video, info, split, comp, cfg, where, level_label)
            if isinstance(rec, str):
                records.dropped.append(rec)
            else:
                records.append(rec)
    keys = [r.key for r in records]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:5]
        raise DataError(f"{path}: duplicate video keys in split '{split}': {dup}; fix the JSON")
    shared = _shared_frames(records)
    if shared:
        frame, a, b = shared
        raise DataError(
            f"{path}: frame {frame} is listed by two videos of split '{split}' ({a} and {b}); a frame belongs "
            "to one video (and one label) — fix the JSON"
        )
    return records


def _shared_frames(records: list[VideoRecord]) -> tuple[str, str, str] | None:
    """The first frame path that two different videos list, with both video keys."""
    owner: dict[str, str] = {}
    for r in records:
        for f in r.frames:
            other = owner.setdefault(f, r.key)
            if other != r.key:
                return f, other, r.key
    return None


def build_index(names: str | list[str], split: str, cfg: dict) -> VideoIndex:
    """Concatenate the records of every dataset name for one split; an empty result is an error."""
    names = [names] if isinstance(names, str) else list(names)
    records = VideoIndex()
    for name in names:
        recs = index_one(name, split, cfg)
        log.info("%s [%s]: %d videos, %d frames", name, split, len(recs), sum(len(r.frames) for r in recs))
        if recs.dropped:
            log.warning(
                "%s [%s]: %d video(s) dropped at index time (empty frame list, bad_frame_policy: drop): %s",
                name,
                split,
                len(recs.dropped),
                recs.dropped[:10],
            )
        elif not recs:
            log.warning("%s [%s]: the split has no videos", name, split)
        records.extend(recs)
        records.dropped.extend(recs.dropped)
    shared = _shared_frames(records) if len(names) > 1 else None
    if shared:
        log.warning(
            "split '%s': frame %s belongs to %s and to %s (datasets %s overlap); such videos count twice",
            split,
            *shared,
            names,
        )
    if not records:
        raise DataError(
            f"no videos found for split '{split}' in datasets {names}"
            + (f" ({len(records.dropped)} dropped for empty frame lists)" if records.dropped else "")
            + f"; check the '{split}' entries of their JSONs, or choose other datasets for this split"
        )
    return records
