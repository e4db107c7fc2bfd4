"""The training loop: steps (AMP, accumulation, clipping, DDP sync), validation-based selection,
checkpoints and TensorBoard scalars. Entry scripts build the parts; this file only runs them."""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from tqdm import tqdm

from fbi_common.logging import get_logger
from training.config.choices import METRIC_SCORING
from training.dataset.dataset import DropLog
from training.metrics import format_metric
from training.trainer.build import autocast, to_device
from training.trainer.checkpoint import save_checkpoint
from training.trainer.distributed import DistInfo, broadcast_object
from training.trainer.evaluator import predict, score_and_write
from training.trainer.scheduler import load_scheduler_state

log = get_logger("trainer")


class TrainStep(nn.Module):
    """Detector + its losses in one module, so DDP wraps both and nobody reaches into `.module`."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        pred = self.detector(batch)
        return self.detector.get_losses(batch, pred)


class Trainer:
    def __init__(
        self,
        cfg: dict,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        train_loader: DataLoader,
        val_loader: DataLoader | None,
        run_dir: Path,
        dist_info: DistInfo,
        amp: torch.dtype | None,
        extra_state: dict[str, Any] | None = None,
    ) -> None:
        self.cfg, self.model, self.optimizer, self.scheduler = cfg, model, optimizer, scheduler
        self.train_loader, self.val_loader = train_loader, val_loader
        self.run_dir, self.dist, self.amp = run_dir, dist_info, amp
        self.extra_state = extra_state or {}
        step = TrainStep(model)
        self.step_module: nn.Module = (
            DDP(step, device_ids=[dist_info.device.index] if dist_info.device.type == "cuda" else None)
            if dist_info.distributed
            else step
        )
        self.scaler = torch.amp.GradScaler(dist_info.device.type, enabled=amp == torch.float16)
        self.accum = max(1, int(cfg["accum_steps"]))
        self.steps_per_epoch = max(1, len(train_loader) // self.accum)
        self.total_steps = self.steps_per_epoch * int(cfg["nEpochs"])
        if cfg["max_steps"]:
            self.total_steps = min(self.total_steps, int(cfg["max_steps"]))
        self.epoch, self.global_step = 0, 0
        self.batches_done = 0  # micro-batches of the current epoch already trained (mid-epoch resume)
        self.best_metric: float | None = None
        self.best_epoch: int | None = None
        self.threshold: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.drops = DropLog()  # training frames dropped by bad_frame_policy=drop, reported per epoch
        self.writer = None
        if dist_info.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tb"))

    # ---- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.global_step,
            "epoch_batches": self.batches_done,
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "threshold": self.threshold,
            "config": self.cfg,
            **self.extra_state,
        }

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Resume: weights, optimiser, schedule, counters and best-so-far."""
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        load_scheduler_state(self.scheduler, ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.global_step = int(ckpt["epoch"]), int(ckpt["step"])
        self.batches_done = int(ckpt.get("epoch_batches", 0))
        self.best_metric, self.best_epoch = ckpt.get("best_metric"), ckpt.get("best_epoch")
        self.threshold = ckpt.get("threshold")
        if self.best_epoch is not None and ckpt.get("best_model") is not None:
            self.best_state = ckpt["best_model"]
        log.info(
            "resumed at epoch %d, step %d (best %s at epoch %s)",
            self.epoch,
            self.global_step,
            self.best_metric,
            self.best_epoch,
        )

    def _save(self, name: str, with_best: bool = False) -> None:
        if not (self.dist.is_main and self.cfg["save_ckpt"]):
            return
        state = self.state_dict()
        if with_best and self.best_state is not None:
            state["best_model"] = self.best_state
        save_checkpoint(self.run_dir / "ckpt" / name, state)

    # ---- loop ----------------------------------------------------------------------------------
    def fit(self) -> None:
        """Train until nEpochs or max_steps, validating (and selecting) every `save_epoch` epochs."""
        n_epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        while self.epoch < n_epochs and self.global_step < self.total_steps:
            t0 = time.time()
            self._train_epoch()
            self.epoch += 1
            log.info(
                "epoch %d/%d done in %.1fs (step %d)",
                self.epoch,
                n_epochs,
                time.time() - t0,
                self.global_step,
            )
            last = self.epoch >= n_epochs or self.global_step >= self.total_steps
            if self.val_loader is not None and (self.epoch % self.cfg["save_epoch"] == 0 or last):
                self._validate()
            self._save("last.pth", with_best=True)
        if self.writer:
            self.writer.close()

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
        bar = tqdm(
            loader,
            desc=f"epoch {self.epoch + 1}",
            disable=not self.dist.is_main,
            dynamic_ncols=True,
            leave=False,
        )
        micro = self.batches_done
        for batch in bar:
            batch = self.drops.take(batch)
            if batch is None:
                continue
            sync = (micro + 1) % self.accum == 0
            losses = self._micro_step(to_device(batch, self.dist.device), sync)
            micro += 1
            if not sync:
                continue
            self._optimizer_step()
            self.batches_done = micro
            every = self.cfg["ckpt_every_steps"]
            if every and self.global_step % every == 0 and self.global_step < self.total_steps:
                self._save("last.pth", with_best=True)
            if self.dist.is_main:
                bar.set_postfix(
                    loss=f"{losses['overall'].item():.4f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}"
                )
                if self.global_step % self.cfg["rec_iter"] == 0 or self.global_step == 1:
                    self._log_scalars(losses)
            if self.global_step >= self.total_steps:
                break
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
                raise FloatingPointError(
                    f"non-finite loss {loss.item()} at step {self.global_step} (terms: "
                    f"{ {k: float(v) for k, v in losses.items()} }); lower the LR or enable grad_clip"
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

    def _log_scalars(self, losses: dict[str, torch.Tensor]) -> None:
        for k, v in losses.items():
            self.writer.add_scalar(f"train/{k}", float(v.detach()), self.global_step)
        self.writer.add_scalar("train/lr", self.scheduler.get_last_lr()[0], self.global_step)

    # ---- validation / selection -----------------------------------------------------------------
    def _validate(self) -> None:
        preds = predict(self.model, self.val_loader, self.dist, self.amp, desc="val")
        result = None
        if self.dist.is_main:
            from training.metrics import calibrate_threshold

            key, higher = METRIC_SCORING[self.cfg["metric_scoring"]]
            out = self.run_dir / "val" / f"epoch_{self.epoch:03d}"
            metrics = score_and_write(preds, out, video_agg=self.cfg["video_agg"], threshold=None)
            value = metrics[key]
            better = (
                value is not None
                and not math.isnan(value)
                and (
                    self.best_metric is None
                    or (value > self.best_metric if higher else value < self.best_metric)
                )
            )
            threshold = calibrate_threshold(preds["label"], preds["prob"]) if better else None
            log.info(
                "val epoch %d: %s=%s video_auc=%s%s",
                self.epoch,
                key,
                format_metric(value),
                format_metric(metrics["video_auc"]),
                " (best)" if better else "",
            )
            if self.writer:
                for k in ("frame_auc", "video_auc", "frame_eer", "frame_ap", "frame_acc"):
                    if metrics.get(k) is not None:
                        self.writer.add_scalar(f"val/{k}", metrics[k], self.epoch)
            result = (better, value, threshold)
        better, value, threshold = broadcast_object(result)
        if better:
            self.best_metric, self.best_epoch, self.threshold = value, self.epoch, threshold
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
            self._save("best.pth")

    def load_best(self) -> None:
        """Put the selected weights back into the model (every rank) before the final test."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
            log.info(
                "testing the checkpoint selected on %s: epoch %s (%s=%.4f)",
                self.cfg["select_on"],
                self.best_epoch,
                self.cfg["metric_scoring"],
                self.best_metric,
            )
        else:
            log.info("no selection was made (no validation ran); testing the last weights")


def skip_batches(loader: DataLoader, n: int) -> DataLoader:
    """This epoch's loader without its first `n` batches, skipped in the sample order (nothing is loaded).

    Under DDP the order is a function of (seed, epoch), so the resumed epoch sees exactly the samples
    it had not seen; in a single process the shuffle generator is not restored, so the rest of the
    epoch is a fresh random draw of the same size.
    """
    order = list(loader.sampler)[n * loader.batch_size :]
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=order,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        worker_init_fn=loader.worker_init_fn,
        generator=loader.generator,
    )
