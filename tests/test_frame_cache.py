"""`frame_cache`: frames from the cache equal the decoded frames exactly (pixels, masks, landmarks, and
augmented tensors for the same seed), with a folder named or with `auto` (the default: training puts
the table in `frame_cache/` beside rgb_dir, or trains uncached saying why); stale or mismatched tables
stop with a clear error."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
from collections import namedtuple

import numpy as np
import pytest
import torch

from tests.conftest import tiny_opts
from training.dataset import frame_cache_auto
from training.dataset.frame_cache import FrameCacheError, fill_cache
from training.dataset.loaders import build_dataset, with_training_cache

SPEC = {"size": 24, "mean": (0.5,) * 3, "std": (0.5,) * 3}


def _cfg(demo_data, **kw) -> dict:
    from training.config import load_config

    opts = [f"rgb_dir={demo_data['rgb_dir']}", f"dataset_json_folder={demo_data['json_folder']}", "workers=0"]
    cfg = load_config("training/config/detector/clip_demo.yaml", opts=opts)
    cfg.update(
        {"frame_num": {"train": 2, "val": 2, "test": 2}, "with_mask": True, "with_landmark": True, **kw}
    )
    return cfg


def _items(ds, seed: int = 0) -> list[dict]:
    np.random.seed(seed)  # the per-item augmentation generators come from the process RNG
    return [ds[i] for i in range(len(ds))]


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x["frame"] == y["frame"]
        for key in ("image", "mask", "landmark"):
            assert x[key].dtype == y[key].dtype and torch.equal(x[key], y[key]), key


def _auto_cfg(demo_data, tmp_path, **kw) -> dict:
    """`frame_cache: auto` over a copy of the demo frames in <tmp>/datasets/rgb (so the cache is <tmp>/datasets/frame_cache)."""
    rgb = tmp_path / "datasets" / "rgb"
    shutil.copytree(demo_data["rgb_dir"], rgb)
    return _cfg(demo_data, rgb_dir=str(rgb), frame_cache="auto", **kw)


def _cached_train(cfg: dict):
    ds = build_dataset(cfg, "train", None, SPEC)
    if cfg["frame_cache"] == "auto":
        assert ds.cache is None  # auto is resolved by training, which knows how often it reads
        data_cfg = with_training_cache(cfg, ds, cfg["train_dataset"], epochs=2)
        assert data_cfg["frame_cache"] == str(ds.cache.path.parent)
    return ds


@pytest.mark.parametrize(("aug", "where"), [(False, "dir"), (True, "dir"), (True, "auto")])
def test_cached_frames_equal_decoded_frames(demo_data, tmp_path, caplog, aug, where):
    plain_cfg = _cfg(demo_data, use_data_augmentation=aug)
    if where == "auto":
        cache_cfg = _auto_cfg(demo_data, tmp_path, use_data_augmentation=aug)
    else:
        cache_cfg = _cfg(demo_data, use_data_augmentation=aug, frame_cache=str(tmp_path / "fc"))
    plain = _items(build_dataset(plain_cfg, "train", None, SPEC))
    ds = _cached_train(cache_cfg)
    assert ds.cache.path.parent == (tmp_path / ("datasets/frame_cache" if where == "auto" else "fc"))
    assert ds.cache.filled() == 0
    _same(plain, _items(ds))  # first epoch: decoded, resized, stored
    assert ds.cache.filled() == len(ds.frames())
    again = _cached_train(cache_cfg)  # a new run: every frame from the table
    assert again.cache.filled() == len(ds.frames())
    _same(plain, _items(again))
    rel = again.frames()[0]
    image, mask, hw = again.cache.get(rel)
    decoded = again.reader.read_image(rel)
    assert hw == decoded.shape[:2] and image.shape == (24, 24, 3) and mask.shape == (24, 24)
    assert np.array_equal(image, again.transform.resize(decoded, None, None)[0])
    if (
        where == "auto"
    ):  # a stale table in the auto folder is rebuilt with a warning (a DIR's: an error, below)
        src = again.reader.path_of(rel)
        st = src.stat()
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        caplog.set_level(logging.INFO, logger="fbi")
        rebuilt = _cached_train(cache_cfg)
        assert rebuilt.cache.path == again.cache.path and rebuilt.cache.filled() == 0
        assert any(r.levelname == "WARNING" and "is stale" in r.getMessage() for r in caplog.records)
        _same(plain, _items(rebuilt))


_Usage = namedtuple("_Usage", "total used free")


@pytest.mark.parametrize("case", ["sbi", "features", "one_epoch", "read_only", "full"])
def test_auto_off_says_why_once(demo_data, tmp_path, monkeypatch, caplog, case):
    caplog.set_level(logging.INFO, logger="fbi")
    cfg = _auto_cfg(demo_data, tmp_path, use_data_augmentation=case == "sbi")
    datasets = tmp_path / "datasets"
    if case == "sbi":
        cfg["data_aug"] = {**cfg["data_aug"], "sbi": {**cfg["data_aug"]["sbi"], "enabled": True}}
    elif case == "features":
        cfg["feature_cache"] = True
    elif case == "read_only":
        datasets.chmod(0o555)
        if os.geteuid() == 0:  # root writes through mode bits: fail the probe write as a read-only mount does

            def read_only(*a, **kw):
                raise OSError(errno.EROFS, "Read-only file system")

            monkeypatch.setattr(frame_cache_auto.tempfile, "TemporaryFile", read_only)
    elif case == "full":
        monkeypatch.setattr(
            frame_cache_auto.shutil, "disk_usage", lambda p: _Usage(2**40, 2**40 - 2**20, 2**20)
        )
    try:
        ds = build_dataset(cfg, "train", None, SPEC)
        data_cfg = with_training_cache(cfg, ds, cfg["train_dataset"], epochs=1 if case == "one_epoch" else 3)
        assert ds.cache is None and data_cfg["frame_cache"] is None  # the val split is built uncached too
        assert not (datasets / "frame_cache").exists()
        assert ds[0]["image"].dtype == torch.uint8  # and the data still reads
    finally:
        datasets.chmod(0o755)
    said = [r for r in caplog.records if r.getMessage().startswith("frame_cache")]
    assert len(said) == 1, [r.getMessage() for r in said]
    level, why = {
        "sbi": ("INFO", "data_aug.sbi.enabled"),
        "features": ("INFO", "feature_cache reads each frame once"),
        "one_epoch": ("INFO", "1-epoch run"),
        "read_only": ("WARNING", f"{datasets} is not writable"),
        "full": ("WARNING", f"{datasets} has 1.0 MiB free"),
    }[case]
    assert said[0].levelname == level and why in said[0].getMessage()
    if level == "WARNING":
        assert (
            "WITHOUT the decoded-frame cache" in said[0].getMessage()
            and "frame_cache: DIR" in said[0].getMessage()
        )


@pytest.mark.parametrize("full", [False, True])
def test_auto_is_the_training_default(demo_data, tmp_path, monkeypatch, full):
    """A 2-epoch run caches its train and validation frames beside rgb_dir (test sets: read once, not
    cached); on a full disk it warns once and trains uncached to the end."""
    from training.config import load_config
    from training.trainer.runner import run_training

    rgb = tmp_path / "datasets" / "rgb"
    shutil.copytree(demo_data["rgb_dir"], rgb)
    if full:
        monkeypatch.setattr(
            frame_cache_auto.shutil, "disk_usage", lambda p: _Usage(2**40, 2**40 - 2**20, 2**20)
        )
    demo = {"rgb_dir": rgb, "json_folder": demo_data["json_folder"]}
    cfg = load_config(
        "training/config/detector/clip_demo.yaml", opts=tiny_opts(demo, tmp_path / "logs", "run", nEpochs=2)
    )
    assert cfg["frame_cache"] == "auto"
    results = run_training(cfg)
    assert results["FBI-Demo"]["n_frames"] > 0
    root = tmp_path / "datasets" / "frame_cache"
    said = [
        line
        for line in (tmp_path / "logs" / "run" / "log.txt").read_text().splitlines()
        if "frame_cache: auto" in line
    ]
    assert len(said) == 1 and (" WARNING " if full else " INFO ") in said[0], said
    if full:
        assert not root.exists()
        return
    tables = sorted(p for p in root.iterdir() if p.is_dir())
    assert [t.name.split("-32px")[0] for t in tables] == ["FBI-Demo-train", "FBI-Demo-val"]
    for (
        t
    ) in tables:  # filled while read: every val frame; the train frames of the dropped last batch may wait
        filled = np.fromfile(t / "rows.i64", dtype=np.int64).reshape(-1, 5)[:, 0]
        assert filled.sum() >= (len(filled) // 32 * 32 if "train" in t.name else len(filled)) > 0, t.name


def test_fill_with_workers_and_builder_cli(demo_data, tmp_path):
    cfg = _cfg(demo_data, use_data_augmentation=False, frame_cache=str(tmp_path / "fc"))
    ds = build_dataset(cfg, "val", None, SPEC)
    assert fill_cache(ds, workers=1) == {"cached": len(ds), "dropped": 0}
    assert fill_cache(ds, workers=0) == {"cached": 0, "dropped": 0}
    tables = sorted(p.name for p in (tmp_path / "fc").iterdir() if p.is_dir())
    assert len(tables) == 1 and "FBI-Demo-val-24px-mask-" in tables[0]
    cmd = [
        sys.executable,
        "training/build_frame_cache.py",
        "--detector_path",
        "training/config/detector/clip_demo.yaml",
        "--splits",
        "train",
        "--size",
        "24",
        "--opts",
        f"rgb_dir={demo_data['rgb_dir']}",
        f"dataset_json_folder={demo_data['json_folder']}",
        f"frame_cache={tmp_path / 'fc'}",
        "frame_num={train: 2, val: 2, test: 2}",
        "workers=0",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "FBI-Demo-train-24px-" in out.stdout and str(tmp_path) in out.stdout
    for wrong, why in (
        ("frame_cache=null", "frame_cache is null"),
        ("frame_cache=auto", "never caches test"),
    ):
        opts = [o if not o.startswith("frame_cache=") else wrong for o in cmd[cmd.index("--opts") :]]
        splits = ["--splits", "test"] if wrong.endswith("auto") else []
        bad = subprocess.run(
            cmd[:4] + splits + ["--size", "24"] + opts, capture_output=True, text=True, timeout=300
        )
        assert bad.returncode == 2 and "error:" in bad.stderr and why in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


def test_stale_and_mismatched_tables_stop(demo_data, tmp_path):
    cfg = _cfg(demo_data, use_data_augmentation=False, with_landmark=False, frame_cache=str(tmp_path / "fc"))
    ds = build_dataset(cfg, "test", None, SPEC)
    fill_cache(ds, workers=0)
    src = ds.reader.path_of(ds.frames()[0])
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the crop was rewritten
    try:
        with pytest.raises(FrameCacheError, match="stale: 1 of its"):
            build_dataset(cfg, "test", None, SPEC)
    finally:
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    meta = ds.cache.path / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "size": 32}))
    with pytest.raises(FrameCacheError, match="does not match this dataset .*size"):
        build_dataset(cfg, "test", None, SPEC)


def test_frame_cache_refuses_self_blending(demo_data, tmp_path):
    from training.config.schema import ConfigError

    cfg = _cfg(demo_data, frame_cache=str(tmp_path / "fc"))
    cfg["data_aug"] = {**cfg["data_aug"], "sbi": {**cfg["data_aug"]["sbi"], "enabled": True}}
    with pytest.raises(ConfigError, match="frame_cache: self-blended"):
        build_dataset(cfg, "train", None, SPEC)
