"""Shared fixtures: a small embedded demo dataset and the tiny-model overrides used by end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A 2-block, width-32 ViT at 32 px: builds and steps in milliseconds on CPU.
TINY_VIT = "model.vision_cfg={width: 32, layers: 2, head_width: 16, patch_size: 8, image_size: 32}"


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tiny models on a 2-core machine: one intra-op thread avoids OpenMP threads spinning against each
    other and against subprocesses (an EfficientNet forward measured 15 s with 2 threads vs 0.3 s with 1)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True, scope="session")
def _no_frame_cache_in_the_repo():
    """`frame_cache: auto` (the default) writes beside rgb_dir: tests point rgb_dir at temp folders,
    so a table appearing in the repository's datasets/frame_cache during the session is a test bug."""
    root = REPO / "datasets" / "frame_cache"
    before = set(root.iterdir()) if root.is_dir() else set()
    yield
    after = set(root.iterdir()) if root.is_dir() else set()
    assert after <= before, f"tests wrote frame-cache tables into the repository: {sorted(after - before)}"


@pytest.fixture(autouse=True)
def _restore_project_logger():
    """A CLI run in-process (`run_cli(main)`) calls setup_logging(), whose console handler holds the
    test's captured stderr; restore the project logger afterwards so a later test never logs into a
    closed capture stream ("--- Logging error ---" on its stderr)."""
    import logging

    logger = logging.getLogger("fbi")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for h in list(logger.handlers):
        if h not in saved[0]:
            logger.removeHandler(h)
            h.close()
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> dict[str, Path]:
    """The FBI-Demo dataset (1 video x 2 frames per identity and class, 32 px), built once per session."""
    from training.dataset.demo_data import build_demo_dataset

    root = tmp_path_factory.mktemp("demo")
    rgb, js = root / "rgb", root / "dataset_json"
    build_demo_dataset(rgb, js, size=32, videos_per_class=1, frames_per_video=2, seed=0)
    return {"rgb_dir": rgb, "json_folder": js}


def tiny_opts(demo: dict[str, Path], log_dir: Path, run_name: str, **extra: object) -> list[str]:
    """--opts for a few-second training run on the demo data with a tiny ViT."""
    opts = {
        "rgb_dir": demo["rgb_dir"],
        "dataset_json_folder": demo["json_folder"],
        "log_dir": log_dir,
        "run_name": run_name,
        "workers": 0,
        "nEpochs": 1,
        "frame_num": "{train: 2, val: 2, test: 2}",
        "train_batchSize": 32,
        "test_batchSize": 64,
        "rec_iter": 1,
        **extra,
    }
    return [TINY_VIT] + [f"{k}={v}" for k, v in opts.items()]


@pytest.fixture()
def fbi_log(caplog):
    """caplog that also sees the project logger after setup_logging() turned its propagation off."""
    import logging

    logger = logging.getLogger("fbi")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def free_port() -> int:
    """A TCP port nobody listens on now (several test suites may share the machine)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
