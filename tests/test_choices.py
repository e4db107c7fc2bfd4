"""One home per fact: every choice the schema accepts works in the code, and no module keeps its own copy."""

from __future__ import annotations

import re

import pytest
import torch

from fbi_common import datasets, media
from fbi_common.paths import REPO_ROOT
from training.config import choices, load_config
from training.config.schema import ENUMS
from training.dataset.identity import identity_of
from training.dataset.index import VideoRecord
from training.metrics import aggregate_videos, compute_metrics
from training.trainer.build import amp_dtype, build_optimizer
from training.trainer.scheduler import lr_factor

DETECTOR = REPO_ROOT / "training" / "config" / "detector" / "clip.yaml"


def _cfg(*opts: str) -> dict:
    return load_config(DETECTOR, None, list(opts), validate_model=False)


def test_every_optimizer_choice_builds():
    model = torch.nn.Linear(3, 2)
    built = {
        kind: type(build_optimizer(model, _cfg(f"optimizer.type={kind}"))) for kind in choices.OPTIMIZERS
    }
    assert built == {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


def test_every_scheduler_choice_has_a_shape_and_others_are_refused():
    kw = {"total": 100, "warmup": 0, "eta_min": 0.0, "step_size": 10, "gamma": 0.5}
    at_75 = {kind: lr_factor(75, kind=kind, **kw) for kind in choices.LR_SCHEDULERS}
    assert at_75[None] == 1.0 and at_75["cosine"] < 0.2 and at_75["step"] == 0.5**7
    with pytest.raises(ValueError, match="cosine"):
        lr_factor(5, kind="linear", **kw)


def test_every_amp_choice_means_something_on_cpu_and_cuda():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    got = {m: (amp_dtype({"amp": m}, cpu), amp_dtype({"amp": m}, cuda)) for m in choices.AMP_MODES}
    assert got == {
        "auto": (None, torch.bfloat16),
        "bf16": (torch.bfloat16, torch.bfloat16),
        "fp16": (torch.float16, torch.float16),
        "off": (None, None),
    }


def test_every_video_aggregation_choice_pools_and_others_are_refused():
    keys, labels, probs = ["a", "a", "a", "b"], [1, 1, 1, 0], [0.1, 0.2, 0.9, 0.3]
    pooled = {how: aggregate_videos(keys, labels, probs, how)[2][0] for how in choices.VIDEO_AGGS}
    assert pooled == pytest.approx({"mean": 0.4, "max": 0.9, "median": 0.2})
    with pytest.raises(ValueError, match="mean"):
        aggregate_videos(keys, labels, probs, "min")


def test_every_identity_rule_choice_names_an_identity_and_others_are_refused():
    rec = VideoRecord("FF-DF", "FF-DF", 1, "c23", "000_003", "train", "FF-DF/FF-DF/c23/000_003", [])
    got = {rule: identity_of(rec, rule) for rule in choices.IDENTITY_RULES}
    assert got == {"target": "FaceForensics++/000", "source": "FaceForensics++/003", "video": rec.key}
    with pytest.raises(ValueError, match="target"):
        identity_of(rec, "person")


def test_every_metric_scoring_choice_selects_a_metric_that_exists():
    metrics = compute_metrics([0, 1, 0, 1], [0.2, 0.8, 0.4, 0.6], ["a", "b", "c", "d"])
    for name, (key, _) in choices.METRIC_SCORING.items():
        assert isinstance(metrics[key], float), name
    assert choices.METRIC_SCORING["eer"][1] is False  # lower EER is better


def test_the_schema_checks_exactly_these_sets():
    assert ENUMS["metric_scoring"] == tuple(choices.METRIC_SCORING)
    from training.detectors.fbi_clip import FBIClipDetector

    defaults = {**_cfg(), "model": FBIClipDetector.config_defaults}  # model.* enums are fbi_clip's keys
    for key, allowed in ENUMS.items():
        node = defaults
        for part in key.split("."):
            node = node[part]
        assert node in allowed, f"the default of {key} is not one of its choices"


# Literal copies of a shared list anywhere else in the code are what this issue removed; keep it so.
_COPIES = {
    "choice set": [r"\(\s*\"error\",\s*\"drop\"", r"\(\s*\"target\",\s*\"source\",\s*\"video\"",
                   r"\(\s*\"mean\",\s*\"max\",\s*\"median\"", r"\(\s*\"adam\",\s*\"adamw\"",
                   r"\"video_auc\":\s*\(\"video_auc\""],
    "extension list": [r"[({\[]\s*\"\.mp4\"", r"[({\[]\s*\"\.png\",\s*\"\.jpg\""],
    "FF++ family": [r"\"FF-NT\",\s*\"FaceShifter\",\s*\"DeepFakeDetection\"", r"\(\s*\"raw\",\s*\"c23\",\s*\"c40\""],
}  # fmt: skip
_HOMES = {"training/config/choices.py", "fbi_common/media.py", "fbi_common/datasets.py"}


def test_shared_lists_are_defined_once():
    found = []
    for folder in ("training", "preprocessing", "fbi_common", "analysis", "benchmarks"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            rel = path.relative_to(REPO_ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            found += [f"{rel}: {what}" for what, pats in _COPIES.items() for p in pats
                      if rel not in _HOMES and re.search(p, text)]  # fmt: skip
    assert not found, f"import these from their one home instead: {found}"


def test_ff_family_facts_agree_between_training_and_preprocessing():
    from preprocessing.fbi_prep.adapters import family_folder, get_adapter
    from preprocessing.fbi_prep.adapters.ff import JSON_NAMES

    assert {n for names in JSON_NAMES.values() for n in names} == set(datasets.FF_FAMILY)
    for name in datasets.FF_FAMILY:
        assert get_adapter(name).name == datasets.FF_ROOT
        assert family_folder(name) == family_folder(name + datasets.C40_SUFFIX) == datasets.FF_ROOT
        assert datasets.dataset_folder(name) == datasets.FF_ROOT
    assert datasets.dataset_folder("Celeb-DF-v2") == family_folder("Celeb-DF-v2_c40") == "Celeb-DF-v2"


def test_media_kinds():
    assert media.is_image("a/B.PNG") and media.is_video("clip.MP4") and not media.is_image("x.npy")
    assert not set(media.IMAGE_EXTS) & set(media.VIDEO_EXTS)
    assert all(e == e.lower() and e.startswith(".") for e in media.IMAGE_EXTS + media.VIDEO_EXTS)
