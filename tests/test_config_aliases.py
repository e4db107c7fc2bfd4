"""DeepfakeBench key names in our configs: aliases rewritten (and logged), removed keys say what to use, and
DeepfakeBench's own config names are valid."""

from __future__ import annotations

import logging

import pytest

from tests.test_config import _problems, _write
from training.config import load_config
from training.config.aliases import REMOVED


def test_aliases_rewritten_and_logged(tmp_path, caplog):
    path = _write(tmp_path, "dataset_root_rgb: /data/rgb\nlogdir: ./logs\nlocal_rank: 0\n")
    with caplog.at_level(logging.INFO, logger="fbi"):
        cfg = load_config(path, validate_model=False)
    assert cfg["rgb_dir"] == "/data/rgb" and cfg["log_dir"] == "./logs"
    assert "dataset_root_rgb" not in cfg and "logdir" not in cfg and "local_rank" not in cfg
    logged = caplog.text
    assert "'dataset_root_rgb' read as 'rgb_dir'" in logged and "'logdir' read as 'log_dir'" in logged
    assert "local_rank" in logged
    cfg = load_config(_write(tmp_path, "", "e.yaml"), None, ["logdir=runs"], validate_model=False)
    assert cfg["log_dir"] == "runs"


def test_alias_and_new_name_together_is_an_error(tmp_path):
    (msg,) = _problems(_write(tmp_path, "logdir: a\nlog_dir: b\n"))
    assert "'logdir'" in msg and "'log_dir'" in msg


@pytest.mark.parametrize("key", sorted(REMOVED))
def test_removed_keys_say_what_to_use(tmp_path, key):
    (msg,) = _problems(_write(tmp_path, f"{key}: 1\n"))
    assert f"'{key}'" in msg and "renamed/removed" in msg and REMOVED[key] in msg
    assert "\n" not in msg


def test_deepfakebench_names_are_valid(tmp_path):
    # the top-level keys of a DeepfakeBench detector YAML we keep (flow style to stay short)
    text = """
{train_batchSize: 16, test_batchSize: 16, nEpochs: 2, manualSeed: 7, resolution: 256, compression: c23,
 frame_num: {train: 4, test: 4}, rgb_dir: ./datasets/rgb, lmdb_dir: ./datasets/lmdb, lmdb: false,
 dataset_json_folder: preprocessing/dataset_json, with_mask: false, with_landmark: false, save_ckpt: true,
 save_feat: true, workers: 2, rec_iter: 100, save_epoch: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
 cuda: true, cudnn: true, use_data_augmentation: true, log_dir: ./logs, metric_scoring: auc,
 lr_scheduler: null, data_aug: {flip_prob: 0.5, rotate_limit: [-10, 10], quality_lower: 40},
 optimizer: {type: adam, sgd: {lr: 0.0002, momentum: 0.9, weight_decay: 0.0005},
   adam: {lr: 0.0002, beta1: 0.9, beta2: 0.999, eps: 0.00000001, weight_decay: 0.0005, amsgrad: false}},
 train_dataset: [FaceForensics++], test_dataset: [FaceForensics++, Celeb-DF-v2],
 label_dict: {FF-real: 0, FF-DF: 1}}
"""
    cfg = load_config(_write(tmp_path, text), validate_model=False)
    assert (
        cfg["manualSeed"] == 7 and cfg["resolution"] == 256 and cfg["data_aug"]["rotate_limit"] == [-10, 10]
    )
