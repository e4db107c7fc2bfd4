"""Training curves of a run from its TensorBoard folder, in one figure:

    python analysis/curves.py RUN_DIR [--out DIR]

Panels: the overall and cross-entropy loss; every other loss term (`train/<term>`); the learning rate; the
validation metrics per epoch (AUC, AP, ACC and EER; the selected epoch marked when `test/results.json`
names it); the GRL coefficient λ of the identity head; FBI-CLIP's frequency-gate magnitudes
(`train/freq_gate_bN`). A panel whose scalars the run did not log says so. Writes `curves.png` and
`scalars.csv` (tag, step, value) into `--out` (default `<run folder>/analysis/curves`).
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

from analysis.files import out_path, read_scalars, run_folder, save_csv, save_figure  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402

MAIN_LOSSES = ("train/overall", "train/ce")
NOT_LOSSES = ("train/lr", "train/grl_lambda")
VAL_METRICS = ("val/frame_auc", "val/video_auc", "val/frame_ap", "val/frame_acc", "val/frame_eer")


def panels(tags: list[str]) -> dict[str, list[str]]:
    """Which scalar tags go into which panel (empty list: nothing logged for it)."""
    gates = sorted(
        (t for t in tags if t.startswith("train/freq_gate_b")), key=lambda t: int(t.rsplit("b", 1)[1])
    )
    aux = [t for t in tags if t.startswith("train/") and t not in (*MAIN_LOSSES, *NOT_LOSSES, *gates)]
    return {
        "loss: overall and cross-entropy": [t for t in MAIN_LOSSES if t in tags],
        "other loss terms (unweighted)": sorted(aux),
        "learning rate": [t for t in ("train/lr",) if t in tags],
        "validation (per epoch)": [t for t in VAL_METRICS if t in tags],
        "GRL coefficient λ (identity head)": [t for t in ("train/grl_lambda",) if t in tags],
        "frequency gates: mean |gate| per block": gates,
    }


def _selected_epoch(run: Path) -> int | None:
    res = run / "test" / "results.json"
    if not res.is_file():
        return None
    for m in json.loads(res.read_text()).values():
        if isinstance(m, dict) and m.get("checkpoint_epoch") is not None:
            return int(m["checkpoint_epoch"])
    return None


def make_figures(
    run_dir: str | Path, dataset: str | None = None, out_dir: str | Path | None = None
) -> list[Path]:
    """The curves figure of a run folder (`dataset` unused; kept for the shared signature)."""
    run = run_folder(run_dir)
    scalars = read_scalars(run / "tb")
    layout = panels(list(scalars))
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), layout="constrained")
    best = _selected_epoch(run)
    for ax, (title, tags) in zip(axes.flat, layout.items(), strict=True):
        is_val = title.startswith("validation")
        for t in tags:
            steps, values = scalars[t]
            ax.plot(
                steps,
                values,
                marker="o" if is_val or len(steps) < 20 else None,
                ms=3,
                label=t.split("/", 1)[1],
            )
        if is_val and best is not None:
            ax.axvline(best, color="k", ls="--", lw=0.8, label=f"selected epoch {best}")
        if not tags:
            ax.text(
                0.5,
                0.5,
                "not logged by this run",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="gray",
            )
        ax.set(title=title, xlabel="epoch" if is_val else "optimiser step")
        ax.set_ylabel({"learning rate": "LR", "GRL coefficient λ (identity head)": "λ"}.get(title, "value"))
        if tags:
            ax.legend(fontsize=7)
    fig.suptitle(f"training curves of {run.name} (TensorBoard: {run / 'tb'})")
    out = out_path(out_dir) if out_dir else run / "analysis" / "curves"
    rows = [
        {"tag": t, "step": int(s), "value": float(v)}
        for t, (st, va) in scalars.items()
        for s, v in zip(st, va, strict=True)
    ]
    return [save_figure(fig, out / "curves.png"), save_csv(out / "scalars.csv", rows)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder written by training/train.py (or one of its checkpoints)")
    p.add_argument("--out", help="output folder (default: <run>/analysis/curves)")
    a = p.parse_args(argv)
    for f in make_figures(a.run, None, a.out):
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
