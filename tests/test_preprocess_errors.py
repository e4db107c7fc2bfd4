"""Bad inputs on the preprocessing side (labels.csv, --root, ledgers, configs, JSONs, LMDBs) and the metrics
CLI: one clear error each; rearrange says which source videos it left out and when a split or class is
empty; small custom datasets get a seeded split that keeps both classes in val and test."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
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
from preprocessing.fbi_prep.splits import stratified_split

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


# ---- seeded split that keeps both classes -----------------------------------------------------------


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


# ---- the command lines: exit 2, one error: line, no traceback ---------------------------------------


def _cli(args: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run a command line from `cwd` (scripts given relative to the repo, which is also importable)."""
    args = [str(REPO / a) if a.endswith(".py") else a for a in args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_preprocessing_clis_exit_2_with_one_error_line(tmp_path):
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "X.json").write_text('{"X": ')
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "labels.csv").write_text("path,label\na.mp4,perhaps\n")
    cases = [
        (["preprocessing/preprocess.py", "--dataset", "custom", "--root", str(tmp_path / "nope")], "does not exist"),
        (["preprocessing/rearrange.py", "--dataset", "custom", "--root", str(tmp_path / "bad"), "--rgb_dir",
          str(tmp_path)], "label 'perhaps' must be real/fake"),
        (["preprocessing/dataset2lmdb.py", "--dataset", "Nope", "--rgb_dir", str(tmp_path)], "Nope does not exist"),
        (["preprocessing/doctor.py", "--dataset", "X", "--json_folder", str(tmp_path / "json")], "invalid JSON"),
    ]  # fmt: skip
    for args, want in cases:
        p = _cli(args, cwd=tmp_path)
        out = p.stdout + p.stderr
        assert p.returncode == 2 and "Traceback" not in out, (args, out)
        errors = [line for line in p.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and want in errors[0] and str(tmp_path) in errors[0], (args, out)


def test_preprocess_of_videos_that_are_not_videos_stops_with_an_error(tmp_path):
    raw = tmp_path / "Junk"
    _labels(raw, ["a.mp4,real", "b.mp4,fake"])
    (raw / "a.mp4").write_text("this is not a video")
    p = _cli(["preprocessing/preprocess.py", "--dataset", "custom", "--root", str(raw), "--out",
              str(tmp_path / "rgb"), "--workers", "1"])  # fmt: skip
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert (
        "error: none of the 2 videos could be processed" in p.stderr and "preprocess_ledger.jsonl" in p.stderr
    )


def test_metrics_cli_refuses_bad_csvs_and_shows_undefined_metrics_as_na(tmp_path):
    good = "video_key,frame,label,prob\nv1,v1/0.png,0,0.2\nv2,v2/0.png,1,0.9\n"
    cases = {
        "missing.csv": ("video_key,frame,label\nv1,f,0\n", r"missing column(s) ['prob']"),
        "words.csv": (
            "video_key,frame,label,prob\nv1,f,0,high\n",
            "line 2: column 'prob' must be a probability",
        ),
        "labels.csv": ("video_key,frame,label,prob\nv1,f,real,0.5\n", "column 'label' must be 0 (real) or 1"),
        "empty.csv": ("video_key,frame,label,prob\n", "no samples to evaluate"),
    }
    for name, (text, want) in cases.items():
        (tmp_path / name).write_text(text)
        p = _cli(["-m", "training.metrics", str(tmp_path / name)])
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.count("error: ") == 1 and want in p.stderr and name in p.stderr, p.stderr
    (tmp_path / "val.csv").write_text("video_key,frame,label,prob\nv1,f,1,0.7\n")
    (tmp_path / "good.csv").write_text(good)
    p = _cli(
        ["-m", "training.metrics", str(tmp_path / "good.csv"), "--threshold-from", str(tmp_path / "val.csv")]
    )
    assert p.returncode == 2 and "--threshold-from" in p.stderr and "both classes" in p.stderr
    (tmp_path / "one.csv").write_text("video_key,frame,label,prob\nv1,f,1,0.7\nv2,g,1,0.4\n")
    p = _cli(["-m", "training.metrics", "one.csv"], cwd=tmp_path)  # from another directory, relative path
    assert p.returncode == 0, p.stderr
    assert "n/a" in p.stdout and "nan" not in p.stdout.lower() and "only one class" in p.stdout
    assert str(tmp_path / "one.csv") in p.stdout


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
