"""Every paper table and figure with one command, into one report folder:

    python analysis/reproduce.py --recipe demo [--out DIR] [--seeds 1 2 3] [--n_boot 1000]
    python analysis/reproduce.py --recipe ffpp --dry-run        # the published protocol's plan

The chain: data → train the detectors and the ablations (train.py, one run per model × seed; finished runs
are skipped, interrupted ones resumed) → test on every test set → cross-domain results table with
video-bootstrap CIs and paired tests vs FBI-CLIP → ablation table → robustness (both protocols) of
FBI-CLIP and the CLIP baseline → cost table → figures (data previews, ROC, robustness; plus every
interpretability tool of analysis/ that exists) → `report.md` with every table and figure, and the
CSV/LaTeX files under `tables/`. Re-running the command continues where it stopped. `demo` runs on the
embedded FBI-Demo / FBI-Demo-X data (tiny ViTs from scratch, one seed by default); `ffpp` trains on FF++
c23 and tests on Celeb-DF-v2, DFD, DFDC, DFDCP, FFIW, DeepSpeak (missing JSONs are listed and left out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.pipeline.plan import PlanError, Run, execute, find_yaml, job_env, run_pool  # noqa: E402
from analysis.pipeline.recipes import RECIPES, Recipe, with_rivals  # noqa: E402
from analysis.tables.flags import add_table_flags  # noqa: E402
from fbi_common.cli import positive_int, run_cli  # noqa: E402
from fbi_common.io import atomic_write_json  # noqa: E402
from fbi_common.logging import get_logger, setup_logging  # noqa: E402
from fbi_common.paths import REPO_ROOT, resolve_path  # noqa: E402

log = get_logger("reproduce")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", choices=sorted(RECIPES), default="demo")
    p.add_argument(
        "--out", default=None, help="report folder (default: logs/reproduce/<recipe>; relative: repo root)"
    )
    p.add_argument(
        "--seeds", nargs="+", type=int, default=None, help="seeds per model (default: demo 1, ffpp 1 2 3)"
    )
    add_table_flags(p)
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        help="trainings (and robustness evaluations) at once, the CPU cores split between them "
        "(default: demo min(2, cores) — small models use two single-thread processes better than one "
        "two-thread one; ffpp 1: one GPU per run, use --slurm arrays for more)",
    )
    p.add_argument(
        "--dry-run", dest="dry_run", action="store_true", help="print the plan and the commands, run nothing"
    )
    p.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["robustness", "cost", "probe", "hooks"],
        help="leave steps out",
    )
    p.add_argument(
        "--rivals",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add every other registered detector (caddm, effort, ...) as a row (default: on for ffpp, off for demo)",
    )
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="only these models of the recipe (keys, e.g. fbi_clip clip no_freq)",
    )
    p.add_argument(
        "--robustness_types", nargs="+", default=None, help="only these perturbation types (default: all)"
    )
    p.add_argument(
        "--robustness_levels", nargs="+", type=int, default=None, help="only these levels (default: all)"
    )
    p.add_argument(
        "--opts",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="overrides for every run (e.g. data folders)",
    )
    return p.parse_args(argv)


def available_sets(names: list[str], opts: list[str]) -> tuple[list[str], list[str]]:
    """(present, missing) dataset JSONs, demo sets always present (they are generated on first use)."""
    from training.config import load_config

    folder = resolve_path(load_config(str(find_yaml("clip.yaml")), opts=opts)["dataset_json_folder"])
    present = [n for n in names if n.startswith("FBI-Demo") or (folder / f"{n}.json").is_file()]
    return present, [n for n in names if n not in present]


def plan(recipe: Recipe, out: Path, seeds: list[int], tests: list[str], opts: list[str]) -> list[tuple]:
    """(model, Run) for every model × seed of the recipe."""
    return [(m, Run(f"{m.key}_s{s}", m.label, find_yaml(m.yaml), s, out / "runs", recipe.train, tests, [*m.opts, *opts]))
            for m in recipe.models for s in seeds]  # fmt: skip


def dry_run(recipe: Recipe, runs: list[tuple], missing: list[str], out: Path) -> None:
    """The plan with every test set of the protocol; the ones without a JSON here are marked."""
    print(f"# recipe {recipe.name}: train {recipe.train} → test {recipe.test}")
    if missing:
        print(
            f"# missing dataset JSONs here (left out of a real run; build them with preprocessing/rearrange.py): {missing}"
        )
    print(f"# {len(runs)} runs (models × seeds) into {out / 'runs'}:")
    for _, r in runs:
        r = replace(r, test=list(recipe.test))
        print(shlex.join(r.command()) if r.state() != "done" else f"# done: {r.dir}")
    for key in recipe.robustness:
        yaml = next(m.yaml for m in recipe.models if m.key == key)
        ckpt = out / "runs" / f"{key}_s{runs[0][1].seed}" / "ckpt" / "best.pth"
        print(f"python training/robustness.py --detector_path {yaml} --weights_path {ckpt} "
              f"--test_dataset {' '.join(recipe.robustness_sets)} --protocol both --out {out / 'robustness' / key}")  # fmt: skip
    print(
        f"python analysis/complexity.py --detector_path {' '.join(recipe.cost_yamls)} --out {out / 'tables' / 'cost'}"
    )
    print(f"# then the identity probe, the tables and report.md into {out}")


class Steps:
    """Wall time and completion of each step, kept in <out>/steps.json across resumed invocations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = json.loads(path.read_text()) if path.is_file() else {}

    def run(self, name: str, fn, *args):
        """Wall seconds and CPU seconds (this process and its subprocesses) of one step, summed over invocations.
        CPU seconds / cores is what the step would take on an idle machine at full use of the cores — the
        figure to compare across machines when the wall time was measured on a shared one."""
        t, c = time.perf_counter(), _cpu_seconds()
        result = fn(*args)
        prev = self.data.get(name, {})
        self.data[name] = {
            "seconds": round(prev.get("seconds", 0.0) + time.perf_counter() - t, 1),
            "cpu_seconds": round(prev.get("cpu_seconds", 0.0) + _cpu_seconds() - c, 1),
            "cores": os.cpu_count(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        atomic_write_json(self.path, self.data)
        return result


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished subprocesses."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _py(*args: str) -> None:
    p = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, check=False)
    if p.returncode != 0:
        raise PlanError(f"step failed (exit {p.returncode}): python {shlex.join(args)}; see its output above")


def robustness(recipe: Recipe, runs: list[tuple], out: Path, args: argparse.Namespace) -> dict[str, Path]:
    """training/robustness.py of each stress-tested model (both protocols), `args.jobs` at once."""
    extra = (["--types", *args.robustness_types] if args.robustness_types else []) + (
        ["--levels", *map(str, args.robustness_levels)] if args.robustness_levels else [])  # fmt: skip
    done, tasks = {}, []
    for key in recipe.robustness:
        model, run = next(((m, r) for m, r in runs if m.key == key), (None, None))
        if model is None:
            continue
        dest = out / "robustness" / key
        cmd = ["training/robustness.py", "--detector_path", str(run.yaml), "--weights_path", str(run.dir / "ckpt" / "best.pth"),
               "--test_dataset", *recipe.robustness_sets, "--protocol", "both", *extra, "--out", str(dest), "--opts", *args.opts]  # fmt: skip
        tasks.append((key, [sys.executable, *cmd], out / "robustness" / f"{key}.console.txt"))
        done[model.label] = dest
    if args.jobs <= 1:
        for _, cmd, _ in tasks:
            _py(*cmd[1:])
        return done
    codes = run_pool(tasks, args.jobs, job_env(args.jobs), "robustness")
    bad = [f"{key} (exit {codes[key]}; see {console})" for key, _, console in tasks if codes[key] != 0]
    if bad:
        raise PlanError(f"robustness failed: {', '.join(bad)}; fix it and re-run the same command")
    return done


def probe(recipe: Recipe, runs: list[tuple], out: Path, opts: list[str]) -> Path | None:
    """Identity probe (analysis/identity_probe.py) of the recipe's probe models (default: every FBI-CLIP model)
    next to their AUC: seen (train) and unseen (test) identities of the training set, unseen ones of the
    other test sets."""
    from analysis.identity_probe import variants_report

    by_label: dict[str, list[Path]] = {}
    for m, r in runs:
        if m.key in recipe.probe if recipe.probe is not None else m.yaml.startswith("fbi_clip"):
            by_label.setdefault(m.label, []).append(r.dir)
    if not by_label:
        return None
    return variants_report(by_label, out / "tables", recipe.train, list(runs[0][1].test), opts)[0]


def cost(recipe: Recipe, out: Path, opts: list[str]) -> list[Path]:
    """The trained configs with measured speed (this machine), then the published ones by parameters/FLOPs only."""
    dests = []
    jobs = ((recipe.cost_yamls, "cost", ["--title", "Trained detectors", "--opts", *opts] if opts else ["--title", "Trained detectors"]),
            (recipe.cost_yamls_static, "cost_static", ["--no-speed", "--title", "Published configs (speed not measured here)"]))  # fmt: skip
    for yamls, dest, extra in jobs:
        if yamls:
            _py(
                "analysis/complexity.py",
                "--detector_path",
                *yamls,
                "--out",
                str(out / "tables" / dest),
                *extra,
            )
            dests.append(out / "tables" / dest / "complexity.md")
    return dests


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    recipe = RECIPES[args.recipe]
    if args.jobs is None:
        args.jobs = min(2, os.cpu_count() or 1) if recipe.name == "demo" else 1
    if args.rivals if args.rivals is not None else recipe.name == "ffpp":
        recipe = with_rivals(recipe)
    out = resolve_path(args.out or f"logs/reproduce/{recipe.name}")
    tests, missing = available_sets(recipe.test, args.opts)
    missing = available_sets(recipe.train, args.opts)[1] + missing
    if args.models:
        keys = [m.key for m in recipe.models]
        bad = [k for k in args.models if k not in keys]
        if bad or recipe.reference not in args.models:
            raise PlanError(
                f"--models {args.models}: choose from {keys}, including the reference '{recipe.reference}'"
            )
        recipe = replace(recipe, models=[m for m in recipe.models if m.key in args.models])
    runs = plan(recipe, out, args.seeds or list(recipe.seeds), tests, args.opts)
    if args.dry_run:
        dry_run(recipe, runs, missing, out)
        return 0
    train_missing = [t for t in recipe.train if t in available_sets(recipe.train, args.opts)[1]]
    if train_missing or not tests:
        raise PlanError(
            f"recipe {recipe.name}: training/test JSONs missing ({train_missing or missing}); see --dry-run"
        )
    setup_logging(out)
    from analysis.pipeline.build_report import build_report

    steps = Steps(out / "steps.json")
    t0 = time.perf_counter()
    steps.run("train + test", execute, [r for _, r in runs], None, args.jobs)
    rob = {} if "robustness" in args.skip else steps.run("robustness", robustness, recipe, runs, out, args)
    costs = [] if "cost" in args.skip else steps.run("cost", cost, recipe, out, args.opts)
    probed = (
        None if "probe" in args.skip else steps.run("identity probe", probe, recipe, runs, out, args.opts)
    )
    costs = [*costs, *([probed] if probed else [])]  # section 4 of the report: cost and identity probe
    report = steps.run(
        "tables + figures + report", build_report, recipe, runs, out, rob, costs, args, missing
    )
    total = sum(v.get("cpu_seconds", 0.0) for v in steps.data.values())
    log.info(
        "reproduce %s: %.0f s wall in this invocation; %.0f CPU s in all steps so far (%.1f min on %d idle cores)",
        recipe.name, time.perf_counter() - t0, total, total / 60 / (os.cpu_count() or 1), os.cpu_count() or 1,
    )  # fmt: skip
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    run_cli(main)
