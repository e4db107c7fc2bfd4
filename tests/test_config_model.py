"""Tests for the config loader's `model:` section (filled from the detector's defaults, validated) and saving."""

from __future__ import annotations

import uuid

import pytest
import yaml

from tests.test_config import _problems, _write
from training.config import config_to_yaml, load_config, save_config
from training.registry import DETECTORS


class _ToyDetector:
    """Stand-in detector class: only `config_defaults` matters to the loader."""

    config_defaults = {
        "arch": "tiny",
        "dim": 8,
        "scale": 1.0,
        "pretrained": None,
        "loss": {"ce": 1.0, "align": 0.0},
        "blocks": [3, 6],
    }


@pytest.fixture
def toy_name():
    name = f"cfgtest_toy_{uuid.uuid4().hex[:8]}"
    DETECTORS.register(name)(_ToyDetector)
    yield name
    DETECTORS._items.pop(name, None)


# ---- model section ---------------------------------------------------------------------------------------


def test_model_section_filled_from_detector_defaults(tmp_path, toy_name):
    path = _write(tmp_path, f"model_name: {toy_name}\nmodel:\n  dim: 16\n  loss: {{align: 0.5}}\n")
    cfg = load_config(path, None, ["model.arch=small", "model.blocks=[1]", "model.pretrained=/w.pt"])
    assert cfg["model"] == {
        "arch": "small",
        "dim": 16,
        "scale": 1.0,
        "pretrained": "/w.pt",
        "loss": {"ce": 1.0, "align": 0.5},
        "blocks": [1],
    }
    assert _ToyDetector.config_defaults["loss"] == {"ce": 1.0, "align": 0.0}  # not mutated
    assert load_config(_write(tmp_path, f"model_name: {toy_name}\n", "d.yaml"))["model"] == (
        _ToyDetector.config_defaults
    )


def test_model_section_is_validated(tmp_path, toy_name):
    path = _write(tmp_path, f"model_name: {toy_name}\nmodel:\n  dimm: 16\n  loss: {{ce: yes}}\n", "m.yaml")
    problems = _problems(path, None, ["model.scale=big"], validate_model=True)
    text = "\n".join(problems)
    assert len(problems) == 3
    assert "unknown key 'model.dimm' in" in text and "m.yaml" in text and "did you mean 'model.dim'?" in text
    assert "'model.loss.ce'" in text and "'model.scale' in --opts" in text
    # without the detector lookup the section is only merged
    cfg = load_config(path, None, ["model_name=not_registered_anywhere"], validate_model=False)
    assert cfg["model"] == {"dimm": 16, "loss": {"ce": "yes"}}


def test_unknown_model_name_lists_registered(tmp_path, toy_name):
    (msg,) = _problems(_write(tmp_path, "model_name: no_such_detector_xyz\n"), validate_model=True)
    assert "'no_such_detector_xyz' is not a registered detector" in msg and toy_name in msg
    (msg,) = _problems(_write(tmp_path, f"model_name: {toy_name}x\n", "t.yaml"), validate_model=True)
    assert f"did you mean '{toy_name}'?" in msg


def test_detector_defaults_must_be_plain(tmp_path, toy_name, monkeypatch):
    monkeypatch.setattr(_ToyDetector, "config_defaults", {"blocks": (3, 6)})
    (msg,) = _problems(_write(tmp_path, f"model_name: {toy_name}\n"), validate_model=True)
    assert "_ToyDetector.config_defaults" in msg and "'model.blocks'" in msg


# ---- saving ---------------------------------------------------------------------------------------------


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


def test_save_and_load_round_trip(tmp_path, toy_name):
    path = _write(tmp_path, f"model_name: {toy_name}\nmodel: {{dim: 4}}\nframe_num: 2\n")
    cfg = load_config(path, {"train_dataset": ["FF-DF"]}, ["optimizer.adamw.lr=1e-5", "label_dict.My_fake=1"])
    assert _plain(cfg)
    saved = save_config(cfg, tmp_path / "run" / "config.yaml")
    assert saved.is_file() and not list(saved.parent.glob("*.tmp"))
    assert load_config(saved) == cfg
    assert yaml.safe_load(config_to_yaml(cfg)) == cfg
    assert list(yaml.safe_load(config_to_yaml(cfg))) == list(cfg)  # key order kept


def test_resolved_config_fits_a_weights_only_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    cfg = load_config(_write(tmp_path, "frame_num: 2\n"), validate_model=False)
    torch.save({"config": cfg}, tmp_path / "c.pt")
    assert torch.load(tmp_path / "c.pt", weights_only=True)["config"] == cfg
