"""`frame_cache`: frames from the cache equal the decoded frames exactly (pixels, masks, landmarks, and
augmented tensors for the same seed); stale or mismatched tables stop with a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from training.dataset.frame_cache import FrameCacheError, fill_cache
from training.dataset.loaders import build_dataset

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


@pytest.mark.parametrize("aug", [False, True])
def test_cached_frames_equal_decoded_frames(demo_data, tmp_path, aug):
    plain_cfg = _cfg(demo_data, use_data_augmentation=aug)
    cache_cfg = _cfg(demo_data, use_data_augmentation=aug, frame_cache=str(tmp_path / "fc"))
    plain = _items(build_dataset(plain_cfg, "train", None, SPEC))
    ds = build_dataset(cache_cfg, "train", None, SPEC)
    assert ds.cache.filled() == 0
    _same(plain, _items(ds))  # first epoch: decoded, resized, stored
    assert ds.cache.filled() == len(ds.frames())
    again = build_dataset(cache_cfg, "train", None, SPEC)  # a new run: every frame from the table
    assert again.cache.filled() == len(ds.frames())
    _same(plain, _items(again))
    rel = again.frames()[0]
    image, mask, hw = again.cache.get(rel)
    decoded = again.reader.read_image(rel)
    assert hw == decoded.shape[:2] and image.shape == (24, 24, 3) and mask.shape == (24, 24)
    assert np.array_equal(image, again.transform.resize(decoded, None, None)[0])


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
    bad = subprocess.run(cmd[:-5] + ["frame_cache=null"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "error:" in bad.stderr and "frame_cache" in bad.stderr
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
