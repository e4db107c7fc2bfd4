"""fbi_common.io.file_lock: a second process waits for the holder; demo data built by two processes at once."""

from __future__ import annotations

import subprocess
import sys
import time

from fbi_common.paths import REPO_ROOT


def test_a_second_process_waits_for_the_lock(tmp_path) -> None:
    lock = tmp_path / "x.lock"
    hold = (
        "import sys, time; sys.path.insert(0, sys.argv[2]); from fbi_common.io import file_lock\n"
        "with file_lock(sys.argv[1]):\n    print(time.time(), flush=True); time.sleep(1.0); print(time.time())"
    )
    procs = []
    for _ in range(2):
        procs.append(subprocess.Popen([sys.executable, "-c", hold, str(lock), str(REPO_ROOT)], stdout=subprocess.PIPE, text=True))  # fmt: skip
        time.sleep(0.2)
    spans = sorted(tuple(map(float, p.communicate(timeout=60)[0].split())) for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert spans[1][0] >= spans[0][1]  # the second holder started after the first let go
