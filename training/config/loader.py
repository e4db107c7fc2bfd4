"""Builds the resolved run config from defaults, the detector YAML, CLI flags and --opts; saves it.

Merge order (each layer overrides the one before; mappings merge key by key, lists and scalars
are replaced whole):

1. ``training/config/defaults.yaml`` — every common key with its default; it is also the schema.
2. The detector YAML's bases (``_base_: fbi_clip.yaml``, a path relative to the YAML itself; a
   list of bases merges left to right; chains allowed, cycles refused), each base before the file
   that names it — see :mod:`training.config.files`.
3. The detector YAML (``--detector_path``), relative to the repo root, or to the current
   directory when only that file exists. It holds only what differs from its bases.
4. CLI flags: a dict of top-level keys from ``train.py``/``test.py``; a value of ``None`` means the
   flag was not given and is skipped.
5. ``--opts key=value`` items, left to right. Keys are dotted (``optimizer.adamw.lr=1e-4``,
   ``model.tune=full``, ``frame_num.train=8``) and values are parsed as YAML (``1e-4`` → float,
   ``[A,B]`` → list, ``null`` → None).

The ``model:`` section follows the same order but starts from the detector class's
``config_defaults`` (the detector named by the final ``model_name``) and is checked against it
(:func:`training.config.merge.resolve_model`, the one place that merge happens).
Every layer is checked on its own, so each problem names the file (or "command line"/"--opts")
it came from; all problems are raised together as one :class:`ConfigError`. The resolved config
has no ``_base_`` key: it is complete.

YAML is read with YAML 1.2 scalars in every layer: ``1e-4`` is a float, only ``true``/``false``
are booleans (``amp: off`` is the string "off"), dates stay strings, duplicate keys are errors.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Any

import yaml

from fbi_common.io import atomic_write_text
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.config.aliases import apply_aliases
from training.config.files import display, parse_yaml, read_chain, read_yaml
from training.config.merge import merge, resolve_model
from training.config.schema import ConfigError, check_layer, check_value, closest, expand_shorthands

log = get_logger("config")

DEFAULTS_PATH = Path(__file__).resolve().with_name("defaults.yaml")


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
        value: Any = parse_yaml(raw)
    except yaml.YAMLError as e:
        reason = getattr(e, "problem", None) or str(e).splitlines()[0]
        problems.append(f"--opts item '{item}': the value is not valid YAML ({reason}); quote it")
        return None
    for part in reversed(parts):
        value = {part: value}
    return value


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


def _model_section(
    layers: list[tuple[str, dict]], name: Any, validate: bool, problems: list[str]
) -> dict[str, Any]:
    """The detector's `model:` from every layer's section (see `resolve_model`)."""
    sections = [(src, layer["model"]) for src, layer in layers if "model" in layer]
    if not validate or not isinstance(name, str):  # a non-string model_name is already reported
        model: dict[str, Any] = {}
        for src, section in sections:
            model = merge(model, check_value(section, {}, "model", src, problems))
        return model
    cls, miss = _detector_class(name)
    if cls is None:
        src = next((s for s, layer in reversed(layers) if "model_name" in layer), display(DEFAULTS_PATH))
        problems.append(f"'model_name' in {src}: '{name}' is not a registered detector; {miss}")
        return {}
    return resolve_model(cls, sections, problems)


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
    raw: list[tuple[str, dict]] = read_chain(path)
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
    cfg["model"] = _model_section(layers, cfg.get("model_name"), validate_model, problems)
    if problems:
        raise ConfigError(problems)
    return cfg


def config_to_yaml(cfg: dict[str, Any]) -> str:
    """YAML text of a resolved config, keys in their original order."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, allow_unicode=True, width=110)


def save_config(cfg: dict[str, Any], path: str | Path) -> Path:
    """Write the resolved config as YAML, atomically (parent folders created); loadable with load_config."""
    return atomic_write_text(resolve_path(path), config_to_yaml(cfg))
