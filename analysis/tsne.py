"""Embedding maps: a detector's `feat` for frames of one or more test sets, projected to 2-D and coloured by
real/fake, by manipulation (label name) and by dataset, each view with a separability number:

    python analysis/tsne.py --weights_path RUN_OR_CKPT --test_dataset A [B ...] [--method tsne|umap|pca]
        [--n 500] [--split test] [--seed 0] [--out DIR] [--opts rgb_dir=... dataset_json_folder=...]

Frames are sampled by video (seeded, label names in turn). Per view: the silhouette score of the 2-D map and
a linear-probe AUC on the projection's input (the full `feat`; logistic regression, 5-fold cross-validated
with folds grouped by video so frames of one video never sit on both sides; macro one-vs-rest AUC for more
than two groups). Writes `<method>_by_{label,manipulation,dataset}.png`, `embedding_<method>.csv` (2-D
coordinates + provenance + fake probability), `feat.npy` and `separability.json` into `--out` (default:
`<run folder>/analysis/tsne`). UMAP needs the optional `umap-learn` package.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis.common import add_sample_flags, load_detector, load_frames, predict_pixels, tool_parser, written  # noqa: E402
from analysis.files import AnalysisError, out_dir_for, save_csv, save_figure, save_json, save_npy  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402

METHODS = ("tsne", "umap", "pca")
METHOD_NAMES = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}
VIEWS = {"label": "real / fake", "manipulation": "manipulation (label name)", "dataset": "dataset"}


def project(feat: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """N×D → N×2 with scikit-learn PCA / t-SNE (PCA to 50-D first, the usual t-SNE recipe) or umap-learn."""
    from sklearn.decomposition import PCA

    if method not in METHODS:
        raise AnalysisError(f"--method {method}: choose one of {list(METHODS)}")
    if len(feat) < 5:
        raise AnalysisError(f"only {len(feat)} frames: a 2-D map needs at least 5; raise --n")
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(feat)
    x = PCA(n_components=50, random_state=seed).fit_transform(feat) if feat.shape[1] > 50 else feat
    if method == "umap":
        try:
            import umap
        except ImportError as e:
            raise AnalysisError("--method umap needs the optional package umap-learn (pip install umap-learn); "
                                "or use --method tsne") from e  # fmt: skip
        return umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(x) - 1)).fit_transform(x)
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def separability(
    feat: np.ndarray, xy: np.ndarray, groups: list[str], videos: list[str], seed: int = 0
) -> dict:
    """Silhouette of the 2-D map and cross-validated linear-probe AUC on `feat` for one colouring `groups`.

    Both are NaN (with a note) when the view has a single group or too few videos to cross-validate.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score, silhouette_score
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    names = sorted(set(groups))
    y = np.array([names.index(g) for g in groups])
    out = {
        "groups": names,
        "n": len(y),
        "silhouette_2d": float("nan"),
        "probe_auc": float("nan"),
        "note": None,
    }
    if len(names) < 2:
        out["note"] = "one group only: nothing to separate"
        return out
    out["silhouette_2d"] = float(silhouette_score(xy, y))
    folds = min(5, len(set(videos)), *np.bincount(y).tolist())
    if folds < 2:
        out["note"] = "too few videos per group for a cross-validated probe"
        return out
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    proba = cross_val_predict(probe, feat, y, groups=videos, cv=GroupKFold(folds), method="predict_proba")
    out["probe_auc"] = float(roc_auc_score(y, proba[:, 1]) if len(names) == 2 else
                             roc_auc_score(y, proba, multi_class="ovr", average="macro"))  # fmt: skip
    out["probe_folds"] = folds
    return out


def _scatter(xy: np.ndarray, groups: list[str], title: str, method: str, legend_title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    names = sorted(set(groups))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    fixed = {"real": "tab:blue", "fake": "tab:red"}  # the same two colours in every real/fake figure
    g = np.array(groups)
    for i, name in enumerate(names):
        sel = g == name
        color = fixed.get(name, cmap(i % cmap.N)) if set(names) <= set(fixed) else cmap(i % cmap.N)
        ax.scatter(xy[sel, 0], xy[sel, 1], s=10, alpha=0.75, color=color, label=f"{name} ({sel.sum()})")
    ax.set(title=title, xlabel=f"{METHOD_NAMES[method]} 1", ylabel=f"{METHOD_NAMES[method]} 2")
    ax.legend(title=legend_title, fontsize=8, markerscale=1.5, loc="best")
    return fig


def make_figures(
    run_dir: str | Path,
    dataset: str | list[str],
    out_dir: str | Path | None = None,
    *,
    method: str = "tsne",
    n: int = 500,
    split: str = "test",
    seed: int = 0,
    opts: list[str] | None = None,
) -> list[Path]:
    """Embedding maps of `run_dir` (a run folder or checkpoint) on `dataset`(s); returns the files written."""
    if method not in METHODS:
        raise AnalysisError(f"--method {method}: choose one of {list(METHODS)}")
    names = [dataset] if isinstance(dataset, str) else list(dataset)
    lm = load_detector(run_dir, opts, datasets=names)
    out = out_dir_for(out_dir, lm.run_dir, "tsne")
    sets = [load_frames(lm.cfg, lm.spec, name, split, n, seed) for name in names]
    preds = [predict_pixels(lm, fr.x01) for fr in sets]
    feat = np.concatenate([p["feat"].numpy() for p in preds])
    prob = np.concatenate([p["prob"].numpy() for p in preds])
    rows = [r for fr in sets for r in fr.rows()]
    xy = project(feat, method, seed)
    views = {
        "label": ["fake" if r["label"] else "real" for r in rows],
        "manipulation": [r["label_name"] for r in rows],
        "dataset": [r["dataset"] for r in rows],
    }
    videos = [f"{r['dataset']}|{r['video_key']}" for r in rows]
    written, scores = [], {}
    for view, groups in views.items():
        s = separability(feat, xy, groups, videos, seed)
        scores[view] = s
        numbers = (
            f"silhouette (2-D) {s['silhouette_2d']:.3f}, linear-probe AUC ({feat.shape[1]}-D feat) {s['probe_auc']:.3f}"
            if s["note"] is None
            else f"separability: n/a ({s['note']})"
        )
        title = f"{METHOD_NAMES[method]} of {lm.cfg['model_name']} feat by {VIEWS[view]}\n{lm.name} on {', '.join(names)} ({split})\n{numbers}"
        written.append(
            save_figure(_scatter(xy, groups, title, method, VIEWS[view]), out / f"{method}_by_{view}.png")
        )
    table = [
        {**r, "prob": float(p), "x": float(a), "y": float(b)}
        for r, p, (a, b) in zip(rows, prob, xy, strict=True)
    ]
    written.append(save_csv(out / f"embedding_{method}.csv", table))
    written.append(save_npy(out / "feat.npy", feat))
    meta = {"checkpoint": str(lm.ckpt_path), "datasets": names, "split": split, "method": method, "seed": seed,
            "n_frames": len(rows), "feat_dim": int(feat.shape[1]), "views": scores}  # fmt: skip
    written.append(save_json(out / "separability.json", meta))
    return written


def main(argv: list[str] | None = None) -> int:
    p = tool_parser(__doc__, "dataset names (dataset JSON names)", many=True)
    p.add_argument("--method", default="tsne", choices=METHODS)
    p.add_argument("--n", type=int, default=500, help="frames per dataset, sampled by video (≤ 0: all)")
    add_sample_flags(p, "tsne")
    a = p.parse_args(argv)
    print(written(make_figures(a.weights_path, a.test_dataset, a.out, method=a.method, n=a.n, split=a.split,
                               seed=a.seed, opts=a.opts)))  # fmt: skip
    return 0


if __name__ == "__main__":
    run_cli(main)
