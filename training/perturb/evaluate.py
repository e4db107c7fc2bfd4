"""One loaded checkpoint evaluated on a test set through any frame reader, exactly as test.py evaluates it.

The model is loaded once (the checkpoint's own `model:` settings win, as in `test.py`) and every
perturbation level re-uses it: the dataset is built by the normal `build_dataset`, only its reader is
swapped, then `predict` + `score_and_write` write `metrics.json` and `predictions.csv` like `test.py`.
With the identity reader the predictions are test.py's, bit for bit (tests/test_robustness.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fbi_common.errors import FBIError
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.dataset import DeepfakeDataset, build_dataset, build_loader
from training.trainer.build import amp_dtype, build_detector, input_spec
from training.trainer.checkpoint import load_checkpoint, load_model_weights
from training.trainer.distributed import DistInfo, init_distributed
from training.trainer.evaluator import predict, score_and_write
from training.utils.seed import seed_everything

log = get_logger("robustness")


class RobustnessError(FBIError, ValueError):
    """A robustness input (checkpoint, dataset, flag) that cannot be used as given."""


@dataclass
class Loaded:
    cfg: dict
    model: torch.nn.Module
    spec: dict
    identity_map: dict
    dist_info: DistInfo
    threshold: float | None
    checkpoint: Path


def load(cfg: dict, weights_path: str | Path) -> Loaded:
    """The detector of a checkpoint, built and loaded the way `training/test.py` does it."""
    path = resolve_path(weights_path) if not Path(weights_path).exists() else Path(weights_path).resolve()
    if not path.is_file():
        raise RobustnessError(
            f"--weights_path {weights_path}: no such checkpoint; pass ckpt/best.pth of a run folder"
        )
    ckpt = load_checkpoint(path)
    saved = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else None
    if saved is not None and (saved["model_name"], saved["model"]) != (cfg["model_name"], cfg["model"]):
        log.warning("using the checkpoint's model settings (%s) so the weights fit", saved["model_name"])
        cfg = {**cfg, "model_name": saved["model_name"], "model": saved["model"]}
    dist_info = init_distributed(cfg["cuda"])
    if dist_info.distributed:
        raise RobustnessError("robustness.py runs in one process; launch it with python, not torchrun")
    seed_everything(cfg["manualSeed"], 0)
    torch.backends.cudnn.benchmark = bool(cfg["cudnn"])
    from training.dataset.demo_data import ensure_demo_dataset
    from training.dataset.index import check_datasets

    ensure_demo_dataset(cfg)
    check_datasets(cfg.get("test_dataset") or [], cfg)  # a misspelt name stops here, before any model build
    identity_map = ckpt.get("identity_map") if isinstance(ckpt.get("identity_map"), dict) else {}
    labels = sorted(cfg["label_dict"])
    info = {"num_identities": max(1, len(identity_map)), "label_names": labels, "identity_map": identity_map}
    model = build_detector(cfg, info).to(dist_info.device)
    load_model_weights(model, ckpt, source=str(path))
    spec = input_spec(cfg, model, ckpt.get("preprocessing"))  # the normalisation it was trained with
    return Loaded(cfg, model, spec, identity_map, dist_info, ckpt.get("threshold"), path)


def test_dataset(ld: Loaded, name: str) -> DeepfakeDataset:
    """The test split of ``name`` with the checkpoint's input spec and identity map."""
    return build_dataset(ld.cfg, "test", [name], ld.spec, identity_map=ld.identity_map)


def evaluate(
    ld: Loaded,
    ds: DeepfakeDataset,
    reader: Callable[[Any], Any] | Any,
    out_dir: Path,
    stamp: dict,
    desc: str = "eval",
) -> dict:
    """Predict ``ds`` read through ``reader`` (the dataset's own reader is restored afterwards); write and score."""
    original = ds.reader
    ds.reader = reader
    try:
        loader = build_loader(ds, ld.cfg, train=False, distributed=False)
        preds = predict(ld.model, loader, ld.dist_info, amp_dtype(ld.cfg, ld.dist_info.device), desc=desc)
    finally:
        ds.reader = original
    extra = {"checkpoint": str(ld.checkpoint), **stamp}
    return score_and_write(preds, out_dir, video_agg=ld.cfg["video_agg"], threshold=ld.threshold, extra=extra)
