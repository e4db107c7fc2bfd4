"""Checks one config layer against its defaults: unknown keys, value types and enumerated choices."""

from __future__ import annotations

import difflib
from typing import Any

from fbi_common.errors import FBIError
from training.config import choices


class ConfigError(FBIError, ValueError):
    """Every problem found in a config, one per line, raised together."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            msg = self.problems[0]
        else:
            msg = f"{len(self.problems)} problems in the config:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(msg)


# Keys whose value must be one of a fixed set (checked instead of the default's type); the sets live
# in choices.py, where the code that implements them reads them too.
ENUMS: dict[str, tuple[Any, ...]] = {
    "optimizer.type": choices.OPTIMIZERS,
    "lr_scheduler": choices.LR_SCHEDULERS,
    "amp": choices.AMP_MODES,
    "select_on": choices.SELECT_ON,
    "video_agg": choices.VIDEO_AGGS,
    "metric_scoring": tuple(choices.METRIC_SCORING),
    "bad_frame_policy": choices.BAD_FRAME_POLICIES,
    "identity_rule": choices.IDENTITY_RULES,
    "augment_on": choices.AUGMENT_ON,
    "sampler": choices.SAMPLERS,
    "model.identity.attach": choices.IDENTITY_ATTACH,  # fbi_clip
    "model.identity.ramp": choices.GRL_RAMPS,  # fbi_clip
}

# A null default says nothing about the type, so these give the shape a set value must have.
# Null-default keys not listed here (e.g. under a detector's `model:`) accept any plain value.
NULLABLE_KINDS: dict[str, Any] = {
    "run_name": "",
    "val_dataset": [""],
    "resolution": 0,
    "mean": [0.0],
    "std": [0.0],
    "max_steps": 0,
}

# Keys whose default is set but which also take null (off): frame_cache: auto | DIR | null.
NULL_ALLOWED: frozenset[str] = frozenset({"frame_cache"})

# Smallest allowed value of numeric keys (a batch of 0, 0 epochs or 0 frames per video cannot run).
MINIMUMS: dict[str, int | float] = {
    "train_batchSize": 1,
    "test_batchSize": 1,
    "nEpochs": 1,
    "max_steps": 1,
    "frame_num.train": 1,
    "frame_num.val": 1,
    "frame_num.test": 1,
    "accum_steps": 1,
    "save_epoch": 1,
    "rec_iter": 1,
    "workers": 0,
    "ckpt_every_steps": 0,
    "grad_clip": 0,
    "warmup_epochs": 0,
}

# Mappings whose keys users choose (their own label names): only the values are checked.
FREE_MAPPINGS: dict[str, tuple[int, ...]] = {"label_dict": (0, 1)}

# Shorthands expanded before checking, so the resolved config has one form.
_LIST_OF_NAMES = ("train_dataset", "val_dataset", "test_dataset")

_KIND_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}
_PLAIN_SCALARS = (type(None), bool, int, float, str)


def expand_shorthands(layer: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """`frame_num: 8` means 8 for every split; a single dataset name means a one-item list;
    `data_aug.sbi.shift: s` (one number, as run folders written before it became `[x, y]` hold it) means
    `[s, s]`: the same ±s of the image side in x and in y that the single number meant."""
    out = dict(layer)
    n = out.get("frame_num")
    if isinstance(n, int) and not isinstance(n, bool):
        out["frame_num"] = dict.fromkeys(defaults["frame_num"], n)
    for key in _LIST_OF_NAMES:
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    aug = out.get("data_aug")
    sbi = aug.get("sbi") if isinstance(aug, dict) else None
    shift = sbi.get("shift") if isinstance(sbi, dict) else None
    if isinstance(shift, int | float) and not isinstance(shift, bool):
        out["data_aug"] = {**aug, "sbi": {**sbi, "shift": [float(shift), float(shift)]}}
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _yaml_text(value: Any) -> str:
    """How a default is written in YAML (true/null rather than Python's True/None)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value)


def _kind(default: Any) -> str:
    return _KIND_NAMES.get(type(default), type(default).__name__)


def _type_ok(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, type(default))


def closest(word: str, choices: list[str]) -> str | None:
    """Case-insensitive difflib match, so `train_batchsize` finds `train_batchSize`."""
    lowered = {c.lower(): c for c in choices}
    hit = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hit[0]] if hit else None


def _unknown(path: str, key: str, schema: dict[str, Any], source: str, prefix: str) -> str:
    match = closest(key, [str(k) for k in schema])
    hint = f"did you mean '{prefix}{match}'?" if match else f"valid keys here: {sorted(map(str, schema))}"
    return f"unknown key '{path}' in {source}; {hint}"


def plain_problem(value: Any, path: str, source: str) -> str | None:
    """Values must be YAML primitives so the resolved config fits a weights_only checkpoint."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"'{path}' in {source}: mapping key {k!r} must be a string; quote it"
            found = plain_problem(v, f"{path}.{k}", source)
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = plain_problem(v, f"{path}[{i}]", source)
            if found:
                return found
    elif not isinstance(value, _PLAIN_SCALARS):
        return f"'{path}' in {source}: {_show(value)} is not a plain YAML value; use a string, number, list or mapping"
    return None


def check_layer(
    layer: dict[str, Any], schema: dict[str, Any], source: str, problems: list[str], prefix: str = ""
) -> dict[str, Any]:
    """Check every key of `layer` against `schema`; return the layer normalised (ints in float slots → float)."""
    out: dict[str, Any] = {}
    for key, value in layer.items():
        path = f"{prefix}{key}"
        if not isinstance(key, str) or key not in schema:
            problems.append(_unknown(path, str(key), schema, source, prefix))
            continue
        out[key] = check_value(value, schema[key], path, source, problems)
    return out


def _check_enum(value: Any, path: str, source: str, problems: list[str]) -> Any:
    choices = ENUMS[path]
    if value not in choices:
        names = ["null" if c is None else str(c) for c in choices]
        match = closest(value, names) if isinstance(value, str) else None
        hint = f"; did you mean '{match}'?" if match else ""
        problems.append(f"'{path}' in {source}: {_show(value)} is not one of {' | '.join(names)}{hint}")
    return value


def _check_free_mapping(value: Any, path: str, source: str, problems: list[str]) -> Any:
    if not isinstance(value, dict):
        problems.append(f"'{path}' in {source}: expected a mapping, got {_show(value)}")
        return value
    allowed = FREE_MAPPINGS[path]
    for k, v in value.items():
        if not isinstance(k, str):
            problems.append(f"'{path}' in {source}: key {k!r} must be a string; quote it")
        elif type(v) is not int or v not in allowed:
            choices = " or ".join(map(str, allowed))
            problems.append(f"'{path}.{k}' in {source}: expected {choices}, got {_show(v)}")
    return value


def _check_list(value: list, default: list, path: str, source: str, problems: list[str]) -> list:
    if not default:
        if found := plain_problem(value, path, source):
            problems.append(found)
        return value
    # Elements follow the first default element (lists in the schema are homogeneous).
    return [
        check_value(v, default[0], f"{path}[{i}]", source, problems, show_default=False)
        for i, v in enumerate(value)
    ]


def check_value(
    value: Any, default: Any, path: str, source: str, problems: list[str], show_default: bool = True
) -> Any:
    """Check one value against its default (type, enum, nested keys); return it normalised."""
    if path in ENUMS:
        return _check_enum(value, path, source, problems)
    if path in FREE_MAPPINGS:
        return _check_free_mapping(value, path, source, problems)
    hint = f" (default: {_yaml_text(default)})" if show_default else ""
    if path in NULL_ALLOWED:
        if value is None:
            return None
        hint += " or null"
    if default is None:
        if value is None:
            return None
        default, hint = NULLABLE_KINDS.get(path), " or null"
        if default is None:
            if found := plain_problem(value, path, source):
                problems.append(found)
            return value
    if not _type_ok(value, default):
        problems.append(f"'{path}' in {source}: expected {_kind(default)}{hint}, got {_show(value)}")
        return value
    if isinstance(default, dict):
        if not default:  # an empty default mapping is free-form
            if found := plain_problem(value, path, source):
                problems.append(found)
            return value
        return check_layer(value, default, source, problems, prefix=f"{path}.")
    if isinstance(default, list):
        return _check_list(value, default, path, source, problems)
    if path in MINIMUMS and value < MINIMUMS[path]:
        problems.append(f"'{path}' in {source}: {value} is too small; it must be ≥ {MINIMUMS[path]}")
    if isinstance(default, float):
        return float(value)
    return value
