"""Files of the analysis tools: input paths (cwd, then repo root), checkpoints and run folders, TensorBoard scalars,
and atomic PNG/CSV/NPY/JSON outputs."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fbi_common.errors import FBIError
from fbi_common.io import atomic_write, atomic_write_json, atomic_write_text, json_safe
from fbi_common.paths import REPO_ROOT, resolve_path


class AnalysisError(FBIError, ValueError):
    """An analysis input (run folder, checkpoint, dataset, flag) that cannot be used as given."""


def input_path(p: str | Path) -> Path:
    """A user-given input path: as given when it exists relative to the cwd, else against the repo root."""
    p = Path(p).expanduser()
    return p.resolve() if p.is_absolute() or p.exists() else resolve_path(p)


def out_path(p: str | Path) -> Path:
    """An output path given by the user: absolute as given, relative against the repo root."""
    return resolve_path(p).resolve()


def find_checkpoint(path: str | Path) -> Path:
    """`path` itself when it is a file; for a run folder its `ckpt/best.pth` (else `ckpt/last.pth`)."""
    p = input_path(path)
    if p.is_dir():
        for name in ("best.pth", "last.pth"):
            if (p / "ckpt" / name).is_file():
                return p / "ckpt" / name
        raise AnalysisError(
            f"--weights_path {p} is a folder without ckpt/best.pth or ckpt/last.pth; pass a run folder written "
            "by training/train.py (with save_ckpt on) or a .pth file"
        )
    if not p.is_file():
        raise AnalysisError(f"--weights_path {p} does not exist; pass a checkpoint (.pth) or a run folder")
    return p


def run_dir_of(ckpt_path: Path) -> Path | None:
    """The run folder a checkpoint lives in (`<run>/ckpt/x.pth`), or None for a loose file."""
    parent = ckpt_path.parent
    return parent.parent if parent.name == "ckpt" and (parent.parent / "config.yaml").is_file() else None


def out_dir_for(out: str | Path | None, run_dir: Path | None, tool: str) -> Path:
    """`--out` when given (relative: against the repo root, like every path of the project); else
    `<run folder>/analysis/<tool>`, or `logs/analysis/<tool>` without a run."""
    if out:
        return out_path(out)
    if run_dir is not None:
        return run_dir / "analysis" / tool
    return REPO_ROOT / "logs" / "analysis" / tool


def save_figure(fig: Any, path: Path, dpi: int = 120) -> Path:
    """Write a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def save_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Rows of dicts as CSV (columns from the first row), written atomically."""
    if not rows:
        raise AnalysisError(f"nothing to write to {path}")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return atomic_write_text(path, buf.getvalue())


def save_npy(path: Path, array: np.ndarray) -> Path:
    return atomic_write(path, lambda f: np.save(f, np.asarray(array)))


def save_json(path: Path, obj: Any) -> Path:
    """JSON with NaN/inf written as null (strict JSON) and NumPy scalars as numbers."""
    return atomic_write_json(path, json_safe(obj), indent=2)


def slug(text: str) -> str:
    """A file-name-safe version of a dataset or run name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def read_scalars(tb_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar of a TensorBoard folder (all event files, e.g. after a resume): tag → (steps, values).

    A step logged twice (a resumed run re-logging it) keeps the last value.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not tb_dir.is_dir() or not any(tb_dir.glob("events.out.tfevents.*")):
        raise AnalysisError(
            f"no TensorBoard event files in {tb_dir}; pass a run folder written by training/train.py"
        )
    acc = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags().get("scalars", []):
        last = {e.step: e.value for e in acc.Scalars(tag)}
        steps = np.array(sorted(last))
        out[tag] = (steps, np.array([last[s] for s in steps], dtype=np.float64))
    return out


def run_folder(path: str | Path) -> Path:
    """A run folder given directly or through one of its checkpoints (`<run>/ckpt/x.pth`)."""
    p = input_path(path)
    if p.is_file():
        run = run_dir_of(p)
        if run is None:
            raise AnalysisError(f"{p} is not inside a run folder (<run>/ckpt/{p.name}); pass the run folder")
        return run
    if not (p / "config.yaml").is_file():
        raise AnalysisError(
            f"{p} is not a run folder (no config.yaml); pass a folder written by training/train.py"
        )
    return p
