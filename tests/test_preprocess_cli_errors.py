"""The preprocessing command lines and `python -m training.metrics` on bad inputs: exit 2, one `error:` line
naming the file and the fix, no traceback; undefined metrics print `n/a`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.test_preprocess_errors import REPO, _labels


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
