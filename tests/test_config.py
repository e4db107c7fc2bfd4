"""Tests for the config loader: merge order, --opts, schema checks (DeepfakeBench names: test_config_aliases.py;
model section, saving: test_config_model.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fbi_common.paths import REPO_ROOT
from training.config import DEFAULTS_PATH, ConfigError, load_config
from training.config.schema import ENUMS


def _write(tmp_path: Path, text: str, name: str = "det.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _defaults() -> dict:
    return yaml.safe_load(DEFAULTS_PATH.read_text(encoding="utf-8"))


def _problems(path: Path, cli: dict | None = None, opts: list[str] | None = None, **kw) -> list[str]:
    kw.setdefault("validate_model", False)
    with pytest.raises(ConfigError) as info:
        load_config(path, cli, opts, **kw)
    return info.value.problems


# ---- merge order and --opts ----------------------------------------------------------------------


def test_each_layer_overrides_the_previous(tmp_path):
    assert _defaults()["train_batchSize"] == 32
    path = _write(tmp_path, "train_batchSize: 16\nnEpochs: 3\n")
    assert load_config(path, validate_model=False)["train_batchSize"] == 16
    cfg = load_config(path, {"train_batchSize": 8}, validate_model=False)
    assert (cfg["train_batchSize"], cfg["nEpochs"]) == (8, 3)
    cfg = load_config(path, {"train_batchSize": 8}, ["train_batchSize=4"], validate_model=False)
    assert (cfg["train_batchSize"], cfg["nEpochs"]) == (4, 3)
    # later --opts win over earlier ones
    cfg = load_config(path, None, ["nEpochs=5", "nEpochs=7"], validate_model=False)
    assert cfg["nEpochs"] == 7


def test_mappings_merge_lists_replace(tmp_path):
    path = _write(tmp_path, "optimizer: {adamw: {lr: 0.001}}\ndata_aug: {blur_limit: [5, 9]}\n")
    cfg = load_config(path, validate_model=False)
    assert cfg["optimizer"]["adamw"]["lr"] == 0.001
    assert cfg["optimizer"]["adamw"]["weight_decay"] == _defaults()["optimizer"]["adamw"]["weight_decay"]
    assert cfg["optimizer"]["type"] == "adamw"
    assert cfg["data_aug"]["blur_limit"] == [5, 9]
    cfg = load_config(path, {"test_dataset": ["Celeb-DF-v2"]}, validate_model=False)
    assert cfg["test_dataset"] == ["Celeb-DF-v2"]


def test_cli_none_means_flag_not_given(tmp_path):
    path = _write(tmp_path, "test_dataset: [DFDC]\n")
    cfg = load_config(path, {"test_dataset": None, "save_ckpt": False}, validate_model=False)
    assert cfg["test_dataset"] == ["DFDC"] and cfg["save_ckpt"] is False


def test_dotted_opts_and_yaml_values(tmp_path):
    path = _write(tmp_path, "")
    opts = [
        "optimizer.adamw.lr=1e-4",
        "optimizer.sgd.momentum=5E-1",
        "test_dataset=[A,B]",
        "val_dataset=null",
        "frame_num.train=8",
        "save_ckpt=false",
        "run_name=2024-01-01",
        "grad_clip=1",
    ]
    cfg = load_config(path, None, opts, validate_model=False)
    lr = cfg["optimizer"]["adamw"]["lr"]
    assert isinstance(lr, float) and lr == pytest.approx(1e-4)
    assert cfg["optimizer"]["sgd"]["momentum"] == 0.5
    assert cfg["optimizer"]["adamw"]["beta1"] == 0.9
    assert cfg["test_dataset"] == ["A", "B"]
    assert cfg["val_dataset"] is None
    assert cfg["frame_num"] == {**_defaults()["frame_num"], "train": 8}
    assert cfg["save_ckpt"] is False
    assert cfg["run_name"] == "2024-01-01"  # a date stays a string
    assert isinstance(cfg["grad_clip"], float) and cfg["grad_clip"] == 1.0


def test_exponent_floats_in_yaml_files(tmp_path):
    path = _write(tmp_path, "optimizer:\n  adam: {lr: 1e-4, eps: 0.00000001}\n")
    cfg = load_config(path, validate_model=False)
    assert cfg["optimizer"]["adam"]["lr"] == pytest.approx(1e-4)
    assert cfg["optimizer"]["adam"]["eps"] == pytest.approx(1e-8)


def test_yaml12_booleans_keep_off_a_string(tmp_path):
    cfg = load_config(_write(tmp_path, "amp: off\n"), None, ["select_on=test"], validate_model=False)
    assert cfg["amp"] == "off"
    (msg,) = _problems(_write(tmp_path, "save_ckpt: yes\n", "y.yaml"))
    assert "'save_ckpt'" in msg and "expected a boolean" in msg


@pytest.mark.parametrize("item", ["nEpochs", "=3", "optimizer..lr=1", "nEpochs=[1,"])
def test_malformed_opts(tmp_path, item):
    problems = _problems(_write(tmp_path, ""), None, [item])
    assert len(problems) == 1 and f"'{item}'" in problems[0] and "--opts" in problems[0]


# ---- schema: unknown keys, types, enumerations ------------------------------------------------------


def test_unknown_key_suggests_and_names_the_file(tmp_path):
    path = _write(tmp_path, "train_batchsize: 16\n", name="x.yaml")
    (msg,) = _problems(path)
    assert "unknown key 'train_batchsize'" in msg
    assert str(path) in msg
    assert "did you mean 'train_batchSize'?" in msg


def test_unknown_nested_key_and_opts_source(tmp_path):
    path = _write(tmp_path, "optimizer: {adamw: {lrr: 0.1}}\n")
    (msg,) = _problems(path)
    assert "'optimizer.adamw.lrr'" in msg and "did you mean 'optimizer.adamw.lr'?" in msg
    (msg,) = _problems(_write(tmp_path, "", "empty.yaml"), None, ["data_aug.flip_prb=0.1"])
    assert "'data_aug.flip_prb' in --opts" in msg and "'data_aug.flip_prob'" in msg
    (msg,) = _problems(_write(tmp_path, "", "empty.yaml"), {"zzzz": 1})
    assert "'zzzz' in command line" in msg and "valid keys here" in msg


def test_wrong_types(tmp_path):
    path = _write(tmp_path, "train_batchSize: '16'\ndata_aug: {flip_prob: high}\noptimizer: adam\n")
    problems = _problems(path)
    assert len(problems) == 3
    text = "\n".join(problems)
    assert "'train_batchSize'" in text and "expected an integer" in text and "'16'" in text
    assert "'data_aug.flip_prob'" in text and "expected a number" in text
    assert "'optimizer'" in text and "expected a mapping" in text


def test_bool_is_not_an_int_and_int_is_not_a_bool(tmp_path):
    problems = _problems(_write(tmp_path, "nEpochs: true\nsave_ckpt: 1\nlr_gamma: false\n"))
    text = "\n".join(problems)
    assert len(problems) == 3
    assert "'nEpochs'" in text and "got bool True" in text
    assert "'save_ckpt'" in text and "expected a boolean" in text
    assert "'lr_gamma'" in text


def test_nullable_keys_and_list_elements(tmp_path):
    good = _write(tmp_path, "resolution: 224\nmean: [0.5, 0.5, 0.5]\nval_dataset: [FF-DF]\n")
    cfg = load_config(good, validate_model=False)
    assert cfg["resolution"] == 224 and cfg["mean"] == [0.5, 0.5, 0.5] and cfg["val_dataset"] == ["FF-DF"]
    bad = _write(tmp_path, "resolution: '224'\nmean: [0.5, x, 0.5]\ntrain_dataset: [FF-DF, 3]\n", "bad.yaml")
    text = "\n".join(_problems(bad))
    assert "'resolution'" in text and "'mean[1]'" in text and "'train_dataset[1]'" in text


def test_every_enumeration_is_checked(tmp_path):
    path = _write(tmp_path, "")
    for key, choices in ENUMS.items():
        if key.startswith("model."):  # a detector's keys (fbi_clip's): tests/test_identity_knob.py
            continue
        (msg,) = _problems(path, None, [f"{key}=bogus"])
        assert f"'{key}'" in msg and " | ".join("null" if c is None else c for c in choices) in msg
        ok = load_config(path, None, [f"{key}={choices[-1]}"], validate_model=False)
        node = ok
        for part in key.split("."):
            node = node[part]
        assert node == choices[-1]


def test_enum_suggestion_and_null_scheduler(tmp_path):
    (msg,) = _problems(_write(tmp_path, "optimizer: {type: AdamW}\n"))
    assert "did you mean 'adamw'?" in msg
    cfg = load_config(_write(tmp_path, "lr_scheduler: null\n", "n.yaml"), validate_model=False)
    assert cfg["lr_scheduler"] is None


def test_label_dict_accepts_new_labels_with_0_or_1(tmp_path):
    cfg = load_config(_write(tmp_path, "label_dict: {Mine_real: 0, Mine_fake: 1}\n"), validate_model=False)
    assert cfg["label_dict"]["Mine_fake"] == 1 and cfg["label_dict"]["FF-DF"] == 1
    (msg,) = _problems(_write(tmp_path, "label_dict: {Mine_fake: 2}\n", "b.yaml"))
    assert "'label_dict.Mine_fake'" in msg and "0 or 1" in msg


def test_frame_num_int_form(tmp_path):
    cfg = load_config(_write(tmp_path, "frame_num: 8\n"), validate_model=False)
    assert cfg["frame_num"] == {"train": 8, "val": 8, "test": 8}
    cfg = load_config(_write(tmp_path, ""), None, ["frame_num=4", "frame_num.test=2"], validate_model=False)
    assert cfg["frame_num"] == {"train": 4, "val": 4, "test": 2}
    # DeepfakeBench form without `val` keeps the default for it
    cfg = load_config(_write(tmp_path, "frame_num: {'train': 16, 'test': 8}\n"), validate_model=False)
    assert cfg["frame_num"] == {"train": 16, "val": _defaults()["frame_num"]["val"], "test": 8}


def test_scalar_sbi_shift_of_older_run_folders_reads_as_the_same_x_and_y(tmp_path):
    old = _write(tmp_path, "data_aug: {sbi: {shift: 0.03, prob: 0.25}}\n")  # written before shift was [x, y]
    sbi = load_config(old, None, ["data_aug.sbi.deform_alpha=0"], validate_model=False)["data_aug"]["sbi"]
    assert sbi["shift"] == [0.03, 0.03] and sbi["prob"] == 0.25
    sbi = load_config(_write(tmp_path, ""), None, ["data_aug.sbi.shift=0"], validate_model=False)["data_aug"][
        "sbi"
    ]
    assert sbi["shift"] == [0.0, 0.0]
    (msg,) = _problems(_write(tmp_path, "data_aug: {sbi: {shift: far}}\n"))
    assert "data_aug.sbi.shift" in msg and "a list" in msg  # other kinds are still refused by the schema


def test_single_dataset_name_becomes_a_list(tmp_path):
    cfg = load_config(
        _write(tmp_path, "train_dataset: FF-DF\n"), None, ["test_dataset=DFDC"], validate_model=False
    )
    assert cfg["train_dataset"] == ["FF-DF"] and cfg["test_dataset"] == ["DFDC"]


def test_duplicate_yaml_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="duplicate key 'nEpochs'"):
        load_config(_write(tmp_path, "nEpochs: 3\nnEpochs: 4\n"), validate_model=False)


# ---- all problems at once ----------------------------------------------------------------------------


def test_all_problems_reported_at_once(tmp_path):
    path = _write(tmp_path, "train_batchsize: 1\npretrained: x\nnEpochs: ten\namp: fp32\n", "many.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path, {"workers": "4"}, ["video_agg=avg", "bad"], validate_model=False)
    problems = info.value.problems
    assert len(problems) == 7
    text = str(info.value)
    for needle in ("train_batchsize", "pretrained", "nEpochs", "amp", "workers", "video_agg", "'bad'"):
        assert needle in text
    assert "7 problems" in text and "many.yaml" in text and "command line" in text and "--opts" in text


# ---- detector YAML path -------------------------------------------------------------------------------


def test_repo_relative_cwd_relative_and_missing_paths(tmp_path, monkeypatch):
    _write(tmp_path, "nEpochs: 3\n", "here.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_config("here.yaml", validate_model=False)["nEpochs"] == 3
    rel = DEFAULTS_PATH.relative_to(REPO_ROOT).as_posix()  # repo-relative, from a foreign cwd
    assert load_config(rel, validate_model=False)["nEpochs"] == _defaults()["nEpochs"]
    with pytest.raises(ConfigError, match="not found"):
        load_config("nope/missing.yaml")


def test_non_mapping_yaml_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"), validate_model=False)
