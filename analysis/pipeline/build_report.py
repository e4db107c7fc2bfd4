"""Assemble `report.md` of a reproduction: every table (from the runs' predictions.csv), figure and provenance."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

from analysis.pipeline.plan import Run
from analysis.pipeline.recipes import Recipe
from analysis.pipeline.report import (
    domain_gap,
    md_table,
    read_robustness,
    robustness_compare,
    robustness_figure,
    run_hooks,
    verdict,
)
from analysis.tables.build import ALL_METRICS, build_table
from analysis.tables.output import write_outputs
from analysis.tables.render import Fmt, ci_grid, matrix_grids, paired_grid, results_grid
from analysis.tables.runs import collect, group_rows
from fbi_common.io import atomic_write_text
from fbi_common.paths import REPO_ROOT


def _tables(runs: list[Run], reference: str, n_boot: int, out: Path, stem: str) -> list:
    rows = group_rows(collect([f"{r.label}={r.dir}" for r in runs]))
    ref = next(k for k in rows if k[0] == reference)
    tables = [build_table(rows, m, n_boot, 0, ref) for m in ALL_METRICS]
    write_outputs(tables, Fmt(), out, stem)
    return tables


def _table_md(tables: list, fmt: Fmt, matrix: bool) -> str:
    primary, rest = tables[0], tables[1:]
    parts = [results_grid(primary, fmt).markdown(), ci_grid(primary, fmt).markdown()]
    paired = paired_grid(primary, fmt)
    parts += [paired.markdown()] if paired else []
    parts += [g.markdown() for g in matrix_grids(primary, fmt)] if matrix else []
    parts += [results_grid(t, fmt).markdown() for t in rest]
    return "\n".join(parts)


def _figures(recipe: Recipe, runs: list[tuple], out: Path, opts: list[str]) -> list[tuple[str, Path]]:
    figs = out / "figures"
    made = []
    if recipe.name == "demo":
        from analysis.pipeline.plan import find_yaml
        from training.config import load_config
        from training.dataset.demo_preview import save_preview

        cfg = load_config(str(find_yaml("clip_demo.yaml")), opts=opts)
        for ds in recipe.test:
            js = Path(cfg["dataset_json_folder"])
            js = js if js.is_absolute() else REPO_ROOT / js
            made.append((f"{ds}: test identities (rows: real frame, fake frame, blending mask)",
                         save_preview(js / f"{ds}.json", cfg["rgb_dir"], figs / f"preview_{ds}.png")))  # fmt: skip
    csvs = [
        str(r.dir / "test" / t / "predictions.csv")
        for m, r in runs
        if m.role in ("main", "both")
        for t in r.test
    ]
    roc = figs / "roc.png"
    p = subprocess.run(
        [sys.executable, "analysis/plot_roc.py", *csvs, "--out", str(roc)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if p.returncode == 0 and roc.is_file():
        made.append(("ROC curves, frame and video level (every main detector × test set)", roc.resolve()))
    return made


def _robustness_md(rob: dict[str, Path], out: Path, title: str) -> tuple[str, list[tuple[str, Path]]]:
    if not rob:
        return "Robustness was skipped (`--skip robustness`).\n", []
    per_model = {label: read_robustness(d / "robustness.csv") for label, d in rob.items()}
    header, rows = robustness_compare(per_model)
    notes = []
    for d in rob.values():
        notes += [
            f"> {line[2:]}"
            for line in (d / "robustness.md").read_text().splitlines()
            if line.startswith("> ")
        ]
    fig = robustness_figure(per_model, out / "figures" / "robustness.png", title)
    text = (
        "\n".join(dict.fromkeys(notes))
        + "\n\nLevel-averaged video AUC ×100 and relative drop vs clean:\n\n"
        + md_table(header, rows)
    )
    text += "\nPer-model tables (every level, frame and video AUC): " + ", ".join(
        f"[{label}]({(d / 'robustness.md').relative_to(out).as_posix()})" for label, d in rob.items()) + ".\n"  # fmt: skip
    return text, [("Robustness: video AUC vs perturbation level (0 = clean), per type", fig)]


def _img(caption: str, path: Path, out: Path) -> str:
    return f"![{caption}]({path.relative_to(out).as_posix()})\n\n*{caption}*\n"


def build_report(
    recipe: Recipe, runs: list[tuple], out: Path, rob: dict, costs: list[Path], args, missing: list[str]
) -> Path:
    fmt = Fmt()
    tdir = out / "tables"
    ref_label = next(m.label for m in recipe.models if m.key == recipe.reference)
    main = [r for m, r in runs if m.role in ("main", "both")]
    abl = [r for m, r in runs if m.role in ("ablation", "both")]
    cross = _tables(main, ref_label, args.n_boot, tdir, "cross_domain")
    ablation = (
        _tables(abl, ref_label, args.n_boot, tdir, "ablation") if len({r.label for r in abl}) > 1 else []
    )
    figures = _figures(recipe, runs, out, args.opts)
    rob_md, rob_figs = _robustness_md(rob, out, f"{recipe.name} recipe: {', '.join(recipe.robustness_sets)}")
    hooks, hook_notes = (
        ([], [])
        if "hooks" in args.skip
        else run_hooks(
            next(r for m, r in runs if m.key == recipe.reference).dir,
            list(runs[0][1].test),
            out / "figures",
            args.opts,
            getattr(args, "jobs", None) or 1,
        )
    )
    md = [
        f"# FBI-CLIP reproduction report — recipe `{recipe.name}`\n",
        recipe.note + "\n",
        _provenance(out, args, missing),
    ]
    md += ["## 1. Cross-domain results\n", f"Trained on {', '.join(recipe.train)}; tested on {', '.join(runs[0][1].test)}. "
           "Every number is recomputed from the runs' `predictions.csv` (listed per cell in `tables/cross_domain.csv`).\n"]  # fmt: skip
    md += ["**In plain words (video AUC):**\n", *[f"- {line}" for line in verdict(cross[0], fmt)]]
    if len(recipe.test) > 1 and recipe.test[1] in cross[0].columns:
        md += [
            "\n**Domain gap** (video AUC, " + f"{recipe.test[0]} → {recipe.test[1]}):\n",
            *[f"- {g}" for g in domain_gap(cross[0], fmt, recipe.test[0], recipe.test[1])],
        ]
    md += [
        "\n**Frame AUC in plain words:**\n",
        *[f"- {line}" for line in verdict(cross[1], fmt)],
        "",
        _table_md(cross, fmt, matrix=True),
    ]
    if ablation:
        md += [
            "## 2. Ablation (Δ vs the full FBI-CLIP)\n",
            *[f"- {line}" for line in verdict(ablation[0], fmt)],
            "",
            _table_md(ablation, fmt, matrix=False),
        ]
    md += ["## 3. Robustness\n", rob_md, *[_img(c, p, out) for c, p in rob_figs]]
    md += ["## 4. Cost and identity probe\n", *[p.read_text() for p in costs if p.is_file()]] if costs else []
    md += ["## 5. Figures\n", *[_img(c, p, out) for c, p in figures]]
    if hooks or hook_notes:
        md += [
            "### Interpretability (analysis/ tools)\n",
            *[f"- {n}" for n in hook_notes],
            *[_img(f"{t}: {p.stem}", p, out) for t, p in hooks],
        ]
    md += ["## 6. Files\n", "`tables/*.md|csv|tex` (booktabs LaTeX, one table per file), `figures/*.png`, `runs/<model>_s<seed>/` "
           "(each a train.py run folder: config, log, checkpoints, predictions), `robustness/<model>/`, `steps.json` (wall and CPU time per step).\n"]  # fmt: skip
    return atomic_write_text(out / "report.md", "\n".join(md)).resolve()


def _threads(args) -> str:
    """How the runs used the CPU: `--jobs` runs at once, each with the threads `plan.job_env` gave it."""
    import os

    import torch

    jobs = getattr(args, "jobs", 1) or 1
    if jobs <= 1:
        return f"{torch.get_num_threads()} torch threads"
    from analysis.pipeline.plan import job_env

    return f"{jobs} runs at once, {job_env(jobs)['OMP_NUM_THREADS']} torch thread(s) each, {os.cpu_count()} cores"


def _provenance(out: Path, args, missing: list[str]) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.strip()
    import torch

    steps = (out / "steps.json").read_text() if (out / "steps.json").is_file() else "{}"
    import json

    times = json.loads(steps)
    timing = ", ".join(
        f"{k} {v['seconds']:.0f} s" + (f" ({v['cpu_seconds']:.0f} CPU s)" if "cpu_seconds" in v else "")
        for k, v in times.items()
    )
    cpu = sum(v.get("cpu_seconds", 0.0) for v in times.values())
    if cpu:
        cores = next((v["cores"] for v in times.values() if v.get("cores")), 1)
        timing += (f"; {cpu / 60:.1f} CPU min in all, ≈ {cpu / 60 / cores:.1f} min of wall time on {cores} idle "
                   "cores (the wall times above include any other load the machine had)")  # fmt: skip
    lines = [
        f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `python analysis/reproduce.py --recipe {args.recipe}"
        + (f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds else "")
        + "`"
        + f" at commit `{commit or 'unknown'}` on {platform.machine()} ({_threads(args)}, "
        + ("CUDA" if torch.cuda.is_available() else "CPU only")
        + ").",
        f"Wall time per step (accumulated over resumed invocations): {timing or 'n/a'}.",
    ]
    if missing:
        lines.append(f"Test sets without a dataset JSON (left out): {', '.join(missing)}.")
    return "\n".join(lines) + "\n"
