"""Nothing dropped without a count: under bad_frame_policy=drop every left-out video and frame is counted in
the log, metrics.json and results.json, and a test set with nothing left is an error."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from fbi_common.errors import DataError
from tests.conftest import tiny_opts
from tests.test_bad_data import FRAME, _dataset, _toy


def test_index_time_drops_travel_with_the_dataset(tmp_path, fbi_log):
    path = _toy(tmp_path)
    doc = json.loads(path.read_text())
    doc["Toy"]["Toy_fake"]["test"]["empty_v"] = {"label": "Toy_fake", "frames": []}
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="empty frame list"):
        _dataset(tmp_path, "test")
    ds = _dataset(tmp_path, "test", bad_frame_policy="drop")
    assert ds.dropped_videos == ["Toy/Toy_fake/empty_v"]
    assert "1 video(s) dropped at index time" in fbi_log.text


@pytest.fixture()
def own_logging():
    """An in-process run calls setup_logging (propagation off, a log.txt handler): undo it afterwards."""
    logger = logging.getLogger("fbi")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    for h in list(logger.handlers):
        logger.removeHandler(h)
        if h not in handlers:
            h.close()
    for h in handlers:
        logger.addHandler(h)
    logger.setLevel(level)
    logger.propagate = propagate


def test_training_run_reports_every_dropped_frame(demo_data, tmp_path, own_logging):
    """bad_frame_policy=drop: the train log, val and test metrics.json and results.json count the drops."""
    from training.config import load_config
    from training.trainer.runner import run_training

    rgb, js = tmp_path / "rgb", tmp_path / "json"
    shutil.copytree(demo_data["rgb_dir"], rgb)
    shutil.copytree(demo_data["json_folder"], js)
    doc = json.loads((js / "FBI-Demo.json").read_text())
    bad = {}
    for split in ("train", "val", "test"):
        video = next(iter(doc["FBI-Demo"]["FBI-Demo_fake"][split].values()))
        bad[split] = video["frames"][0]
        (rgb / bad[split]).write_bytes(b"")
    doc["FBI-Demo"]["FBI-Demo_real"]["test"]["ghost"] = {"label": "FBI-Demo_real", "frames": []}
    (js / "FBI-Demo.json").write_text(json.dumps(doc))
    opts = tiny_opts({"rgb_dir": rgb, "json_folder": js}, tmp_path / "logs", "drops")
    cfg = load_config(
        "training/config/detector/clip_demo.yaml", opts=[*opts, "bad_frame_policy=drop", "save_ckpt=false"]
    )
    results = run_training(cfg)
    run = tmp_path / "logs" / "drops"
    test = json.loads((run / "test" / "FBI-Demo" / "metrics.json").read_text())
    assert test["n_dropped"] == 1 and test["dropped_frames"][0]["frame"] == bad["test"]
    assert test["n_dropped_videos"] == 1 and test["dropped_videos"] == ["FBI-Demo/FBI-Demo_real/ghost"]
    assert results["FBI-Demo"]["n_dropped"] == 1
    saved = json.loads((run / "test" / "results.json").read_text())
    assert saved["FBI-Demo"]["dropped_frames"] == test["dropped_frames"]
    (val,) = list((run / "val").glob("epoch_*/metrics.json"))
    val = json.loads(val.read_text())
    assert val["n_dropped"] == 1 and val["dropped_frames"][0]["frame"] == bad["val"]
    log = (run / "log.txt").read_text()
    assert "train epoch 1: 1 frame(s) dropped" in log and bad["train"] in log


def test_a_test_set_whose_every_frame_was_dropped_is_an_error(tmp_path):
    from training.trainer.evaluator import score_and_write

    gone = {"index": 0, "video_key": "Toy/Toy_real/v", "frame": FRAME, "reason": "empty file"}
    preds = {k: [] for k in ("index", "video_key", "frame", "label", "label_name", "prob")}
    with pytest.raises(
        DataError, match=r"Toy: every frame was dropped .*1 frames, e.g. .*000.png: empty file"
    ):
        score_and_write(preds | {"dropped": [gone]}, tmp_path / "Toy", video_agg="mean", threshold=None)
