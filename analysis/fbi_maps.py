"""FBI-CLIP's own maps: the boundary soft map W against the blending mask, and the frequency gates over training:

    python analysis/fbi_maps.py --weights_path RUN_OR_CKPT --test_dataset A [--n 8] [--n_stats 0]
        [--split test] [--seed 0] [--out DIR] [--opts rgb_dir=... dataset_json_folder=...]

Boundary (`boundary_map.png`): per example frame the crop, its blending mask, the boundary target the
supervision uses (4·m̃(1−m̃) of the blurred mask, `model.boundary.target_*`) and W (sigmoid of the boundary
net, ¼ resolution, upsampled bilinearly) overlaid on the crop. Numbers over `--n_stats` frames (0: the whole
split), on fake frames at W's resolution: mean W inside the boundary band (target > 0.5) vs outside, and the
pixel AUC of W against that band; plus the mean W of real vs fake frames. Needs a dataset with masks.

Frequency gates (`freq_gates.png`): mean |gate| of each injection block over training from the TensorBoard
scalars `train/freq_gate_bN` (logged by FBI-CLIP with its losses), the checkpoints' values as markers, and the
per-channel |gate| distribution of the analysed checkpoint. Numbers in `boundary_stats.json`,
`boundary_frames.csv`, `W.npy`, `freq_gates.csv` under `--out` (default `<run folder>/analysis/fbi_maps`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from analysis.common import (  # noqa: E402
    LoadedModel,
    add_sample_flags,
    load_detector,
    load_frames,
    log,
    predict_pixels,
    tool_parser,
    written,
)
from analysis.files import (  # noqa: E402
    AnalysisError,
    out_dir_for,
    read_scalars,
    save_csv,
    save_figure,
    save_json,
    save_npy,
)
from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import FBIError  # noqa: E402


def boundary_maps(lm: LoadedModel, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(W at ¼ resolution N×1×h×w, fake probability N) of an FBI-CLIP model with boundary mining."""
    pred = predict_pixels(lm, x01)
    if "boundary_logits" not in pred:
        raise AnalysisError(f"{lm.name}: the model has no boundary map (model_name {lm.cfg['model_name']}, "
                            "model.boundary.enabled false?)")  # fmt: skip
    return torch.sigmoid(pred["boundary_logits"]), pred["prob"]


def boundary_target(lm: LoadedModel, mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The supervision target of the model's own config at W's resolution."""
    from training.modules.boundary import mask_boundary

    b = lm.cfg["model"]["boundary"]
    return mask_boundary(mask, b["target_blur_kernel"], b["target_blur_sigma"], size)


def boundary_stats(w: torch.Tensor, target: torch.Tensor, label: np.ndarray) -> dict:
    """W inside vs outside the boundary band (target > 0.5) on fake frames, pixel AUC, real vs fake mean W."""
    from sklearn.metrics import roc_auc_score

    fake = torch.as_tensor(label == 1)
    out = {"n_frames": len(label), "n_fake": int(fake.sum()), "mean_w_real": float("nan"), "mean_w_fake": float("nan"),
           "w_in_band": float("nan"), "w_out_band": float("nan"), "band_auc": float("nan"), "band_share": float("nan")}  # fmt: skip
    if (~fake).any():
        out["mean_w_real"] = float(w[~fake].mean())
    if not fake.any():
        return out
    wf, band = w[fake].flatten(), (target[fake] > 0.5).flatten()
    out["mean_w_fake"] = float(wf.mean())
    out["band_share"] = float(band.float().mean())
    if band.any() and (~band).any():
        out.update(w_in_band=float(wf[band].mean()), w_out_band=float(wf[~band].mean()),
                   band_auc=float(roc_auc_score(band.numpy(), wf.numpy())))  # fmt: skip
    return out


def _boundary_figure(fr, w: torch.Tensor, target: torch.Tensor, prob: np.ndarray, title: str) -> plt.Figure:
    size = fr.x01.shape[-2:]
    w_up = F.interpolate(w, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()
    t_up = F.interpolate(target, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()
    order = np.concatenate([np.flatnonzero(fr.label == 1), np.flatnonzero(fr.label == 0)])  # fakes first
    heads = ("crop", "blending mask", "boundary target", "W overlaid (0–1)", "W, own range")
    fig, axes = plt.subplots(
        len(order), 5, figsize=(9.0, 1.8 * len(order) + 0.8), squeeze=False, layout="constrained"
    )
    for r, i in enumerate(order):
        img = fr.x01[i].permute(1, 2, 0).numpy()
        kind = "fake" if fr.label[i] else "real"
        panels = [(img, None), (fr.mask[i, 0].numpy(), "gray"), (t_up[i], "magma")]
        for c, (data, cmap) in enumerate(panels):
            axes[r, c].imshow(data, cmap=cmap, vmin=0, vmax=1)
        axes[r, 3].imshow(img)
        im = axes[r, 3].imshow(w_up[i], cmap="viridis", vmin=0, vmax=1, alpha=0.6)
        # the same map stretched to its own min–max: shows W's structure even when its range is narrow
        axes[r, 4].imshow(w_up[i], cmap="viridis")
        axes[r, 4].set_xlabel(f"{w_up[i].min():.2f}–{w_up[i].max():.2f}", fontsize=7, labelpad=1)
        axes[r, 0].set_ylabel(f"{kind}\np(fake) {prob[i]:.2f}", fontsize=8)
        for c in range(5):
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(heads[c], fontsize=9)
    fig.colorbar(im, ax=axes[:, :4], shrink=0.5, aspect=30, label="W (boundary soft map)")
    fig.suptitle(title, fontsize=9)
    return fig


def boundary_figures(
    lm: LoadedModel, dataset: str, out: Path, n: int, n_stats: int, split: str, seed: int
) -> list[Path]:
    """W next to the blending masks for `n` frames, numbers over `n_stats` frames (0: the whole split)."""
    stats_fr = load_frames(lm.cfg, lm.spec, dataset, split, n_stats, seed, with_mask="auto")
    if stats_fr.mask is None:
        raise AnalysisError(f"dataset '{dataset}' lists no blending masks for its fake videos: the boundary map "
                            "has nothing to be compared with (use a dataset with masks, e.g. FBI-Demo)")  # fmt: skip
    w, prob = boundary_maps(lm, stats_fr.x01)
    target = boundary_target(lm, stats_fr.mask, tuple(w.shape[-2:]))
    stats = boundary_stats(w, target, stats_fr.label)
    stats.update(checkpoint=str(lm.ckpt_path), dataset=dataset, split=split, w_resolution=list(w.shape[-2:]))
    fr = load_frames(lm.cfg, lm.spec, dataset, split, n, seed, with_mask=True, per_video=1)
    w_ex, prob_ex = boundary_maps(lm, fr.x01)
    t_ex = boundary_target(lm, fr.mask, tuple(w_ex.shape[-2:]))
    numbers = (f"fakes: mean W {stats['w_in_band']:.3f} inside the mask boundary vs {stats['w_out_band']:.3f} outside, "
               f"pixel AUC {stats['band_auc']:.3f}; mean W real {stats['mean_w_real']:.3f}, fake {stats['mean_w_fake']:.3f} "
               f"({stats['n_frames']} frames)")  # fmt: skip
    title = f"FBI-CLIP boundary map W: {lm.name} on {dataset} ({split})\n{numbers}"
    band = (target > 0.5).flatten(1).float()
    rows = [{**r, "prob": float(p), "mean_w": float(wi.mean()),
             "w_in_band": float((wi.flatten() * b).sum() / b.sum()) if b.sum() else float("nan")}
            for r, p, wi, b in zip(stats_fr.rows(), prob, w, band, strict=True)]  # fmt: skip
    return [
        save_figure(_boundary_figure(fr, w_ex, t_ex, prob_ex.numpy(), title), out / "boundary_map.png"),
        save_json(out / "boundary_stats.json", stats),
        save_csv(out / "boundary_frames.csv", rows),
        save_npy(out / "W.npy", w[:, 0].numpy()),
    ]


def gate_figures(lm: LoadedModel, out: Path) -> list[Path]:
    """Mean |gate| per injection block over training (TensorBoard + checkpoints) and at this checkpoint."""
    from training.trainer.checkpoint import load_checkpoint

    blocks = list(lm.model.freq.blocks)
    final = lm.model.freq.gates.detach().abs().numpy()  # blocks × width
    curves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if lm.run_dir is not None:
        try:
            scalars = read_scalars(lm.run_dir / "tb")
        except FBIError as e:
            log.warning("no training curves for the gates: %s", e)
            scalars = {}
        curves = {b: scalars[f"train/freq_gate_b{b}"] for b in blocks if f"train/freq_gate_b{b}" in scalars}
    points = []  # (name, step, per-block mean |gate|) of the run's checkpoints
    for p in sorted((lm.run_dir / "ckpt").glob("*.pth")) if lm.run_dir else [lm.ckpt_path]:
        ck = load_checkpoint(p)
        g = ck["model"].get("freq.gates")
        if g is not None and "step" in ck:
            points.append((p.name, int(ck["step"]), g.abs().mean(dim=1).numpy()))
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.6, 1]}, layout="constrained"
    )
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(blocks)))
    for k, b in enumerate(blocks):
        if b in curves:
            ax.plot(*curves[b], color=colors[k], label=f"after block {b}")
        for j, (name, step, g) in enumerate(points):
            ax.scatter([step], [g[k]], color=colors[k], marker="os^D"[j % 4], edgecolor="black", zorder=3,
                       label=name if k == 0 else None)  # fmt: skip
    note = "" if curves else " (no freq_gate scalars in the TensorBoard log: checkpoints only)"
    ax.set(
        xlabel="optimiser step",
        ylabel="mean |gate| over channels",
        title=f"frequency gates over training{note}",
    )
    ax.legend(fontsize=8)
    bx.boxplot(
        [final[k] for k in range(len(blocks))], tick_labels=[f"b{b}" for b in blocks], showfliers=False
    )
    bx.set(
        xlabel="injection after block",
        ylabel="|gate| per channel",
        title=f"{lm.ckpt_path.name}: per-channel |gate|",
    )
    fig.suptitle(f"FBI-CLIP frequency adapter gates (zero at init): {lm.name}", fontsize=10)
    rows = [{"source": "tensorboard", "step": int(s), "block": b, "mean_abs_gate": float(v)}
            for b, (st, va) in curves.items() for s, v in zip(st, va, strict=True)]  # fmt: skip
    rows += [{"source": name, "step": step, "block": b, "mean_abs_gate": float(g[k])}
             for name, step, g in points for k, b in enumerate(blocks)]  # fmt: skip
    return [save_figure(fig, out / "freq_gates.png"), save_csv(out / "freq_gates.csv", rows)]


def make_figures(
    run_dir: str | Path,
    dataset: str,
    out_dir: str | Path | None = None,
    *,
    n: int = 8,
    n_stats: int = 0,
    split: str = "test",
    seed: int = 0,
    opts: list[str] | None = None,
) -> list[Path]:
    """Boundary-map and frequency-gate figures of an FBI-CLIP run folder or checkpoint; returns the files written."""
    if n < 1:
        raise AnalysisError(f"--n {n}: need at least 1 example frame")
    lm = load_detector(run_dir, opts, datasets=[dataset])
    has_b, has_f = hasattr(lm.model, "boundary"), hasattr(lm.model, "freq")
    if not (has_b or has_f):
        raise AnalysisError(f"{lm.name} ({lm.cfg['model_name']}) has neither a boundary map nor frequency gates; "
                            "fbi_maps.py shows FBI-CLIP's own parts (use gradcam.py for other detectors)")  # fmt: skip
    out = out_dir_for(out_dir, lm.run_dir, "fbi_maps")
    files = boundary_figures(lm, dataset, out, n, n_stats, split, seed) if has_b else []
    return files + (gate_figures(lm, out) if has_f else [])


def main(argv: list[str] | None = None) -> int:
    p = tool_parser(__doc__, "dataset with blending masks (dataset JSON name)",
                    weights_help="FBI-CLIP checkpoint (.pth) or run folder (ckpt/best.pth)")  # fmt: skip
    p.add_argument("--n", type=int, default=8, help="example frames in the figure, one per video (default 8)")
    p.add_argument(
        "--n_stats", type=int, default=0, help="frames behind the numbers (default 0: the whole split)"
    )
    add_sample_flags(p, "fbi_maps")
    a = p.parse_args(argv)
    print(written(make_figures(a.weights_path, a.test_dataset, a.out, n=a.n, n_stats=a.n_stats, split=a.split,
                               seed=a.seed, opts=a.opts)))  # fmt: skip
    return 0


if __name__ == "__main__":
    run_cli(main)
