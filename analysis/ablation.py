"""Component ablation: train + test every variant × seed, then the ablation table (Δ vs the full model, paired tests):

    python analysis/ablation.py --base fbi_clip.yaml --variants no_freq no_boundary no_identity ln_l2_baseline \\
        --seeds 1 2 3 [--train_dataset A] [--test_dataset B C] [--out logs/ablation] [--opts key=value ...] \\
        [--print-commands | --slurm ARRAY.sh] [--n_boot 1000]

A variant `v` is `<base stem>_<v>.yaml` next to the base (e.g. fbi_clip_no_freq.yaml) or a YAML path;
the full model (the base itself) is always included as the reference row. Runs go to
`<out>/<base stem>/<variant>_s<seed>/` and are trained one after another with train.py; finished runs are
skipped, interrupted ones resumed (`--resume`), trained-but-untested ones tested — re-running the same
command continues where it stopped. `--print-commands` prints the commands of the unfinished runs instead;
`--slurm FILE` writes them as a SLURM array script. The table (`ablation.md/.csv/.tex` in
`<out>/<base stem>/`) is built from the runs' predictions.csv files by analysis/results_table.py's code.
For FBI-CLIP bases (or with `--identity_probe`) the identity probe (analysis/identity_probe.py) runs on each
variant's first-seed checkpoint and `ablation_identity.md` puts its identity accuracy next to each
variant's AUC (`ablation_identity_probe.csv|md`: every probe row).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.pipeline.plan import Run, execute, find_yaml, shell_lines, variant_yaml, write_slurm  # noqa: E402
from analysis.tables.flags import add_table_flags  # noqa: E402
from fbi_common.cli import positive_int, run_cli  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402

DEFAULT_VARIANTS = ["no_freq", "no_boundary", "no_identity", "ln_l2_baseline"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--base",
        default="fbi_clip.yaml",
        help="the full model's YAML (name in training/config/detector or a path)",
    )
    p.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, help="variant suffixes or YAML paths")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="manualSeed of each repetition")
    p.add_argument("--train_dataset", nargs="+", default=None, help="training sets (default: the YAMLs')")
    p.add_argument("--test_dataset", nargs="+", default=None, help="test sets (default: the base YAML's)")
    p.add_argument(
        "--out", default="logs/ablation", help="runs go to <out>/<base stem>/ (relative: repo root)"
    )
    p.add_argument("--opts", nargs="*", default=[], metavar="KEY=VALUE", help="extra overrides for every run")
    add_table_flags(p, metrics=["video_auc", "frame_auc", "video_eer", "video_ap"])
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="runs at once on this machine, the CPU cores split between them",
    )
    p.add_argument(
        "--identity_probe",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="identity-probe accuracy next to AUC (default: on when the base is an fbi_clip YAML)",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--print-commands", dest="print_commands", action="store_true", help="print the commands, run nothing"
    )
    g.add_argument(
        "--slurm", default=None, metavar="ARRAY.sh", help="write a SLURM array script, run nothing"
    )
    return p.parse_args(argv)


def plan_runs(base: Path, variants: list[str], seeds: list[int], root: Path, train: list[str] | None,
              test: list[str], opts: list[str], labels: dict[str, str] | None = None) -> list[Run]:  # fmt: skip
    """One `Run` per (variant, seed); the full model first."""
    names = ["full", *[v for v in variants if v != "full"]]
    runs = []
    for v in names:
        yaml = variant_yaml(base, v)
        label = (labels or {}).get(v) or (
            f"{base.stem} (full)" if v == "full" else Path(v).stem.removeprefix(base.stem + "_")
        )
        for s in seeds:
            runs.append(Run(f"{Path(v).stem}_s{s}", label, yaml, s, root, train, list(test), list(opts)))
    return runs


def default_tests(base: Path) -> list[str]:
    from training.config import load_config

    cfg = load_config(str(base))
    t = cfg["test_dataset"]
    return [t] if isinstance(t, str) else list(t)


def table_command(runs: list[Run], out: Path, n_boot: int, metrics: list[str]) -> list[str]:
    specs = list(dict.fromkeys(f"{r.label}={r.dir}" for r in runs))
    return [sys.executable, str(Path(__file__).resolve().parent / "results_table.py"), *specs, "--reference",
            runs[0].label, "--n_boot", str(n_boot), "--metric", *metrics, "--out", str(out)]  # fmt: skip


def build_table(
    runs: list[Run], out: Path, n_boot: int, metrics: list[str], stem: str = "ablation"
) -> list[Path]:
    """The ablation table from the finished runs (reference: the full model)."""
    from analysis.tables.build import build_table as build
    from analysis.tables.output import write_outputs
    from analysis.tables.render import Fmt
    from analysis.tables.runs import collect, group_rows

    rows = group_rows(collect([f"{r.label}={r.dir}" for r in runs]))
    ref = next(k for k in rows if k[0] == runs[0].label)
    tables = [build(rows, m, n_boot, 0, ref) for m in metrics]
    return write_outputs(tables, Fmt(), out, stem)


def identity_columns(
    runs: list[Run], root: Path, base: Path, args: argparse.Namespace, test: list[str]
) -> list[Path]:
    """`ablation_identity.md`: identity-probe accuracy next to each variant's AUC (fbi_clip bases by default)."""
    from analysis.identity_probe import variants_report
    from training.config import load_config

    cfg = load_config(str(base))
    if not (args.identity_probe if args.identity_probe is not None else cfg["model_name"] == "fbi_clip"):
        return []
    train = args.train_dataset or cfg["train_dataset"]
    by_label: dict[str, list[Path]] = {}
    for r in runs:
        by_label.setdefault(r.label, []).append(r.dir)
    written = variants_report(by_label, root, [train] if isinstance(train, str) else list(train), test, args.opts,
                              stem="ablation_identity")  # fmt: skip
    print(written[0].read_text(encoding="utf-8"))
    return written


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = find_yaml(args.base)
    test = args.test_dataset or default_tests(base)
    root = resolve_path(args.out) / base.stem
    runs = plan_runs(base, args.variants, args.seeds, root, args.train_dataset, test, args.opts)
    after = shlex.join(table_command(runs, root, args.n_boot, args.metric))
    if args.print_commands:
        lines = shell_lines(runs)
        print("\n".join(lines) if lines else "# every run is finished")
        print(f"# then the table:\n{after}")
        return 0
    if args.slurm:
        print(f"wrote {write_slurm(runs, resolve_path(args.slurm), after)}")
        return 0
    execute(runs, None, args.jobs)
    written = build_table(runs, root, args.n_boot, args.metric)
    print(written[0].read_text(encoding="utf-8"))
    written += identity_columns(runs, root, base, args, test)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
