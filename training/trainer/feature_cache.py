"""Frozen-feature cache (`feature_cache: true`): a detector's frozen feature part runs once per frame; every
epoch then trains only its classifier on the stored features, in the batches the normal path draws.

Valid only when the features cannot change during training: every trainable parameter is in the
detector's classifier part (`BaseDetector.features` / `classifier`, `classifier_modules`), the feature
part computes the same in training and evaluation mode (no batch norm, no dropout), and training
augmentation is off. `check_config` and `check_model` refuse anything else, before any frame is read.

The cache lives in memory only (N×D float32 per split, on the CPU) and is rebuilt from the model's
weights when training starts — after a `--resume` has loaded them; checkpoints never hold it. The
training loader over the cache reuses the normal loader's sampler, generator, batch size and
drop_last, so every epoch sees the same batches in the same seeded order; the final test sets go
through the normal path (one pass each: a cache would save nothing, and test.py takes the same path).
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from fbi_common.errors import DataError
from fbi_common.logging import get_logger
from training.config import ConfigError
from training.dataset import build_loader
from training.dataset.dataset import DeepfakeDataset, DropLog, DroppedFrame
from training.trainer.build import FEATURES_KEY, autocast, to_device
from training.trainer.distributed import world_info_from_env
from training.trainer.hooks import HookBase, Selection

log = get_logger("trainer.feature_cache")

KEY = "feature_cache"


def check_config(cfg: dict) -> None:
    """Refuse `feature_cache: true` with augmentation or several processes (before any work)."""
    if not cfg.get(KEY):
        return
    problems = []
    if cfg["use_data_augmentation"]:
        problems.append(
            f"{KEY}: true stores one feature per training frame, but use_data_augmentation: true changes the "
            f"frames every epoch; set use_data_augmentation: false (or {KEY}: false)"
        )
    if world_info_from_env()[2] > 1:
        problems.append(
            f"{KEY}: true trains in one process (cached epochs take seconds); launch train.py without "
            f"torchrun / train.sh, or set {KEY}: false"
        )
    if problems:
        raise ConfigError(problems)


def check_model(cfg: dict, model: nn.Module) -> None:
    """Refuse `feature_cache: true` unless the detector splits into a frozen, mode-independent feature part
    and a classifier holding every trainable parameter."""
    if not cfg.get(KEY):
        return
    name, keep = cfg["model_name"], tuple(getattr(model, "classifier_modules", ()))
    if not keep:
        raise ConfigError(
            f"{KEY}: true needs a detector with a features()/classifier() split, which model '{name}' does not "
            f"have (the clip detector, e.g. clip_linear_probe.yaml, has it); set {KEY}: false"
        )
    trained = [n for n, p in model.named_parameters() if p.requires_grad and n.split(".")[0] not in keep]
    if trained:
        shown = ", ".join(trained[:3]) + (", ..." if len(trained) > 3 else "")
        raise ConfigError(
            f"{KEY}: true needs a frozen feature part, but model '{name}' trains {len(trained)} parameter "
            f"tensor(s) outside its classifier ({shown}); freeze them (clip: model.tune: none, as in "
            f"clip_linear_probe.yaml) or set {KEY}: false"
        )
    moody = [
        f"{child}.{n}" if n else child
        for child, mod in model.named_children()
        if child not in keep
        for n, m in mod.named_modules()
        if _mode_dependent(m)
    ]
    if moody:
        raise ConfigError(
            f"{KEY}: true needs a feature part that computes the same in training and evaluation mode, but "
            f"model '{name}' has batch norm or dropout in it ({', '.join(moody[:3])}); set {KEY}: false"
        )


def _mode_dependent(m: nn.Module) -> bool:
    """Batch norm, or dropout with a non-zero rate (torch's, and open_clip's / timm's by class name)."""
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return True
    if isinstance(m, nn.modules.dropout._DropoutNd):
        return m.p > 0
    if isinstance(m, nn.MultiheadAttention):
        return m.dropout > 0
    if type(m).__name__ in ("PatchDropout", "DropPath"):
        return float(getattr(m, "prob", getattr(m, "drop_prob", 0.0))) > 0
    return False


class CachedFeatures(Dataset):
    """A `DeepfakeDataset`'s items with its stored features in place of the pixels (same `index`, labels,
    keys); frames the feature pass dropped (bad_frame_policy: drop) stay dropped, counted every epoch."""

    def __init__(self, dataset: DeepfakeDataset, features: Tensor, dropped: dict[int, DroppedFrame]) -> None:
        self.dataset, self.features, self.dropped = dataset, features, dropped
        self.dropped_videos = list(getattr(dataset, "dropped_videos", []))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict | DroppedFrame:
        if index in self.dropped:
            return self.dropped[index]
        return {**self.dataset.describe(index), FEATURES_KEY: self.features[index]}


@torch.no_grad()
def compute_features(
    model: nn.Module, dataset: DeepfakeDataset, cfg: dict, device: torch.device, amp, desc: str
) -> CachedFeatures:
    """`model.features` of every item, in evaluation mode, through the normal (un-augmented) loader."""
    loader = build_loader(dataset, cfg, train=False, distributed=False)
    feats: Tensor | None = None
    drops = DropLog()
    was_training = model.training
    model.eval()
    for batch in tqdm(loader, desc=desc, leave=False, dynamic_ncols=True):
        batch = drops.take(batch)
        if batch is None:
            continue
        batch = to_device(batch, device)
        with autocast(device, amp):
            f = model.features(batch).float().cpu()
        if feats is None:
            feats = torch.zeros(len(dataset), f.shape[1])
        feats[batch["index"].cpu()] = f
    model.train(was_training)
    if feats is None:
        raise DataError(
            f"{desc}: every frame was dropped by bad_frame_policy: drop; check rgb_dir / lmdb_dir"
        )
    drops.report(desc)
    dropped = {i: DroppedFrame(**{k: d[k] for k in DroppedFrame._fields}) for i, d in drops.items.items()}
    return CachedFeatures(dataset, feats, dropped)


def cached_loader(loader: DataLoader, items: CachedFeatures) -> DataLoader:
    """`loader` serving `items`: the same sampler, generator, batch size and drop_last, hence the same
    batches in the same order. One worker if `loader` has any, so the generator is drawn from exactly
    as by `loader` (a persistent iterator draws its worker seed once, a fresh one every epoch)."""
    workers = min(1, loader.num_workers)
    from training.trainer.trainer import loader_like

    return loader_like(
        loader,
        dataset=items,
        num_workers=workers,
        persistent_workers=loader.persistent_workers and workers > 0,
    )


class FeatureCache(HookBase):
    """Before the first step (after a resume loaded the weights): one feature pass over the training and
    selection sets, then the trainer's and the selection's loaders serve the stored features."""

    def __init__(self, selection: Selection) -> None:
        self.selection = selection

    def before_train(self) -> None:
        t, sel = self.trainer, self.selection
        t0 = time.time()
        train = compute_features(
            t.model, t.train_loader.dataset, t.cfg, t.dist.device, t.amp, "features train"
        )
        split = sel.loader.dataset.split  # val, or test with select_on: test
        val = compute_features(t.model, sel.loader.dataset, t.cfg, t.dist.device, t.amp, f"features {split}")
        t.train_loader, sel.loader = cached_loader(t.train_loader, train), cached_loader(sel.loader, val)
        n, d = len(train) + len(val), train.features.shape[1]
        log.info(
            "%s: %d train + %d %s frames × %d float32 = %.1f MiB in memory, built in %.1fs; epochs now run "
            "only the classifier",
            KEY, len(train), len(val), split, d, n * d * 4 / 2**20, time.time() - t0,
        )  # fmt: skip
