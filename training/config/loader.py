"""Builds the resolved run config from defaults, the detector YAML, CLI flags and --opts; saves it.

Merge order (each layer overrides the one before; mappings merge key by key, lists and scalars
are replaced whole):

1. ``training/config/defaults.yaml`` — every common key with its default; it is also the schema.
2. The detector YAML (``--detector_path``), relative to the repo root, or to the current
   directory when only that file exists.
3. CLI flags: a dict of top-level keys from ``train.py``/``test.py``; a value of ``None`` means the
   flag was not given and is skipped.
4. ``--opts key=value`` items, left to right. Keys are dotted (``optimizer.adamw.lr=1e-4``,
   ``model.tune=full``, ``frame_num.train=8``) and values are parsed as YAML (``1e-4`` → float,
   ``[A,B]`` → list, ``null`` → None).

The ``model:`` section follows the same order but starts from the detector class's
``config_defaults`` (the detector named by the final ``model_name``) and is checked against it.
Every layer is checked on its own, so each problem names the file (or "command line"/"--opts")
it came from; all problems are raised together as one :class:`ConfigError`.

YAML is read with YAML 1.2 scalars in every layer: ``1e-4`` is a float, only ``true``/``false``
are booleans (``amp: off`` is the string "off"), dates stay strings, duplicate keys are errors.
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path
from typing import Any

import yaml

from fbi_common.logging import get_logger
from fbi_common.paths import REPO_ROOT, resolve_path
from training.config.aliases import apply_aliases
from training.config.schema import (
    ConfigError,
    check_layer,
    check_value,
    closest,
    expand_shorthands,
    plain_problem,
)

log = get_logger("config")

DEFAULTS_PATH = Path(__file__).resolve().with_name("defaults.yaml")
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars — `1e-4` is a float, only true/false are booleans (so
    `amp: off` stays the string 'off'), dates stay strings — that refuses duplicate keys
    (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP, _BOOL)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _display(path: Path) -> str:
    """Repo-relative POSIX path for messages when possible (shorter, machine-independent)."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping with the config loader; an empty file is an empty mapping."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as e:
        raise ConfigError(f"cannot read config file {_display(path)}: {e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{_display(path)} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{_display(path)} must hold a mapping of keys, not a {type(data).__name__}")
    return data


def find_detector_yaml(detector_path: str | Path) -> Path:
    """Resolve against the repo root first, then the current directory."""
    candidates = [resolve_path(detector_path)]
    if not Path(detector_path).expanduser().is_absolute():
        candidates.append(Path.cwd() / Path(detector_path).expanduser())
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigError(
        f"detector YAML '{detector_path}' not found (tried {tried}); "
        "pass e.g. --detector_path training/config/detector/fbi_clip.yaml"
    )


def parse_opt(item: str, problems: list[str]) -> dict[str, Any] | None:
    """`a.b.c=value` → {"a": {"b": {"c": value}}} with the value parsed as YAML."""
    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        problems.append(f"--opts item '{item}' is not key=value; write e.g. optimizer.adamw.lr=1e-4")
        return None
    try:
        value: Any = yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError as e:
        reason = getattr(e, "problem", None) or str(e).splitlines()[0]
        problems.append(f"--opts item '{item}': the value is not valid YAML ({reason}); quote it")
        return None
    for part in reversed(parts):
        value = {part: value}
    return value


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: mappings merge recursively, anything else in `override` replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_top(layer: dict, source: str, defaults: dict, problems: list[str]) -> dict[str, Any]:
    """Aliases, shorthands and schema for one layer; `model` is kept aside for the detector check."""
    layer = expand_shorthands(apply_aliases(layer, source, problems), defaults)
    model = layer.pop("model", None)
    checked = check_layer(layer, {k: v for k, v in defaults.items() if k != "model"}, source, problems)
    if model is not None:
        checked["model"] = model
        if not isinstance(model, dict):
            problems.append(f"'model' in {source}: expected a mapping of detector keys, got {model!r}")
            checked["model"] = {}
    return checked


def _detector_class(name: str) -> tuple[Any, str]:
    """The registered class for `name` (or None) and a note explaining a miss."""
    from training.registry import DETECTORS

    note = ""
    if name not in DETECTORS:
        try:  # imported here: importing the detectors pulls in torch/open_clip and fills the registry
            importlib.import_module("training.detectors")
        except ImportError as e:
            log.warning("could not import training.detectors: %s", e)
            note = f" (importing training.detectors failed: {e})"
    if name in DETECTORS:
        return DETECTORS.get(name), ""
    match = closest(name, DETECTORS.names())
    hint = f"did you mean '{match}'? " if match else ""
    return None, f"{hint}registered: {DETECTORS.names()}{note}"


def _resolve_model(
    layers: list[tuple[str, dict]], name: Any, validate: bool, problems: list[str]
) -> dict[str, Any]:
    """`model` = deepcopy(detector.config_defaults) ← each layer's `model:` (checked against it)."""
    sections = [(src, layer["model"]) for src, layer in layers if "model" in layer]
    if not validate or not isinstance(name, str):  # a non-string model_name is already reported
        schema: dict[str, Any] | None = None
    else:
        cls, miss = _detector_class(name)
        if cls is None:
            src = next((s for s, layer in reversed(layers) if "model_name" in layer), _display(DEFAULTS_PATH))
            problems.append(f"'model_name' in {src}: '{name}' is not a registered detector; {miss}")
            return {}
        schema = copy.deepcopy(getattr(cls, "config_defaults", {}))
        owner = f"{cls.__module__}.{cls.__qualname__}.config_defaults"
        if found := plain_problem(schema, "model", owner):  # a detector bug, e.g. a tuple default
            problems.append(found)
            return {}
    model = copy.deepcopy(schema) if schema is not None else {}
    for src, section in sections:
        if schema is not None:
            section = check_layer(section, schema, src, problems, prefix="model.")
        else:
            section = check_value(section, {}, "model", src, problems)
        model = merge(model, section)
    return model


def load_config(
    detector_path: str | Path,
    cli: dict[str, Any] | None = None,
    opts: list[str] | None = None,
    *,
    validate_model: bool = True,
) -> dict[str, Any]:
    """The resolved config (a plain dict) — see the module docstring for the merge order.

    `validate_model=False` skips the detector lookup and the `model:` schema (for tools that only
    need the data keys).
    """
    path = find_detector_yaml(detector_path)
    defaults = read_yaml(DEFAULTS_PATH)
    problems: list[str] = []
    raw: list[tuple[str, dict]] = [(_display(path), read_yaml(path))]
    if cli:
        raw.append(("command line", {k: v for k, v in cli.items() if v is not None}))
    for item in opts or []:
        layer = parse_opt(item, problems)
        if layer is not None:
            raw.append(("--opts", layer))
    layers = [(src, _check_top(layer, src, defaults, problems)) for src, layer in raw]
    cfg = copy.deepcopy(defaults)  # `model` keeps its place in the key order; filled below
    for _, layer in layers:
        cfg = merge(cfg, {k: v for k, v in layer.items() if k != "model"})
    cfg["model"] = _resolve_model(layers, cfg.get("model_name"), validate_model, problems)
    if problems:
        raise ConfigError(problems)
    return cfg


def config_to_yaml(cfg: dict[str, Any]) -> str:
    """YAML text of a resolved config, keys in their original order."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, allow_unicode=True, width=110)


def save_config(cfg: dict[str, Any], path: str | Path) -> Path:
    """Write the resolved config as YAML (parent folders created); loadable again with load_config."""
    path = resolve_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(config_to_yaml(cfg), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves a half-written config.yaml in a run folder
    return path
