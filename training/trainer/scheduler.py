"""Learning-rate schedules stepped once per optimiser step: linear warm-up, then cosine or step decay."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from fbi_common.errors import FBIError
from training.config.choices import LR_SCHEDULERS


def run_length(cfg: dict, batches_per_epoch: int) -> tuple[int, int]:
    """(optimiser steps per epoch, total optimiser steps) of a run — the one place this is computed.

    An epoch of `batches_per_epoch` micro-batches makes `batches // accum_steps` optimiser steps; the
    run makes `nEpochs` of them, cut at `max_steps` when that is set. A split too small for a single
    step stops the run before it starts.
    """
    accum = max(1, int(cfg["accum_steps"]))
    steps = batches_per_epoch // accum
    if steps < 1:
        raise FBIError(
            f"the training split gives {batches_per_epoch} batch(es) per epoch per process, fewer than "
            f"accum_steps={accum}: not one optimiser step would be taken. Lower accum_steps or "
            "train_batchSize, add training data, or use fewer processes"
        )
    total = steps * int(cfg["nEpochs"])
    if cfg.get("max_steps"):
        total = min(total, int(cfg["max_steps"]))
    return steps, total


def lr_factor(
    step: int, *, kind: str | None, total: int, warmup: int, eta_min: float, step_size: int, gamma: float
) -> float:
    """LR multiplier at optimiser step `step` (0-based)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if kind is None:
        return 1.0
    if kind == "cosine":
        span = max(1, total - warmup)
        progress = min(1.0, (step - warmup) / span)
        return eta_min + (1.0 - eta_min) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if kind == "step":
        return gamma ** ((step - warmup) // max(1, step_size))
    raise ValueError(f"lr_scheduler: unknown schedule '{kind}' (use one of {list(LR_SCHEDULERS)})")


class _Factor:
    """A picklable LR-lambda (LambdaLR only stores callable objects' __dict__ in its state)."""

    def __init__(self, **kw: object) -> None:
        self.kw = kw

    def __call__(self, step: int) -> float:
        return lr_factor(step, **self.kw)


def build_scheduler(optimizer: Optimizer, cfg: dict, steps_per_epoch: int, total_steps: int) -> LambdaLR:
    """Warm-up of `warmup_epochs`, then `lr_scheduler` (cosine over the rest of the run, or step decay
    by `lr_gamma` every `lr_step` epochs). Counted in optimiser steps so fractional epochs work."""
    return LambdaLR(
        optimizer,
        _Factor(
            kind=cfg["lr_scheduler"],
            total=total_steps,
            warmup=int(round(cfg["warmup_epochs"] * steps_per_epoch)),
            eta_min=float(cfg["lr_eta_min"]),
            step_size=max(1, int(cfg["lr_step"] * steps_per_epoch)),
            gamma=float(cfg["lr_gamma"]),
        ),
    )


def load_scheduler_state(scheduler: LambdaLR, state: dict) -> None:
    """Restore the step count but keep this run's schedule settings: LambdaLR's state also carries its
    lambdas' settings (the old run length), so a resume that extends nEpochs/max_steps would otherwise
    sit at the old cosine floor."""
    fresh = [dict(f.__dict__) for f in scheduler.lr_lambdas]
    scheduler.load_state_dict(state)
    for f, d in zip(scheduler.lr_lambdas, fresh, strict=True):
        f.__dict__.update(d)
