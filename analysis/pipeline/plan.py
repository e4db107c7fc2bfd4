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
import subprocess
import sys
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


def execute(runs: list[Run], env: dict | None = None) -> None:
    """Bring every run to `done`, one after another; a failing command stops with its log's location."""
    from tqdm import tqdm

    pending = [r for r in runs if r.state() != "done"]
    for r in runs:
        if r.state() == "done":
            log.info("skip %s (finished: %s)", r.name, r.dir)
    for r in tqdm(pending, desc="runs", unit="run", dynamic_ncols=True):
        move_aside(r)
        cmd = r.command()
        log.info("run %s: %s", r.name, shlex.join(cmd))
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, check=False)
        if proc.returncode != 0 or r.state() != "done":
            raise PlanError(
                f"run {r.name} failed (exit {proc.returncode}); see {r.dir / 'log.txt'} and the output above. "
                "Fix it and re-run the same command: finished runs are skipped"
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
