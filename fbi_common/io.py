"""Atomic file writes: a temp file in the target folder, fsync, rename — readers never see half a file."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from fbi_common.errors import FBIError

TMP_SUFFIX = ".tmp"


class WriteError(FBIError, OSError):
    """A file could not be written (disk full, read-only folder, permissions); names the path and the OS error."""


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call `write(f)` on a temp file next to `path`, fsync it and rename it over `path`.

    On any failure the temp file is removed and the old `path` (if any) is left untouched; an OSError
    becomes a `WriteError` naming the path and the reason. The file gets the permissions a plain
    `open(path, "w")` would give (0666 minus the umask; an existing file keeps its mode) — `mkstemp`
    alone would leave every report, table and checkpoint readable by its owner only (0600).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as e:
        raise WriteError(f"cannot write {path}: {e.strerror or e} (check free space and permissions)") from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {e.strerror or e} (check free space and permissions)") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def json_safe(obj: Any) -> Any:
    """`obj` as strict JSON can hold it: NaN/inf → None (JSON null), NumPy scalars/arrays → Python values, mapping
    keys → str, recursively (metrics.json, results.json and the analysis tools' JSON files)."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_json(path: str | Path, obj: Any, **kwargs: Any) -> Path:
    kwargs.setdefault("indent", 2)
    return atomic_write_text(path, json.dumps(obj, **kwargs) + "\n")


def remove_stale_temps(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Delete temp files an interrupted `atomic_write` left in `folder` (and its subfolders when
    `recursive`), e.g. a checkpoint or predictions.csv write killed by kill -9."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f"**/.*{TMP_SUFFIX}" if recursive else f".*{TMP_SUFFIX}"
    stale = [p for p in folder.glob(pattern) if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive inter-process lock on `path` (created if missing; `fcntl.flock`, released when the
    block ends or the process dies) — for work two processes must not do at once, e.g. two trainings started
    together both generating the demo dataset. Local file systems only (flock is not coherent across NFS)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
