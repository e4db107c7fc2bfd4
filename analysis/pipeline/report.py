"""Pieces of the reproduction report: the plain-words verdict per test set, robustness comparisons, figure hooks.

The verdict is generated from the table's own numbers, so it says where the reference row (FBI-CLIP)
does *not* win as plainly as where it does. Figure hooks: every interpretability tool of `analysis/` that
exists when the report is built is run with the arguments of `FIGURE_HOOKS` and its PNGs are embedded; a
tool that fails is listed with its error instead (the report never breaks because of a figure).
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from analysis.tables.build import AVERAGE, Table, best_rows  # noqa: E402
from analysis.tables.render import Fmt, row_names  # noqa: E402
from fbi_common.paths import REPO_ROOT  # noqa: E402

# tool -> arguments; {run} = the reference run folder, {ckpt} its best.pth, {tests} the test sets,
# {test0} the first, {out} the tool's output folder. Tools that are not in analysis/ are skipped.
FIGURE_HOOKS: dict[str, list[str]] = {
    "tsne": ["--weights_path", "{run}", "--test_dataset", "{tests}", "--out", "{out}"],
    "gradcam": ["--weights_path", "{run}", "--test_dataset", "{test0}", "--out", "{out}"],
    "fbi_maps": ["--weights_path", "{run}", "--test_dataset", "{test0}", "--out", "{out}"],
    "spectrum": ["--dataset", "{test0}", "--out", "{out}"],
    "calibration": ["{run}", "--out", "{out}"],
    "curves": ["{run}", "--out", "{out}"],
}
OPTS_HOOKS = {"tsne", "gradcam", "fbi_maps", "spectrum"}  # tools that take --opts (data folders)


def verdict(table: Table, fmt: Fmt) -> list[str]:
    """One sentence per column: the best row, and the reference row's standing against it."""
    if table.reference is None:
        return []
    names = dict(zip(table.rows, row_names(table), strict=True))
    ref, best = table.reference, best_rows(table)
    lines = []
    for col in table.columns:
        rc = table.cells.get((ref, col))
        if rc is None or col not in best:
            continue
        winners = best[col]
        if ref in winners:
            others = [table.cells[(r, col)] for r in table.rows if r != ref and (r, col) in table.cells]
            runner = max(others, key=lambda c: c.mean, default=None)
            tail = (
                ""
                if runner is None
                else f" (next: {fmt.num(runner.mean)}, Δ {fmt.num(-runner.delta, True)}, p={fmt.p(runner.p_boot)})"
            )
            lines.append(f"{col}: {names[ref]} is best with {fmt.num(rc.mean)}{tail}.")
            continue
        w = sorted(winners)[0]
        c = table.cells[(w, col)]
        sig = "significant" if math.isfinite(c.p_boot) and c.p_boot < 0.05 else "not significant"
        lines.append(
            f"{col}: **{names[ref]} does not win** — {names[w]} {fmt.num(c.mean)} vs {fmt.num(rc.mean)} "
            f"(Δ {fmt.num(c.delta, True)} [{fmt.num(c.delta_ci[0], True)}, {fmt.num(c.delta_ci[1], True)}], "
            f"p={fmt.p(c.p_boot)}, {sig} at 0.05)."
        )
    return lines


def domain_gap(table: Table, fmt: Fmt, source: str, target: str) -> list[str]:
    """Per row: the drop from the training domain's test set to the cross-domain one."""
    out = []
    for r, name in zip(table.rows, row_names(table), strict=True):
        a, b = table.cells.get((r, source)), table.cells.get((r, target))
        if a and b:
            out.append(f"{name}: {fmt.num(a.mean)} → {fmt.num(b.mean)} ({fmt.num(b.mean - a.mean, True)})")
    return out


def read_robustness(csv_path: Path) -> list[dict]:
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["level"] = int(r["level"])
        for k in ("frame_auc", "video_auc"):
            r[k] = float(r[k]) if r[k] not in ("", "nan") else math.nan
    return rows


def robustness_compare(
    per_model: dict[str, list[dict]], metric: str = "video_auc"
) -> tuple[list[str], list[list[str]]]:
    """Rows: protocol/type; columns per model: level-mean AUC ×100 and the relative drop vs clean."""
    header = ["type"] + [f"{m} ({h})" for m in per_model for h in ("mean", "drop")]
    keys = list(
        dict.fromkeys(
            (r["protocol"], r["type"], r["test_set"])
            for rows in per_model.values()
            for r in rows
            if r["protocol"] != "clean"
        )
    )
    body = []
    for proto, code, ts in keys:
        line = [f"{proto} {code} ({ts})"]
        for rows in per_model.values():
            clean = next((r[metric] for r in rows if r["type"] == "clean" and r["test_set"] == ts), math.nan)
            vals = [r[metric] for r in rows if (r["protocol"], r["type"], r["test_set"]) == (proto, code, ts)]
            mean = sum(vals) / len(vals) if vals else math.nan
            line += [f"{100 * mean:.1f}", f"{(clean - mean) / clean:+.1%}" if clean else "n/a"]
        body.append(line)
    return header, body


def robustness_figure(
    per_model: dict[str, list[dict]], path: Path, title: str, metric: str = "video_auc"
) -> Path:
    """One panel per perturbation type: AUC vs level (0 = clean), one line per model."""
    keys = list(
        dict.fromkeys(
            (r["protocol"], r["type"])
            for rows in per_model.values()
            for r in rows
            if r["protocol"] != "clean"
        )
    )
    cols = min(4, max(1, len(keys)))
    nrows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.1 * nrows), squeeze=False)
    for ax, (proto, code) in zip(axes.flat, keys, strict=False):
        for model, rows in per_model.items():
            part = sorted(
                (r for r in rows if (r["protocol"], r["type"]) == (proto, code)), key=lambda r: r["level"]
            )
            clean = next(r for r in rows if r["type"] == "clean")
            ax.plot(
                [0] + [r["level"] for r in part],
                [100 * clean[metric]] + [100 * r[metric] for r in part],
                "-o",
                ms=3,
                label=model,
            )
        ax.set_xticks(
            [0] + [p["level"] for p in part], ["clean"] + [p["param"] for p in part], fontsize=6, rotation=30
        )
        ax.set(
            title=f"{code} ({proto})",
            xlabel=f"level ({part[0]['unit']})" if part else "level",
            ylabel=f"{metric.split('_')[0]} AUC (%)",
        )
        ax.axhline(50, color="grey", lw=0.8, ls=":")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.resolve()


def run_hooks(
    run: Path, tests: list[str], out: Path, opts: list[str], jobs: int = 1
) -> tuple[list[tuple[str, Path]], list[str]]:
    """Run every present interpretability tool, `jobs` at once (each one's output in `<out>/<tool>.console.txt`);
    returns (tool, png) pairs and failure notes."""
    from analysis.pipeline.plan import job_env, run_pool

    tasks = []
    for tool, template in FIGURE_HOOKS.items():
        script = REPO_ROOT / "analysis" / f"{tool}.py"
        if not script.is_file():
            continue
        dest = out / tool
        args = []
        for a in template:
            if a == "{tests}":
                args += tests
            else:
                args.append(a.format(run=run, ckpt=run / "ckpt" / "best.pth", test0=tests[0], out=dest))
        if tool in OPTS_HOOKS and opts:
            args += ["--opts", *opts]
        tasks.append((tool, [sys.executable, str(script), *args], out / f"{tool}.console.txt"))
    codes = run_pool(tasks, jobs, job_env(jobs), "interpretability figures", keep_going=True)
    pngs, notes = [], []
    for tool, _, console in tasks:
        if codes[tool] != 0:
            lines = [ln for ln in console.read_text(errors="replace").splitlines() if ln.strip()]
            notes.append(
                f"analysis/{tool}.py failed: {(lines or ['(no message)'])[-1]} (full output: {console})"
            )
            continue
        pngs += [(tool, png) for png in sorted((out / tool).rglob("*.png"))]
    return pngs, notes


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|:---|" + "---:|" * (len(header) - 1)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


__all__ = [
    "AVERAGE",
    "FIGURE_HOOKS",
    "domain_gap",
    "md_table",
    "robustness_compare",
    "robustness_figure",
    "run_hooks",
    "verdict",
]
