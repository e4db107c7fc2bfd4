"""Grad-CAM of the fake logit on face crops, real next to fake (pytorch-grad-cam):

    python analysis/gradcam.py --weights_path RUN_OR_CKPT --test_dataset A [--n 16 | --frames F [F ...]]
        [--split test] [--seed 0] [--out DIR] [--opts rgb_dir=... dataset_json_folder=...]

ViT detectors (clip, fbi_clip) are read at the first LayerNorm of the last transformer block, whose
patch tokens (CLS dropped) are reshaped to the patch grid; timm CNNs (xception, efficientnetb4) at their
last feature stage (timm `feature_info`). The target is the fake logit; pixels enter as float [0, 1], so
the map is taken through the detector's own normalisation. Each CAM is normalised to [0, 1] per image (the
library's convention). When the dataset has blending masks, the share of each fake frame's CAM mass inside
the mask is reported next to the mask's area share (what a uniform map would get). Writes `gradcam.png`,
`cams.npy` (N×S×S) and `gradcam.csv` (provenance, fake probability, mask shares) into `--out` (default:
`<run folder>/analysis/gradcam`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from analysis.common import (  # noqa: E402
    LoadedModel,
    PixelModel,
    add_sample_flags,
    load_detector,
    load_frames,
    predict_pixels,
    tool_parser,
    written,
)
from analysis.files import AnalysisError, out_dir_for, save_csv, save_figure, save_json, save_npy  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402

FAKE = 1  # class index of the fake logit


def vit_reshape_transform(grid_size: tuple[int, int], batch_first: bool = True) -> Callable:
    """Tokens B×(1+N)×D (or (1+N)×B×D) → B×D×gh×gw: the CLS token dropped, token 1 + r·gw + c at (r, c)."""
    gh, gw = int(grid_size[0]), int(grid_size[1])

    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        t = tokens if batch_first else tokens.transpose(0, 1)
        if t.shape[1] != 1 + gh * gw:
            raise ValueError(f"{t.shape[1]} tokens do not fit a {gh}×{gw} grid plus a class token")
        return t[:, 1:].reshape(t.shape[0], gh, gw, t.shape[2]).permute(0, 3, 1, 2)

    return reshape


def cam_target(model: nn.Module) -> tuple[nn.Module, Callable | None, str]:
    """(target layer, reshape transform, description) of a detector: ViT via the token grid, CNN via its last stage."""
    from training.networks.clip_backbone import ClipBackbone
    from training.networks.timm_backbone import TimmBackbone

    bb = getattr(model, "backbone", None)
    if isinstance(bb, ClipBackbone):
        tr = bb.visual.transformer
        layer = tr.resblocks[-1].ln_1
        return (
            layer,
            vit_reshape_transform(bb.grid_size, tr.batch_first),
            f"resblocks[{len(tr.resblocks) - 1}].ln_1",
        )
    if isinstance(bb, TimmBackbone):
        name = bb.model.feature_info[-1]["module"]
        return bb.model.get_submodule(name), None, f"{bb.name}.{name}"
    raise AnalysisError(
        f"Grad-CAM supports detectors with a ClipBackbone (clip, fbi_clip) or a TimmBackbone (xception, "
        f"efficientnetb4); {type(model).__name__} has neither as `.backbone`"
    )


def gradcam_maps(model: nn.Module, x01: torch.Tensor, batch_size: int = 16) -> np.ndarray:
    """Grad-CAM of the fake logit for [0, 1] pixels N×3×S×S → N×S×S in [0, 1] (per-image normalised)."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer, reshape, _ = cam_target(model)
    cams = []
    with GradCAM(model=PixelModel(model), target_layers=[layer], reshape_transform=reshape) as cam:
        for i in range(0, len(x01), batch_size):
            x = x01[i : i + batch_size].clone().requires_grad_(True)  # gradients flow even in a frozen model
            cams.append(cam(input_tensor=x, targets=[ClassifierOutputTarget(FAKE)] * len(x)))
    return np.concatenate(cams).astype(np.float32)


def mask_shares(cams: np.ndarray, masks: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: share of CAM mass inside the blending mask (> 0.5), and the mask's share of the area."""
    m = (masks[:, 0].numpy() > 0.5).astype(np.float32)
    area = m.mean(axis=(1, 2))
    inside = (cams * m).sum(axis=(1, 2)) / np.maximum(cams.sum(axis=(1, 2)), 1e-12)
    return inside, area


def _figure(fr, cams: np.ndarray, prob: np.ndarray, title: str) -> plt.Figure:
    from pytorch_grad_cam.utils.image import show_cam_on_image

    real, fake = np.flatnonzero(fr.label == 0), np.flatnonzero(fr.label == 1)
    rows = max(len(real), len(fake))
    fig, axes = plt.subplots(rows, 4, figsize=(7.6, 1.8 * rows + 0.8), squeeze=False, layout="constrained")
    for c, head in enumerate(
        ("real crop", "real: Grad-CAM (fake logit)", "fake crop", "fake: Grad-CAM (fake logit)")
    ):
        axes[0, c].set_title(head, fontsize=9)
    for col, idx in ((0, real), (2, fake)):
        for r in range(rows):
            a, b = axes[r, col], axes[r, col + 1]
            a.axis("off"), b.axis("off")
            if r >= len(idx):
                continue
            i = idx[r]
            img = fr.x01[i].permute(1, 2, 0).numpy().astype(np.float32)
            a.imshow(img)
            b.imshow(show_cam_on_image(img, cams[i], use_rgb=True, image_weight=0.55))
            b.text(1, 1, f"p(fake) {prob[i]:.2f}", color="white", fontsize=7, va="top",
                   bbox={"facecolor": "black", "alpha": 0.6, "pad": 1})  # fmt: skip
    sm = plt.cm.ScalarMappable(cmap="jet", norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=axes, shrink=0.5, aspect=30, label="Grad-CAM (per-image normalised)")
    fig.suptitle(title, fontsize=9)
    return fig


def make_figures(
    run_dir: str | Path,
    dataset: str,
    out_dir: str | Path | None = None,
    *,
    n: int = 16,
    frames: list[str] | None = None,
    split: str = "test",
    seed: int = 0,
    opts: list[str] | None = None,
) -> list[Path]:
    """Grad-CAM figure of `run_dir` (run folder or checkpoint) on `dataset`; returns the files written."""
    if n is not None and n < 1:
        raise AnalysisError(f"--n {n}: need at least 1 frame")
    lm: LoadedModel = load_detector(run_dir, opts, datasets=[dataset])
    _, _, where = cam_target(lm.model)
    fr = load_frames(lm.cfg, lm.spec, dataset, split, n, seed, with_mask="auto", select=frames, per_video=1)
    prob = predict_pixels(lm, fr.x01)["prob"].numpy()
    cams = gradcam_maps(lm.model, fr.x01)
    rows = [{**r, "prob": float(p)} for r, p in zip(fr.rows(), prob, strict=True)]
    summary = {"checkpoint": str(lm.ckpt_path), "dataset": dataset, "split": split, "target_layer": where,
               "n_frames": len(rows), "target": "fake logit"}  # fmt: skip
    numbers = ""
    if fr.mask is not None:
        inside, area = mask_shares(cams, fr.mask)
        for r, s, a in zip(rows, inside, area, strict=True):
            r["cam_share_in_mask"], r["mask_area_share"] = float(s), float(a)
        fake = fr.label == 1
        if fake.any():
            summary.update(
                fake_cam_share_in_mask=float(inside[fake].mean()),
                fake_mask_area_share=float(area[fake].mean()),
            )
            numbers = (f"\nfakes: {100 * summary['fake_cam_share_in_mask']:.0f}% of CAM mass inside the blending mask "
                       f"(mask covers {100 * summary['fake_mask_area_share']:.0f}% of the crop)")  # fmt: skip
    title = f"Grad-CAM of {lm.cfg['model_name']} at {where}: {lm.name} on {dataset} ({split}){numbers}"
    out = out_dir_for(out_dir, lm.run_dir, "gradcam")
    return [
        save_figure(_figure(fr, cams, prob, title), out / "gradcam.png"),
        save_npy(out / "cams.npy", cams),
        save_csv(out / "gradcam.csv", rows),
        save_json(out / "gradcam.json", summary),
    ]


def main(argv: list[str] | None = None) -> int:
    p = tool_parser(__doc__, "dataset name (dataset JSON name)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--n", type=int, default=16, help="frames, one per video, label names in turn (default 16)"
    )
    g.add_argument("--frames", nargs="+", help="frame paths (as in predictions.csv) or video keys to show")
    add_sample_flags(p, "gradcam")
    a = p.parse_args(argv)
    print(written(make_figures(a.weights_path, a.test_dataset, a.out, n=a.n, frames=a.frames, split=a.split,
                               seed=a.seed, opts=a.opts)))  # fmt: skip
    return 0


if __name__ == "__main__":
    run_cli(main)
