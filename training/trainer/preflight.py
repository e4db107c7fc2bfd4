"""Pre-flight: everything checkable about a run's data and folders, checked in seconds before the model
is built, with every problem reported together (a typo in --test_dataset no longer waits for the end).

Per split (train, the selection split, test) and dataset: the JSON resolves and parses, the frame root
(`rgb_dir` or `lmdb_dir`) exists, and one frame per label is actually read and decoded (plus its mask
when masks are used, its landmarks when `with_landmark` is on). `log_dir` (or the output folder) must
be writable. A validation split with one class cannot select a checkpoint: that is a warning. Under
`bad_frame_policy: drop` an unreadable frame is a warning (it will be dropped and counted) unless no
checked frame of a dataset's split could be read, or the frame root does not exist.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from fbi_common.errors import DataError, FBIError
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.dataset.index import VideoRecord, build_index
from training.dataset.loaders import build_reader, dataset_names
from training.dataset.readers import FrameError, FrameNotFound
from training.trainer.distributed import DistInfo, broadcast_object

log = get_logger("preflight")


class PreflightError(DataError):
    """Every problem found before training, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        head = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"{head} found before starting:\n" + "\n".join(f"  - {p}" for p in problems))


def masks_needed(cfg: dict) -> str | None:
    """Why the detector needs blending masks (its `needs_masks(model_cfg)`), or None."""
    import training.detectors  # noqa: F401  (fills the registry)
    from training.registry import DETECTORS

    cls = DETECTORS.get(cfg["model_name"])
    needs = getattr(cls, "needs_masks", None)
    return needs(cfg["model"]) if needs is not None else None


def split_plan(cfg: dict, splits: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """(split, dataset names) a run reads: train, the selection split (val, or test with select_on=test), test."""
    plan = []
    for split in splits:
        if split == "val" and cfg.get("select_on") == "test":
            continue  # selection reads the test split, checked below
        plan.append((split, dataset_names(cfg, split)))
    return plan


def _writable(folder: Path, key: str) -> str | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        return (
            f"{key} {folder} is not writable ({e.strerror or e}); choose a writable folder (--opts {key}=DIR)"
        )
    return None


def _read_one(reader, rec: VideoRecord, cfg: dict, mask_reason: str | None) -> tuple[bool, list[str]]:
    """Read the first frame of `rec` (and its mask/landmarks when used): (frame readable, problems)."""
    where = f"video {rec.key} ({rec.split} split)"
    try:
        reader.read_image(rec.frames[0])
    except (FrameError, OSError) as e:
        return False, [
            f"{where}: {e}. Check rgb_dir/lmdb_dir and the JSON's frame paths, or re-run preprocessing"
        ]
    problems = []
    if (cfg["with_mask"] or mask_reason) and rec.label != 0:  # real videos have no mask (all zero)
        try:
            reader.read_mask(rec.masks[0] if rec.masks else rec.frames[0])
        except FrameNotFound as e:
            fix = (
                f"{mask_reason}: preprocess with masks, or switch that loss off"
                if mask_reason
                else f"the {cfg['model_name']} detector does not need masks: set with_mask: false"
            )
            problems.append(f"{where}: mask missing ({e}); {fix}")
        except (FrameError, OSError) as e:
            problems.append(f"{where}: mask unreadable ({e}); re-run preprocessing for it")
    if cfg["with_landmark"]:
        try:
            reader.read_landmark(rec.landmarks[0])
        except (FrameError, OSError) as e:
            problems.append(
                f"{where}: landmarks unreadable ({e}); re-run preprocessing or set with_landmark: false"
            )
    return True, problems


def _one_class_warning(split: str, names: list[str], records: list[VideoRecord]) -> str | None:
    labels = {r.label for r in records}
    if len(labels) == 2:
        return None
    missing = "fake (1)" if labels == {0} else "real (0)"
    return (
        f"the {split} split of {names} has no {missing} videos, so AUC is undefined there and no checkpoint "
        "can be selected (the last weights will be tested). Fix: a seeded split by identity that keeps "
        "both classes (preprocessing/rearrange.py), another set via --opts val_dataset=[NAME], or "
        "--select_on test (optimistic; stamped into the results)"
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def check_data(cfg: dict, splits: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(problems, warnings) for the datasets of `splits`."""
    problems: list[str] = []
    warnings: list[str] = []
    read_problems: list[str] = []
    drop = cfg.get("bad_frame_policy") == "drop"
    mask_reason = masks_needed(cfg)
    if mask_reason and not cfg["with_mask"]:
        problems.append(f"{mask_reason} but with_mask is false: set with_mask: true")
    reader = build_reader(cfg)
    unusable: dict[tuple[str, str], list[str]] = {}  # (dataset, problem) → the splits naming it
    for split, names in split_plan(cfg, splits):
        split_records: list[VideoRecord] = []
        for name in names:
            try:
                records = build_index([name], split, cfg)
            except (FBIError, OSError, KeyError, ValueError, json.JSONDecodeError) as e:
                text = e.args[0] if isinstance(e, KeyError) and e.args else e
                unusable.setdefault((name, str(text)), []).append(split)
                continue
            split_records.extend(records)
            firsts = {r.label_name: r for r in reversed(records)}  # the first video of each label
            checks = [_read_one(reader, rec, cfg, mask_reason) for rec in firsts.values()]
            found = [p for _, ps in checks for p in ps]
            if drop and any(ok for ok, _ in checks):  # the user allows dropping bad frames
                warnings += [f"{p} (bad_frame_policy: drop: it will be dropped and counted)" for p in found]
            else:
                read_problems += found
        if split == "val" and split_records and (note := _one_class_warning(split, names, split_records)):
            warnings.append(note)
    # one line per problem, even when train, val and test all name the same broken dataset
    problems += [f"{_and(used_by)} dataset '{name}': {text}" for (name, text), used_by in unusable.items()]
    root_key = "lmdb_dir" if cfg.get("lmdb") else "rgb_dir"
    root = resolve_path(cfg[root_key])
    if (read_problems or (drop and warnings)) and not root.is_dir():  # one cause, one message
        read_problems = [f"{root_key} {root} does not exist, so no frame can be read; set {root_key} "
                         f"(--opts {root_key}=DIR) to the preprocessed data"]  # fmt: skip
    problems.extend(read_problems)
    return problems, warnings


def preflight(cfg: dict, dist_info: DistInfo, splits: tuple[str, ...], writable: dict[str, Path]) -> None:
    """Run the checks on rank 0; every rank raises the same `PreflightError` (so none waits forever)."""
    problems: list[str] = []
    if dist_info.is_main:
        problems = [p for key, folder in writable.items() if (p := _writable(folder, key))]
        data_problems, warnings = check_data(cfg, splits)
        problems += data_problems
        for w in warnings:
            log.warning("%s", w)
    problems = broadcast_object(problems)
    if problems:
        raise PreflightError(problems)
    log.info("pre-flight: %s checked", ", ".join(f"{s} {n}" for s, n in split_plan(cfg, splits)))
