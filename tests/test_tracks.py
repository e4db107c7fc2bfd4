"""Face tracks: linking rules, and a two-person clip whose people swap size halfway (largest switches
identity, track does not), through preprocess.py's pipeline and the demo's Detector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fbi_common.face import Face, FaceEngine
from fbi_common.face.tracks import identity_switches, link_tracks, smooth_landmarks
from preprocessing.fbi_prep.ledger import Ledger
from preprocessing.fbi_prep.rearrange import write_jsons
from preprocessing.fbi_prep.runner import run
from preprocessing.fbi_prep.settings import load_section
from tests.media_fixtures import StubMember, swap_clip


def _f(x: int, y: int, side: int) -> Face:
    return Face((x - side // 2, y - side // 2, x + side // 2, y + side // 2))


def test_linking_follows_place_not_size_and_orders_longest_first():
    dets = {0: [_f(100, 100, 120), _f(400, 100, 60)], 1: [_f(105, 102, 60), _f(398, 99, 120)],
            2: [_f(110, 100, 60)], 3: [_f(700, 300, 50)]}  # fmt: skip
    tracks = link_tracks(dets)
    assert [t.frames for t in tracks] == [[0, 1, 2], [0, 1], [3]] and [t.id for t in tracks] == [0, 1, 2]
    assert identity_switches([0, 1, 1, 0]) == 2 and identity_switches([3, 3]) == 0


def test_reid_refuses_a_different_person_at_the_same_place_and_rejoins_a_lost_one():
    a, b = np.zeros(128), np.full(128, 0.1)  # descriptor distance 1.13 > 0.6: two people
    dets = {0: [_f(100, 100, 80)], 1: [_f(100, 100, 80)], 2: [_f(500, 100, 80)]}
    tracks = link_tracks(dets, {0: [a], 1: [b], 2: [a + 0.01]})
    assert sorted(t.frames for t in tracks) == [[0, 2], [1]]


def test_smoothing_averages_landmarks_over_the_track():
    dets = {i: [_f(100, 100, 80)] for i in range(3)}
    (track,) = link_tracks(dets)
    for i, v in zip(range(3), (0.0, 3.0, 0.0), strict=True):
        track.faces[i].landmarks = np.full((68, 2), v, np.float32)
    smooth_landmarks(track, 3)
    assert [float(track.faces[i].landmarks[0, 0]) for i in range(3)] == [1.5, 1.0, 1.5]


@pytest.fixture(scope="module")
def swap(tmp_path_factory):
    root = tmp_path_factory.mktemp("swap")
    raw = root / "raw"
    raw.mkdir()
    swap_clip(raw / "swap.mp4", n_frames=8)
    (raw / "labels.csv").write_text("path,label,split\nswap.mp4,fake,train\n")
    return root


def _prep(root, policy: str) -> dict:
    cfg = load_section("preprocess") | {"dataset": "custom", "root": str(root / "raw"), "workers": 1,
                                        "num_frames": 8, "out": str(root / policy), "face_policy": policy}  # fmt: skip
    run(cfg, FaceEngine("hog", "auto", 640, (0, 1)))
    return Ledger(root / policy / "raw/preprocess_ledger.jsonl").records["swap.mp4"]


def test_largest_switches_identity_and_says_so_track_keeps_one_person(swap):
    rec = _prep(swap, "largest")
    assert rec["status"] == "ok" and rec["identity_switches"] == 1 and rec["tracks_used"] == [0, 1]
    rec = _prep(swap, "track")
    assert rec["status"] == "ok" and rec["n_tracks"] == 2
    assert rec["tracks"] == [{"id": 0, "frames": 8, "coverage": 1.0}] and rec["outputs"] == ["frames/swap"]
    rec = _prep(swap, "tracks")
    assert rec["outputs"] == ["frames/swap_t0", "frames/swap_t1"] and len(rec["tracks"]) == 2
    for k in (0, 1):
        assert len(list((swap / "tracks/raw/frames" / f"swap_t{k}").glob("*.png"))) == 8
    # rearrange keeps each track as its own video of the source's label and split.
    cfg = load_section("rearrange") | {"dataset": "custom", "root": str(swap / "raw"), "name": "raw",
                                       "rgb_dir": str(swap / "tracks"), "out": str(swap / "json")}  # fmt: skip
    write_jsons(cfg)
    doc = json.loads((swap / "json/raw.json").read_text())
    assert set(doc["raw"]["raw_fake"]["train"]) == {"swap_t0", "swap_t1"}
    assert doc["_preprocessing"]["face_policy"] == "tracks" and doc["_preprocessing"]["size"] == 256


def test_demo_scores_both_people_as_two_tracks(swap):
    from training.inference import Detector

    member = StubMember(prob=0.7)
    res = Detector([member], num_frames=8).predict(swap / "raw/swap.mp4")
    assert [t["n_frames"] for t in res["tracks"]] == [8, 8] and res["n_faces"] == 16
    sides = [{(f["box"][0] + f["box"][2]) / 2 < 320 for f in t["frames"]} for t in res["tracks"]]
    assert sorted(map(sorted, sides)) == [[False], [True]]  # each track stays with its person's side
    assert res["verdict"] == "fake" and res["score"] == pytest.approx(0.7)
