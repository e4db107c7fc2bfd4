"""Frame + video metrics on many synthetic predictions, ours next to a plain scikit-learn reference:

    python benchmarks/bench_metrics.py [--frames 1000000] [--frames_per_video 32] [--repeats 3]

The predictions look like a large test set (DFDC-sized: 1M frames, 32 per video, four fake
methods and one real label, full video keys). `compute_metrics` (training/metrics/core.py, every
docs/DESIGN.md §5 metric incl. the per-label breakdown) is timed against a straightforward reference:
a Python dict groups frames into videos, scikit-learn computes AUC / AP / ROC (EER, TNR@TPR95) /
accuracy at both levels and per label. Both must agree (to 1e-12); the times are medians over
`--repeats` runs, wall clock and CPU time (on a shared machine the CPU time is what the run costs an
idle core). Ends with `RESULT metrics_seconds`, `RESULT metrics_reference_seconds`,
`RESULT metrics_cpu_seconds` and `RESULT metrics_speedup`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score, roc_curve  # noqa: E402

from benchmarks.results import result_lines  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402

LABELS = ["DFDC_Real", "FF-DF", "FF-F2F", "FF-FS", "FF-NT"]


def synthetic(n: int, per_video: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """labels, probs (float32, as models emit them), video keys, label names."""
    rng = np.random.default_rng(seed)
    n_videos = max(2, n // per_video)
    video_label = rng.integers(0, len(LABELS), n_videos)
    vid = np.sort(rng.integers(0, n_videos, n))
    names = [LABELS[i] for i in video_label[vid]]
    labels = (video_label[vid] > 0).astype(np.int64)
    probs = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1).astype(np.float32)
    keys = [f"DFDC/{LABELS[video_label[v]]}/video_{v:07d}" for v in vid]
    return labels, probs, keys, names


def _eer(y, p) -> float:
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def reference(labels, probs, keys, names) -> dict:
    """The plain way: group with a dict, score with scikit-learn."""
    p = probs.astype(np.float64)
    groups: dict[str, list[float]] = defaultdict(list)
    vlabel, vname = {}, {}
    for k, y, q, nm in zip(keys, labels, p, names, strict=True):
        groups[k].append(q)
        vlabel[k], vname[k] = y, nm
    vkeys = sorted(groups)
    vy = np.array([vlabel[k] for k in vkeys])
    vp = np.array([np.mean(groups[k]) for k in vkeys])
    out = {}
    for level, y, q in (("frame", labels, p), ("video", vy, vp)):
        fpr, tpr, _ = roc_curve(y, q, drop_intermediate=False)
        out[f"{level}_auc"] = roc_auc_score(y, q)
        out[f"{level}_ap"] = average_precision_score(y, q)
        out[f"{level}_eer"] = _eer(y, q)
        out[f"{level}_tnr_at_tpr95"] = 1 - fpr[int(np.argmax(tpr >= 0.95))]
        out[f"{level}_acc"] = accuracy_score(y, q >= 0.5)
    nm_arr, vn = np.array(names), np.array([vname[k] for k in vkeys])
    for name in LABELS[1:]:
        sel, vsel = (nm_arr == name) | (labels == 0), (vn == name) | (vy == 0)
        out[f"{name}_frame_auc"] = roc_auc_score(labels[sel], p[sel])
        out[f"{name}_video_auc"] = roc_auc_score(vy[vsel], vp[vsel])
    return out


def ours(labels, probs, keys, names) -> dict:
    from training.metrics import compute_metrics

    m = compute_metrics(labels, probs, keys, names, threshold=0.5)
    out = {k: m[k] for k in m if k.startswith(("frame_", "video_")) and not k.endswith("calibrated")}
    for name in LABELS[1:]:
        out[f"{name}_frame_auc"] = m["per_label"][name]["frame_auc"]
        out[f"{name}_video_auc"] = m["per_label"][name]["video_auc"]
    return out


def timed(fn, args, repeats: int) -> tuple[float, float, dict]:
    """Median wall and CPU seconds (CPU time: what the run costs on an idle core, load or not)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--frames_per_video", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if args.frames < 100 or args.frames_per_video < 1 or args.repeats < 1:
        ap.error("need --frames >= 100, --frames_per_video >= 1, --repeats >= 1")
    data = synthetic(args.frames, args.frames_per_video)
    n_videos = len(set(data[2]))
    print(f"{args.frames} frames, {n_videos} videos, labels {LABELS}")
    t_ours, c_ours, a = timed(ours, data, args.repeats)
    t_ref, c_ref, b = timed(reference, data, args.repeats)
    # EER: ours interpolates the ROC crossing, the reference takes the nearest point's midpoint
    diffs = {k: abs(a[k] - b[k]) for k in b if not k.endswith("_eer")}
    worst = max(diffs, key=diffs.get)
    eer_gap = max(abs(a[k] - b[k]) for k in b if k.endswith("_eer"))
    print(
        f"ours (compute_metrics, every docs/DESIGN.md §5 metric + per_label): {t_ours:.3f} s wall, {c_ours:.3f} s CPU"
    )
    print(f"reference (dict grouping + scikit-learn):                  {t_ref:.3f} s wall, {c_ref:.3f} s CPU")
    print(
        f"largest difference: {worst} {diffs[worst]:.2e}; EER (interpolated vs nearest point) {eer_gap:.1e}"
    )
    if diffs[worst] > 1e-12:
        raise RuntimeError(f"metrics disagree with the reference: {worst} differs by {diffs[worst]}")
    print(result_lines({"metrics_seconds": f"{t_ours:.3f}", "metrics_reference_seconds": f"{t_ref:.3f}",
                        "metrics_cpu_seconds": f"{c_ours:.3f}", "metrics_speedup": f"{t_ref / t_ours:.2f}"}))  # fmt: skip
    return 0


if __name__ == "__main__":
    run_cli(main)
