"""What runs around the training loop (detectron2 `HookBase` style): scalar logging, validation-based
selection with threshold calibration, and checkpointing (`last.pth` / `best.pth`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from fbi_common.logging import get_logger
from training.config.choices import METRIC_SCORING
from training.trainer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from training.trainer.distributed import barrier, broadcast_module, broadcast_object
from training.trainer.evaluator import predict, score_and_write

if TYPE_CHECKING:
    from training.trainer.trainer import Trainer

log = get_logger("trainer")

VAL_SCALARS = ("frame_auc", "video_auc", "frame_eer", "frame_ap", "frame_acc")


class HookBase:
    """Called by `Trainer.fit` at fixed points; `state_dict` entries go into every checkpoint."""

    trainer: Trainer

    def before_train(self) -> None: ...
    def after_step(self) -> None: ...
    def after_epoch(self) -> None: ...
    def after_train(self) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, ckpt: dict[str, Any]) -> None: ...


class ScalarLogger(HookBase):
    """TensorBoard scalars on rank 0: every loss term and the LR every `every` steps, validation metrics."""

    def __init__(self, tb_dir: Path, every: int, enabled: bool) -> None:
        self.tb_dir, self.every, self.writer = tb_dir, max(1, int(every)), None
        self.enabled = enabled

    def before_train(self) -> None:
        if self.enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.tb_dir))

    def after_step(self) -> None:
        t = self.trainer
        if self.writer and (t.global_step % self.every == 0 or t.global_step == 1):
            for k, v in t.last_losses.items():
                self.writer.add_scalar(f"train/{k}", float(v.detach()), t.global_step)
            self.writer.add_scalar("train/lr", t.scheduler.get_last_lr()[0], t.global_step)

    def write(self, prefix: str, values: dict[str, Any], step: int) -> None:
        for k, v in values.items():
            if self.writer and v is not None and not (isinstance(v, float) and math.isnan(v)):
                self.writer.add_scalar(f"{prefix}/{k}", v, step)

    def after_train(self) -> None:
        if self.writer:
            self.writer.close()


class Selection(HookBase):
    """Validates every `save_epoch` epochs (and after the last), calibrates the decision threshold of
    those weights (Youden's J) and keeps the best epoch by `metric_scoring`."""

    def __init__(self, cfg: dict, loader: DataLoader, run_dir: Path, scalars: ScalarLogger) -> None:
        self.cfg, self.loader, self.run_dir, self.scalars = cfg, loader, run_dir, scalars
        self.key, self.higher = METRIC_SCORING[cfg["metric_scoring"]]
        self.best_metric: float | None = None
        self.best_epoch: int | None = None
        self.best_threshold: float | None = None
        self.threshold: float | None = None  # of the weights validated at `validated_step`
        self.validated_step: int | None = None
        self.improved = False
        self.n_validations = self.n_undefined = 0

    def due(self) -> bool:
        t = self.trainer
        return t.epoch % self.cfg["save_epoch"] == 0 or t.finished

    def after_epoch(self) -> None:
        self.improved = False
        if not self.due():
            return
        t = self.trainer
        preds = predict(t.model, self.loader, t.dist, t.amp, desc="val")
        result = self._score(preds) if t.dist.is_main else None
        value, threshold, self.improved = broadcast_object(result)
        self.threshold, self.validated_step = threshold, t.global_step
        self.n_validations += 1
        self.n_undefined += value is None
        if self.improved:
            self.best_metric, self.best_epoch, self.best_threshold = value, t.epoch, threshold

    def _score(self, preds: dict[str, Any]) -> tuple[float | None, float | None, bool]:
        from training.metrics import calibrate_threshold, format_metric

        t = self.trainer
        out = self.run_dir / "val" / f"epoch_{t.epoch:03d}"
        labels = np.asarray(preds["label"])
        threshold = calibrate_threshold(labels, preds["prob"]) if len(np.unique(labels)) == 2 else None
        metrics = score_and_write(
            preds, out, video_agg=self.cfg["video_agg"], threshold=threshold, extra={"epoch": t.epoch}
        )
        value = metrics.get(self.key)
        value = None if value is None or math.isnan(value) else float(value)
        better = value is not None and (
            self.best_metric is None
            or (value > self.best_metric if self.higher else value < self.best_metric)
        )
        log.info(
            "val epoch %d: %s=%s video_auc=%s threshold=%s%s",
            t.epoch, self.key, format_metric(value), format_metric(metrics.get("video_auc")),
            "n/a" if threshold is None else f"{threshold:.3f}", " (best)" if better else "",
        )  # fmt: skip
        if value is None:
            n_fake = int(labels.sum())
            log.warning("val epoch %d: %s is undefined (%d real, %d fake frames); no selection this epoch",
                        t.epoch, self.key, len(labels) - n_fake, n_fake)  # fmt: skip
        self.scalars.write("val", {k: metrics.get(k) for k in VAL_SCALARS}, t.epoch)
        return value, threshold, better

    def current_threshold(self) -> float | None:
        """The calibrated threshold of the weights as they are now (None if they were not validated)."""
        return self.threshold if self.validated_step == self.trainer.global_step else None

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "best_threshold": self.best_threshold,
            "threshold": self.current_threshold(),
        }

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        self.best_metric, self.best_epoch = ckpt.get("best_metric"), ckpt.get("best_epoch")
        # Checkpoints before best_threshold existed stored the best epoch's threshold as `threshold`.
        self.best_threshold = ckpt.get("best_threshold", ckpt.get("threshold"))
        if ckpt.get("threshold") is not None and "best_threshold" in ckpt:
            self.threshold, self.validated_step = ckpt["threshold"], int(ckpt["step"])

    def why_none(self) -> str:
        if self.n_validations == 0 and self.best_epoch is None:
            return "no validation ran"
        return f"validation ran {self.n_validations}x but {self.key} was undefined every time (one class?)"


class Checkpointer(HookBase):
    """`last.pth` at every epoch end (and every `every_steps` steps, and on a stop); `best.pth` only
    when the selection improves. The best weights live in best.pth, not in memory (nor in last.pth),
    unless checkpoints are off."""

    def __init__(self, ckpt_dir: Path, selection: Selection, every_steps: int, enabled: bool) -> None:
        self.dir, self.selection, self.every, self.enabled = ckpt_dir, selection, int(every_steps), enabled
        self.best_state: dict[str, torch.Tensor] | None = None  # only without best.pth
        self.saved_step: int | None = None

    @property
    def last_path(self) -> Path:
        return self.dir / "last.pth"

    @property
    def best_path(self) -> Path:
        return self.dir / "best.pth"

    def _save(self, path: Path, selected_on: str) -> None:
        if self.enabled and self.trainer.dist.is_main:
            save_checkpoint(path, {**self.trainer.state_dict(), "selected_on": selected_on})
        self.saved_step = self.trainer.global_step

    def after_step(self) -> None:
        t = self.trainer
        if self.every and t.global_step % self.every == 0 and not t.finished:
            self._save(self.last_path, "last")

    def after_epoch(self) -> None:
        if self.selection.improved:
            if self.enabled:
                self._save(self.best_path, self.trainer.cfg["select_on"])
            else:
                self.best_state = {
                    k: v.detach().cpu().clone() for k, v in self.trainer.model.state_dict().items()
                }
        self._save(self.last_path, "last")

    def after_train(self) -> None:
        if self.trainer.stopped and self.saved_step != self.trainer.global_step:
            self._save(self.last_path, "last")
        barrier()

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        if ckpt.get("best_model") is not None:  # checkpoints written before best.pth held them alone
            self.best_state = ckpt["best_model"]

    def restore_selected(self) -> dict[str, Any]:
        """Put the selected weights into the model on every rank; the stamp says what is tested."""
        t, sel = self.trainer, self.selection
        last = {"checkpoint": str(self.last_path) if self.enabled else None, "epoch": t.epoch,
                "selected_on": "last", "threshold": sel.current_threshold()}  # fmt: skip
        if sel.best_epoch is None:
            log.info(
                "no checkpoint was selected (%s); testing the last weights (epoch %d)",
                sel.why_none(),
                t.epoch,
            )
            return last
        if sel.validated_step == t.global_step and sel.best_epoch == t.epoch:
            pass  # the model holds the selected weights already
        elif self.best_state is not None:
            t.model.load_state_dict(self.best_state)
        elif not self._load_best_file():
            return last
        log.info(
            "testing the checkpoint selected on %s: epoch %d (%s=%.4f)",
            t.cfg["select_on"], sel.best_epoch, sel.key, sel.best_metric,
        )  # fmt: skip
        return {
            "checkpoint": str(self.best_path) if self.enabled else None,
            "epoch": sel.best_epoch,
            "selected_on": t.cfg["select_on"],
            "threshold": sel.best_threshold,
        }

    def _load_best_file(self) -> bool:
        """Rank 0 reads best.pth and broadcasts the weights; False (with a warning) when it is unusable."""
        t, sel = self.trainer, self.selection
        problem = None
        if t.dist.is_main:
            try:
                ckpt = load_checkpoint(self.best_path)
                if ckpt.get("epoch") != sel.best_epoch:
                    problem = (
                        f"{self.best_path} holds epoch {ckpt.get('epoch')}, not the selected {sel.best_epoch}"
                    )
                else:
                    t.model.load_state_dict(ckpt["model"])
            except CheckpointError as e:
                problem = str(e)
        problem = broadcast_object(problem)
        if problem:
            log.warning("cannot restore the selected weights (%s); testing the last weights instead", problem)
            return False
        broadcast_module(t.model)
        return True
