"""The training loop: optimiser steps (AMP, accumulation, clipping, DDP sync) and a clean stop on
Ctrl-C/SIGTERM. Validation/selection, checkpoints and scalars are hooks (`trainer/hooks.py`)."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from tqdm import tqdm

from fbi_common.errors import FBIError
from fbi_common.logging import get_logger
from training.dataset.dataset import DropLog
from training.trainer.build import autocast, run_detector, to_device
from training.trainer.distributed import DistInfo
from training.trainer.hooks import HookBase
from training.trainer.scheduler import load_scheduler_state
from training.trainer.stop import StopRequest

log = get_logger("trainer")


class TrainingError(FBIError, FloatingPointError):
    """Training cannot continue (e.g. a non-finite loss); the message says what to change."""


class TrainStep(nn.Module):
    """Detector + its losses in one module, so DDP wraps both and nobody reaches into `.module`."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        pred = run_detector(self.detector, batch)
        return self.detector.get_losses(batch, pred)


class Trainer:
    """Runs `total_steps` optimiser steps (`steps_per_epoch` per epoch), calling `hooks` around them."""

    def __init__(
        self,
        cfg: dict,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        train_loader: DataLoader,
        dist_info: DistInfo,
        amp: torch.dtype | None,
        run_length: tuple[int, int],
        hooks: list[HookBase],
        extra_state: dict[str, Any] | None = None,
    ) -> None:
        self.cfg, self.model, self.optimizer, self.scheduler = cfg, model, optimizer, scheduler
        self.train_loader, self.dist, self.amp = train_loader, dist_info, amp
        self.steps_per_epoch, self.total_steps = run_length
        self.n_epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        self.extra_state = extra_state or {}
        step = TrainStep(model)
        self.step_module: nn.Module = (
            DDP(step, device_ids=[dist_info.device.index] if dist_info.device.type == "cuda" else None)
            if dist_info.distributed
            else step
        )
        self.scaler = torch.amp.GradScaler(dist_info.device.type, enabled=amp == torch.float16)
        self.accum = max(1, int(cfg["accum_steps"]))
        self.epoch, self.global_step = 0, 0
        self.batches_done = 0  # micro-batches of the current epoch already trained (mid-epoch resume)
        self.last_losses: dict[str, torch.Tensor] = {}
        self.stopped = ""  # the signal's name when a stop was requested
        self.hooks = hooks
        for h in hooks:
            h.trainer = self
        self.drops = DropLog()  # training frames dropped by bad_frame_policy=drop, reported per epoch

    @property
    def finished(self) -> bool:
        return self.epoch >= self.n_epochs or self.global_step >= self.total_steps

    # ---- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.global_step,
            "epoch_batches": self.batches_done,
            "config": self.cfg,
            **self.extra_state,
        }
        for h in self.hooks:
            state.update(h.state_dict())
        return state

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Resume: weights, optimiser, schedule, counters and the hooks' state (best-so-far)."""
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        load_scheduler_state(self.scheduler, ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.global_step = int(ckpt["epoch"]), int(ckpt["step"])
        self.batches_done = int(ckpt.get("epoch_batches", 0))
        for h in self.hooks:
            h.load_state_dict(ckpt)
        log.info(
            "resumed at epoch %d, step %d (best %s at epoch %s)",
            self.epoch, self.global_step, ckpt.get("best_metric"), ckpt.get("best_epoch"),
        )  # fmt: skip

    def _call(self, stage: str) -> None:
        for h in self.hooks:
            getattr(h, stage)()

    # ---- loop ----------------------------------------------------------------------------------
    def fit(self) -> None:
        """Train until nEpochs or max_steps; a SIGINT/SIGTERM stops after the current step."""
        with StopRequest(self.dist.device) as self.stop:
            self._call("before_train")
            while not self.finished and not self._stop_requested():
                t0 = time.time()
                self._train_epoch()
                if self.stopped:
                    break
                self.epoch += 1
                log.info(
                    "epoch %d/%d done in %.1fs (step %d)",
                    self.epoch, self.n_epochs, time.time() - t0, self.global_step,
                )  # fmt: skip
                self._call("after_epoch")
            self._call("after_train")

    def _stop_requested(self) -> bool:
        if self.stop.requested():
            self.stopped = self.stop.name
        return bool(self.stopped)

    def _train_epoch(self) -> None:
        sampler = self.train_loader.sampler
        if hasattr(sampler, "set_epoch"):  # DistributedSampler, balanced/paired samplers
            sampler.set_epoch(self.epoch)
        self.step_module.train()
        loader = self.train_loader
        if self.batches_done:
            log.info(
                "resuming inside epoch %d: skipping its first %d batches", self.epoch + 1, self.batches_done
            )
            loader = skip_batches(loader, self.batches_done)
        bar = tqdm(loader, desc=f"epoch {self.epoch + 1}", disable=not self.dist.is_main, dynamic_ncols=True,
                   leave=False)  # fmt: skip
        micro = self.batches_done
        for batch in bar:
            batch = self.drops.take(batch)
            if batch is None:  # every item dropped by bad_frame_policy=drop
                continue
            sync = (micro + 1) % self.accum == 0
            self.last_losses = self._micro_step(to_device(batch, self.dist.device), sync)
            micro += 1
            if not sync:
                continue
            self._optimizer_step()
            self.batches_done = micro
            if self.dist.is_main:
                bar.set_postfix(loss=f"{self.last_losses['overall'].item():.4f}",
                                lr=f"{self.scheduler.get_last_lr()[0]:.2e}")  # fmt: skip
            self._call("after_step")
            if self.global_step >= self.total_steps or self._stop_requested():
                break
        if not self.stopped:
            self.batches_done = 0
        self.drops.report(f"train epoch {self.epoch + 1}")
        self.drops.reset()

    def _micro_step(self, batch: dict[str, Any], sync: bool) -> dict[str, torch.Tensor]:
        ctx = self.step_module.no_sync() if (self.dist.distributed and not sync) else contextlib.nullcontext()
        with ctx:
            with autocast(self.dist.device, self.amp):
                losses = self.step_module(batch)
            loss = losses["overall"]
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"non-finite loss {loss.item()} at step {self.global_step} (terms: "
                    f"{ {k: float(v) for k, v in losses.items()} }); lower the learning rate "
                    "(optimizer.<type>.lr) or set grad_clip, then resume from ckpt/last.pth or start again"
                )
            self.scaler.scale(loss / self.accum).backward()
        return losses

    def _optimizer_step(self) -> None:
        if self.cfg["grad_clip"] > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(
                [p for p in self.model.parameters() if p.requires_grad], self.cfg["grad_clip"]
            )
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.global_step += 1
        self.model.set_progress(min(1.0, self.global_step / max(1, self.total_steps)))


def skip_batches(loader: DataLoader, n: int) -> DataLoader:
    """This epoch's loader without its first `n` batches, skipped in the sample order (nothing is loaded).

    Under DDP the order is a function of (seed, epoch), so the resumed epoch sees exactly the samples
    it had not seen; in a single process the shuffle generator is not restored, so the rest of the
    epoch is a fresh random draw of the same size.
    """
    return loader_like(
        loader, sampler=list(loader.sampler)[n * loader.batch_size :], persistent_workers=False
    )


def loader_like(loader: DataLoader, **changes) -> DataLoader:
    """A new DataLoader with `loader`'s dataset, batching, sampler, workers and generator, except `changes`."""
    kw = dict(dataset=loader.dataset, batch_size=loader.batch_size, sampler=loader.sampler,
              num_workers=loader.num_workers, collate_fn=loader.collate_fn, pin_memory=loader.pin_memory,
              drop_last=loader.drop_last, worker_init_fn=loader.worker_init_fn, generator=loader.generator,
              persistent_workers=loader.persistent_workers)  # fmt: skip
    return DataLoader(**{**kw, **changes})
