"""Config → `DeepfakeDataset` and DataLoader: the one place the data part reads the config dict."""

from __future__ import annotations

import signal
from pathlib import Path

import cv2
import torch
from torch.utils.data import DataLoader, DistributedSampler

from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.config.schema import ConfigError
from training.dataset.dataset import DeepfakeDataset, collate_drop_none
from training.dataset.frame_cache import FrameCache, open_frame_cache
from training.dataset.frame_cache_auto import auto_cache_dir, auto_root, is_auto
from training.dataset.index import SPLITS, build_index
from training.dataset.readers import FileReader, LmdbReader
from training.dataset.samplers import build_train_sampler
from training.dataset.sbi import SelfBlend
from training.dataset.transforms import FrameTransform
from training.utils.seed import seed_worker

log = get_logger("dataset.loaders")


def dataset_names(cfg: dict, split: str) -> list[str]:
    """Datasets of a split: train → train_dataset; val → val_dataset, else the training datasets; test → test_dataset."""
    if split == "train":
        names = cfg["train_dataset"]
    elif split == "val":
        names = cfg.get("val_dataset") or cfg["train_dataset"]
    elif split == "test":
        names = cfg["test_dataset"]
    else:
        raise ValueError(f"unknown split '{split}'; use one of {SPLITS}")
    return [names] if isinstance(names, str) else list(names)


def _frame_num(cfg: dict, split: str) -> int | None:
    fn = cfg.get("frame_num")
    if isinstance(fn, dict):
        if split not in fn:
            raise KeyError(
                f"frame_num has no entry for split '{split}' (it has {sorted(fn)}); add frame_num.{split}"
            )
        return fn[split]
    return fn


def build_transform(cfg: dict, split: str, input_spec: dict) -> FrameTransform:
    """Resize to `input_spec["size"]` (the model's, after `build.input_spec` applied the config's
    `resolution`); augment only the train split — in the workers, or with `augment_on: device` on the
    training device (`to_device` applies the drawn operations). Normalisation is the model's."""
    augment = split == "train" and cfg.get("use_data_augmentation", False)
    on_device = cfg.get("augment_on", "workers") == "device"
    return FrameTransform(input_spec["size"], cfg.get("data_aug") if augment else None, on_device)


def build_reader(cfg: dict) -> FileReader | LmdbReader:
    """`LmdbReader(lmdb_dir)` when `lmdb` is on, else `FileReader(rgb_dir)`."""
    return LmdbReader(cfg["lmdb_dir"]) if cfg.get("lmdb") else FileReader(cfg["rgb_dir"])


def build_dataset(
    cfg: dict,
    split: str,
    names: str | list[str] | None,
    input_spec: dict,
    identity_map: dict[str, int] | None = None,
) -> DeepfakeDataset:
    """The dataset of `names` (None: the split's configured datasets) for one split.

    Pass the training set's `identity_map` for val/test; with None, the train split builds its own
    map and other splits get identity -1 everywhere (their ids mean nothing to the identity head).
    """
    names = dataset_names(cfg, split) if names is None else names
    records = build_index(names, split, cfg)
    sbi = _self_blend(cfg, split)
    if sbi is not None and sbi.cfg["real_only"]:
        n_fake = sum(r.label == 1 for r in records)
        records = [r for r in records if r.label == 0]
        log.info(
            "data_aug.sbi.real_only: training on %d real videos, %d fake videos left out",
            len(records),
            n_fake,
        )
    reader = build_reader(cfg)
    if identity_map is None and split != "train":
        identity_map = {}
    ds = DeepfakeDataset(
        records,
        reader,
        split,
        _frame_num(cfg, split),
        build_transform(cfg, split, input_spec),
        identity_map=identity_map,
        with_mask=bool(cfg.get("with_mask", False)),
        with_landmark=bool(cfg.get("with_landmark", False)) or sbi is not None,
        bad_frame_policy=cfg.get("bad_frame_policy", "error"),
        seed=int(cfg.get("manualSeed", 0)),
        identity_rule=cfg.get("identity_rule", "target"),
        sbi=sbi,
    )
    if cfg.get("frame_cache") and not is_auto(cfg["frame_cache"]):  # auto: training decides (below)
        attach_frame_cache(cfg, ds, cfg["frame_cache"], names, split)
    log.info("%s", ds)
    return ds


def cache_label(names: list[str], split: str) -> str:
    return f"{'+'.join(names)}-{split}"


def attach_frame_cache(
    cfg: dict, ds: DeepfakeDataset, root: str | Path, names: list[str], split: str
) -> FrameCache:
    """Give `ds` its table under `root` (training/dataset/frame_cache.py); refused with self-blending.

    Stale tables in the `auto` folder (`frame_cache/` beside the data root, which the framework owns)
    are rebuilt with a warning; in a folder the config names they stop the run.
    """
    if ds.sbi is not None:
        raise ConfigError(
            "frame_cache: self-blended images (data_aug.sbi.enabled) are made from the full-resolution "
            "crops and their landmarks, before the resize the cache stores; set frame_cache: null (or "
            "auto, which leaves such runs uncached) or disable data_aug.sbi"
        )
    ds.cache = open_frame_cache(
        root, cache_label(names, split), ds.frames(), ds.transform.size, ds.with_mask, ds.reader.source,
        ds.reader.stamp, rebuild_stale=resolve_path(root) == auto_root(cfg),
    )  # fmt: skip
    return ds.cache


def with_training_cache(cfg: dict, train_ds: DeepfakeDataset, names: list[str], epochs: int) -> dict:
    """Resolve `frame_cache: auto` for a training run of `epochs` epochs (training/dataset/frame_cache_auto.py).

    Attaches the chosen table to `train_ds` and returns `cfg` with `frame_cache` set to that folder (or
    None, off) — the config to build the selection split with. Other values return `cfg` unchanged.
    """
    if not is_auto(cfg.get("frame_cache")):
        return cfg
    root = auto_cache_dir(
        cfg,
        label=cache_label(names, "train"),
        frames=train_ds.frames(),
        size=train_ds.transform.size,
        with_mask=train_ds.with_mask,
        source=train_ds.reader.source,
        epochs=epochs,
        self_blend=train_ds.sbi is not None,
        frozen_features=bool(cfg.get("feature_cache")),
    )
    if root is not None:
        attach_frame_cache(cfg, train_ds, root, names, "train")
    return {**cfg, "frame_cache": None if root is None else str(root)}


def _self_blend(cfg: dict, split: str) -> SelfBlend | None:
    """The SBI generator for the training split when `data_aug.sbi.enabled` (and augmentation is on)."""
    sbi_cfg = (cfg.get("data_aug") or {}).get("sbi") or {}
    if split != "train" or not cfg.get("use_data_augmentation", False) or not sbi_cfg.get("enabled"):
        return None
    return SelfBlend(sbi_cfg)


def init_worker(worker_id: int) -> None:
    """DataLoader worker init: seed NumPy/random from torch's worker seed; ignore Ctrl-C (the main
    process decides how to stop — training saves its state first, see training/trainer/stop.py)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    seed_worker(worker_id)


def build_loader(dataset: DeepfakeDataset, cfg: dict, train: bool, distributed: bool) -> DataLoader:
    """Train: shuffled, drop_last; eval: in order, nothing dropped (DDP padding is removed by `index`).

    `sampler: balanced | paired` (training/dataset/samplers.py) replaces the shuffle for training.
    The trainer calls `loader.sampler.set_epoch(epoch)` every epoch when the sampler has it.
    """
    seed = int(cfg.get("manualSeed", 0))
    batch_size = int(cfg["train_batchSize"] if train else cfg["test_batchSize"])
    workers = int(cfg.get("workers", 0))
    if workers > 0:
        # One OpenCV thread, set in the parent BEFORE the workers fork: N workers each running a
        # core-sized OpenCV pool oversubscribe the CPU, and changing the pool inside a forked child
        # (whose pool threads did not survive the fork) deadlocks.
        cv2.setNumThreads(1)
    sampler = build_train_sampler(dataset, cfg, distributed) if train else None
    rank = getattr(sampler, "rank", 0)
    if distributed and sampler is None:
        sampler = DistributedSampler(dataset, shuffle=train, seed=seed, drop_last=False)
        rank = sampler.rank
    per_replica = len(sampler) if sampler is not None else len(dataset)
    drop_last = train and per_replica >= batch_size
    if train and not drop_last:
        log.warning(
            "training set has %d frames per process, fewer than train_batchSize=%d; keeping the "
            "partial batch instead of dropping every sample",
            per_replica,
            batch_size,
        )
    generator = torch.Generator()
    # rank offset: worker seeds (and so augmentations) differ across DDP ranks.
    generator.manual_seed(seed + rank)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_drop_none,
        pin_memory=torch.cuda.is_available() and bool(cfg.get("cuda", True)),
        drop_last=drop_last,
        worker_init_fn=init_worker,
        generator=generator,
        persistent_workers=workers > 0,
    )
