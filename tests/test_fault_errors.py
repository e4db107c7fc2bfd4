"""Faults rather than bad input: --debug / FBI_DEBUG=1 show the traceback; a full disk or read-only folder is
one `error:` line naming the file (or one warning, for log.txt and TensorBoard), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(how, tmp_path):
    args = [sys.executable, "training/train.py", "--detector_path", "nope.yaml"]
    env = {**os.environ, "FBI_DEBUG": "1" if how == "env" else ""}
    p = subprocess.run(args + (["--debug"] if how == "flag" else []), cwd=REPO, capture_output=True,
                       text=True, timeout=300, env=env)  # fmt: skip
    assert p.returncode != 0 and "Traceback" in p.stderr and "ConfigError" in p.stderr


def test_disk_full_and_read_only_are_one_error_line_naming_the_file(capsys):
    import errno

    from fbi_common.cli import run_cli

    def full(argv):
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/test/FBI-Demo/feat.npy")

    def read_only(argv):
        raise OSError(errno.EROFS, "Read-only file system", "/runs/x/log.txt")

    for main, want in (
        (full, "feat.npy: No space left on device (free disk space"),
        (read_only, "pick a writable"),
    ):
        with pytest.raises(SystemExit) as e:
            run_cli(main, [])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.startswith("error: ") and want in err and "unexpected" not in err, (
            err
        )


def test_a_log_file_on_a_full_disk_is_one_warning_not_a_traceback(tmp_path, capsys):
    import errno
    import io
    import logging

    from fbi_common.logging import get_logger, setup_logging

    class Full(io.StringIO):
        def write(self, s):
            raise OSError(errno.ENOSPC, "No space left on device")

    setup_logging(tmp_path)
    handler = next(h for h in logging.getLogger("fbi").handlers if isinstance(h, logging.FileHandler))
    handler.stream = Full()
    log = get_logger("t")
    log.info("first")
    log.info("second")
    err = capsys.readouterr().err
    setup_logging(None)
    assert "Logging error" not in err and "Traceback" not in err, err
    assert err.count("No space left on device") == 1 and "log.txt" in err and "second" in err, err


def test_a_failed_failed_note_keeps_the_original_error(tmp_path, monkeypatch):
    """A run that dies of a full disk cannot write its FAILED note either: the user still sees the cause."""
    from training.trainer.distributed import DistInfo
    from training.trainer.runfolder import guarded_run

    def no_space(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", no_space)
    with pytest.raises(ValueError, match="the real cause"), guarded_run(tmp_path, False, DistInfo()) as guard:
        guard.started = True
        raise ValueError("the real cause")


def test_tensorboard_on_a_full_disk_is_switched_off_with_a_warning(tmp_path, fbi_log):
    from training.trainer.hooks import ScalarLogger

    class FullWriter:
        def add_scalar(self, *a):
            raise OSError(28, "No space left on device")

    hook = ScalarLogger(tmp_path / "tb", every=1, enabled=False)
    hook.writer = FullWriter()
    hook.write("val", {"auc": 0.5, "eer": 0.4}, 1)
    warned = fbi_log.text.count("No space left on device")
    hook.write("val", {"auc": 0.5}, 2)  # off now: no second warning, no error
    assert hook.writer is None and warned >= 1 and fbi_log.text.count("No space left on device") == warned
