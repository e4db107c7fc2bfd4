"""Self-describing checkpoints: atomic writes, `weights_only=True` loads, DDP/compile prefix stripping."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fbi_common.errors import FBIError
from fbi_common.logging import get_logger

log = get_logger("checkpoint")

FORMAT = "fbi-clip-checkpoint/1"
_PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(FBIError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` to `path` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load with `weights_only=True` onto the CPU; a missing/truncated/foreign file gets a clear error."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (pass the path of a .pth file or a run folder)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated/corrupt zips
        raise CheckpointError(
            f"could not read checkpoint {path}: {type(e).__name__}: {e}. The file is truncated or not a "
            "PyTorch checkpoint (an interrupted copy?); use another checkpoint, e.g. the run's last.pth"
        ) from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict/state_dict")
    return obj


def strip_prefixes(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove DDP (`module.`) and torch.compile (`_orig_mod.`) prefixes, however they are nested."""
    out = {}
    for k, v in state_dict.items():
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if k.startswith(p):
                    k, changed = k[len(p) :], True
        out[k] = v
    return out


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
    result = model.load_state_dict(state, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not match the model built from the config: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected keys (e.g. {unexpected[:3]}). "
            "Pass the detector YAML (and --opts) the checkpoint was trained with."
        )
