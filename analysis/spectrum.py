"""Mean log-amplitude Fourier spectra of real vs fake face crops of a dataset JSON, and their difference:

    python analysis/spectrum.py --dataset A [--n 500] [--split all|train|val|test] [--frames_per_video 4]
        [--size S] [--seed 0] [--out DIR] [--opts rgb_dir=... dataset_json_folder=... lmdb=true]

Up to `--n` frames per class (real / fake), sampled by video (seeded; manipulations in turn), read from the
dataset's frames (or LMDB) at their stored resolution (`--size` resizes; frames of another size than the
first are resized to it). Per frame: grey (ITU-R 601 luma) in [0, 1], minus its mean, 2-D FFT, log(|F| + 1e-8),
DC centred; averaged per class. The 1-D profile is the azimuthal average over integer radii (frequency as
a fraction of Nyquist). Writes `spectrum.png` (2-D maps real, fake, fake − real; 1-D profiles and their
difference), `spectrum_2d.npy` ({real, fake} stacked), `spectrum_1d.csv` and `spectrum.json` into `--out`
(default `logs/analysis/spectrum/<dataset>`). No model is involved.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import cv2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from analysis.common import sample_indices  # noqa: E402
from analysis.files import AnalysisError, out_dir_for, save_csv, save_figure, save_json, save_npy  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402

SPLITS = ("all", "train", "val", "test")


def log_amplitude(grey: np.ndarray) -> np.ndarray:
    """log(|FFT| + 1e-8) of H×W (or N×H×W) grey images after removing each image's mean, DC at the centre."""
    x = grey - grey.mean(axis=(-2, -1), keepdims=True)
    return np.log(np.abs(np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))) + 1e-8)


def azimuthal_average(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of a centred H×W spectrum over rings of integer radius 0 … min(H, W)//2, and each ring's radius
    as a fraction of Nyquist. Hand-written: two NumPy lines (bincount); no library in the stack provides it."""
    h, w = spec.shape
    yy, xx = np.indices((h, w))
    r = np.rint(np.hypot(yy - h // 2, xx - w // 2)).astype(np.int64)
    n = min(h, w) // 2 + 1
    keep = r < n
    profile = np.bincount(r[keep], weights=spec[keep], minlength=n) / np.bincount(r[keep], minlength=n)
    return profile, np.arange(n) / (min(h, w) / 2)


def _grey(img: np.ndarray, size: int | None) -> np.ndarray:
    if size is not None and img.shape[:2] != (size, size):
        img = cv2.resize(
            img, (size, size), interpolation=cv2.INTER_AREA if size < img.shape[0] else cv2.INTER_CUBIC
        )
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64) / 255.0


def _records(cfg: dict, dataset: str, split: str) -> list:
    from training.dataset import build_index

    splits = ("train", "val", "test") if split == "all" else (split,)
    recs = []
    for s in splits:
        try:
            recs.extend(build_index([dataset], s, cfg))
        except (FileNotFoundError, KeyError) as e:
            raise AnalysisError(f"dataset '{dataset}': {e.args[0] if e.args else e}") from e
        except ValueError as e:  # a split without videos: the others may still have some
            if split != "all":
                raise AnalysisError(f"dataset '{dataset}': {e}") from e
    if not recs:
        raise AnalysisError(f"dataset '{dataset}' has no videos in any split")
    return recs


def class_spectra(
    cfg: dict, dataset: str, n: int, split: str, per_video: int, size: int | None, seed: int
) -> dict:
    """Mean 2-D log-amplitude spectrum per class {"real", "fake"} → (mean map, frame count, frame list)."""
    from training.dataset import FileReader, LmdbReader, select_frames

    reader = LmdbReader(cfg["lmdb_dir"]) if cfg.get("lmdb") else FileReader(cfg["rgb_dir"])
    recs = _records(cfg, dataset, split)
    out = {}
    for cls, label in (("real", 0), ("fake", 1)):
        items = [{"video_key": r.key, "label_name": r.label_name, "frame": r.frames[i]}
                 for r in recs if r.label == label for i in select_frames(len(r.frames), per_video)]  # fmt: skip
        if not items:
            raise AnalysisError(
                f"dataset '{dataset}' ({split}) has no {cls} frames: a real/fake comparison needs both"
            )
        chosen = [items[i] for i in sample_indices(items, n, seed)]
        total, shape = None, None
        for it in tqdm(chosen, desc=f"{dataset} {cls}", leave=False, dynamic_ncols=True):
            g = _grey(reader.read_image(it["frame"]), size or (shape[0] if shape else None))
            shape = shape or g.shape
            spec = log_amplitude(g)
            total = spec if total is None else total + spec
        out[cls] = (total / len(chosen), len(chosen), chosen)
    return out


def _figure(maps: dict, title: str) -> plt.Figure:
    fig, axes = plt.subplots(2, 3, figsize=(13, 8), layout="constrained")
    real, fake = maps["real"][0], maps["fake"][0]
    ext = [-1.0, 1.0, -1.0, 1.0]  # frequency as a fraction of Nyquist, DC at the centre
    lo, hi = np.percentile(np.stack([real, fake]), [1, 99.9])
    for ax, data, name in ((axes[0, 0], real, "real"), (axes[0, 1], fake, "fake")):
        im = ax.imshow(data, cmap="inferno", vmin=lo, vmax=hi, extent=ext, origin="lower")
        ax.set(title=f"mean log|F|, {name} ({maps[name][1]} frames)", xlabel="horizontal frequency / Nyquist",
               ylabel="vertical frequency / Nyquist")  # fmt: skip
    fig.colorbar(im, ax=axes[0, :2], shrink=0.8, label="log amplitude")
    diff = fake - real
    lim = float(np.abs(diff).max()) or 1.0
    im = axes[0, 2].imshow(diff, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=ext, origin="lower")
    axes[0, 2].set(
        title="fake − real", xlabel="horizontal frequency / Nyquist", ylabel="vertical frequency / Nyquist"
    )
    fig.colorbar(im, ax=axes[0, 2], shrink=0.8, label="Δ log amplitude")
    (pr, f), (pf, _) = azimuthal_average(real), azimuthal_average(fake)
    pr, pf, f = pr[1:], pf[1:], f[1:]  # the DC ring is empty: each frame's mean is removed
    axes[1, 0].plot(f, pr, label="real", color="tab:blue")
    axes[1, 0].plot(f, pf, label="fake", color="tab:red")
    axes[1, 0].set(
        title="azimuthal average (DC removed)",
        xlabel="spatial frequency / Nyquist",
        ylabel="mean log amplitude",
    )
    axes[1, 0].legend()
    axes[1, 1].plot(f, pf - pr, color="tab:purple", label="fake − real")
    axes[1, 1].axhline(0, color="k", lw=0.8, ls=":")
    axes[1, 1].set(
        title="profile difference", xlabel="spatial frequency / Nyquist", ylabel="Δ mean log amplitude"
    )
    axes[1, 1].legend()
    axes[1, 2].axis("off")
    hi_band = f >= 0.5
    axes[1, 2].text(0.0, 0.9, f"mean Δ (fake − real) of the profile\n  below ½ Nyquist: {(pf - pr)[~hi_band].mean():+.4f}\n"
                    f"  above ½ Nyquist: {(pf - pr)[hi_band].mean():+.4f}", va="top", family="monospace")  # fmt: skip
    fig.suptitle(title)
    return fig


def make_figures(
    run_dir: str | Path | None,
    dataset: str,
    out_dir: str | Path | None = None,
    *,
    n: int = 500,
    split: str = "all",
    frames_per_video: int = 4,
    size: int | None = None,
    seed: int = 0,
    opts: list[str] | None = None,
) -> list[Path]:
    """Spectra of `dataset` (`run_dir`: unused, kept for the shared `make_figures` signature; the data keys come
    from `training/config/defaults.yaml` ← `opts`). Returns the files written."""
    from training.config import DEFAULTS_PATH, load_config
    from training.dataset.demo_data import ensure_demo_dataset

    if split not in SPLITS:
        raise AnalysisError(f"--split {split}: choose one of {list(SPLITS)}")
    if n < 1 or frames_per_video < 1 or (size is not None and size < 8):
        raise AnalysisError(f"--n {n}, --frames_per_video {frames_per_video}, --size {size}: need n ≥ 1, "
                            "frames_per_video ≥ 1 and size ≥ 8")  # fmt: skip
    cfg = load_config(DEFAULTS_PATH, opts=list(opts or []), validate_model=False)
    ensure_demo_dataset({**cfg, "test_dataset": [dataset]})
    maps = class_spectra(cfg, dataset, n, split, frames_per_video, size, seed)
    out = out_dir_for(out_dir, None, f"spectrum/{dataset}")
    (pr, f), (pf, _) = azimuthal_average(maps["real"][0]), azimuthal_average(maps["fake"][0])
    h, w = maps["real"][0].shape
    title = f"Fourier spectra of {dataset} face crops ({split} split, {h}×{w} px grey, up to {n} frames per class)"
    rows = [{"freq_over_nyquist": float(a), "real": float(b), "fake": float(c), "fake_minus_real": float(c - b)}
            for a, b, c in zip(f, pr, pf, strict=True)]  # fmt: skip
    meta = {"dataset": dataset, "split": split, "size": [h, w], "seed": seed,
            "n_frames": {k: v[1] for k, v in maps.items()},
            "profile_diff_low": float((pf - pr)[(f > 0) & (f < 0.5)].mean()), "profile_diff_high": float((pf - pr)[f >= 0.5].mean()),
            "frames": {k: [it["frame"] for it in v[2]] for k, v in maps.items()}}  # fmt: skip
    return [
        save_figure(_figure(maps, title), out / "spectrum.png"),
        save_npy(out / "spectrum_2d.npy", np.stack([maps["real"][0], maps["fake"][0]])),
        save_csv(out / "spectrum_1d.csv", rows),
        save_json(out / "spectrum.json", meta),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="dataset name (preprocessing/dataset_json/<name>.json)")
    p.add_argument("--n", type=int, default=500, help="frames per class (real, fake), sampled by video")
    p.add_argument("--split", default="all", choices=SPLITS)
    p.add_argument("--frames_per_video", type=int, default=4, help="evenly spaced frames taken per video")
    p.add_argument("--size", type=int, help="resize crops to S×S (default: the stored size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default: logs/analysis/spectrum/<dataset>)")
    p.add_argument(
        "--opts", nargs="*", default=[], metavar="KEY=VALUE", help="data keys, e.g. rgb_dir=... lmdb=true"
    )
    a = p.parse_args(argv)
    files = make_figures(None, a.dataset, a.out, n=a.n, split=a.split, frames_per_video=a.frames_per_video,
                         size=a.size, seed=a.seed, opts=a.opts)  # fmt: skip
    for f in files:
        print(f"wrote {f.resolve()}")
    return 0


if __name__ == "__main__":
    run_cli(main)
