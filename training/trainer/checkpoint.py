"""Self-describing checkpoints: atomic writes, `weights_only=True` loads, DDP/compile prefix stripping."""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fbi_common.errors import FBIError
from fbi_common.io import atomic_write, remove_stale_temps
from fbi_common.logging import get_logger

log = get_logger("checkpoint")

FORMAT = "fbi-clip-checkpoint/1"
_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


class CheckpointError(FBIError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` to `path` atomically (temp file in the same folder, fsync, rename).

    A failed write (disk full, read-only folder) raises `WriteError` naming the path and the OS
    error, and leaves the previous file at `path` untouched.
    """
    return atomic_write(path, lambda f: torch.save({"format": FORMAT, **state}, f))


def clean_checkpoint_folder(folder: str | Path) -> None:
    """Remove temp files that an interrupted checkpoint write (kill -9, power loss) left behind."""
    for p in remove_stale_temps(folder):
        log.info("removed %s, left by an interrupted checkpoint write", p)


def read_error(path: Path, e: Exception) -> CheckpointError:
    """Say which of the three things went wrong: unsafe pickle, damaged file, or not a checkpoint."""
    text = str(e)
    unsafe = isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in text
    if unsafe or ("weights_only" in text and "non-allowlisted" in text):  # the latter: timm's wording
        found = _GLOBAL.search(text)
        what = f" (e.g. {found.group(1)})" if found else ""
        return CheckpointError(
            f"{path} contains Python objects{what}; refused for safety: checkpoints are loaded with "
            "weights_only=True, which reads only tensors and plain values. Re-save the weights as a "
            "plain state_dict (torch.save(model.state_dict(), path)) from code you trust"
        )
    reason = f"{type(e).__name__}: {text.split('. ')[0].splitlines()[0] if text else 'empty file'}"
    if isinstance(e, EOFError | zipfile.BadZipFile) or "central directory" in text or "zip archive" in text:
        return CheckpointError(
            f"{path} is truncated or corrupt ({reason}); an interrupted write or copy? Use another "
            "checkpoint, e.g. the run's ckpt/last.pth or best.pth"
        )
    return CheckpointError(
        f"{path} is not a PyTorch checkpoint ({reason}); pass a .pth written by train.py or torch.save"
    )


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load with `weights_only=True` onto the CPU; a missing/truncated/foreign file gets a clear error."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a folder; pass a checkpoint file (e.g. {path / 'ckpt' / 'best.pth'})"
        )
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (pass the path of a .pth file or a run folder)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated/corrupt/unsafe files
        raise read_error(path, e) from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict/state_dict")
    return obj


def strip_prefixes(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove DDP (`module.`) and torch.compile (`_orig_mod.`) prefixes, nested either way (timm's helper)."""
    from timm.models import clean_state_dict

    return clean_state_dict(state_dict)


def model_state_from(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model weights inside one of our checkpoints, a `{'state_dict': ...}` file or a plain state_dict."""
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(ckpt.get(key), dict):
            return strip_prefixes(ckpt[key])
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return strip_prefixes(ckpt)
    raise CheckpointError(
        f"no model weights found (top-level keys: {sorted(ckpt)[:10]}); expected an FBI-CLIP checkpoint, "
        "a dict with 'state_dict', or a plain state_dict"
    )


def load_model_weights(model: nn.Module, ckpt: dict[str, Any], source: str = "checkpoint") -> None:
    """Load weights strictly; a mismatch names the missing/unexpected keys and the likely cause."""
    state = model_state_from(ckpt)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        shapes = "; ".join(line.strip() for line in str(e).splitlines() if "size mismatch" in line)[:600]
        raise CheckpointError(
            f"{source} does not fit the model built from the config ({shapes or e}). Pass the detector "
            "YAML (and --opts) the checkpoint was trained with."
        ) from e
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not match the model built from the config: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected keys (e.g. {unexpected[:3]}). "
            "Pass the detector YAML (and --opts) the checkpoint was trained with."
        )
