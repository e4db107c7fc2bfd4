"""Wires config, data, detector and trainer together for `train.py` and `test.py`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from fbi_common.logging import get_logger, setup_logging
from fbi_common.paths import resolve_path
from training.config import save_config
from training.dataset import build_dataset, build_index, build_loader, identity_of
from training.inference.face_settings import training_face_pipeline
from training.trainer.build import amp_dtype, build_detector, build_optimizer, input_spec
from training.trainer.checkpoint import load_checkpoint, load_model_weights, model_state_from
from training.trainer.distributed import DistInfo, barrier, broadcast_object, init_distributed
from training.trainer.evaluator import predict, score_and_write
from training.trainer.scheduler import build_scheduler
from training.trainer.trainer import Trainer
from training.utils.seed import seed_everything

log = get_logger("runner")


def _prepare(cfg: dict, run_dir: Path | None) -> tuple[DistInfo, Path]:
    """Process group, run folder (chosen on rank 0), logging, seeds, demo data."""
    dist_info = init_distributed(cfg["cuda"])
    if run_dir is None:
        name = cfg["run_name"] or f"{cfg['model_name']}_{time.strftime('%Y-%m-%d-%H-%M-%S')}"
        run_dir = resolve_path(cfg["log_dir"]) / name
    run_dir = Path(broadcast_object(str(run_dir)))
    setup_logging(run_dir, dist_info.rank)
    seed_everything(cfg["manualSeed"], dist_info.rank)
    torch.backends.cudnn.benchmark = bool(cfg["cudnn"])
    if dist_info.is_main:
        from training.dataset.demo_data import ensure_demo_dataset

        ensure_demo_dataset(cfg)
    barrier()
    return dist_info, run_dir


def training_identities(cfg: dict) -> dict[str, int]:
    """Identity string → class index over the training index (rule: cfg identity_rule)."""
    records = build_index(cfg["train_dataset"], "train", cfg)
    names = sorted({identity_of(r, cfg["identity_rule"]) for r in records})
    return {n: i for i, n in enumerate(names)}


def _data_info(cfg: dict, identity_map: dict[str, int]) -> dict[str, Any]:
    labels = sorted({k for k in cfg["label_dict"]})
    return {"num_identities": max(1, len(identity_map)), "label_names": labels, "identity_map": identity_map}


def _selection_loader(cfg: dict, spec: dict, identity_map: dict, dist_info: DistInfo):
    """Validation split by default; the test split only when select_on=test was asked for explicitly."""
    if cfg["select_on"] == "test":
        log.warning(
            "select_on=test: the checkpoint is chosen on the TEST sets; results are optimistic "
            "and stamped as such"
        )
        names, split = cfg["test_dataset"], "test"
    else:
        names, split = cfg["val_dataset"] or cfg["train_dataset"], "val"
    try:
        ds = build_dataset(cfg, split, names, spec, identity_map=identity_map)
    except (KeyError, ValueError, FileNotFoundError) as e:
        raise ValueError(
            f"could not build the selection set ({split} split of {names}): {e}. Give a validation set "
            "with --opts val_dataset=[NAME] or opt in to test-set selection with --select_on test"
        ) from e
    return build_loader(ds, cfg, train=False, distributed=dist_info.distributed)


def _checkpoint_extras(cfg: dict, spec: dict, identity_map: dict) -> dict[str, Any]:
    return {
        "model_name": cfg["model_name"],
        "label_dict": dict(cfg["label_dict"]),
        "identity_map": identity_map,
        "preprocessing": {
            "size": int(spec["size"]),
            "mean": [float(x) for x in spec["mean"]],
            "std": [float(x) for x in spec["std"]],
            "compression": cfg["compression"],
            "frame_num": dict(cfg["frame_num"]),
            "face": training_face_pipeline(cfg),
        },
    }


def run_training(cfg: dict, resume: str | None = None) -> dict[str, dict] | None:
    """Train, select on validation, test every test set; returns {dataset: metrics} on rank 0."""
    ckpt, run_dir = None, None
    if resume:
        path = resolve_path(resume)
        path = path / "ckpt" / "last.pth" if path.is_dir() else path
        ckpt = load_checkpoint(path)
        cfg = _resume_config(ckpt, cfg, path)
        run_dir = path.parent.parent
    dist_info, run_dir = _prepare(cfg, run_dir)
    if cfg["ddp"] and not dist_info.distributed:
        log.warning("ddp is on but this is a single process; launch with `sh train.sh <yaml>` or torchrun")
    identity_map = training_identities(cfg)
    model = build_detector(cfg, _data_info(cfg, identity_map)).to(dist_info.device)
    spec = input_spec(cfg, model)
    if cfg["compile"]:
        model.compile()  # in place: state_dict keys stay free of `_orig_mod.`
    train_ds = build_dataset(cfg, "train", cfg["train_dataset"], spec, identity_map=identity_map)
    train_loader = build_loader(train_ds, cfg, train=True, distributed=dist_info.distributed)
    val_loader = _selection_loader(cfg, spec, identity_map, dist_info)
    optimizer = build_optimizer(model, cfg)
    steps = max(1, len(train_loader) // max(1, cfg["accum_steps"]))
    total = steps * cfg["nEpochs"] if not cfg["max_steps"] else min(steps * cfg["nEpochs"], cfg["max_steps"])
    scheduler = build_scheduler(optimizer, cfg, steps, total)
    if dist_info.is_main:
        save_config(cfg, run_dir / "config.yaml")
        log.info(
            "run folder: %s | %d training frames, %d identities, %d steps",
            run_dir,
            len(train_ds),
            len(identity_map),
            total,
        )
    trainer = Trainer(
        cfg,
        model,
        optimizer,
        scheduler,
        train_loader,
        val_loader,
        run_dir,
        dist_info,
        amp_dtype(cfg, dist_info.device),
        extra_state=_checkpoint_extras(cfg, spec, identity_map),
    )
    if ckpt is not None:
        trainer.load_state_dict(ckpt)
    trainer.fit()
    trainer.load_best()
    stamp = {"selected_on": cfg["select_on"], "checkpoint_epoch": trainer.best_epoch, "run_dir": str(run_dir)}
    return evaluate_sets(
        cfg, model, spec, identity_map, dist_info, run_dir / "test", trainer.threshold, stamp
    )


def _resume_config(ckpt: dict, cfg: dict, path: Path) -> dict:
    """A resumed run keeps the config it was started with; only the run length may be extended."""
    saved = ckpt.get("config")
    if not isinstance(saved, dict):
        raise ValueError(f"{path} has no saved config, so it cannot be resumed (was it written by train.py?)")
    for key in ("nEpochs", "max_steps"):
        if cfg.get(key) != saved.get(key):
            log.info("resume: %s %s -> %s (from the command line)", key, saved.get(key), cfg.get(key))
            saved[key] = cfg[key]
    return saved


def evaluate_sets(
    cfg: dict,
    model: torch.nn.Module,
    spec: dict,
    identity_map: dict,
    dist_info: DistInfo,
    out_root: Path,
    threshold: float | None,
    stamp: dict,
) -> dict[str, dict] | None:
    """Sharded evaluation of every test set; per-set metrics.json + predictions.csv; summary on rank 0."""
    amp = amp_dtype(cfg, dist_info.device)
    results: dict[str, dict] = {}
    for name in cfg["test_dataset"]:
        ds = build_dataset(cfg, "test", [name], spec, identity_map=identity_map)
        loader = build_loader(ds, cfg, train=False, distributed=dist_info.distributed)
        preds = predict(model, loader, dist_info, amp, desc=f"test {name}", keep_feat=cfg["save_feat"])
        if dist_info.is_main:
            results[name] = score_and_write(
                preds, out_root / name, video_agg=cfg["video_agg"], threshold=threshold, extra=dict(stamp)
            )
    if not dist_info.is_main:
        return None
    (out_root).mkdir(parents=True, exist_ok=True)
    with open(out_root / "results.json", "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, default=lambda x: None)
    log.info("results written to %s", out_root)
    return results


def run_test(cfg: dict, weights_path: str, out_dir: str | None = None) -> dict[str, dict] | None:
    """Evaluate a checkpoint (ours, DDP/compile-prefixed, or a plain state_dict) on every test set."""
    ckpt = load_checkpoint(resolve_path(weights_path))
    saved = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else None
    if saved is not None and (saved["model_name"], saved["model"]) != (cfg["model_name"], cfg["model"]):
        log.warning(
            "the checkpoint was trained with model %s and different model: settings; using the "
            "checkpoint's so the weights fit",
            saved["model_name"],
        )
        cfg = {**cfg, "model_name": saved["model_name"], "model": saved["model"]}
    run_dir = resolve_path(out_dir) if out_dir else None
    if run_dir is None:
        run_dir = (
            resolve_path(cfg["log_dir"]).parent
            / "test"
            / f"{cfg['model_name']}_{time.strftime('%Y-%m-%d-%H-%M-%S')}"
        )
    dist_info, run_dir = _prepare(cfg, run_dir)
    identity_map = ckpt.get("identity_map")
    if not isinstance(identity_map, dict):
        identity_map = _identities_or_empty(cfg)
    info = _data_info(cfg, identity_map)
    if not identity_map:  # a plain state_dict: size the identity head from its own weights
        info["num_identities"] = _identity_classes(model_state_from(ckpt)) or info["num_identities"]
    model = build_detector(cfg, info).to(dist_info.device)
    load_model_weights(model, ckpt, source=str(weights_path))
    spec = input_spec(cfg, model, ckpt.get("preprocessing"))  # the normalisation it was trained with
    stamp = {"weights_path": str(weights_path), "selected_on": (saved or {}).get("select_on", "unknown")}
    return evaluate_sets(cfg, model, spec, identity_map, dist_info, run_dir, ckpt.get("threshold"), stamp)


def _identity_classes(state: dict[str, torch.Tensor]) -> int | None:
    """Output size of the last 2-D `identity.*weight` in a state dict (the identity classifier), if any."""
    last = [v for k, v in state.items() if k.startswith("identity.") and k.endswith("weight") and v.ndim == 2]
    return int(last[-1].shape[0]) if last else None


def _identities_or_empty(cfg: dict) -> dict[str, int]:
    """Plain state_dicts carry no identity map; rebuild it from the training index when that exists."""
    try:
        return training_identities(cfg)
    except (FileNotFoundError, KeyError, ValueError) as e:
        log.info("no identity map in the checkpoint and the training index is unavailable (%s)", e)
        return {}
