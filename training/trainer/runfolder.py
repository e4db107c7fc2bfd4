"""Run folders: a new one is never an old one reused; `--resume` continues one with the config it was
started with (differences listed, run length may change); a failed start leaves no stub behind."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from fbi_common.errors import Stopped
from fbi_common.logging import get_logger, setup_logging
from fbi_common.paths import REPO_ROOT, existing_path, resolve_path
from training.config import ConfigError
from training.trainer.checkpoint import CheckpointError
from training.trainer.distributed import DistInfo

log = get_logger("runner")

# Keys a resume may change: the run length (the LR schedule stretches with it) and how, not what, is
# trained (DataLoader workers; ddp is set by the launcher).
RESUME_CHANGEABLE = ("nEpochs", "max_steps", "workers", "ddp", "feature_cache")
FAILED = "FAILED"


def new_run_dir(cfg: dict) -> Path:
    """`log_dir/run_name` (default `<model>_<time>`); a used `run_name` is refused, a clashing time gets `_2`."""
    root = resolve_path(cfg["log_dir"])
    if cfg["run_name"]:
        run = root / cfg["run_name"]
        if run.exists() and any(run.iterdir()):
            raise ConfigError(
                f"run folder {run} already exists (run_name={cfg['run_name']}); continue it with "
                f"--resume {run}, or pick another run_name (--opts run_name=NEW)"
            )
        return run
    stem = f"{cfg['model_name']}_{time.strftime('%Y-%m-%d-%H-%M-%S')}"
    run, n = root / stem, 1
    while run.exists():
        n += 1
        run = root / f"{stem}_{n}"
    return run


def _newest(last: Path, best: Path) -> Path:
    """The checkpoint with the higher step: best.pth is written just before last.pth at an epoch end,
    so after a kill between the two writes best.pth is the newer, complete state."""

    def step(p: Path) -> int:
        if not p.is_file():
            return -1
        try:
            return int(torch.load(p, map_location="cpu", weights_only=True, mmap=True).get("step", -1))
        except Exception as e:  # unreadable: load_checkpoint explains it if this one is chosen
            log.warning("%s is unreadable (%s: %s)", p, type(e).__name__, str(e).split(". ")[0])
            return -1

    s_last, s_best = step(last), step(best)
    if s_best > s_last:
        log.warning("resuming from best.pth (step %d): last.pth is %s", s_best,
                    "missing or unreadable" if s_last < 0 else f"older (step {s_last})")  # fmt: skip
        return best
    return last


def resume_target(resume: str) -> tuple[Path, Path]:
    """(checkpoint to resume from, its run folder) for `--resume RUN_DIR | RUN_DIR/ckpt/NAME.pth`."""
    path = existing_path(resume)
    if path.is_dir():
        if not (path / "ckpt").is_dir():
            raise CheckpointError(
                f"--resume {resume}: {path} is not a run folder with checkpoints (no ckpt/ inside); pass a "
                "run folder written by train.py (logs/training/<run>) or its ckpt/last.pth"
            )
        return _newest(path / "ckpt" / "last.pth", path / "ckpt" / "best.pth"), path
    if path.parent.name != "ckpt":
        raise CheckpointError(
            f"--resume {resume}: a resume continues a run folder, but {path} is not in one (<run>/ckpt/); "
            "pass the run folder, or start a new run instead"
        )
    return path, path.parent.parent


def resume_yaml(resume: str) -> Path:
    """The run's own `config.yaml`, which `--resume RUN` without `--detector_path` continues with."""
    run = resume_target(resume)[1]
    path = run / "config.yaml"
    if not path.is_file():
        raise ConfigError(
            f"--resume {resume}: {path} is missing (train.py writes it when a run starts; it holds the run's "
            f"settings). Restore it, or name the YAML the run was started with: --detector_path <that yaml> "
            f"--resume {run} (with the same --opts; the checkpoint's saved config must match it)"
        )
    return path


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def resume_config(ckpt: dict, cfg: dict, path: Path) -> dict:
    """The saved config with the changeable keys of `cfg` applied; any other difference is refused."""
    saved = ckpt.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"{path} has no saved config, so it cannot be resumed (was it written by train.py?)"
        )
    old, new = _flat(saved), _flat(cfg)
    diffs = [k for k in sorted(set(old) | set(new)) if old.get(k, "<unset>") != new.get(k, "<unset>")]
    refused = [k for k in diffs if k.split(".")[0] not in RESUME_CHANGEABLE]
    if refused:
        run = path.parent.parent
        lines = "\n".join(
            f"  - {k}: {old.get(k, '<unset>')!r} in the run, {new.get(k, '<unset>')!r} now" for k in refused
        )
        raise ConfigError(
            f"--resume {run}: the config differs from the one the run was started with:\n{lines}\n"
            f"A resume continues the same run (only {', '.join(RESUME_CHANGEABLE)} may change): drop these "
            f"flags/--opts (or resume with just --resume {run}, which uses its config.yaml), or start a new "
            "run under another run_name"
        )
    out = dict(saved)
    for k in diffs:
        top = k.split(".")[0]
        log.info("resume: %s %r -> %r (from the command line)", top, saved.get(top), cfg.get(top))
        out[top] = cfg[top]
    return out


def resume_command(run_dir: Path, dist_info: DistInfo) -> str:
    """The exact command that continues `run_dir` (the saved config.yaml holds every setting)."""
    if dist_info.distributed:
        import os

        ngpu = os.environ.get("LOCAL_WORLD_SIZE", str(dist_info.world_size))
        return f"NGPU={ngpu} sh {REPO_ROOT / 'train.sh'} {run_dir / 'config.yaml'} --resume {run_dir}"
    return f"python {REPO_ROOT / 'training' / 'train.py'} --resume {run_dir}"


class RunGuard:
    """Marks the point where training started; see `guarded_run`."""

    def __init__(self) -> None:
        self.started = False


@contextlib.contextmanager
def guarded_run(run_dir: Path, fresh: bool, dist_info: DistInfo) -> Iterator[RunGuard]:
    """A failure before training starts removes a fresh run folder; after, it leaves a `FAILED` note
    (the error and how to resume). A stop by signal (`Stopped`) is not a failure."""
    guard = RunGuard()
    if dist_info.is_main:
        (run_dir / FAILED).unlink(missing_ok=True)  # a resume of a failed run starts clean
    try:
        yield guard
    except Stopped:
        raise
    except BaseException as e:
        if dist_info.is_main and run_dir.exists():
            setup_logging(None, dist_info.rank)  # release log.txt
            if fresh and not guard.started:
                shutil.rmtree(run_dir, ignore_errors=True)
            else:
                note = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                hint = resume_command(run_dir, dist_info) if (run_dir / "ckpt").is_dir() else "start again"
                try:
                    (run_dir / FAILED).write_text(f"{note}\nto continue: {hint}\n", encoding="utf-8")
                    log.warning("run folder %s marked %s", run_dir, FAILED)
                except OSError as w:  # e.g. the disk is full: the original error is what the user must see
                    log.warning("could not mark %s %s (%s)", run_dir, FAILED, w.strerror or w)
        raise


def interrupted(run_dir: Path, trainer: Any, dist_info: DistInfo, saved: bool) -> Stopped:
    """The error that ends a run stopped by SIGINT/SIGTERM, with the exact resume command."""
    where = f"epoch {trainer.epoch + 1}, step {trainer.global_step}"
    what = (
        f"state saved to {run_dir / 'ckpt' / 'last.pth'}" if saved else "checkpoints are off, nothing saved"
    )
    cmd = f"; resume with: {resume_command(run_dir, dist_info)}" if saved else ""
    return Stopped(f"{trainer.stopped} at {where}: {what}{cmd}", exit_code=trainer.stop.exit_code)
