"""Sample Self-Blended Images (training/dataset/sbi.py, `data_aug.sbi` defaults) on a real face, as a PNG:

    python analysis/plot_sbi.py [--out figures/sbi_examples.png] [--seeds 4] [--size 256]

The face is skimage's astronaut with dlib 68-point landmarks, cropped square around the landmarks
(side = 1.6 × their extent, about what a face crop of the preprocessing holds) and resized to --size,
so the source shift/scale act on a face crop as in training. Rows: the real crop with its landmarks,
the self-blended fake (one seed per column), its blend mask.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import FBIError  # noqa: E402

matplotlib.use("Agg")
import cv2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.dataset.sbi import SBI_DEFAULTS, SelfBlend  # noqa: E402


def astronaut_face(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(size×size RGB face crop, its 68 landmarks in crop pixels) from skimage's astronaut."""
    try:
        import dlib
    except ImportError as e:
        raise FBIError("analysis/plot_sbi.py needs dlib for the landmarks: run sh install.sh") from e
    from skimage.data import astronaut

    from fbi_common.face.models import landmark_model_path

    img = astronaut()
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    rects = dlib.get_frontal_face_detector()(grey, 1)
    if len(rects) != 1:
        raise FBIError(
            f"dlib found {len(rects)} faces in skimage's astronaut (expected 1); check the dlib install"
        )
    shape = dlib.shape_predictor(str(landmark_model_path("68")[0]))(grey, rects[0])
    lm = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
    centre = (lm.min(0) + lm.max(0)) / 2
    side = 1.6 * float((lm.max(0) - lm.min(0)).max())
    x0, y0 = np.round(centre - side / 2).astype(int)
    s = int(round(side))
    padded = cv2.copyMakeBorder(img, s, s, s, s, cv2.BORDER_REFLECT101)
    crop = padded[y0 + s : y0 + 2 * s, x0 + s : x0 + 2 * s]
    k = size / s
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), (lm - (x0, y0)) * k


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="figures/sbi_examples.png", help="PNG to write")
    p.add_argument("--seeds", type=int, default=4, help="number of examples (seeds 0..N-1), 1-8")
    p.add_argument("--size", type=int, default=256, help="face crop side in pixels, ≥ 64")
    args = p.parse_args(argv)
    if not 1 <= args.seeds <= 8:
        raise FBIError(f"--seeds {args.seeds}: give 1 to 8 examples")
    if args.size < 64:
        raise FBIError(f"--size {args.size}: give a crop side of at least 64 px")
    face, lm = astronaut_face(args.size)
    sbi = SelfBlend({"prob": 1.0})
    fig, axes = plt.subplots(3, args.seeds, figsize=(2.3 * args.seeds + 0.6, 7.4), squeeze=False)
    for seed in range(args.seeds):
        out, mask = sbi(face, lm, np.random.default_rng(seed))
        axes[0, seed].imshow(face)
        axes[0, seed].scatter(lm[:, 0], lm[:, 1], s=3, c="lime")
        axes[1, seed].imshow(out)
        axes[2, seed].imshow(mask, cmap="gray", vmin=0, vmax=255)
        axes[0, seed].set_title(f"seed {seed}")
        axes[2, seed].set_xlabel(f"mask peak {mask.max() / 255:.2f}")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, name in zip(axes[:, 0], ("real + 68 landmarks", "self-blended (SBI)", "blend mask"), strict=True):
        ax.set_ylabel(name)
    shift, scale = SBI_DEFAULTS["shift"], SBI_DEFAULTS["scale"]
    fig.suptitle(
        f"SBI (training/dataset/sbi.py defaults: source shift ±{shift[0]:.1%} x / ±{shift[1]:.1%} y, "
        f"scale {scale[0]:.3g}–{scale[1]:.4g})\non skimage's astronaut, {args.size} px face crop, dlib 68 landmarks",
        fontsize=9,
    )
    fig.tight_layout()
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
