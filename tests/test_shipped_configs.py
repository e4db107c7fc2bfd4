"""Every shipped detector YAML loads cleanly and builds the detector it names."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import training.detectors  # noqa: F401  (fills the registry)
from fbi_common.paths import REPO_ROOT
from training.config import load_config
from training.config.files import read_chain
from training.registry import DETECTORS

DETECTOR_DIR = REPO_ROOT / "training" / "config" / "detector"
YAMLS = sorted(DETECTOR_DIR.glob("*.yaml"))

# The machine running the tests is offline: pretrained weights are switched off, the rest is as shipped.
_NO_WEIGHTS = {str: "none", bool: False}


def _offline(model_cfg: dict) -> dict:
    model_cfg = copy.deepcopy(model_cfg)
    for key in ("pretrained", "pretrained_path"):
        kind = type(model_cfg.get(key))
        if kind in _NO_WEIGHTS:
            model_cfg[key] = _NO_WEIGHTS[kind]
    return model_cfg


def test_every_registered_detector_ships_a_config():
    shipped = {load_config(p, validate_model=False)["model_name"] for p in YAMLS}
    assert set(DETECTORS.names()) <= shipped, (
        f"no YAML in {DETECTOR_DIR} for {set(DETECTORS.names()) - shipped}"
    )


def test_every_shared_base_is_used():
    """`detector/base/*.yaml` are fragments for `_base_`, not runnable configs: each must be inherited."""
    used = {Path(src).name for p in YAMLS for src, _ in read_chain(p)[:-1]}
    fragments = {p.name for p in (DETECTOR_DIR / "base").glob("*.yaml")}
    assert fragments and fragments <= used, f"unused base fragments: {fragments - used}"


@pytest.mark.parametrize("path", YAMLS, ids=[p.stem for p in YAMLS])
def test_shipped_config_loads_and_builds(path):
    cfg = load_config(path)
    assert cfg["model_name"] in DETECTORS
    cls = DETECTORS.get(cfg["model_name"])
    model = cls.from_config(
        _offline(cfg["model"]), {"num_identities": 4, "label_names": ["FF-real", "FF-DF"]}
    )
    assert model.input_spec["size"] > 0
