"""Score distributions and calibration per test set, plus ROC/PR curves of all sets on one figure:

    python analysis/calibration.py RUN_DIR | TEST_OUT_DIR [--test_dataset A B] [--bins 15] [--out DIR]

Per set (`calibration_<Dataset>.png`): histograms of the fake probability of real and of fake frames
with three decision thresholds — the one transferred from validation (`threshold` in the set's
metrics.json, Youden's J on the validation split), the per-set optimum (Youden's J on this set, i.e. what
an oracle would pick) and 0.5 — each with its accuracy; and a reliability diagram (fraction of fakes vs
mean predicted fake probability per equal-width bin) with the expected calibration error
ECE = Σ_b (n_b / N) · |fraction fake_b − mean prob_b| on the fake probability. Numbers per set in
`calibration.json` and per bin in `reliability_<Dataset>.csv`; `roc_pr.png` (+ `.csv`) from
`analysis/plot_roc.py`. Default `--out`: `<run folder>/analysis/calibration`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis.files import AnalysisError, input_path, out_path, save_csv, save_figure, save_json, slug  # noqa: E402
from analysis.plot_roc import prediction_files, read_predictions, roc_pr_figure  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402


def reliability(labels: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> tuple[list[dict], float]:
    """Equal-width bins of the fake probability: rows (edges, count, mean prob, fraction fake) and the ECE.

    Bin b holds probabilities in [b/n, (b+1)/n) (the last bin includes 1.0); empty bins weigh nothing.
    """
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(probs, dtype=np.float64)
    if len(y) == 0 or len(y) != len(p) or n_bins < 1:
        raise AnalysisError(
            f"reliability needs matching non-empty labels/probs and bins ≥ 1 (got {len(y)}, {len(p)}, {n_bins})"
        )
    idx = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    rows, ece = [], 0.0
    for b in range(n_bins):
        sel = idx == b
        k = int(sel.sum())
        mean_p = float(p[sel].mean()) if k else float("nan")
        frac = float(y[sel].mean()) if k else float("nan")
        if k:
            ece += k / len(y) * abs(frac - mean_p)
        rows.append(
            {
                "bin_lo": b / n_bins,
                "bin_hi": (b + 1) / n_bins,
                "count": k,
                "mean_prob": mean_p,
                "frac_fake": frac,
            }
        )
    return rows, float(ece)


def _accuracy(y: np.ndarray, p: np.ndarray, thr: float) -> float:
    return float(((p >= thr).astype(int) == y).mean())


def set_summary(y: np.ndarray, p: np.ndarray, val_threshold: float | None, n_bins: int) -> dict:
    """ECE, Brier score and the three thresholds with their accuracies for one set."""
    from training.metrics import calibrate_threshold

    bins, ece = reliability(y, p, n_bins)
    out = {"n": len(y), "n_fake": int(y.sum()), "ece": ece, "brier": float(np.mean((p - y) ** 2)), "bins": bins,
           "acc_at_0.5": _accuracy(y, p, 0.5), "threshold_val": val_threshold}  # fmt: skip
    out["acc_at_val_threshold"] = (
        _accuracy(y, p, val_threshold) if val_threshold is not None else float("nan")
    )
    if len(np.unique(y)) == 2:
        opt = calibrate_threshold(y, p)
        out.update(threshold_opt=opt, acc_at_opt_threshold=_accuracy(y, p, opt))
    else:
        out.update(
            threshold_opt=float("nan"), acc_at_opt_threshold=float("nan"), note="one class: no optimum"
        )
    return out


def _figure(y: np.ndarray, p: np.ndarray, s: dict, title: str) -> plt.Figure:
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    edges = np.linspace(0, 1, 41)
    ax.hist(p[y == 0], bins=edges, alpha=0.6, color="tab:blue", label=f"real ({int((y == 0).sum())})")
    ax.hist(p[y == 1], bins=edges, alpha=0.6, color="tab:red", label=f"fake ({int((y == 1).sum())})")
    lines = [("threshold_val", "acc_at_val_threshold", "from validation", "k", "--"),
             ("threshold_opt", "acc_at_opt_threshold", "per-set optimum", "tab:green", "-")]  # fmt: skip
    for key, acc, name, color, ls in lines:
        if s.get(key) is not None and np.isfinite(s[key]):
            ax.axvline(s[key], color=color, ls=ls, label=f"{name} {s[key]:.3f} (acc {s[acc]:.3f})")
    ax.axvline(0.5, color="gray", ls=":", label=f"0.5 (acc {s['acc_at_0.5']:.3f})")
    ax.set(
        xlabel="fake probability", ylabel="frames", title="score distributions and thresholds", xlim=(0, 1)
    )
    ax.legend(fontsize=8)
    b = s["bins"]
    centres = np.array([(r["bin_lo"] + r["bin_hi"]) / 2 for r in b])
    width = b[0]["bin_hi"] - b[0]["bin_lo"]
    frac = np.array([r["frac_fake"] for r in b])
    bx.bar(
        centres,
        np.nan_to_num(frac),
        width=width * 0.9,
        color="tab:purple",
        alpha=0.7,
        label="fraction fake per bin",
    )
    mean_p = np.array([r["mean_prob"] for r in b])
    ok = np.isfinite(mean_p)
    bx.plot(mean_p[ok], frac[ok], "o-", color="black", ms=4, label="(mean prob, fraction fake)")
    bx.plot([0, 1], [0, 1], "k:", lw=0.8, label="perfect calibration")
    bx.set(xlabel="mean predicted fake probability (bin)", ylabel="fraction of fakes", xlim=(0, 1), ylim=(0, 1),
           title=f"reliability: ECE {s['ece']:.3f}, Brier {s['brier']:.3f} ({len(b)} bins)")  # fmt: skip
    counts = bx.twinx()
    counts.step(
        np.r_[0, [r["bin_hi"] for r in b]],
        np.r_[b[0]["count"], [r["count"] for r in b]],
        color="gray",
        lw=0.8,
    )
    counts.set_ylabel("frames per bin (grey)")
    bx.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    return fig


def make_figures(
    run_dir: str | Path,
    dataset: str | list[str] | None = None,
    out_dir: str | Path | None = None,
    *,
    bins: int = 15,
) -> list[Path]:
    """Calibration figures of every test set of `run_dir` (or only `dataset`) + one ROC/PR figure."""
    if bins < 2:
        raise AnalysisError(f"--bins {bins}: need at least 2")
    curves = prediction_files([run_dir])
    if dataset:
        keep = {dataset} if isinstance(dataset, str) else set(dataset)
        missing = keep - {p.parent.name for _, p in curves}
        if missing:
            have = sorted(p.parent.name for _, p in curves)
            raise AnalysisError(f"no predictions for {sorted(missing)} under {run_dir} (it has {have})")
        curves = [(n, p) for n, p in curves if p.parent.name in keep]
    root = input_path(run_dir)
    out = out_path(out_dir) if out_dir else root / "analysis" / "calibration"
    written, summary = [], {}
    for name, path in curves:
        d = read_predictions(path)
        y, p = np.asarray(d["label"]), np.asarray(d["prob"])
        metrics = path.with_name("metrics.json")
        thr = json.loads(metrics.read_text()).get("threshold") if metrics.is_file() else None
        s = set_summary(y, p, None if thr is None else float(thr), bins)
        ds = path.parent.name
        title = f"{name}: fake-probability distributions and calibration (frame level, {len(y)} frames)"
        written.append(save_figure(_figure(y, p, s, title), out / f"calibration_{slug(ds)}.png"))
        written.append(save_csv(out / f"reliability_{slug(ds)}.csv", s.pop("bins")))
        summary[ds] = {"predictions": str(path), **s}
    written.append(save_json(out / "calibration.json", summary))
    fig, rows = roc_pr_figure(curves, title=f"ROC and PR curves: {root.name}")
    written += [save_figure(fig, out / "roc_pr.png"), save_csv(out / "roc_pr.csv", rows)]
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder (uses test/<Dataset>/) or a test.py --out folder")
    p.add_argument("--test_dataset", nargs="+", help="only these test sets (default: every one found)")
    p.add_argument("--bins", type=int, default=15, help="reliability bins (equal width)")
    p.add_argument("--out", help="output folder (default: <run>/analysis/calibration)")
    a = p.parse_args(argv)
    for f in make_figures(a.run, a.test_dataset, a.out, bins=a.bins):
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
