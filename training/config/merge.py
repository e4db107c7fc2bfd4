"""How config layers combine: the one merge rule, and the detector's `model:` section built with it.

`resolve_model` is the only place a detector's `config_defaults` meet the `model:` keys of a config:
the loader calls it with every layer's section (so each problem names its file), and
`BaseDetector.from_config` calls it for direct builds (tests, benchmarks, old checkpoints), so a
detector's `__init__` always receives every key, complete and checked.
"""

from __future__ import annotations

import copy
from typing import Any

from training.config.schema import ConfigError, check_layer, plain_problem


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: mappings merge recursively, anything else in `override` replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_model(
    cls: type, sections: list[tuple[str, dict[str, Any]]], problems: list[str] | None = None
) -> dict[str, Any]:
    """`cls.config_defaults` ← each `(source, model section)` in order, each checked against the defaults.

    Problems (unknown keys with a suggestion, wrong types) name `model.<key>` and the section's source;
    they are appended to `problems` when given, else raised together as one `ConfigError`.
    """
    found: list[str] = [] if problems is None else problems
    n_before = len(found)
    schema = copy.deepcopy(getattr(cls, "config_defaults", {}))
    owner = f"{cls.__module__}.{cls.__qualname__}.config_defaults"
    if bad := plain_problem(schema, "model", owner):  # a detector bug, e.g. a tuple default
        found.append(bad)
        model: dict[str, Any] = {}
    else:
        model = copy.deepcopy(schema)
        for source, section in sections:
            model = merge(model, check_layer(section, schema, source, found, prefix="model."))
    if problems is None and len(found) > n_before:
        raise ConfigError(found)
    return model
