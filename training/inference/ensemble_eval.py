"""`test.py --weights_path A.pth B.pth --ensemble mean|vote`: dataset metrics for an ensemble.

Each member is evaluated as `test.py` evaluates one checkpoint (its own metrics in `members/<k>_<name>/`);
the members' per-frame probabilities are then combined with `ensemble.combine` (each member at its own
calibrated threshold) and scored like any detector: `<out>/<Dataset>/{metrics.json,predictions.csv}`
with one `prob_<k>` column per member, and `<out>/results.json`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fbi_common.errors import FBIError
from fbi_common.io import atomic_write_json
from fbi_common.paths import resolve_path
from training.inference.ensemble import combine
from training.metrics.io import read_predictions_csv, write_predictions_csv
from training.trainer.checkpoint import load_checkpoint


class EnsembleError(FBIError):
    """Ensemble members that cannot be combined (different frames scored, bad weights)."""


def run_ensemble_test(
    cfg: dict, weights_paths: Sequence[str], out_dir: str | None, rule: str, weights: Sequence[float] | None
) -> dict[str, dict]:
    """Evaluate every member, combine per frame, write and return {dataset: metrics}."""
    from training.trainer.evaluator import score_and_write
    from training.trainer.runner import run_test

    if weights is not None and len(weights) != len(weights_paths):
        raise EnsembleError(
            f"--ensemble_weights has {len(weights)} values for {len(weights_paths)} checkpoints"
        )
    out = (
        resolve_path(out_dir)
        if out_dir
        else resolve_path(cfg["log_dir"]).parent
        / "test"
        / (f"ensemble_{rule}_{time.strftime('%Y-%m-%d-%H-%M-%S')}")
    )
    member_dirs, thresholds = [], []
    for k, w in enumerate(weights_paths):
        thr = load_checkpoint(resolve_path(w)).get("threshold")
        thresholds.append(0.5 if thr is None else float(thr))
        member_dirs.append(out / "members" / f"{k}_{Path(w).stem}")
        run_test(cfg, w, out_dir=str(member_dirs[-1]))
    results = {}
    for name in cfg["test_dataset"]:
        preds = [read_predictions_csv(d / name / "predictions.csv") for d in member_dirs]
        keys = [list(zip(p["video_key"], p["frame"], strict=True)) for p in preds]
        order = [{key: i for i, key in enumerate(k)} for k in keys]
        if any(set(o) != set(order[0]) for o in order[1:]):
            raise EnsembleError(
                f"{name}: the ensemble members scored different frames; check their test sets"
            )
        probs = np.stack([p["prob"][[o[key] for key in keys[0]]] for p, o in zip(preds, order, strict=True)])
        scores, thr = combine(probs, thresholds, rule, weights)
        base = preds[0]
        merged = {"label": [int(y) for y in base["label"]], "prob": [float(x) for x in scores],
                  "video_key": list(base["video_key"]), "frame": list(base["frame"]),
                  "label_name": list(base["label_name"] or [""] * len(scores))}  # fmt: skip
        stamp = {"ensemble": rule, "ensemble_weights": None if weights is None else list(weights),
                 "members": [{"weights_path": str(w), "threshold": t}
                             for w, t in zip(weights_paths, thresholds, strict=True)]}  # fmt: skip
        results[name] = score_and_write(
            merged, out / name, video_agg=cfg["video_agg"], threshold=thr, extra=stamp
        )
        rows = {**merged, **{f"prob_{k}": probs[k].tolist() for k in range(len(preds))}}
        write_predictions_csv(out / name / "predictions.csv", {c: list(v) for c, v in rows.items()})
    atomic_write_json(out / "results.json", results, default=lambda x: None)
    return results
