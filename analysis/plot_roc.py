"""ROC curves of one or more evaluations, frame and video level, as a PNG:

    python analysis/plot_roc.py logs/.../test/Celeb-DF-v2/predictions.csv [more.csv ...] --out figures/roc.png

Each curve is labelled with its run/set (from the CSV's path) and AUC; video level aggregates frame
probabilities per full video key (`--video-agg mean|max|median`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.paths import existing_path, resolve_path  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from training.metrics import aggregate_videos, read_predictions_csv  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", nargs="+", help="predictions.csv files written by train.py / test.py")
    p.add_argument("--out", default="figures/roc.png", help="PNG to write (relative: to the repo root)")
    p.add_argument("--video-agg", default="mean", choices=["mean", "max", "median"])
    args = p.parse_args(argv)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for path in map(existing_path, args.csv):  # cwd-relative, else repo-root-relative
        d = read_predictions_csv(path)
        parents = Path(path).resolve().parents
        name = f"{parents[2].name}/{parents[0].name}" if len(parents) > 3 else parents[0].name
        _, vy, vp = aggregate_videos(d["video_key"], d["label"], d["prob"], args.video_agg)
        for ax, y, prob in ((axes[0], d["label"], d["prob"]), (axes[1], vy, vp)):
            y, prob = np.asarray(y), np.asarray(prob)
            if len(np.unique(y)) < 2:
                print(f"{path}: one class only, no ROC", file=sys.stderr)
                continue
            fpr, tpr, _ = roc_curve(y, prob)
            ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, prob):.3f})")
    for ax, title in zip(axes, ("frame level", f"video level ({args.video_agg})"), strict=True):
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set(title=title, xlabel="false positive rate (real called fake)", ylabel="true positive rate")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = resolve_path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    print(f"wrote {out.resolve()}")
    return 0


if __name__ == "__main__":
    run_cli(main)
