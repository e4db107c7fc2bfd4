"""Builders shared by train.py, test.py and demo.py: detector, optimiser, AMP settings, input spec."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from fbi_common.errors import FBIError
from fbi_common.logging import get_logger
from training.config import ConfigError
from training.registry import DETECTORS

log = get_logger("build")


def data_info(cfg: dict, identity_map: dict[str, int], num_identities: int | None = None) -> dict[str, Any]:
    """What a detector's `from_config` may use to size its heads: identity count, label names, identity map.

    `num_identities` overrides the count (a plain state_dict sizes the identity head from its weights).
    """
    n = num_identities if num_identities is not None else len(identity_map)
    return {
        "num_identities": max(1, n),
        "label_names": sorted(cfg["label_dict"]),
        "identity_map": identity_map,
    }


def build_detector(cfg: dict, data_info: dict[str, Any]) -> nn.Module:
    """Instantiate `cfg['model_name']` from its resolved `model:` section and log its parameter report."""
    import training.detectors  # noqa: F401  (fills the registry)

    cls = DETECTORS.get(cfg["model_name"])
    try:
        model = cls.from_config(dict(cfg["model"]), data_info)
    except FBIError:
        raise
    except ValueError as e:  # a detector's own validation of its model: settings
        raise ConfigError(f"model '{cfg['model_name']}': {e}; fix the model: section of the detector YAML "
                          "(or --opts model.KEY=VALUE)") from e  # fmt: skip
    except (RuntimeError, OSError) as e:  # weights that cannot be read or downloaded (messages say why)
        raise FBIError(f"cannot build model '{cfg['model_name']}': {e}") from e
    log.info("detector %s\n%s", cfg["model_name"], model.param_report())
    return model


def input_spec(cfg: dict, model: nn.Module, saved: dict | None = None) -> dict[str, Any]:
    """Resolve the network input size and normalisation, set them on the model, and return them.

    The one place the `resolution` / `mean` / `std` override is applied: the backbone's own values
    ← the config's (when not null) ← `saved`, a checkpoint's `preprocessing` (what the weights were
    trained with; a config asking for something else is overruled with a warning). The result goes
    into the model's `pixel_mean`/`pixel_std` buffers (`set_input_spec`), since the data pipeline
    delivers un-normalised pixels; the loaders only read its `size`.
    """
    spec = dict(model.input_spec)
    wanted = {
        "size": int(cfg["resolution"]) if cfg.get("resolution") else None,
        "mean": tuple(float(v) for v in cfg["mean"]) if cfg.get("mean") is not None else None,
        "std": tuple(float(v) for v in cfg["std"]) if cfg.get("std") is not None else None,
    }
    for key, value in wanted.items():
        if value is not None:
            spec[key] = value
    for key in ("size", "mean", "std"):
        if not saved or saved.get(key) is None:
            continue
        value = int(saved[key]) if key == "size" else tuple(float(v) for v in saved[key])
        if wanted[key] is not None and wanted[key] != value:
            cfg_key = "resolution" if key == "size" else key
            log.warning(
                "the config asks for %s=%s but the checkpoint was trained with %s; using the checkpoint's",
                cfg_key,
                list(wanted[key]) if key != "size" else wanted[key],
                value,
            )
        spec[key] = value
    if int(spec["size"]) != int(model.input_spec["size"]):
        from training.networks.clip_backbone import ClipBackbone

        if any(isinstance(m, ClipBackbone) for m in model.modules()):
            raise ConfigError(
                f"resolution={spec['size']} but the {cfg['model_name']} ViT takes {model.input_spec['size']} px "
                f"inputs (its patch grid is fixed); set model.image_size={spec['size']} instead (positional "
                "embeddings are resized) and leave resolution null"
            )
    model.set_input_spec(spec["size"], spec["mean"], spec["std"])
    return dict(model.input_spec)


def build_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """Optimiser over trainable parameters; 1-D tensors (norm affine params, biases) get no weight decay,
    which matters for LN-tuning where almost every trainable parameter is a LayerNorm weight.

    The groups come from timm's `param_groups_weight_decay` (its rule is exactly ours: `ndim <= 1` or a
    `.bias` name; frozen parameters skipped). The decayed group is put first, the order checkpoints
    written before this change saved their optimiser state in, so they resume.
    """
    from timm.optim import param_groups_weight_decay

    kind = cfg["optimizer"]["type"]
    o = cfg["optimizer"][kind]
    groups = [g for g in param_groups_weight_decay(model, weight_decay=o["weight_decay"]) if g["params"]]
    if not groups:
        raise ConfigError(
            f"model '{cfg['model_name']}' has no trainable parameters; check model.tune in the detector YAML"
        )
    groups.sort(key=lambda g: g["weight_decay"] == 0.0)  # stable: decayed group first
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=o["lr"], momentum=o["momentum"])
    opt_cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return opt_cls(groups, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], amsgrad=o["amsgrad"])


def amp_dtype(cfg: dict, device: torch.device) -> torch.dtype | None:
    """`amp: auto` → bf16 on CUDA and off on CPU (bf16 autocast is ~8x slower than fp32 on CPUs)."""
    mode = cfg["amp"]
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None
    if mode == "fp16":
        return torch.float16
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move a batch's tensors to `device` (non-blocking from pinned memory), then apply the
    augmentations its workers drew but left to the device (`augment_on: device`; a no-op otherwise),
    as timm's PrefetchLoader does its device-side work."""
    from training.dataset.device_aug import apply_device_ops

    moved = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
    return apply_device_ops(moved)


FEATURES_KEY = "features"  # a batch of stored features (feature_cache: true) instead of images


def run_detector(model: nn.Module, batch: dict[str, Any], inference: bool = False) -> dict[str, Any]:
    """The detector's prediction for a batch: `model(batch)`, or only `model.classifier` when the batch
    carries stored features (training/trainer/feature_cache.py) — the one place the two paths meet."""
    if FEATURES_KEY in batch:
        return model.classifier(batch[FEATURES_KEY])
    return model(batch, inference=inference)
