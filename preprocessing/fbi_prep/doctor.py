"""Dataset doctor: checks a dataset JSON against the files (or LMDB) it references and reports problems."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import lmdb
import numpy as np
import yaml

from fbi_common.dataset_json import dataset_node, iter_videos, read_json
from fbi_common.datasets import SPLITS
from fbi_common.errors import DataError
from fbi_common.paths import REPO_ROOT, resolve_path

from .lmdb_io import decode_value, lmdb_path


@dataclass
class Report:
    """What the doctor found; `ok` is False when there is any error (or warning, in strict mode)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    strict: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and not (self.strict and self.warnings)

    def text(self) -> str:
        out = list(self.lines)
        for title, items in (("ERRORS", self.errors), ("WARNINGS", self.warnings)):
            if items:
                out.append(f"{title} ({len(items)}):")
                out += [f"  - {m}" for m in items[:50]] + (
                    [f"  ... and {len(items) - 50} more"] if len(items) > 50 else []
                )
        out.append("RESULT: " + ("OK" if self.ok else "PROBLEMS FOUND"))
        return "\n".join(out)


def to_key(path: str, rgb_dir: Path) -> str:
    """Any JSON path flavour (rgb-relative, ./datasets/rgb/..., absolute, Windows backslashes) -> rgb-relative POSIX."""
    p = path.replace("\\", "/")
    if re.match(r"^[A-Za-z]:/", p) or p.startswith("/"):
        try:
            return PurePosixPath(p).relative_to(rgb_dir.as_posix()).as_posix()
        except ValueError:
            pass
    p = p.removeprefix("./")
    m = (
        re.search(r"(?:^|/)rgb/(.*)$", p)
        if p.startswith(("datasets/", "/")) or re.match(r"^[A-Za-z]:/", p)
        else None
    )
    return m.group(1) if m else p


def load_label_dict(data: dict) -> dict[str, int]:
    """The training label_dict (training/config/defaults.yaml) plus a custom JSON's `_label_dict`."""
    with open(REPO_ROOT / "training" / "config" / "defaults.yaml", encoding="utf-8") as f:
        labels = dict(yaml.safe_load(f).get("label_dict", {}))
    extra = data.get("_label_dict", {})
    if not isinstance(extra, dict) or any(v not in (0, 1) for v in extra.values()):
        raise DataError(f"'_label_dict' must map label names to 0 (real) or 1 (fake); got {extra!r}")
    return labels | extra


class _Store:
    """Reads bytes by key from the rgb folder or from an LMDB environment."""

    def __init__(self, rgb_dir: Path, env: lmdb.Environment | None):
        self.rgb_dir, self.env = rgb_dir, env
        self.txn = env.begin() if env else None

    def get(self, key: str) -> bytes | None:
        if self.txn is not None:
            return self.txn.get(key.encode())
        p = self.rgb_dir / key
        return p.read_bytes() if p.is_file() else None

    def exists(self, key: str) -> bool:
        return self.get(key) is not None if self.txn is not None else (self.rgb_dir / key).is_file()


def _check_file(store: _Store, key: str, decode: bool) -> str | None:
    if not decode:
        return None if store.exists(key) else "missing"
    data = store.get(key)
    if data is None:
        return "missing"
    try:
        decode_value(key, data)
    except Exception as e:
        return f"does not decode ({e})"
    return None


def _check_landmark(store: _Store, key: str) -> str | None:
    """A landmark file must hold a (K, 2) array of finite x/y points (what the training readers accept)."""
    try:
        arr = decode_value(key, store.get(key) or b"")
    except Exception as e:
        return f"does not decode ({e})"
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        return f"has shape {arr.shape}; expected (K, 2) x/y points (re-run preprocess.py for this video)"
    if not np.isfinite(arr.astype(np.float64)).all():
        return "contains NaN or infinite values"
    return None


def landmark_key(frame_key: str) -> str:
    """`.../frames/<video>/<idx>.png` -> `.../landmarks/<video>/<idx>.npy` (docs/DESIGN.md §2 sibling layout)."""
    p = PurePosixPath(frame_key)
    return str(p.parent.parent.parent / "landmarks" / p.parent.name / f"{p.stem}.npy")


def diagnose(cfg: dict[str, Any]) -> Report:
    """Run every check; see the module docstring of preprocessing/doctor.py for the list."""
    report = Report(strict=bool(cfg["strict"]))
    name = cfg["dataset"]
    base_name, comp = (name[:-4], "c40") if name.endswith("_c40") else (name, cfg.get("compression"))
    folder = resolve_path(cfg["json_folder"])
    path = folder / f"{base_name}.json"
    if not path.is_file():
        have = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
        guess = [h for h in have if h.lower() == base_name.lower()]
        raise DataError(
            f"{path} not found{f' (did you mean {guess[0]!r}?)' if guess else ''}; JSONs in {folder}: "
            f"{have or 'none'}. Create it with `python preprocessing/rearrange.py --dataset ...`"
        )
    data = read_json(path)
    top, meta = dataset_node(data, base_name, path)
    rgb_dir = resolve_path(cfg["rgb_dir"])
    env = None
    if cfg["lmdb"]:
        lp = lmdb_path(cfg["lmdb_dir"], base_name)
        if not lp.is_dir():
            raise DataError(
                f"LMDB {lp} not found; run `python preprocessing/dataset2lmdb.py --dataset {base_name}` "
                "or check the files instead (--no-lmdb)"
            )
        try:
            env = lmdb.open(str(lp), readonly=True, lock=False)
        except lmdb.Error as e:
            raise DataError(
                f"cannot open the LMDB {lp}: {e}; rebuild it with preprocessing/dataset2lmdb.py"
            ) from None
    try:
        _check_all({base_name: top, **meta}, base_name, comp, _Store(rgb_dir, env), cfg, report, path)
    finally:
        if env is not None:
            env.close()
    return report


def _check_all(data, name, comp, store, cfg, report, path) -> None:
    label_dict = load_label_dict(data)
    per_video: Counter = Counter()
    classes: dict[str, Counter] = defaultdict(Counter)
    members: dict[str, set] = defaultdict(set)
    lm_missing = 0
    n_videos = 0
    for e in iter_videos(data[name], path):
        if comp is not None and e.comp not in (None, comp):
            continue
        label, split, c, video, info = e.label, e.split, e.comp, e.video, e.info
        where = f"{name}/{label}/{split}/{c + '/' if c else ''}{video}"
        n_videos += 1
        if label not in label_dict:
            report.errors.append(
                f"{where}: label {label!r} is not in label_dict; add it (or `_label_dict` in {path.name})"
            )
        if info.get("label") != label:
            report.errors.append(f"{where}: entry says label {info.get('label')!r} but sits under {label!r}")
        if split not in SPLITS:
            report.errors.append(f"{where}: split {split!r} is not one of {SPLITS}")
        frames = [to_key(f, store.rgb_dir) for f in info.get("frames", [])]
        if not frames:
            report.errors.append(f"{where}: no frames listed")
        masks = [to_key(m, store.rgb_dir) for m in info.get("masks") or []]
        if masks and len(masks) != len(frames):
            report.errors.append(f"{where}: {len(masks)} masks for {len(frames)} frames")
        for key in frames + masks:
            problem = _check_file(store, key, cfg["decode"])
            if problem:
                report.errors.append(f"{where}: {key} {problem}")
        for k in frames:
            lm = landmark_key(k)
            if not store.exists(lm):
                lm_missing += 1
            elif cfg["decode"]:
                problem = _check_landmark(store, lm)
                if problem:
                    report.errors.append(f"{where}: {lm} {problem}")
        per_video[len(frames)] += 1
        classes[split][f"{label} ({label_dict.get(label, '?')})"] += 1
        members[split].add((label, c, video))
    if lm_missing:
        report.warnings.append(
            f"{lm_missing} frame(s) have no landmarks file (needed only with with_landmark: true)"
        )
    _overlaps(members, report)
    _summary(name, store, n_videos, per_video, classes, report)


def _overlaps(members: dict[str, set], report: Report) -> None:
    tt = members["train"] & members["test"]
    vt = members["val"] & members["test"]
    if tt:
        report.errors.append(
            f"{len(tt)} video(s) are in both train and test, e.g. {sorted(map(str, tt))[:3]}"
        )
    if vt:
        report.warnings.append(
            f"{len(vt)} video(s) are in both val and test (selection on val = selection on test), e.g. {sorted(map(str, vt))[:3]}"
        )


def _summary(name, store, n_videos, per_video, classes, report) -> None:
    src = "LMDB" if store.txn is not None else f"files under {store.rgb_dir}"
    report.lines.append(f"Dataset {name}: {n_videos} video entries, checked against {src}")
    report.lines.append(
        "Frames per video (frames: videos): " + ", ".join(f"{k}: {v}" for k, v in sorted(per_video.items()))
    )
    for split in SPLITS:
        c = classes.get(split, Counter())
        report.lines.append(
            f"  {split:5s}: " + (", ".join(f"{k}={v}" for k, v in sorted(c.items())) or "empty")
        )
        zero_one = {lbl.rsplit(" (", 1)[1][0] for lbl in c}
        if c and len(zero_one) < 2:
            report.warnings.append(f"split {split} has only one class ({sorted(c)}); AUC is undefined there")
