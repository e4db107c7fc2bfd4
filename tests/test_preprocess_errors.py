"""Bad inputs on the preprocessing side (labels.csv, --root, ledgers, configs, JSONs, LMDBs): one clear error
each; rearrange says which source videos it left out and when a split or class is empty. Small custom datasets
get a seeded split that keeps both classes in val and test (test_preprocess_splits.py). The command lines:
test_preprocess_cli_errors.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from fbi_common.errors import DataError, FBIError
from preprocessing.fbi_prep.adapters import LayoutError, get_adapter
from preprocessing.fbi_prep.adapters.base import find_videos
from preprocessing.fbi_prep.adapters.custom import read_labels
from preprocessing.fbi_prep.doctor import diagnose
from preprocessing.fbi_prep.ledger import Ledger
from preprocessing.fbi_prep.lmdb_io import write_lmdb
from preprocessing.fbi_prep.rearrange import write_jsons
from preprocessing.fbi_prep.settings import SettingsError, load_section, resolve_settings

REPO = Path(__file__).resolve().parents[1]
PNG = cv2.imencode(".png", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()


def _labels(root: Path, rows: list[str], header: str = "path,label") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for row in rows:
        rel = row.split(",")[0]
        if rel and not rel.startswith(("/", "..")):
            (root / rel.replace("\\", "/")).parent.mkdir(parents=True, exist_ok=True)
            (root / rel.replace("\\", "/")).write_bytes(b"\x00")
    path = root / "labels.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _processed(rgb: Path, name: str, rels: dict[str, str]) -> None:
    """Frames for each custom video `rel` and a ledger record with status `rels[rel]` ('' = no record)."""
    ledger = Ledger(rgb / name / "preprocess_ledger.jsonl")
    for rel, status in rels.items():
        stem = Path(rel).with_suffix("")
        out = f"{stem.parent.as_posix()}/frames/{stem.name}".lstrip("./")
        if status in ("ok", "partial"):
            d = rgb / name / out
            d.mkdir(parents=True, exist_ok=True)
            for i in (0, 5):
                (d / f"{i:03d}.png").write_bytes(PNG)
        if status:
            ledger.append(
                {"video": rel, "status": status, "settings_hash": "h", "error": None, "outputs": [out]}
            )


def _rearrange(tmp_path: Path, root: Path, **kw) -> dict:
    cfg = load_section("rearrange") | {"rgb_dir": str(tmp_path / "rgb"), "out": str(tmp_path / "json")}
    write_jsons(cfg | {"dataset": "custom", "root": str(root)} | kw)
    return json.loads((tmp_path / "json" / f"{root.name}.json").read_text())


# ---- rearrange: nothing left out silently -----------------------------------------------------------


def test_rearrange_lists_every_source_video_without_a_finished_record(tmp_path, fbi_log):
    root = tmp_path / "Mine"
    rows = ["a.mp4,real,train", "b.mp4,fake,train", "c.mp4,real,test", "d.mp4,fake,test", "e.mp4,1,val"]
    _labels(root, rows, "path,label,split")
    _processed(
        tmp_path / "rgb",
        "Mine",
        {"a.mp4": "ok", "b.mp4": "no_face", "c.mp4": "", "d.mp4": "ok", "e.mp4": "ok"},
    )
    doc = _rearrange(tmp_path, root)["Mine"]
    assert set(doc["Mine_fake"]["train"]) == set() and set(doc["Mine_real"]["test"]) == set()
    text = fbi_log.text
    assert "2 of 5 source video(s)" in text and "b.mp4: no_face" in text and "c.mp4: not_run" in text
    report = json.loads((tmp_path / "rgb" / "Mine" / "rearrange_report.json").read_text())
    assert [m["video"] for m in report["unfinished_sources"]] == ["b.mp4", "c.mp4"]
    assert "Mine: the train split has only real videos (1)" in text
    assert "Mine: the test split has only fake videos (1)" in text


def test_rearrange_warns_when_a_class_is_missing(tmp_path, fbi_log):
    root = tmp_path / "Reals"
    rows = [f"r{i}.mp4,real" for i in range(4)]
    _labels(root, rows)
    _processed(tmp_path / "rgb", "Reals", {r.split(",")[0]: "ok" for r in rows})
    _rearrange(tmp_path, root)
    assert "Reals has no fake videos at all" in fbi_log.text
    assert "the train split has no fake videos" in fbi_log.text


def test_rearrange_without_processed_output_says_what_to_run(tmp_path):
    root = tmp_path / "Never"
    _labels(root, ["a.mp4,real"])
    with pytest.raises(LayoutError, match=r"Never does not exist; run preprocess.py"):
        _rearrange(tmp_path, root)


# ---- labels.csv ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "rows", "want"),
    [
        (
            "path,label",
            ["a.mp4,maybe", "b.mp4,2"],
            r"(?s)2 bad rows.*line 2: label 'maybe'.*line 3: label '2'",
        ),
        ("file,class", ["a.mp4,real"], r"missing column\(s\) \['label', 'path'\]"),
        ("path,label", ["a.mp4,real", "./a.mp4,fake"], r"line 3: a.mp4 listed twice \(first on line 2\)"),
        ("path,label", ["../outside.mp4,real"], "must be relative to the dataset folder"),
        ("path,label", ["/elsewhere/x.mp4,real"], "must be relative to the dataset folder"),
        ("path,label,split", ["a.mp4,real,holdout"], "split 'holdout' must be train/val/test"),
        ("path,label", [], "lists no videos"),
        ("path,label", ["a.mp4,real,extra"], "more fields than the header"),
    ],
)
def test_labels_csv_problems_name_the_line_and_the_fix(tmp_path, header, rows, want):
    path = _labels(tmp_path / "raw", rows, header)
    with pytest.raises(LayoutError, match=want) as e:
        read_labels(path, tmp_path / "raw")
    assert isinstance(e.value, FBIError)


def test_labels_csv_accepts_windows_paths_absolute_paths_inside_and_any_header_case(tmp_path):
    raw = tmp_path / "raw"
    path = _labels(raw, ["sub\\a.mp4,REAL", f"{raw}/b.mp4, fake "], "Path,Label")
    assert {k: v["label"] for k, v in read_labels(path, raw).items()} == {
        "sub/a.mp4": "real",
        "b.mp4": "fake",
    }
    path.write_bytes(b"path,label\n\xff\xfe.mp4,real\n")
    with pytest.raises(LayoutError, match="not UTF-8"):
        read_labels(path, raw)


def test_labels_csv_paths_that_do_not_exist(tmp_path, fbi_log):
    raw = tmp_path / "raw"
    _labels(raw, ["a.mp4,real"])
    (raw / "labels.csv").write_text("path,label\nA.mp4,real\nnope.mp4,fake\n")
    cfg = load_section("preprocess") | {"dataset": "custom", "root": str(raw)}
    with pytest.raises(LayoutError, match=r"none of the 2 paths in .*labels.csv exists under"):
        get_adapter("custom").list_videos(raw, cfg)
    (raw / "labels.csv").write_text("path,label\na.mp4,real\nnope.mp4,fake\n")
    jobs = get_adapter("custom").list_videos(raw, cfg)
    assert len(jobs) == 2 and "1 path(s) in" in fbi_log.text and "nope.mp4" in fbi_log.text


# ---- --root, folders, ledgers, settings -------------------------------------------------------------


def test_root_that_is_missing_a_file_or_unreadable(tmp_path, monkeypatch):
    ad = get_adapter("UADFV")
    with pytest.raises(LayoutError, match=r"--root .*nowhere does not exist; expected the UADFV dataset"):
        ad.list_videos(tmp_path / "nowhere", {})
    (tmp_path / "file.mp4").write_bytes(b"x")
    with pytest.raises(LayoutError, match="is a file, not a folder"):
        ad.list_videos(tmp_path / "file.mp4", {})
    (tmp_path / "real" / "locked").mkdir(parents=True)
    real_walk = os.walk

    def walk(top, onerror=None, **kw):  # what os.walk does with a folder it may not list (we run as root)
        for item in real_walk(top, onerror=onerror, **kw):
            if item[0].endswith("locked"):
                onerror(PermissionError(13, "Permission denied", item[0]))
                continue
            yield item

    monkeypatch.setattr(os, "walk", walk)
    with pytest.raises(LayoutError, match=r"cannot list 1 folder\(s\).*locked \(Permission denied\)"):
        find_videos(tmp_path)


def test_ledger_ignores_foreign_lines_and_settings_errors_are_fbi_errors(tmp_path, fbi_log):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"video": "a.mp4", "status": "ok"}\n[1, 2]\n{"status": "ok"}\n{"video": "b.mp4", "sta')
    assert list(Ledger(path).records) == ["a.mp4"]
    assert len({m for m in fbi_log.messages if "ignoring it" in m}) == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("rearrange: [unclosed\n")
    with pytest.raises(SettingsError, match=r"cannot read the config file .*bad.yaml") as e:
        resolve_settings("rearrange", {"config": str(bad)})
    assert isinstance(e.value, FBIError)


def test_dataset2lmdb_on_a_missing_folder_lists_what_there_is(tmp_path):
    (tmp_path / "rgb" / "UADFV").mkdir(parents=True)
    cfg = load_section("dataset2lmdb") | {
        "rgb_dir": str(tmp_path / "rgb"),
        "lmdb_dir": str(tmp_path / "lmdb"),
    }
    with pytest.raises(DataError, match=r"rgb/Nope does not exist \(datasets in .*: \['UADFV'\]\)"):
        write_lmdb(cfg | {"dataset": "Nope"})
    with pytest.raises(DataError, match="no frames/landmarks/masks files under"):
        write_lmdb(cfg | {"dataset": "UADFV"})


def test_doctor_on_broken_json_and_broken_dataset(tmp_path):
    js, rgb = tmp_path / "json", tmp_path / "rgb"
    js.mkdir()
    cfg = load_section("doctor") | {"json_folder": str(js), "rgb_dir": str(rgb), "dataset": "UADFV"}
    (js / "UADFV.json").write_text('{"UADFV": {"UADFV_Real": {"train": {')
    with pytest.raises(DataError, match=r"UADFV.json: invalid JSON at line 1"):
        diagnose(cfg)
    with pytest.raises(DataError, match=r"did you mean 'UADFV'"):
        diagnose(cfg | {"dataset": "uadfv"})
    frames = ["UADFV/real/frames/0000/000.png", "UADFV/real/frames/0000/001.png"]
    (rgb / "UADFV/real/frames/0000").mkdir(parents=True)
    (rgb / frames[0]).write_bytes(PNG)
    (rgb / "UADFV/real/landmarks/0000").mkdir(parents=True)
    np.save(rgb / "UADFV/real/landmarks/0000/000.npy", np.zeros((68, 3), np.float32))
    info = {"0000": {"label": "UADFV_Real", "frames": frames}}
    (js / "UADFV.json").write_text(json.dumps({"UADFV": {"UADFV_Real": {"test": info}}}))
    report = diagnose(cfg)
    text = report.text()
    assert not report.ok and "001.png missing" in text and "shape (68, 3); expected (K, 2)" in text


def test_unknown_dataset_and_unwritable_output(tmp_path):
    with pytest.raises(
        LayoutError, match=r"unknown --dataset 'celeb-df-v2' \(did you mean 'Celeb-DF-v2'\?\)"
    ):
        get_adapter("celeb-df-v2")
    from fbi_common.io import WriteError
    from preprocessing.fbi_prep.runner import run

    raw = tmp_path / "Mine"
    _labels(raw, ["a.mp4,real"])
    (tmp_path / "taken").write_text("a file where the output folder should go")
    cfg = load_section("preprocess") | {"dataset": "custom", "root": str(raw), "out": str(tmp_path / "taken")}
    with pytest.raises(WriteError, match=r"cannot write to the output folder .*taken/Mine"):
        run(cfg)
