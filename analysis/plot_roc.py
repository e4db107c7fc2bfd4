"""ROC and precision-recall curves of one or more evaluations, frame and video level, on one figure:

    python analysis/plot_roc.py RUN_DIR | TEST_OUT_DIR | predictions.csv [more ...] [--out roc.png]
        [--video-agg mean|max|median]

A run folder contributes every `test/<Dataset>/predictions.csv`, a `test.py --out` folder every
`<Dataset>/predictions.csv`. Each curve is labelled with its run/set and AUC (ROC) or AP (PR, fake =
positive; the dotted line is the fake share, a random scorer's precision). Video level aggregates frame
probabilities per full video key. Writes the PNG and, next to it, a CSV of AUC/AP/counts per curve.
Default `--out`: `<run folder>/analysis/roc_pr.png` for one run folder, else `figures/roc.png` (repo root).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve  # noqa: E402

from analysis.files import AnalysisError, input_path, out_path, save_csv, save_figure  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.logging import get_logger  # noqa: E402
from fbi_common.paths import REPO_ROOT  # noqa: E402

log = get_logger("analysis.plot_roc")


def prediction_files(inputs: list[str | Path]) -> list[tuple[str, Path]]:
    """(curve name, predictions.csv) for each input file or folder, in the order given."""
    out = []
    for item in inputs:
        p = input_path(item)
        if not p.exists():
            raise AnalysisError(
                f"{p} does not exist; pass a predictions.csv, a run folder or a test.py --out folder"
            )
        if p.is_file():
            parents = p.parents
            out.append((f"{parents[2].name}/{parents[0].name}" if len(parents) > 3 else parents[0].name, p))
            continue
        root = p / "test" if (p / "test").is_dir() else p
        files = sorted(root.glob("*/predictions.csv"))
        if not p.is_dir() or not files:
            raise AnalysisError(f"{p}: not a predictions.csv, nor a run / test.py output folder with "
                                "<Dataset>/predictions.csv inside")  # fmt: skip
        label = p.name if root == p else root.parent.name
        out.extend((f"{label}/{f.parent.name}", f) for f in files)
    return out


def read_predictions(path: Path) -> dict:
    """`training.metrics.read_predictions_csv`, with its errors as one-line analysis errors."""
    from training.metrics import read_predictions_csv

    try:
        return read_predictions_csv(path)
    except (FileNotFoundError, ValueError) as e:
        raise AnalysisError(str(e)) from e


def curve_styles(curves: list[tuple[str, Path]]) -> dict[tuple[str, Path], dict]:
    """One colour per model (a curve name's part before its last "/", e.g. the run) and one line style
    per test set (the predictions file's folder), so 8 models × 2 test sets stay tellable apart."""
    models = list(dict.fromkeys(name.rsplit("/", 1)[0] for name, _ in curves))
    sets = list(dict.fromkeys(p.parent.name for _, p in curves))
    cmap = plt.get_cmap("tab10" if len(models) <= 10 else "tab20")
    dashes = ["-", "--", ":", "-."]
    return {
        (name, p): {
            "color": cmap(models.index(name.rsplit("/", 1)[0]) % cmap.N),
            "ls": dashes[sets.index(p.parent.name) % len(dashes)],
            "lw": 1.4,
        }
        for name, p in curves
    }


def roc_pr_figure(
    curves: list[tuple[str, Path]], video_agg: str = "mean", title: str = ""
) -> tuple[plt.Figure, list[dict]]:
    """2×2 figure (ROC / PR × frame / video) and one summary row per curve and level."""
    from training.metrics import aggregate_videos

    many = len(curves) > 6  # legends beside the axes instead of over the curves
    fig, axes = plt.subplots(2, 2, figsize=(16 if many else 11, 9.2), layout="constrained")
    rows = []
    styles = curve_styles(curves)
    for name, path in curves:
        d = read_predictions(path)
        _, vy, vp = aggregate_videos(d["video_key"], d["label"], d["prob"], video_agg)
        for col, (level, y, prob) in enumerate((("frame", d["label"], d["prob"]), ("video", vy, vp))):
            y, prob = np.asarray(y), np.asarray(prob)
            if len(np.unique(y)) < 2:
                log.warning("%s: one class only at %s level, no curves", path, level)
                rows.append(
                    {"curve": name, "level": level, "n": len(y), "auc": float("nan"), "ap": float("nan")}
                )
                continue
            auc, ap = roc_auc_score(y, prob), average_precision_score(y, prob)
            fpr, tpr, _ = roc_curve(y, prob)
            axes[0, col].plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", **styles[name, path])
            prec, rec, _ = precision_recall_curve(y, prob)
            axes[1, col].step(rec, prec, where="post", label=f"{name} (AP {ap:.3f})", **styles[name, path])
            axes[1, col].axhline(y.mean(), color="0.4", lw=0.8, ls=":")
            rows.append({"curve": name, "level": level, "n": len(y), "n_fake": int(y.sum()), "auc": float(auc), "ap": float(ap),
                         "file": str(path)})  # fmt: skip
    for col, level in enumerate(("frame level", f"video level ({video_agg})")):
        axes[0, col].plot([0, 1], [0, 1], "k:", lw=0.8)
        axes[0, col].set(
            title=f"ROC, {level}",
            xlabel="false positive rate (real called fake)",
            ylabel="true positive rate",
        )
        axes[1, col].set(title=f"precision-recall, {level}", xlabel="recall (fakes found)", ylabel="precision (fake = positive)",
                         ylim=(0, 1.02))  # fmt: skip
        for r in (0, 1):
            if many:
                axes[r, col].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7)
            else:
                axes[r, col].legend(loc="lower right" if r == 0 else "lower left", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig, rows


def make_figures(
    run_dir: str | Path | list[str | Path],
    dataset: str | list[str] | None = None,
    out_dir: str | Path | None = None,
    *,
    video_agg: str = "mean",
    out_file: str | Path | None = None,
) -> list[Path]:
    """ROC + PR of one or more run folders / prediction files (`dataset`: keep only these sets)."""
    inputs = run_dir if isinstance(run_dir, list) else [run_dir]
    curves = prediction_files(inputs)
    if dataset:
        keep = {dataset} if isinstance(dataset, str) else set(dataset)
        curves = [(n, p) for n, p in curves if p.parent.name in keep]
        if not curves:
            raise AnalysisError(f"no predictions for datasets {sorted(keep)} in {[str(i) for i in inputs]}")
    if out_file:
        png = out_path(out_file)
    elif out_dir:
        png = out_path(out_dir) / "roc_pr.png"
    elif len(inputs) == 1 and input_path(inputs[0]).is_dir():
        png = input_path(inputs[0]) / "analysis" / "roc_pr.png"
    else:
        png = REPO_ROOT / "figures" / "roc.png"
    names = sorted({p.parent.name for _, p in curves})
    fig, rows = roc_pr_figure(curves, video_agg, title=f"ROC and PR curves on {', '.join(names)}")
    return [save_figure(fig, png.resolve()), save_csv(png.resolve().with_suffix(".csv"), rows)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="predictions.csv files, run folders or test.py --out folders")
    p.add_argument("--out", help="output PNG (a CSV of the numbers is written next to it)")
    p.add_argument("--video-agg", default="mean", choices=["mean", "max", "median"])
    args = p.parse_args(argv)
    for f in make_figures(list(args.inputs), None, video_agg=args.video_agg, out_file=args.out):
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
