"""Preprocessing settings: `preprocessing/config.yaml` sections with command-line overrides."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fbi_common.errors import FBIError
from fbi_common.face.video_faces import FACE_POLICIES
from fbi_common.video import MODES

CONFIG_PATH = Path(__file__).resolve().parents[1] / "config.yaml"

CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "preprocess": {
        "mode": MODES,
        "decode": ("grab", "seek"),
        "detector": ("hog", "cnn"),
        "face_policy": FACE_POLICIES,
        "no_face": ("neighbour", "drop"),
        "landmarks": ("auto", "81", "68"),
        "image_format": ("png", "jpg"),
    },
    "rearrange": {"unsplit": ("test", "all", "seeded")},
}


# Paths the commands read: a relative one typed on the command line is taken from the current
# directory when it exists there (what a shell user means), else from the repository root.
INPUT_PATHS = ("root", "labels", "rgb_dir", "json_folder", "lmdb_dir", "config")


class SettingsError(FBIError, ValueError):
    """A bad setting; the message names the key, the file and the valid choices."""


def load_section(section: str, config_path: str | Path | None = None) -> dict[str, Any]:
    """One section of the config file as a dict."""
    path = Path(config_path) if config_path else CONFIG_PATH
    if not path.is_file():
        raise SettingsError(
            f"config file {path} not found; pass --config PATH or restore preprocessing/config.yaml"
        )
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise SettingsError(
            f"cannot read the config file {path}: {e}; fix it or pass --config PATH"
        ) from None
    if not isinstance(doc, dict) or section not in doc:
        raise SettingsError(f"{path} has no '{section}:' section; see preprocessing/config.yaml in the repo")
    if not isinstance(doc[section], dict):
        raise SettingsError(f"{path}: the '{section}:' section must be a mapping of settings")
    return dict(doc[section])


def _arg_type(default: Any):
    if isinstance(default, bool):
        return None
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return float
    return str


def build_parser(
    section: str, description: str, config_path: str | Path | None = None
) -> argparse.ArgumentParser:
    """An argparse parser with one `--key` flag per key of the config section (defaults: None = keep YAML)."""
    defaults = load_section(section, config_path)
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--config",
        default=None,
        help=f"YAML file with a '{section}:' section (default: preprocessing/config.yaml)",
    )
    for key, val in defaults.items():
        flag = f"--{key}"
        if isinstance(val, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif isinstance(val, list) or key in ("comp", "subsets", "detect_upsample"):
            item = int if key == "detect_upsample" else str
            p.add_argument(flag, nargs="+", type=item, default=None)
        else:
            p.add_argument(flag, type=_arg_type(val), default=None, choices=CHOICES.get(section, {}).get(key))
    return p


def resolve_settings(section: str, args: argparse.Namespace | dict) -> dict[str, Any]:
    """Merge YAML defaults with the flags the user gave, then validate."""
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    given = {k: _from_cwd(v) if k in INPUT_PATHS else v for k, v in given.items()}
    cfg = load_section(section, given.get("config"))
    for key, val in given.items():
        if key == "config" or val is None:
            continue
        if key not in cfg:
            raise SettingsError(f"unknown setting '{key}' for {section}; known: {sorted(cfg)}")
        cfg[key] = val
    validate(cfg, section)
    return cfg


def run_step(
    section: str, doc: str | None, argv: list[str] | None, work: Callable[[dict], Any]
) -> tuple[dict, Any]:
    """The body of a preprocessing entry script: its flags parsed, its settings resolved and checked, console
    logging on, then `work(settings)`; returns (settings, what `work` returned)."""
    from fbi_common.logging import setup_logging

    cfg = resolve_settings(section, build_parser(section, doc).parse_args(argv))
    setup_logging()
    return cfg, work(cfg)


def _from_cwd(value: Any) -> Any:
    """A relative input path given on the command line: absolute from the cwd if it exists there."""
    if not isinstance(value, str) or not value or Path(value).expanduser().is_absolute():
        return value
    here = Path.cwd() / value
    return str(here.resolve()) if here.exists() else value


def validate(cfg: dict[str, Any], section: str) -> None:
    """Collect every problem and raise once."""
    problems = []
    for key, choices in CHOICES.get(section, {}).items():
        if key in cfg and str(cfg[key]) not in choices:
            problems.append(f"{section}.{key}={cfg[key]!r}: choose one of {list(choices)}")
    for key in (
        "num_frames",
        "stride",
        "size",
        "workers",
        "neighbour_window",
        "detect_max_side",
        "limit",
        "smooth_landmarks",
        "track_min_frames",
    ):
        if key in cfg and (not isinstance(cfg[key], int) or cfg[key] < 0):
            problems.append(f"{section}.{key}={cfg[key]!r}: must be a non-negative integer")
    if section == "preprocess":
        if cfg["stride"] < 1:
            problems.append(f"preprocess.stride={cfg['stride']}: must be >= 1")
        if cfg["mode"] == "fixed_num_frames" and cfg["num_frames"] < 1:
            problems.append("preprocess.num_frames must be >= 1 in fixed_num_frames mode")
        if cfg["size"] < 16 or not (0.5 <= float(cfg["scale"]) <= 4.0):
            problems.append("preprocess.size must be >= 16 and preprocess.scale in [0.5, 4]")
        if cfg["workers"] < 1:
            problems.append("preprocess.workers must be >= 1")
    if len(problems) == 1:
        raise SettingsError(
            f"invalid preprocessing setting: {problems[0]} (a --flag or preprocessing/config.yaml)"
        )
    if problems:
        raise SettingsError(f"{len(problems)} invalid preprocessing settings:\n  " + "\n  ".join(problems))
