"""Runs many command-line invocations fast: one fresh interpreter imports the heavy packages once, then
forks one child per case, which runs the script exactly as `python SCRIPT ARGS` would (its `__main__`
block, `run_cli`, `sys.exit`) with its own cwd, environment and captured stdout/stderr.

    python tests/cli_harness.py cases.json results.json

cases.json: a list of {"id", "argv": ["training/train.py", ...] or ["-m", "training.metrics", ...],
"cwd", "env"}; results.json: {id: {"code", "stdout", "stderr", "seconds"}}.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 240


def _preload() -> None:
    sys.path.insert(0, str(REPO))
    import torch  # noqa: F401

    import training.detectors  # noqa: F401
    import training.metrics  # noqa: F401
    import training.trainer.runner  # noqa: F401


def _child(case: dict, out: Path, err: Path) -> None:
    """In the forked child: redirect fds, run the script as __main__, exit with its code."""
    code = 1
    try:
        os.chdir(case["cwd"])
        os.environ.update(case.get("env", {}))
        for fd, path in ((1, out), (2, err)):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(f, fd)
            os.close(f)
        signal.alarm(TIMEOUT)
        argv = case["argv"]
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            script = str(REPO / argv[0])
            sys.argv = [script, *argv[1:]]
            runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int | None):
            print(e.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    _preload()
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="cli_cases_"))
    for case in cases:
        out, err = tmp / f"{case['id']}.out", tmp / f"{case['id']}.err"
        t0 = time.time()
        pid = os.fork()
        if pid == 0:
            _child(case, out, err)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        results[case["id"]] = {
            "code": code,
            "stdout": out.read_text(errors="replace") if out.exists() else "",
            "stderr": err.read_text(errors="replace") if err.exists() else "",
            "seconds": round(time.time() - t0, 2),
        }
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
