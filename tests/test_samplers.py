"""sampler: balanced gives 50/50 batches; paired keeps every fake's source real in its batch (also under DDP)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from training.dataset.index import VideoRecord
from training.dataset.pairing import pair_group, pair_group_of_key
from training.dataset.samplers import BalancedSampler, PairedSampler, build_train_sampler


def _dataset(videos: list[tuple[str, str, int]], frames: int = 3) -> SimpleNamespace:
    """A stand-in with the two attributes the samplers read: `records` and `items` (record, frame)."""
    records = [
        VideoRecord(
            "FaceForensics++",
            lab,
            y,
            "c23",
            v,
            "train",
            f"FaceForensics++/{lab}/c23/{v}",
            [f"{i}.png" for i in range(frames)],
        )
        for v, lab, y in videos
    ]
    items = [(ri, fi) for ri in range(len(records)) for fi in range(frames)]
    return SimpleNamespace(records=records, items=items)


FFPP = _dataset(
    [("000", "FF-real", 0), ("001", "FF-real", 0), ("002", "FF-real", 0), ("005", "FF-real", 0)]
    + [(v, m, 1) for m in ("FF-DF", "FF-F2F", "FF-FS", "FF-NT") for v in ("000_001", "001_000", "002_005")]
    + [("003_004", "FF-DF", 1)]  # its source real 003 is not in this split
)


def _batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order) - size + 1, size)]


def test_pair_groups_follow_ffpp_celebdf_and_patterns():
    rec = FFPP.records
    assert pair_group(rec[0]) == pair_group(next(r for r in rec if r.video == "000_001"))
    assert pair_group_of_key("Celeb-DF-v2/CelebDFv2_fake/id3_id7_0001") == pair_group_of_key(
        "Celeb-DF-v2/CelebDFv2_real/id3_0004"
    )
    assert pair_group_of_key("X/X_fake/clip-17-b", r"clip-(\d+)") == pair_group_of_key(
        "X/X_real/clip-17", r"clip-(\d+)"
    )
    with pytest.raises(ValueError, match="capture group"):
        pair_group(rec[0], r"\d+")


@pytest.mark.parametrize("world", [1, 2])
def test_balanced_batches_are_half_real_half_fake(world):
    labels = [FFPP.records[ri].label for ri, _ in FFPP.items]
    assert sum(labels) / len(labels) > 0.75  # 4 fakes per real, as in FF++
    seen = []
    for rank in range(world):
        s = BalancedSampler(FFPP, seed=3, num_replicas=world, rank=rank)
        s.set_epoch(1)
        order = list(s)
        assert len(order) == len(s)
        for batch in _batches(order, 8):
            assert sum(labels[i] for i in batch) == 4
        seen += order
    fake_share = sum(labels[i] for i in seen) / len(seen)
    assert fake_share == 0.5
    assert len(set(seen) & {i for i, y in enumerate(labels) if y == 0}) == 12  # every real frame is used


@pytest.mark.parametrize("world", [1, 2])
def test_paired_batches_hold_each_fakes_source_real(world):
    group = [pair_group(FFPP.records[ri]) for ri, _ in FFPP.items]
    label = [FFPP.records[ri].label for ri, _ in FFPP.items]
    has_real = {g for g, y in zip(group, label, strict=True) if y == 0}
    fakes_seen = set()
    for rank in range(world):
        s = PairedSampler(FFPP, seed=0, num_replicas=world, rank=rank)
        for epoch in (0, 1):
            s.set_epoch(epoch)
            for batch in _batches(list(s), 6):
                reals_here = {group[i] for i in batch if label[i] == 0}
                for i in batch:
                    if label[i] == 1 and group[i] in has_real:
                        assert group[i] in reals_here, (
                            f"fake {FFPP.records[FFPP.items[i][0]].key} without its real"
                        )
                        fakes_seen.add(i)
    assert len(fakes_seen) >= 0.8 * sum(
        1 for g, y in zip(group, label, strict=True) if y == 1 and g in has_real
    )


def test_build_train_sampler_checks_the_config():
    cfg = {"sampler": "paired", "train_batchSize": 7, "manualSeed": 0}
    with pytest.raises(ValueError, match="must be even"):
        build_train_sampler(FFPP, cfg, distributed=False)
    with pytest.raises(ValueError, match="not one of"):
        build_train_sampler(FFPP, {**cfg, "sampler": "weighted"}, distributed=False)
    assert build_train_sampler(FFPP, {**cfg, "sampler": "random"}, distributed=False) is None
    only_real = _dataset([("000", "FF-real", 0)])
    with pytest.raises(ValueError, match="real and fake"):
        build_train_sampler(
            only_real, {**cfg, "sampler": "balanced", "train_batchSize": 8}, distributed=False
        )


def test_every_sampler_choice_builds_and_the_schema_refuses_others():
    from training.config import choices, load_config
    from training.config.schema import ENUMS

    cfg = {"train_batchSize": 8, "manualSeed": 0}
    built = {k: type(build_train_sampler(FFPP, {**cfg, "sampler": k}, False)) for k in choices.SAMPLERS}
    assert built == {"random": type(None), "balanced": BalancedSampler, "paired": PairedSampler}
    assert ENUMS["sampler"] == choices.SAMPLERS
    with pytest.raises(Exception, match="did you mean 'paired'"):
        load_config("training/config/detector/clip_demo.yaml", None, ["sampler=pairde"])
