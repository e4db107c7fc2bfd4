"""DeepfakeBench top-level key names we rename, ignore or no longer accept — the one table of them."""

from __future__ import annotations

from typing import Any

from fbi_common.logging import get_logger

log = get_logger("config")

# Old name -> our name; rewritten and logged, so DeepfakeBench YAMLs keep working.
ALIASES: dict[str, str] = {
    "dataset_root_rgb": "rgb_dir",
    "logdir": "log_dir",
}

# Accepted and dropped (logged): the value is supplied another way.
IGNORED: dict[str, str] = {
    "local_rank": "torchrun sets LOCAL_RANK",
}

_BACKBONE = "use model.pretrained / model.arch"
_UNSUPPORTED = "not supported"

# Keys that would silently change nothing (or the wrong thing) if accepted: each is an error.
REMOVED: dict[str, str] = {
    "pretrained": _BACKBONE,
    "backbone_name": _BACKBONE,
    "backbone_config": _BACKBONE,
    "loss_func": "use model.loss",
    "losstype": "use model.loss",
    "start_epoch": "use --resume",
    "lr_T_max": "cosine spans the whole run; use nEpochs/warmup_epochs",
    "all_dataset": "not needed: datasets are read from dataset_json_folder",
    "SWA": _UNSUPPORTED,
    "save_avg": _UNSUPPORTED,
    "dry_run": _UNSUPPORTED,
    "mode": _UNSUPPORTED,
}


def apply_aliases(layer: dict[str, Any], source: str, problems: list[str]) -> dict[str, Any]:
    """Rewrite aliases, drop ignored keys and report removed ones for one top-level config layer."""
    out: dict[str, Any] = {}
    for key, value in layer.items():
        if key in REMOVED:
            problems.append(f"key '{key}' in {source} was renamed/removed: {REMOVED[key]}")
        elif key in IGNORED:
            log.info("%s: ignoring '%s' (%s)", source, key, IGNORED[key])
        elif key in ALIASES:
            new = ALIASES[key]
            if new in layer:
                problems.append(
                    f"both '{key}' and '{new}' in {source}; keep only '{new}' ('{key}' is its old name)"
                )
                continue
            log.info("%s: DeepfakeBench key '%s' read as '%s'", source, key, new)
            out[new] = value
        else:
            out[key] = value
    return out
