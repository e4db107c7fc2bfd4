"""The README stays true: its 'Adding a detector' example registers, builds and trains, and its
commands reference files that exist."""

from __future__ import annotations

import re

import torch

from tests.conftest import REPO
from training.registry import DETECTORS

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_add_a_detector_example_works():
    block = re.search(r"## Adding a detector.*?```python\n(.*?)```", README, re.S).group(1)
    ns: dict = {"__name__": "readme_example"}
    try:
        exec(compile(block, "README.md", "exec"), ns)
        cls = DETECTORS.get("my_detector")
        model = cls.from_config(
            {**cls.config_defaults, **cls.test_config}, {"num_identities": 1, "label_names": []}
        )
        x = torch.randn(2, 3, 64, 64)
        pred = model({"image": x, "label": torch.tensor([0, 1])})
        assert pred["cls"].shape == (2, 2) and pred["prob"].shape == (2,)
        loss = model.get_losses({"image": x, "label": torch.tensor([0, 1])}, pred)["overall"]
        loss.backward()
        assert model.input_spec["size"] > 0
    finally:
        DETECTORS._items.pop("my_detector", None)


def test_readme_paths_exist():
    for path in set(re.findall(r"training/config/detector/[\w]+\.yaml", README)) - {
        "training/config/detector/my_detector.yaml"
    }:
        assert (REPO / path).is_file(), path
    for path in (
        "install.sh",
        "train.sh",
        "training/train.py",
        "training/test.py",
        "training/demo.py",
        "preprocessing/README.md",
        "docs/ARCHITECTURE.md",
        "LICENSE",
    ):
        assert (REPO / path).exists(), path
    assert "sh install.sh" in README and "python -m pytest" in README
