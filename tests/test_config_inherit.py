"""`_base_` inheritance in detector YAMLs: chains, lists, relative paths, cycles, missing bases, error sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from fbi_common.paths import REPO_ROOT
from training.config import ConfigError, load_config, save_config
from training.config.files import BASE_KEY, read_chain

DETECTOR_DIR = REPO_ROOT / "training" / "config" / "detector"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, opts: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, None, opts, validate_model=False)
    return str(info.value)


def test_child_overrides_its_base_key_by_key(tmp_path):
    _write(
        tmp_path,
        "base.yaml",
        "nEpochs: 3\ntrain_batchSize: 16\noptimizer: {adamw: {lr: 0.01, eps: 1.0e-6}}\n",
    )
    child = _write(tmp_path, "child.yaml", "_base_: base.yaml\nnEpochs: 5\noptimizer: {adamw: {lr: 0.5}}\n")
    cfg = load_config(child, validate_model=False)
    assert (cfg["nEpochs"], cfg["train_batchSize"]) == (5, 16)
    assert cfg["optimizer"]["adamw"]["lr"] == 0.5 and cfg["optimizer"]["adamw"]["eps"] == 1e-6
    assert BASE_KEY not in cfg
    # CLI flags and --opts still come after the whole chain
    cfg = load_config(child, {"nEpochs": 7}, ["train_batchSize=2"], validate_model=False)
    assert (cfg["nEpochs"], cfg["train_batchSize"]) == (7, 2)


def test_lists_replace_and_chains_resolve_relative_to_each_file(tmp_path):
    _write(tmp_path, "a/root.yaml", "test_dataset: [A, B]\nnEpochs: 1\nsave_epoch: 4\n")
    _write(tmp_path, "a/b/mid.yaml", "_base_: ../root.yaml\nnEpochs: 2\n")  # relative to a/b/, not the cwd
    leaf = _write(tmp_path, "c/leaf.yaml", "_base_: ../a/b/mid.yaml\ntest_dataset: [C]\n")
    cfg = load_config(leaf, validate_model=False)
    assert (cfg["test_dataset"], cfg["nEpochs"], cfg["save_epoch"]) == (["C"], 2, 4)
    assert [src.rsplit("/", 1)[-1] for src, _ in read_chain(leaf)] == ["root.yaml", "mid.yaml", "leaf.yaml"]


def test_a_list_of_bases_merges_left_to_right_and_a_shared_base_comes_first(tmp_path):
    _write(tmp_path, "common.yaml", "nEpochs: 1\nsave_epoch: 1\nrec_iter: 1\n")
    _write(tmp_path, "x.yaml", "_base_: common.yaml\nnEpochs: 2\n")
    _write(tmp_path, "y.yaml", "_base_: common.yaml\nsave_epoch: 3\nnEpochs: 3\n")
    both = _write(tmp_path, "both.yaml", "_base_: [x.yaml, y.yaml]\nrec_iter: 9\n")
    cfg = load_config(both, validate_model=False)
    # y after x; common only once, first — re-applying it after x would undo x's nEpochs
    assert (cfg["nEpochs"], cfg["save_epoch"], cfg["rec_iter"]) == (3, 3, 9)
    names = [src.rsplit("/", 1)[-1] for src, _ in read_chain(both)]
    assert names == ["common.yaml", "x.yaml", "y.yaml", "both.yaml"]


def test_a_cycle_is_refused_naming_the_chain(tmp_path):
    _write(tmp_path, "a.yaml", "_base_: b.yaml\n")
    _write(tmp_path, "b.yaml", "_base_: c.yaml\n")
    _write(tmp_path, "c.yaml", "_base_: a.yaml\n")
    msg = _error(tmp_path / "a.yaml")
    assert "cycle" in msg
    assert msg.index("a.yaml") < msg.index("b.yaml") < msg.index("c.yaml") and msg.count("a.yaml") == 2
    assert "cycle" in _error(_write(tmp_path, "self.yaml", "_base_: self.yaml\n"))


def test_a_missing_base_names_both_files(tmp_path):
    child = _write(tmp_path, "sub/child.yaml", "_base_: nope.yaml\n")
    msg = _error(child)
    assert "sub/child.yaml" in msg and str(tmp_path / "sub" / "nope.yaml") in msg and "does not exist" in msg


@pytest.mark.parametrize("value", ["[]", "3", "{a: b}", "[a.yaml, 2]", "''"])
def test_a_malformed_base_is_refused(tmp_path, value):
    msg = _error(_write(tmp_path, "bad.yaml", f"_base_: {value}\n"))
    assert "'_base_' in" in msg and "bad.yaml" in msg


def test_errors_name_the_file_each_key_came_from(tmp_path):
    _write(tmp_path, "parent.yaml", "nEpochs: many\ntrain_batchsize: 4\n")
    child = _write(tmp_path, "kid.yaml", "_base_: parent.yaml\nsave_epoch: often\n")
    with pytest.raises(ConfigError) as info:
        load_config(child, validate_model=False)
    by_key = {p.split("'")[1]: p for p in info.value.problems}
    assert "parent.yaml" in by_key["nEpochs"] and "kid.yaml" not in by_key["nEpochs"]
    assert (
        "parent.yaml" in by_key["train_batchsize"]
        and "did you mean 'train_batchSize'" in by_key["train_batchsize"]
    )
    assert "kid.yaml" in by_key["save_epoch"] and "parent.yaml" not in by_key["save_epoch"]


def test_base_only_in_files(tmp_path):
    msg = _error(_write(tmp_path, "plain.yaml", "nEpochs: 1\n"), ["_base_=other.yaml"])
    assert "unknown key '_base_' in --opts" in msg


def test_resolved_config_has_no_base_and_reloads_identically(tmp_path):
    child = DETECTOR_DIR / "fbi_clip_no_freq.yaml"
    assert BASE_KEY in child.read_text(encoding="utf-8")  # the shipped ablations do inherit
    cfg = load_config(child)
    saved = save_config(cfg, tmp_path / "run" / "config.yaml")
    assert BASE_KEY not in saved.read_text(encoding="utf-8")
    assert load_config(saved) == cfg


def test_model_errors_in_a_base_name_the_base(tmp_path):
    _write(tmp_path, "det.yaml", "model_name: fbi_clip\nmodel: {freq: {enabld: false}}\n")
    child = _write(tmp_path, "abl.yaml", "_base_: det.yaml\nmodel: {boundary: {chanels: 4}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(child)
    (freq,) = [p for p in info.value.problems if "enabld" in p]
    (boundary,) = [p for p in info.value.problems if "chanels" in p]
    assert "'model.freq.enabld'" in freq and "det.yaml" in freq and "abl.yaml" not in freq
    assert "abl.yaml" in boundary and "did you mean 'model.boundary.channels'" in boundary


@pytest.mark.parametrize("name", ["fbi_clip_no_freq", "fbi_clip_no_boundary", "fbi_clip_no_identity"])
def test_each_ablation_differs_from_fbi_clip_only_where_it_says(name):
    full, ablated = load_config(DETECTOR_DIR / "fbi_clip.yaml"), load_config(DETECTOR_DIR / f"{name}.yaml")
    changed = {
        f"{section}.{k}"
        for section in full["model"]
        if isinstance(full["model"][section], dict)
        for k in full["model"][section]
        if full["model"][section][k] != ablated["model"][section][k]
    }
    expected = {
        "fbi_clip_no_freq": {"freq.enabled", "loss_weights.freq_consistency"},
        "fbi_clip_no_boundary": {"boundary.enabled"},
        "fbi_clip_no_identity": {"loss_weights.identity"},
    }[name]
    assert changed == expected
    assert {k: v for k, v in full.items() if k != "model"} == {
        k: v for k, v in ablated.items() if k != "model"
    }


def test_the_ln_l2_baseline_is_all_three_ablations():
    cfg = load_config(DETECTOR_DIR / "fbi_clip_ln_l2_baseline.yaml")["model"]
    assert not cfg["freq"]["enabled"] and not cfg["boundary"]["enabled"]
    assert cfg["loss_weights"]["identity"] == 0 and cfg["loss_weights"]["freq_consistency"] == 0
    assert cfg["loss_weights"]["align"] > 0 and cfg["head"]["margin"] > 0  # the rest as in fbi_clip.yaml
