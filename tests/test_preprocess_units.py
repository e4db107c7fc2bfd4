"""Unit tests of the preprocessing building blocks: frame choice, alignment maths, ledger, settings, paths."""

from __future__ import annotations

import numpy as np
import pytest

from fbi_common.face import Face, align, choose_faces, face_models_dir, landmark_model_path
from fbi_common.video import VideoError, decode_selected, open_video, read_frames, select_indices
from preprocessing.fbi_prep import splits, synthetic
from preprocessing.fbi_prep.adapters.base import LayoutError, out_dir_for
from preprocessing.fbi_prep.adapters.custom import read_labels
from preprocessing.fbi_prep.doctor import landmark_key, to_key
from preprocessing.fbi_prep.ledger import Ledger
from preprocessing.fbi_prep.settings import SettingsError, build_parser, resolve_settings


def test_select_indices_even_and_stride():
    assert select_indices(100, "fixed_num_frames", 5, 1) == [0, 25, 50, 74, 99]
    assert select_indices(3, "fixed_num_frames", 8, 1) == [0, 1, 2]  # fewer frames than asked: all of them
    assert select_indices(25, "fixed_stride", 0, 10) == [0, 10, 20]
    assert select_indices(100, "fixed_stride", 2, 10) == [0, 10]
    assert select_indices(0, "fixed_num_frames", 4, 1) == []


def test_decode_selected_grab_and_seek_agree(tmp_path):
    path = synthetic.face_video(tmp_path / "v.mp4", n_frames=10, size=96)
    a = decode_selected(path, "fixed_num_frames", 4, 1, "grab")
    b = decode_selected(path, "fixed_num_frames", 4, 1, "seek")
    assert sorted(a.frames) == sorted(b.frames) == [0, 3, 6, 9]
    assert a.real_count == a.reported_count == 10
    for i in a.frames:
        np.testing.assert_array_equal(a.frames[i], b.frames[i])
    # Independently decode every frame and compare: the grab walk returns the right frames.
    cap = open_video(path)
    full = read_frames(cap, range(10), "grab")
    cap.release()
    for i in a.frames:
        np.testing.assert_array_equal(a.frames[i], full[i])


def test_bad_videos_raise_named_errors(tmp_path):
    with pytest.raises(VideoError, match="zero-byte"):
        open_video(synthetic.empty_video(tmp_path / "e.mp4"))
    with pytest.raises(VideoError, match="cannot open"):
        open_video(synthetic.corrupt_video(tmp_path / "c.mp4"))
    with pytest.raises(VideoError, match="not found"):
        open_video(tmp_path / "nope.mp4")


def _rotated_landmarks(angle_deg: float, centre=(150.0, 120.0), scale=1.4) -> np.ndarray:
    """A 68-point set whose eyes/nose/mouth sit on the template, rotated and scaled in the frame."""
    lm = np.zeros((68, 2))
    t = align.TEMPLATE_112
    lm[36:42], lm[42:48], lm[30], lm[48], lm[54] = t[0], t[1], t[2], t[3], t[4]
    a = np.radians(angle_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (lm - 56) @ r.T * scale + np.array(centre)


def test_alignment_levels_eyes_and_centres_face():
    lm = _rotated_landmarks(25.0)
    assert abs(align.eye_angle_deg(lm)) > 20
    m = align.similarity_matrix(align.five_points(lm), 256, 1.3)
    out = align.warp_points(lm, m)
    assert abs(align.eye_angle_deg(out)) < 0.5  # the template's own eye line is tilted by 0.32 degrees
    np.testing.assert_allclose(align.five_points(out), align.template(256, 1.3), atol=1e-3)
    # Scale 1.3 leaves a margin: the template's points span less of the crop than at scale 1.0.
    assert np.ptp(align.template(256, 1.3)[:, 0]) < np.ptp(align.template(256, 1.0)[:, 0])


def test_face_policy_largest_mask_all():
    small, big = Face((10, 10, 40, 40)), Face((100, 10, 200, 110))
    assert choose_faces([small, big], "largest")[0] == [big]
    mask = np.zeros((200, 300), np.uint8)
    mask[15:35, 15:35] = 255
    assert choose_faces([small, big], "mask", mask) == ([small], "mask")
    # An empty mask frame falls back to the largest face, and says so.
    assert choose_faces([small, big], "mask", np.zeros_like(mask)) == ([big], "largest")
    assert choose_faces([big, small], "all")[0] == [small, big]
    assert choose_faces([], "largest")[0] == []


def test_models_are_found_by_path_without_importing_the_package():
    assert (face_models_dir() / "shape_predictor_68_face_landmarks.dat").is_file()
    path, name = landmark_model_path("auto")
    assert path.is_file() and name in ("dlib_68", "dlib_81")


def test_ledger_resume_and_torn_line(tmp_path):
    led = Ledger(tmp_path / "l.jsonl")
    led.append({"video": "a.mp4", "status": "ok", "settings_hash": "h1"})
    led.append({"video": "b.mp4", "status": "unreadable", "settings_hash": "h1"})
    with open(tmp_path / "l.jsonl", "a") as f:
        f.write('{"video": "c.mp4", "sta')  # a kill -9 in the middle of a write
    again = Ledger(tmp_path / "l.jsonl")
    assert again.finished("a.mp4", "h1") and not again.finished("a.mp4", "h2")
    assert again.finished("b.mp4", "h1") and not again.finished("b.mp4", "h1", retry_failed=True)
    assert not again.finished("c.mp4", "h1")


def test_settings_cli_overrides_and_errors():
    p = build_parser("preprocess", "t")
    cfg = resolve_settings(
        "preprocess", p.parse_args(["--num_frames", "8", "--comp", "c23", "c40", "--no-masks"])
    )
    assert cfg["num_frames"] == 8 and cfg["comp"] == ["c23", "c40"] and cfg["masks"] is False
    with pytest.raises(SystemExit):
        p.parse_args(["--face_policy", "biggest"])
    with pytest.raises(SettingsError, match="stride"):
        resolve_settings("preprocess", {"stride": 0})


def test_path_flavours_normalise_to_rgb_keys(tmp_path):
    rgb = tmp_path / "datasets" / "rgb"
    want = "UADFV/real/frames/0000/000.png"
    assert to_key(want, rgb) == want
    assert to_key("UADFV\\real\\frames\\0000\\000.png", rgb) == want
    assert to_key("./datasets/rgb/UADFV/real/frames/0000/000.png", rgb) == want
    assert to_key(str(rgb / want), rgb) == want
    assert landmark_key(want) == "UADFV/real/landmarks/0000/000.npy"


def test_out_dir_rule_and_seeded_split_is_stable():
    assert out_dir_for("original_sequences/youtube/c23/videos/000.mp4") == "original_sequences/youtube/c23"
    assert out_dir_for("Celeb-real/id0_0000.mp4") == "Celeb-real"
    assert out_dir_for("clip.mp4") == ""
    got = [splits.seeded_split(f"id{i}", 1024, 0.1, 0.1) for i in range(400)]
    assert got == [splits.seeded_split(f"id{i}", 1024, 0.1, 0.1) for i in range(400)]
    frac = {s: got.count(s) / 400 for s in ("train", "val", "test")}
    assert 0.7 < frac["train"] < 0.9 and 0.04 < frac["val"] < 0.17 and 0.04 < frac["test"] < 0.17


def test_ff_split_files_shipped_and_complete():
    m = splits.ff_split_map()
    counts = {s: sum(1 for v in m.values() if v == s) for s in ("train", "val", "test")}
    # 360/70/70 pairs -> 720/140/140 real ids (+ the same number of a_b and b_a fakes each).
    assert counts == {"train": 720 * 2, "val": 140 * 2, "test": 140 * 2}
    assert m["953"] == m["953_974"] == m["974_953"] == "test"


def test_labels_csv_problems_are_all_reported(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text("path,label,split\na.mp4,real,\nb.mp4,maybe,\nc.mp4,1,holdout\na.mp4,0,\n")
    with pytest.raises(LayoutError) as e:
        read_labels(p)
    msg = str(e.value)
    assert "line 3" in msg and "line 4" in msg and "line 5" in msg
    p.write_text("file,label\na.mp4,real\n")
    with pytest.raises(LayoutError, match="path"):
        read_labels(p)
