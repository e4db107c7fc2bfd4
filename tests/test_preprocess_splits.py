"""Seeded splits that keep both classes: the stratified identity split, small custom datasets through
rearrange, and the Celeb-DF validation hold-out."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from preprocessing.fbi_prep.rearrange import write_jsons
from preprocessing.fbi_prep.settings import load_section
from preprocessing.fbi_prep.splits import stratified_split
from tests.test_preprocess_errors import PNG, _labels, _processed, _rearrange


def _per_split(groups: dict[str, set[int]], split_of: dict[str, str]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {"train": set(), "val": set(), "test": set()}
    for g, s in split_of.items():
        out[s] |= groups[g]
    return out


@pytest.mark.parametrize("n_real, n_fake", [(3, 3), (5, 5), (3, 12), (40, 60)])
def test_stratified_split_gives_every_split_both_classes_when_possible(n_real, n_fake):
    groups = {f"r{i}": {0} for i in range(n_real)} | {f"f{i}": {1} for i in range(n_fake)}
    split_of, problems = stratified_split(groups, 1024, 0.1, 0.1)
    assert problems == [] and set(split_of) == set(groups)  # every group in exactly one split
    assert all(v == {0, 1} for v in _per_split(groups, split_of).values())
    assert stratified_split(groups, 1024, 0.1, 0.1)[0] == split_of  # seeded: the same every run
    if n_real + n_fake == 100:
        assert sum(s == "test" for s in split_of.values()) == 10


def test_stratified_split_says_when_the_data_cannot_fill_every_split():
    groups = {"r0": {0}, "r1": {0}, "f0": {1}, "f1": {1}, "f2": {1}}
    split_of, problems = stratified_split(groups, 7, 0.1, 0.1)
    per = _per_split(groups, split_of)
    assert per["train"] == per["test"] == {0, 1}  # train first, then test
    assert len(problems) == 1 and "val split has no real videos" in problems[0]
    mixed = {f"id{i}": {0, 1} for i in range(3)}  # identities with both real and fake videos
    assert all(v == {0, 1} for v in _per_split(mixed, stratified_split(mixed, 0, 0.1, 0.1)[0]).values())


def test_small_custom_dataset_gets_val_and_test_with_both_classes(tmp_path, fbi_log):
    fbi_log.set_level(logging.INFO, logger="fbi")
    root = tmp_path / "Tiny"
    rows = [f"real/r{i}.mp4,real" for i in range(3)] + [f"fake/f{i}.mp4,fake" for i in range(3)]
    _labels(root, rows)
    _processed(tmp_path / "rgb", "Tiny", {r.split(",")[0]: "ok" for r in rows})
    doc = _rearrange(tmp_path, root)["Tiny"]
    for split in ("train", "val", "test"):
        assert len(doc["Tiny_real"][split]) == 1 and len(doc["Tiny_fake"][split]) == 1, split
    assert "seeded split" in fbi_log.text


def test_celebdf_validation_holdout_keeps_both_classes(tmp_path):
    raw, rgb = tmp_path / "raw", tmp_path / "rgb"
    names = [f"Celeb-real/id{i}_0000.mp4" for i in range(4)] + [
        f"Celeb-synthesis/id{i}_id9_0000.mp4" for i in range(4)
    ]
    for rel in names:
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_bytes(b"\x00")
        d = rgb / "Celeb-DF-v2" / Path(rel).parent / "frames" / Path(rel).stem
        d.mkdir(parents=True)
        (d / "000.png").write_bytes(PNG)
    (raw / "List_of_testing_videos.txt").write_text(
        "1 Celeb-real/id3_0000.mp4\n0 Celeb-synthesis/id3_id9_0000.mp4\n"
    )
    cfg = load_section("rearrange") | {"rgb_dir": str(rgb), "out": str(tmp_path / "json")}
    write_jsons(cfg | {"dataset": "Celeb-DF-v2", "root": str(raw)})
    top = json.loads((tmp_path / "json" / "Celeb-DF-v2.json").read_text())["Celeb-DF-v2"]
    for split in ("train", "val", "test"):
        assert top["CelebDFv2_real"][split] and top["CelebDFv2_fake"][split], split
    val_ids = {v.split("_")[0] for lbl in top.values() for v in lbl["val"]}
    train_ids = {v.split("_")[0] for lbl in top.values() for v in lbl["train"]}
    assert len(val_ids) == 1 and not val_ids & train_ids  # identity-disjoint
