"""Finding evaluations in run / test folders and loading their predictions.csv files into row groups.

An *evaluation* is one `predictions.csv` of one test set. Accepted inputs (each optionally `LABEL=PATH`):

- a run folder written by `train.py` (its `test/<Dataset>/predictions.csv`),
- a `test.py --out` folder or a run's `test/` folder (`<Dataset>/predictions.csv`, next to `results.json`),
- one `<Dataset>` folder holding `predictions.csv`,
- any folder containing such run folders (searched recursively; `val/` and `robustness/` folders are skipped).

Rows group evaluations by (label, training sets). The label is the given `LABEL`, else the run folder's
name without a trailing seed (`_s3`, `_seed3`) or time stamp (`_2026-01-31-12-00-00`). The training sets
and seed come from the run's `config.yaml` (for a `test.py` folder: the config of the run its
`metrics.json` `weights_path` points into), else `?`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from analysis.tables.stats import Scores
from fbi_common.errors import FBIError
from fbi_common.paths import resolve_path
from training.metrics import aggregate_videos, read_predictions_csv

_SUFFIX = re.compile(r"(_s(eed)?\d+|_\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)$")
_SKIP = {"val", "robustness", "ckpt", "tb"}


class TableError(FBIError, ValueError):
    """A results-table input (folder, predictions file, flag) that cannot be used as given."""


@dataclass
class Evaluation:
    """One run on one test set."""

    label: str
    train: str
    seed: int | None
    test_set: str
    path: Path  # the predictions.csv
    run: Path  # the run (or test.py output) folder
    scores: Scores
    n_frames: int
    stamped: dict = field(default_factory=dict)  # metrics.json as written next to it (may be empty)


def input_path(p: str | Path) -> Path:
    """A user-given path: as given when it exists relative to the cwd, else against the repository root."""
    p = Path(p).expanduser()
    return p.resolve() if p.is_absolute() or p.exists() else resolve_path(p)


def load_scores(csv_path: Path, video_agg: str = "mean") -> tuple[Scores, int]:
    """A predictions.csv as `Scores` (videos sorted by key, aggregated with ``video_agg``) and its frame count."""
    try:
        d = read_predictions_csv(csv_path)
        keys, vy, vp = aggregate_videos(d["video_key"], d["label"], d["prob"], video_agg)
    except (OSError, ValueError) as e:
        raise TableError(f"cannot read {csv_path}: {e}") from None
    index = {k: i for i, k in enumerate(keys)}
    frame_video = np.array([index[k] for k in d["video_key"]], dtype=np.int64)
    return Scores(d["label"], d["prob"], frame_video, keys, vy, vp), len(d["label"])


def _csvs_of(folder: Path) -> list[tuple[Path, Path]]:
    """(run folder, predictions.csv) pairs below ``folder`` by the rules of the module docstring."""
    if (folder / "predictions.csv").is_file():
        return [
            (
                folder.parent.parent if folder.parent.name == "test" else folder.parent,
                folder / "predictions.csv",
            )
        ]
    if (folder / "test").is_dir():
        folder = folder / "test"
    direct = sorted(folder.glob("*/predictions.csv"))
    if direct:
        return [(folder.parent if folder.name == "test" else folder, c) for c in direct]
    found = []
    for child in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in _SKIP):
        found += _csvs_of(child)
    return found


def _run_config(run: Path, stamped: dict) -> dict:
    """The run's config.yaml, or (for a test.py folder) the config next to the checkpoint it evaluated."""
    candidates = [run / "config.yaml"]
    weights = stamped.get("weights_path")
    if weights:
        w = Path(weights)
        candidates += [w.parent.parent / "config.yaml", w / "config.yaml"]
    for c in candidates:
        if c.is_file():
            return yaml.safe_load(c.read_text(encoding="utf-8")) or {}
    return {}


def default_label(run: Path) -> str:
    return _SUFFIX.sub("", run.name) or run.name


def collect(specs: list[str], video_agg: str | None = None) -> list[Evaluation]:
    """Every evaluation under the given inputs (`PATH` or `LABEL=PATH`), in argument order."""
    evals: list[Evaluation] = []
    for spec in specs:
        label, _, raw = spec.partition("=") if "=" in spec else ("", "", spec)
        folder = input_path(raw)
        if not folder.exists():
            raise TableError(f"{raw}: no such run or test folder (relative paths: cwd, then the repo root)")
        if folder.is_file():
            raise TableError(f"{folder}: pass the folder holding predictions.csv, not the file")
        pairs = _csvs_of(folder)
        if not pairs:
            raise TableError(
                f"{folder}: no predictions.csv found (expected a run folder with test/<Dataset>/predictions.csv, "
                "a test.py --out folder, or a folder of runs)"
            )
        for run, csv_path in pairs:
            stamped = _read_json(csv_path.parent / "metrics.json")
            cfg = _run_config(run, stamped)
            agg = video_agg or stamped.get("video_agg") or cfg.get("video_agg") or "mean"
            scores, n = load_scores(csv_path, agg)
            train = cfg.get("train_dataset")
            train = "+".join(train) if isinstance(train, list) else (str(train) if train else "?")
            seed = cfg.get("manualSeed")
            evals.append(
                Evaluation(
                    label or default_label(run),
                    train,
                    seed,
                    csv_path.parent.name,
                    csv_path,
                    run,
                    scores,
                    n,
                    stamped,
                )
            )
    return evals


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def group_rows(evals: list[Evaluation]) -> dict[tuple[str, str], dict[str, list[Evaluation]]]:
    """{(label, train): {test_set: [evaluations (one per seed)]}} in first-seen order."""
    rows: dict[tuple[str, str], dict[str, list[Evaluation]]] = defaultdict(lambda: defaultdict(list))
    for e in evals:
        rows[(e.label, e.train)][e.test_set].append(e)
    for (label, _train), sets in rows.items():
        for test_set, group in sets.items():
            paths = [str(e.path) for e in group]
            if len(set(paths)) != len(paths):
                raise TableError(f"row '{label}' lists {paths[0]} twice; pass each run once")
            keys = group[0].scores.video_keys
            for e in group[1:]:
                if e.scores.video_keys != keys:
                    raise TableError(
                        f"row '{label}' on {test_set}: {e.path} and {group[0].path} scored different videos, so "
                        "their seeds cannot be averaged; re-test them on the same test set"
                    )
    return {k: dict(v) for k, v in rows.items()}
