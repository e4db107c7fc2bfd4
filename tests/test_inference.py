"""Inference: every face of a group photo, ensemble rules on hand-made scores, checkpoint-bound face
settings, `demo.py --output` on real photos and broken files, and `--no-detect` equal to test.py."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

from tests.conftest import REPO, tiny_opts
from tests.media_fixtures import StubMember, group_photo, swap_clip, tiny_checkpoint
from training.inference import Detector, combine
from training.inference.ensemble import frame_score, verdict, video_score
from training.inference.face_settings import resolve


def test_every_face_of_a_group_photo_is_found_and_scored():
    img, boxes = group_photo()
    member = StubMember(prob=0.2)
    res = Detector([member]).predict(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), name="group")
    found = [f["box"] for t in res["tracks"] for f in t["frames"]]
    assert res["n_faces"] == len(boxes) == 8 and len(member.crops) == 8
    for b in boxes:  # each pasted face has exactly one detection centred inside it
        inside = [f for f in found if b[0] <= (f[0] + f[2]) / 2 <= b[2] and b[1] <= (f[1] + f[3]) / 2 <= b[3]]
        assert len(inside) == 1, (b, found)
    assert res["verdict"] == "real" and res["score"] == pytest.approx(0.2)


def test_ensemble_rules_on_hand_made_member_scores():
    p = [[0.9, 0.2, 0.6, 0.4], [0.7, 0.1, 0.2, 0.3], [0.2, 0.3, 0.9, 0.9]]
    s, t = combine(p, [0.5, 0.5, 0.5], "mean")
    np.testing.assert_allclose(s, [0.6, 0.2, 17 / 30, 1.6 / 3])
    assert t == pytest.approx(0.5)
    s, t = combine(p, [0.5, 0.5, 0.5], "mean", weights=[2, 1, 1])
    np.testing.assert_allclose(s, [0.675, 0.2, 0.575, 0.5])
    assert t == pytest.approx(0.5)
    s, t = combine(p, [0.4, 0.6, 0.6], "mean", weights=[2, 1, 1])
    assert t == pytest.approx(0.5)  # judged at the same weighted mean of the members' thresholds
    # Majority vote at each member's own threshold: member 2 is strict (0.8), member 3 lenient (0.25).
    s, t = combine(p, [0.5, 0.8, 0.25], "vote")
    np.testing.assert_allclose(s, [1 / 3, 1 / 3, 2 / 3, 1 / 3])
    assert t == 0.5
    # A tie (2 members, one vote each) goes to the mean probability against the mean threshold.
    s, t = combine([[0.9, 0.6], [0.1, 0.2]], [0.5, 0.5], "vote")
    np.testing.assert_allclose(s, [0.5, 0.45])
    assert [verdict(x, t) for x in s] == ["fake", "real"]
    with pytest.raises(ValueError, match="weights"):
        combine(p, [0.5] * 3, "mean", weights=[1, 1])
    assert frame_score([0.1, 0.8]) == 0.8 and frame_score([0.1, 0.8], "mean") == pytest.approx(0.45)
    assert video_score([0.2, None, 0.4]) == pytest.approx(0.3) and video_score([None]) is None
    assert verdict(0.03, 0.5) == "real" and verdict(0.5, 0.5) == "fake" and verdict(None, 0.5) == "error"


def test_checkpoint_face_settings_are_used_and_a_flag_override_warns(caplog):
    trained = {
        "detector": "hog",
        "size": 192,
        "scale": 1.25,
        "image_format": "jpg",
        "landmark_model": "dlib_68",
    }
    with caplog.at_level(logging.WARNING, logger="fbi"):
        logging.getLogger("fbi").propagate = True
        s = resolve(trained, {"size": None, "scale": 1.4})
    assert s["size"] == 192 and s["scale"] == 1.4 and s["image_format"] == "jpg"
    assert "--scale 1.4 overrides the training value 1.25" in caplog.text
    member = StubMember(face_settings=trained)
    Detector([member]).predict(data.astronaut())
    assert member.crops[0].shape == (192, 192, 3)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pth", threshold=0.6)


def _media(folder):
    cv2.imwrite(str(folder / "astronaut.png"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    group_photo(folder / "group.jpg")
    swap_clip(folder / "swap.mp4", n_frames=4)
    noface = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (320, 240))
    w = cv2.VideoWriter(str(folder / "noface.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for _ in range(4):
        w.write(noface)
    w.release()
    (folder / "notes.mp4").write_text("this is a text file, not a video\n")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)


def test_demo_output_json_per_face_per_frame_and_per_file_errors(ckpt, ckpt2, tmp_path):
    media, out = tmp_path / "media", tmp_path / "out"
    media.mkdir()
    _media(media)
    cmd = [sys.executable, "training/demo.py", "--weights_path", str(ckpt), str(ckpt2), "--input", str(media),
           "--out", str(out), "--output", str(tmp_path / "result.json"), "--num_frames", "4", "--ensemble", "vote"]  # fmt: skip
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr[-3000:]
    doc = json.loads((tmp_path / "result.json").read_text())
    assert (
        doc["rules"] == {"frame": "max", "video": "mean", "ensemble": "vote"} and len(doc["checkpoints"]) == 2
    )
    res = {r["path"].rsplit("/", 1)[-1]: r for r in doc["results"]}
    assert res["group.jpg"]["n_faces"] == 8 and len(res["group.jpg"]["tracks"]) == 8
    assert res["astronaut.png"]["n_faces"] == 1 and res["astronaut.png"]["verdict"] in ("real", "fake")
    swap = res["swap.mp4"]
    assert swap["kind"] == "video" and len(swap["tracks"]) == 2 and swap["n_frames"] == 4
    for f in swap["frames"]:
        scores = [fr["score"] for t in swap["tracks"] for fr in t["frames"] if fr["frame"] == f["frame"]]
        assert f["score"] == pytest.approx(max(scores)) and not f["no_face"]
    assert swap["score"] == pytest.approx(np.mean([f["score"] for f in swap["frames"]]))
    assert len(swap["members"]) == 2 and all(len(fr["members"]) == 2 for fr in swap["tracks"][0]["frames"])
    nf = res["noface.mp4"]
    assert nf["verdict"] == "error" and "no face" in nf["error"] and all(f["no_face"] for f in nf["frames"])
    assert res["notes.mp4"]["verdict"] == "error" and "cannot open" in res["notes.mp4"]["error"]
    assert res["corrupt.jpg"]["verdict"] == "error" and "ends early" in res["corrupt.jpg"]["error"]
    csv_text = (out / "scores.csv").read_text()
    assert csv_text.count("\n") == 7 and (out / "result.json").is_file()
    assert (out / "group_scored.png").is_file() and (out / "swap_scored.png").is_file()
    assert not (out / "noface_scored.png").exists()


@pytest.fixture(scope="module")
def ckpt2(tmp_path_factory):
    import torch

    torch.manual_seed(1)
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt2") / "tiny2.pth", threshold=0.4)


def test_no_detect_equals_test_py_and_test_py_ensembles(ckpt, ckpt2, demo_data, tmp_path):
    """Frames already in a dataset: the Detector (demo.py's code path) with detect off gives test.py's scores."""
    from training.metrics.io import read_predictions_csv
    from training.test import main as test_main

    yaml = "training/config/detector/clip_demo.yaml"
    opts = tiny_opts(demo_data, tmp_path / "logs", "t")
    assert test_main(["--detector_path", yaml, "--weights_path", str(ckpt), "--out", str(tmp_path / "one"),
                      "--opts", *opts]) == 0  # fmt: skip
    pred = read_predictions_csv(tmp_path / "one/FBI-Demo/predictions.csv")
    d = Detector.from_checkpoint(ckpt, detect=False)
    got = [d.predict(demo_data["rgb_dir"] / f)["score"] for f in pred["frame"]]
    np.testing.assert_allclose(got, pred["prob"], atol=1e-5)
    assert test_main(["--detector_path", yaml, "--weights_path", str(ckpt), str(ckpt2), "--ensemble", "mean",
                      "--out", str(tmp_path / "ens"), "--opts", *opts]) == 0  # fmt: skip
    ens = read_predictions_csv(tmp_path / "ens/FBI-Demo/predictions.csv")
    np.testing.assert_allclose(
        ens["prob"], (np.asarray(ens["prob_0"], float) + np.asarray(ens["prob_1"], float)) / 2
    )
    np.testing.assert_allclose(np.asarray(ens["prob_0"], float), pred["prob"])
    metrics = json.loads((tmp_path / "ens/FBI-Demo/metrics.json").read_text())
    assert (
        metrics["ensemble"] == "mean"
        and metrics["threshold"] == pytest.approx(0.5)
        and "frame_auc" in metrics
    )


def test_face_like_patches_are_not_scored_as_faces():
    """skimage's astronaut: one face; HOG also fires (score ≈ 0) on her mission patch and name badge."""
    from skimage import data

    member = StubMember(prob=0.2)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    img = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)  # the JPEG the patch fires on
    res = Detector([member]).predict(img, name="astronaut")
    boxes = [f["box"] for t in res["tracks"] for f in t["frames"]]
    assert res["n_faces"] == 1 and len(boxes) == 1, boxes
    left, top, right, bottom = boxes[0]
    assert 150 <= (left + right) / 2 <= 300 and 50 <= (top + bottom) / 2 <= 210  # the face, not the patch


def test_a_cut_off_image_is_an_error_naming_the_file(tmp_path):
    from training.inference.media import MediaError, is_truncated, read_media

    img, _ = group_photo()
    for ext in (".jpg", ".png"):
        good = tmp_path / f"good{ext}"
        cv2.imwrite(str(good), img)
        cut = tmp_path / f"cut{ext}"
        cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        assert not is_truncated(good) and is_truncated(cut)
        assert read_media(good, 1)[0] == "image"
        with pytest.raises(MediaError, match=rf"{cut.name}: the image file ends early"):
            read_media(cut, 1)
