"""Wires config, data, detector and trainer together for `train.py` and `test.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fbi_common.logging import get_logger, setup_logging
from fbi_common.paths import existing_path, resolve_path
from training.config import save_config
from training.dataset import build_dataset, build_index, build_loader, identity_of
from training.dataset.loaders import with_training_cache
from training.inference.face_settings import training_face_pipeline
from training.metrics import write_metrics_json
from training.trainer import feature_cache
from training.trainer.build import amp_dtype, build_detector, build_optimizer, data_info, input_spec
from training.trainer.checkpoint import (
    clean_checkpoint_folder,
    load_checkpoint,
    load_model_weights,
    model_state_from,
)
from training.trainer.distributed import (
    DistInfo,
    barrier,
    broadcast_object,
    cleanup,
    init_distributed,
    world_info_from_env,
)
from training.trainer.evaluator import predict, score_and_write
from training.trainer.hooks import Checkpointer, ScalarLogger, Selection
from training.trainer.preflight import preflight
from training.trainer.runfolder import guarded_run, interrupted, new_run_dir, resume_config, resume_target
from training.trainer.scheduler import build_scheduler, run_length
from training.trainer.trainer import Trainer
from training.utils.seed import seed_everything

log = get_logger("runner")


def _console_logging() -> None:
    setup_logging(None, world_info_from_env()[1])


def _start(cfg: dict) -> DistInfo:
    """Process group, seeds, demo data (generated on first use)."""
    dist_info = init_distributed(cfg["cuda"])
    seed_everything(cfg["manualSeed"], dist_info.rank)
    torch.backends.cudnn.benchmark = bool(cfg["cudnn"])
    if dist_info.is_main:
        from training.dataset.demo_data import ensure_demo_dataset

        ensure_demo_dataset(cfg)
    barrier()
    return dist_info


def _run_dir(cfg: dict, dist_info: DistInfo) -> Path:
    """A new run folder chosen on rank 0 (refusing a used run_name on every rank)."""
    choice: tuple[str, str] = ("", "")
    if dist_info.is_main:
        try:
            choice = (str(new_run_dir(cfg)), "")
        except Exception as e:  # re-raised on every rank below
            choice = ("", str(e))
    path, problem = broadcast_object(choice)
    if problem:
        from training.config import ConfigError

        raise ConfigError(problem)
    return Path(path)


def training_identities(cfg: dict) -> dict[str, int]:
    """Identity string → class index over the training index (rule: cfg identity_rule)."""
    records = build_index(cfg["train_dataset"], "train", cfg)
    names = sorted({identity_of(r, cfg["identity_rule"]) for r in records})
    return {n: i for i, n in enumerate(names)}


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
    ds = build_dataset(cfg, split, names, spec, identity_map=identity_map)
    return build_loader(ds, cfg, train=False, distributed=dist_info.distributed)


def _checkpoint_extras(cfg: dict, spec: dict, identity_map: dict, run_dir: Path) -> dict[str, Any]:
    return {
        "model_name": cfg["model_name"],
        "label_dict": dict(cfg["label_dict"]),
        "identity_map": identity_map,
        "run_dir": str(run_dir),
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
    """Pre-flight, train, select on validation, test every test set; returns {dataset: metrics} on rank 0."""
    _console_logging()
    ckpt, run_dir = None, None
    if resume:
        path, run_dir = resume_target(resume)
        ckpt = load_checkpoint(path)
        cfg = resume_config(ckpt, cfg, path)
        log.info("resuming %s from %s", run_dir, path.name)
    feature_cache.check_config(cfg)
    dist_info = _start(cfg)
    if cfg["ddp"] and not dist_info.distributed:
        log.warning("ddp is on but this is a single process; launch with `sh train.sh <yaml>` or torchrun")
    run_dir = run_dir or _run_dir(cfg, dist_info)
    preflight(cfg, dist_info, ("train", "val", "test"), {"log_dir": resolve_path(cfg["log_dir"])})
    with guarded_run(run_dir, fresh=ckpt is None, dist_info=dist_info) as guard:
        setup_logging(run_dir, dist_info.rank)
        if dist_info.is_main:
            clean_checkpoint_folder(run_dir)  # temp files of writes a kill -9 interrupted
        trainer, checkpointer, spec, identity_map = _build_trainer(cfg, run_dir, dist_info)
        if ckpt is not None:
            trainer.load_state_dict(ckpt)
            del ckpt
        guard.started = True
        trainer.fit()
        if trainer.stopped:
            raise interrupted(run_dir, trainer, dist_info, saved=cfg["save_ckpt"])
        stamp = {**checkpointer.restore_selected(), "run_dir": str(run_dir)}
        return evaluate_sets(cfg, trainer.model, spec, identity_map, dist_info, run_dir / "test", stamp)


def _build_trainer(cfg: dict, run_dir: Path, dist_info: DistInfo) -> tuple[Trainer, Checkpointer, dict, dict]:
    identity_map = training_identities(cfg)
    model = build_detector(cfg, data_info(cfg, identity_map)).to(dist_info.device)
    feature_cache.check_model(cfg, model)
    spec = input_spec(cfg, model)
    if cfg["compile"]:
        model.compile()  # in place: state_dict keys stay free of `_orig_mod.`
    train_ds = build_dataset(cfg, "train", cfg["train_dataset"], spec, identity_map=identity_map)
    train_loader = build_loader(train_ds, cfg, train=True, distributed=dist_info.distributed)
    steps, total = run_length(cfg, len(train_loader))
    # frame_cache: auto → the train and selection splits' folder (or off), now that the epochs are known
    data_cfg = with_training_cache(cfg, train_ds, cfg["train_dataset"], epochs=-(-total // steps))
    val_loader = _selection_loader(data_cfg, spec, identity_map, dist_info)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, steps, total)
    if dist_info.is_main:
        save_config(cfg, run_dir / "config.yaml")
        log.info("run folder: %s | %d training frames, %d identities, %d steps (%d per epoch)",
                 run_dir, len(train_ds), len(identity_map), total, steps)  # fmt: skip
    scalars = ScalarLogger(run_dir / "tb", cfg["rec_iter"], enabled=dist_info.is_main)
    selection = Selection(cfg, val_loader, run_dir, scalars)
    checkpointer = Checkpointer(run_dir / "ckpt", selection, cfg["ckpt_every_steps"], cfg["save_ckpt"])
    cache = [feature_cache.FeatureCache(selection)] if cfg["feature_cache"] else []
    trainer = Trainer(
        cfg, model, optimizer, scheduler, train_loader, dist_info, amp_dtype(cfg, dist_info.device),
        (steps, total), [*cache, scalars, selection, checkpointer],
        extra_state=_checkpoint_extras(cfg, spec, identity_map, run_dir),
    )  # fmt: skip
    return trainer, checkpointer, spec, identity_map


def evaluate_sets(
    cfg: dict,
    model: torch.nn.Module,
    spec: dict,
    identity_map: dict,
    dist_info: DistInfo,
    out_root: Path,
    stamp: dict,
) -> dict[str, dict] | None:
    """Sharded evaluation of every test set; per-set metrics.json + predictions.csv, stamped with what was
    tested (`checkpoint`, `epoch`, `selected_on`, `run_dir`, `threshold`); results.json on rank 0."""
    amp = amp_dtype(cfg, dist_info.device)
    results: dict[str, dict] = {}
    for name in cfg["test_dataset"]:
        ds = build_dataset(cfg, "test", [name], spec, identity_map=identity_map)
        loader = build_loader(ds, cfg, train=False, distributed=dist_info.distributed)
        preds = predict(model, loader, dist_info, amp, desc=f"test {name}", keep_feat=cfg["save_feat"])
        if dist_info.is_main:
            results[name] = score_and_write(
                preds,
                out_root / name,
                video_agg=cfg["video_agg"],
                threshold=stamp["threshold"],
                extra=dict(stamp),
            )
    if not dist_info.is_main:
        return None
    path = write_metrics_json(out_root / "results.json", results)  # NaN → null, like every metrics.json
    log.info("results written to %s (tested: %s)", path.resolve(), stamp["checkpoint"] or "the final weights")
    return results


def run_test(cfg: dict, weights_path: str, out_dir: str | None = None) -> dict[str, dict] | None:
    """Evaluate a checkpoint (ours, DDP/compile-prefixed, or a plain state_dict) on every test set."""
    _console_logging()
    path = existing_path(weights_path)
    ckpt = load_checkpoint(path)
    saved = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else None
    if saved is not None and (saved["model_name"], saved["model"]) != (cfg["model_name"], cfg["model"]):
        log.warning(
            "the checkpoint was trained with model %s and different model: settings; using the "
            "checkpoint's so the weights fit",
            saved["model_name"],
        )
        cfg = {**cfg, "model_name": saved["model_name"], "model": saved["model"]}
    dist_info = _start(cfg)
    run_dir = Path(broadcast_object(str(resolve_path(out_dir) if out_dir else _test_dir(cfg))))
    preflight(cfg, dist_info, ("test",), {"--out": run_dir})
    setup_logging(run_dir, dist_info.rank)
    identity_map = ckpt.get("identity_map")
    if not isinstance(identity_map, dict):
        identity_map = _identities_or_empty(cfg)
    n_ids = None if identity_map else _identity_classes(model_state_from(ckpt))  # a plain state_dict
    model = build_detector(cfg, data_info(cfg, identity_map, n_ids)).to(dist_info.device)
    load_model_weights(model, ckpt, source=str(path))
    spec = input_spec(cfg, model, ckpt.get("preprocessing"))  # the normalisation it was trained with
    return evaluate_sets(cfg, model, spec, identity_map, dist_info, run_dir, test_stamp(ckpt, path))


def test_stamp(ckpt: dict, path: Path) -> dict[str, Any]:
    """What test.py evaluated: the file, its epoch, how it was chosen, its run folder and threshold."""
    saved = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    selected = ckpt.get("selected_on")
    if selected is None and "config" in ckpt:  # checkpoints written before `selected_on` was stored
        selected = {"best.pth": saved.get("select_on"), "last.pth": "last"}.get(path.name)
    run_dir = ckpt.get("run_dir")
    if run_dir is None and path.parent.name == "ckpt" and (path.parent.parent / "config.yaml").is_file():
        run_dir = str(path.parent.parent)
    return {
        "checkpoint": str(path.resolve()),
        "epoch": ckpt.get("epoch"),
        "selected_on": selected or "unknown",
        "run_dir": run_dir,
        "threshold": ckpt.get("threshold"),
    }


def _test_dir(cfg: dict) -> Path:
    import time

    root = resolve_path(cfg["log_dir"]).parent / "test"
    return root / f"{cfg['model_name']}_{time.strftime('%Y-%m-%d-%H-%M-%S')}"


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


def finish(results: dict[str, dict] | None) -> str:
    """The end of train.py and test.py: the process group torn down on every rank, then the summary table
    to print ("" on the ranks without results, i.e. all but rank 0)."""
    from training.metrics import format_summary_table

    cleanup()
    return format_summary_table(results) if results is not None else ""
