"""feature_cache: true (in-process, tiny random-init CLIP linear probe on the demo data): the same losses per
step and the same predictions as without the cache, the backbone once per frame instead of every epoch,
a resume rebuilds the cache and continues like a resume without it; invalid settings are refused."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import tiny_opts
from training.config import ConfigError, load_config
from training.networks.clip_backbone import ClipBackbone
from training.trainer.runner import run_training
from training.trainer.trainer import Trainer

YAML = "training/config/detector/clip_linear_probe.yaml"


def _cfg(demo: dict, log_dir: Path, name: str, cache: bool, **extra: object) -> dict:
    opts = {
        "model.pretrained": "none",
        "train_dataset": "[FBI-Demo]",
        "test_dataset": "[FBI-Demo]",
        "use_data_augmentation": "false",
        "train_batchSize": 4,  # several batches per epoch: their order matters
        "nEpochs": 3,
        "feature_cache": str(cache).lower(),
        **extra,
    }
    return load_config(YAML, opts=tiny_opts(demo, log_dir, name, **opts))


@pytest.fixture()
def probe(monkeypatch):
    """Records every optimiser step's loss and the number of frames each backbone forward sees."""
    seen: dict[str, list] = {"loss": [], "frames": []}
    real_step, real_forward = Trainer._optimizer_step, ClipBackbone.forward

    def step(self):
        seen["loss"].append(float(self.last_losses["overall"].detach()))
        real_step(self)

    def forward(self, x, block_hook=None):
        seen["frames"].append(int(x.shape[0]))
        return real_forward(self, x, block_hook)

    monkeypatch.setattr(Trainer, "_optimizer_step", step)
    monkeypatch.setattr(ClipBackbone, "forward", forward)
    return seen


def _probs(path: Path) -> dict[str, float]:
    with open(path, newline="") as f:
        return {r["frame"]: float(r["prob"]) for r in csv.DictReader(f)}


def _n_frames(run: Path, where: str) -> int:
    return json.loads((run / where / "metrics.json").read_text())["n_frames"]


def _n_train(cfg: dict) -> int:
    from training.dataset import build_dataset

    spec = {"size": 32, "mean": (0.5,) * 3, "std": (0.5,) * 3}
    return len(build_dataset(cfg, "train", cfg["train_dataset"], spec))


def _same_outputs(a: Path, b: Path, epochs: list[int]) -> None:
    for where in [f"val/epoch_{e:03d}" for e in epochs] + ["test/FBI-Demo"]:
        pa, pb = _probs(a / where / "predictions.csv"), _probs(b / where / "predictions.csv")
        assert pa.keys() == pb.keys()
        assert pa == pytest.approx(pb, abs=1e-5), where
        ma, mb = (json.loads((r / where / "metrics.json").read_text()) for r in (a, b))
        for k in ("frame_auc", "video_auc", "frame_acc", "threshold", "n_frames"):
            assert ma[k] == pytest.approx(mb[k], abs=1e-5), (where, k)


def test_cache_gives_the_same_training_and_runs_the_backbone_once_per_frame(demo_data, tmp_path, probe):
    # One worker per loader: the cached loader must draw from the shuffle generator exactly as a
    # persistent multi-worker loader does, epoch after epoch.
    runs, frames, losses = {}, {}, {}
    for cache in (False, True):
        name = f"cache_{cache}"
        probe["loss"].clear(), probe["frames"].clear()
        run_training(_cfg(demo_data, tmp_path, name, cache, workers=1))
        runs[cache], frames[cache], losses[cache] = (
            tmp_path / name,
            list(probe["frames"]),
            list(probe["loss"]),
        )
    steps_per_epoch = len(losses[False]) // 3
    assert steps_per_epoch >= 3 and len(losses[False]) == 3 * steps_per_epoch
    assert losses[True] == pytest.approx(losses[False], rel=1e-5, abs=1e-6)
    assert len(set(round(v, 6) for v in losses[False])) > steps_per_epoch  # the losses do move
    _same_outputs(runs[False], runs[True], [1, 2, 3])
    n_val, n_test = _n_frames(runs[True], "val/epoch_001"), _n_frames(runs[True], "test/FBI-Demo")
    n_train_seen = 3 * steps_per_epoch * 4  # drop_last batches of 4, three epochs
    assert sum(frames[False]) == n_train_seen + 3 * n_val + n_test
    # with the cache: one pass over every training frame (those drop_last leaves out too), one over the
    # validation frames, the test set as usual
    n_train = _n_train(_cfg(demo_data, tmp_path, "n", True))
    assert n_train_seen / 3 <= n_train < n_train_seen / 3 + 4
    assert sum(frames[True]) == n_train + n_val + n_test
    assert "feature_cache:" in (runs[True] / "log.txt").read_text()


def test_resume_rebuilds_the_cache_and_continues_like_a_resume_without_it(demo_data, tmp_path, probe):
    run_training(_cfg(demo_data, tmp_path, "first", True, nEpochs=1))
    shutil.copytree(tmp_path / "first", tmp_path / "second")
    out, n_frames = {}, {}
    for cache, name in ((True, "first"), (False, "second")):
        probe["loss"].clear(), probe["frames"].clear()
        cfg = _cfg(demo_data, tmp_path, "first", cache, nEpochs=3)  # the copy keeps run_name "first"
        run_training(cfg, resume=str(tmp_path / name))
        out[cache], n_frames[cache] = list(probe["loss"]), sum(probe["frames"])
    assert out[True] and out[True] == pytest.approx(out[False], rel=1e-5, abs=1e-6)
    _same_outputs(tmp_path / "first", tmp_path / "second", [2, 3])
    n_val, n_test = (
        _n_frames(tmp_path / "first", "val/epoch_002"),
        _n_frames(tmp_path / "first", "test/FBI-Demo"),
    )
    # the resume computed the cache again (from the restored weights), once per frame
    assert n_frames[True] == _n_train(cfg) + n_val + n_test
    assert n_frames[False] == len(out[False]) * 4 + 2 * n_val + n_test


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"use_data_augmentation": "true"}, "set use_data_augmentation: false"),
        ({"model.tune": "ln"}, "freeze them (clip: model.tune: none"),
    ],
)
def test_invalid_settings_are_refused_in_one_line_before_any_work(demo_data, tmp_path, probe, extra, says):
    with pytest.raises(ConfigError) as e:
        run_training(_cfg(demo_data, tmp_path, "refused", True, **extra))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("feature_cache: true") and says in msg
    assert not probe["frames"] and not (tmp_path / "refused").exists()


class _Items:
    """Stands in for a DeepfakeDataset: items with an image and `describe`."""

    def __len__(self) -> int:
        return 10

    def describe(self, i: int) -> dict:
        return {"label": i % 2, "video_key": f"v{i // 2}", "frame": f"f{i}", "index": i}

    def __getitem__(self, i: int) -> dict:
        return {"image": torch.full((3, 2, 2), i, dtype=torch.uint8), **self.describe(i)}


def test_cached_loader_draws_the_same_batches_and_keeps_dropped_frames_dropped():
    from torch.utils.data import DataLoader

    from training.dataset.dataset import DropLog, DroppedFrame, collate_drop_none
    from training.trainer.feature_cache import CachedFeatures, cached_loader

    def loader():
        g = torch.Generator().manual_seed(3)
        return DataLoader(_Items(), batch_size=3, shuffle=True, drop_last=True, collate_fn=collate_drop_none,
                          generator=g)  # fmt: skip

    plain = loader()
    feats = torch.arange(10, dtype=torch.float32)[:, None].repeat(1, 4)
    bad = DroppedFrame(4, "v2", "f4", "unreadable")
    cached = cached_loader(loader(), CachedFeatures(_Items(), feats, {4: bad}))
    drops = DropLog()
    for _epoch in range(3):
        for a, b in zip(plain, cached, strict=True):
            b = drops.take(b)
            kept = [i for i in a["index"].tolist() if i != 4]
            assert b["index"].tolist() == kept and b["features"][:, 0].tolist() == kept
            assert "image" not in b and b["label"].tolist() == [i % 2 for i in kept]
    assert list(drops.items) == [4]


def test_check_config_refuses_several_processes(monkeypatch):
    from training.trainer.feature_cache import check_config

    cfg = {"feature_cache": True, "use_data_augmentation": False}
    check_config(cfg)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(
        ConfigError, match=r"^feature_cache: true trains in one process.*set feature_cache: false$"
    ):
        check_config(cfg)
    check_config({**cfg, "feature_cache": False})


def test_check_model_refuses_detectors_without_a_split_or_with_batch_norm_in_the_features():
    from torch import nn

    from training.trainer.feature_cache import check_model

    class Probe(nn.Module):
        classifier_modules = ("head",)

        def __init__(self, backbone: nn.Module) -> None:
            super().__init__()
            self.backbone, self.head = backbone.requires_grad_(False), nn.Linear(4, 2)

    cfg = {"feature_cache": True, "model_name": "probe"}
    check_model(cfg, Probe(nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.0), nn.LayerNorm(4))))
    for backbone, says in ((nn.BatchNorm1d(4), "batch norm or dropout"), (nn.Dropout(0.1), "(backbone)")):
        with pytest.raises(ConfigError) as e:
            check_model(cfg, Probe(backbone))
        assert says in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="features\\(\\)/classifier\\(\\) split, which model 'probe'"):
        check_model(cfg, nn.Linear(4, 2))
