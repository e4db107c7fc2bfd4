"""Planned training runs (config × seed): their folders, commands, state, and how to execute or export them.

A run lives in `<root>/<name>/` and is trained by `training/train.py` with `run_name` / `log_dir` /
`manualSeed` set, so its folder is known before it starts. State, checked from the files alone:

- `done`: `test/<Dataset>/predictions.csv` exists for every requested test set;
- `untested`: training finished (`test/results.json` and `ckpt/best.pth` exist) but a requested test set is
  missing → `test.py --out <run>/test`;
- `partial`: `ckpt/last.pth` exists but training did not finish → `train.py --resume <run>`;
- `new`: nothing usable (a folder without a checkpoint is moved aside to `<name>.failed-<n>`, never deleted).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fbi_common.errors import FBIError
from fbi_common.io import atomic_write_text
from fbi_common.logging import get_logger
from fbi_common.paths import REPO_ROOT, resolve_path

log = get_logger("analysis.plan")
DETECTOR_DIR = REPO_ROOT / "training" / "config" / "detector"


class PlanError(FBIError, ValueError):
    """A run plan that cannot be built (missing YAML, failed run, ...); names what and the fix."""


def find_yaml(name: str) -> Path:
    """A detector YAML by path (cwd, then repo root) or by file name in training/config/detector/."""
    for p in (
        Path(name).expanduser(),
        resolve_path(name),
        DETECTOR_DIR / name,
        DETECTOR_DIR / f"{name}.yaml",
    ):
        if p.is_file():
            return p.resolve()
    have = sorted(p.name for p in DETECTOR_DIR.glob("*.yaml"))
    raise PlanError(f"detector YAML '{name}' not found (as a path or in {DETECTOR_DIR}); available: {have}")


def variant_yaml(base: Path, variant: str) -> Path:
    """`full` → the base; a YAML path; else `<base folder>/<base stem>_<variant>.yaml`."""
    if variant == "full":
        return base
    if variant.endswith(".yaml"):
        return find_yaml(variant)
    cand = base.parent / f"{base.stem}_{variant}.yaml"
    if cand.is_file():
        return cand
    have = sorted(p.stem.removeprefix(base.stem + "_") for p in base.parent.glob(f"{base.stem}_*.yaml"))
    raise PlanError(f"variant '{variant}' of {base.name}: no {cand.name}; variants of this base: {have}")


@dataclass
class Run:
    name: str  # folder name and table label source
    label: str  # row label in the tables
    yaml: Path
    seed: int
    root: Path  # log_dir
    train: list[str] | None = None
    test: list[str] = field(default_factory=list)
    opts: list[str] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.root / self.name

    def state(self) -> str:
        d = self.dir
        if self.test and all((d / "test" / t / "predictions.csv").is_file() for t in self.test):
            return "done"
        if (d / "test" / "results.json").is_file() and (d / "ckpt" / "best.pth").is_file():
            return "untested"  # train.py writes results.json last: training finished
        if (d / "ckpt" / "last.pth").is_file():
            return "partial"
        return "new"

    def _flags(self) -> list[str]:
        flags = []
        if self.train:
            flags += ["--train_dataset", *self.train]
        if self.test:
            flags += ["--test_dataset", *self.test]
        return flags

    def command(self) -> list[str]:
        """The command that brings this run to `done` from its current state."""
        py, state = [sys.executable], self.state()
        opts = [f"log_dir={self.root}", f"run_name={self.name}", f"manualSeed={self.seed}", *self.opts]
        if state == "untested":
            return [*py, str(REPO_ROOT / "training" / "test.py"), "--detector_path", str(self.yaml), "--weights_path",
                    str(self.dir / "ckpt" / "best.pth"), "--out", str(self.dir / "test"), *self._flags(), "--opts", *opts]  # fmt: skip
        train = [
            *py,
            str(REPO_ROOT / "training" / "train.py"),
            "--detector_path",
            str(self.yaml),
            *self._flags(),
        ]
        if state == "partial":
            return [*train, "--resume", str(self.dir), "--opts", *opts]
        return [*train, "--opts", *opts]


def move_aside(run: Run) -> None:
    """A folder of a run that never wrote a checkpoint: keep it (renamed) so the new attempt starts clean."""
    if run.dir.exists() and run.state() == "new":
        n = 1
        while run.dir.with_name(f"{run.name}.failed-{n}").exists():
            n += 1
        target = run.dir.with_name(f"{run.name}.failed-{n}")
        run.dir.rename(target)
        log.warning("%s had no checkpoint (an earlier attempt failed early); moved it to %s", run.dir, target)


def job_env(jobs: int, env: dict | None = None) -> dict:
    """The environment of one of `jobs` concurrent runs: the CPU cores split between them (torch threads =
    cores // jobs, at least 1) unless OMP_NUM_THREADS is already set — several torch processes with all
    threads each oversubscribe the cores and each runs several times slower."""
    out = {**os.environ, **(env or {})}
    if jobs > 1 and "OMP_NUM_THREADS" not in out:
        out["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return out


def execute(runs: list[Run], env: dict | None = None, jobs: int = 1) -> None:
    """Bring every run to `done`: one after another (`jobs` 1, output on the console), or up to `jobs` at once,
    each run's console output in `<log_dir>/<name>.console.txt`. A failing command stops (after the runs in
    flight end) with its log's location; the runs that finished stay finished."""
    from tqdm import tqdm

    pending = [r for r in runs if r.state() != "done"]
    for r in runs:
        if r.state() == "done":
            log.info("skip %s (finished: %s)", r.name, r.dir)
    run_env = job_env(jobs, env)
    if jobs <= 1:
        for r in tqdm(pending, desc="runs", unit="run", dynamic_ncols=True):
            move_aside(r)
            cmd = r.command()
            log.info("run %s: %s", r.name, shlex.join(cmd))
            proc = subprocess.run(cmd, cwd=REPO_ROOT, env=run_env, check=False)
            if proc.returncode != 0 or r.state() != "done":
                _failed([(r, proc.returncode, r.dir / "log.txt")])
        return
    tasks = []
    for r in pending:
        move_aside(r)
        tasks.append((r.name, r.command(), r.root / f"{r.name}.console.txt"))
    codes = run_pool(tasks, jobs, run_env, "runs")
    failed = [(r, codes[r.name], r.root / f"{r.name}.console.txt") for r in pending
              if codes[r.name] is not None and (codes[r.name] != 0 or r.state() != "done")]  # fmt: skip
    if failed:
        _failed(failed, [r.name for r in pending if codes[r.name] is None])


def run_pool(
    tasks: list[tuple[str, list[str], Path]], jobs: int, env: dict, desc: str, keep_going: bool = False
) -> dict[str, int | None]:
    """Run (name, command, console file) tasks, up to `jobs` at once, each one's output into its console file.
    After the first failure no new task starts (the ones in flight finish) unless `keep_going`. Returns
    name → exit code (None: not started)."""
    from tqdm import tqdm

    queue, live, codes = list(tasks), [], {name: None for name, _, _ in tasks}
    with tqdm(total=len(tasks), desc=f"{desc} ({jobs} at once)", unit="job", dynamic_ncols=True) as bar:
        try:
            _drain(queue, live, codes, jobs, env, bar, keep_going)
        except BaseException:  # Ctrl-C: the runs in flight get SIGINT too (train.py saves last.pth and stops)
            for _, proc, _ in live:
                proc.send_signal(signal.SIGINT)
            for _, proc, fh in live:
                proc.wait()
                fh.close()
            raise
    return codes


def _drain(queue: list, live: list, codes: dict, jobs: int, env: dict, bar, keep_going: bool) -> None:
    while queue or live:
        while queue and len(live) < jobs and (keep_going or all(c in (None, 0) for c in codes.values())):
            name, cmd, console = queue.pop(0)
            console.parent.mkdir(parents=True, exist_ok=True)
            log.info("%s: %s (output: %s)", name, shlex.join(cmd), console)
            fh = open(console, "w")  # noqa: SIM115 — closed when the process ends
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
            live.append((name, proc, fh))
        if not live:
            break
        time.sleep(0.5)
        for item in [x for x in live if x[1].poll() is not None]:
            live.remove(item)
            item[2].close()
            codes[item[0]] = item[1].returncode
            bar.update(1)


def _failed(failed: list[tuple[Run, int, Path]], not_started: list[str] = ()) -> None:
    names = ", ".join(f"{r.name} (exit {code}; see {where})" for r, code, where in failed)
    later = f" (not started: {', '.join(not_started)})" if not_started else ""
    raise PlanError(
        f"run {names} failed{later}; fix it and re-run the same command: finished runs are skipped"
    )


def shell_lines(runs: list[Run]) -> list[str]:
    return [shlex.join(r.command()) for r in runs if r.state() != "done"]


def write_slurm(runs: list[Run], path: Path, after: str = "") -> Path:
    """A SLURM array script, one task per unfinished run (`sbatch <path>`); ``after`` is noted at the end."""
    lines = shell_lines(runs)
    if not lines:
        raise PlanError(f"every run is finished; nothing to put into {path}")
    body = "\n".join(f"  {shlex.quote(c)}" for c in lines)
    text = f"""#!/bin/bash
#SBATCH --job-name=fbi-ablation
#SBATCH --array=0-{len(lines) - 1}
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --output=slurm-%A_%a.out
# One task per run; re-submitting after failures is safe (finished runs are skipped when re-planned).
set -euo pipefail
cd {shlex.quote(str(REPO_ROOT))}
CMDS=(
{body}
)
eval "${{CMDS[$SLURM_ARRAY_TASK_ID]}}"
# When every task has finished, build the tables:
# {after}
"""
    atomic_write_text(path, text)
    os.chmod(path, 0o755)
    return path.resolve()
