"""Sharded inference: every rank predicts its shard, rank 0 gathers, drops sampler padding, scores, writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fbi_common.errors import DataError
from fbi_common.io import atomic_write
from fbi_common.logging import get_logger
from training.dataset.dataset import DROPPED_LIST_CAP, DropLog
from training.metrics import compute_metrics, write_metrics_json, write_predictions_csv
from training.trainer.build import autocast, run_detector, to_device
from training.trainer.distributed import DistInfo, all_gather_objects

log = get_logger("evaluator")


@torch.no_grad()
def predict(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    dist_info: DistInfo,
    amp: torch.dtype | None = None,
    desc: str = "eval",
    keep_feat: bool = False,
) -> dict[str, Any] | None:
    """Per-sample predictions of the whole dataset on rank 0 (None on other ranks), ordered by index.

    Also `dropped` (frames bad_frame_policy=drop left out, as dicts, from every rank) and
    `dropped_videos` (videos the index left out), which `score_and_write` reports.
    """
    was_training = model.training
    drops = DropLog()
    model.eval()
    rows: dict[str, list] = {k: [] for k in ("index", "video_key", "frame", "label", "label_name", "prob")}
    feats: list[np.ndarray] = []
    bar = tqdm(loader, desc=desc, disable=not dist_info.is_main, leave=False, dynamic_ncols=True)
    for batch in bar:
        batch = drops.take(batch)
        if batch is None:  # every item of the batch was dropped by bad_frame_policy=drop
            continue
        batch = to_device(batch, dist_info.device)
        with autocast(dist_info.device, amp):
            pred = run_detector(model, batch, inference=True)
        rows["prob"].extend(pred["prob"].float().cpu().tolist())
        rows["label"].extend(batch["label"].cpu().tolist())
        rows["index"].extend(batch["index"].cpu().tolist())
        for k in ("video_key", "frame", "label_name"):
            rows[k].extend(batch[k])
        if keep_feat:
            feats.append(pred["feat"].float().cpu().numpy())
    model.train(was_training)
    if keep_feat:
        rows["feat"] = list(np.concatenate(feats)) if feats else []
    gathered = all_gather_objects({"rows": rows, "dropped": list(drops.items.values())})
    if not dist_info.is_main:
        return None
    merged = _merge([g["rows"] for g in gathered])
    for g in gathered:
        drops.add(g["dropped"])
    merged["dropped"] = [drops.items[i] for i in sorted(drops.items)]
    merged["dropped_videos"] = list(getattr(loader.dataset, "dropped_videos", []))
    return merged


def _merge(parts: list[dict[str, list]]) -> dict[str, Any]:
    """Concatenate shards and drop DistributedSampler padding (repeated dataset indices)."""
    seen: dict[int, tuple[int, int]] = {}
    for pi, part in enumerate(parts):
        for j, idx in enumerate(part["index"]):
            seen.setdefault(int(idx), (pi, j))
    order = sorted(seen)
    out = {k: [parts[seen[i][0]][k][seen[i][1]] for i in order] for k in parts[0]}
    return out


def score_and_write(
    preds: dict[str, Any],
    out_dir: Path,
    *,
    video_agg: str,
    threshold: float | None,
    extra: dict | None = None,
) -> dict[str, Any]:
    """Metrics for one set + `predictions.csv`, `metrics.json` (and `feat.npy` when features were kept).

    What bad_frame_policy=drop left out is stamped into the metrics (`n_dropped`, `dropped_frames`,
    `n_dropped_videos`, `dropped_videos`; lists capped, counts exact) and logged.
    """
    if not preds["label"] and preds.get("dropped"):
        first = preds["dropped"][0]
        raise DataError(
            f"{out_dir.name}: every frame was dropped by bad_frame_policy: drop ({len(preds['dropped'])} frames, "
            f"e.g. {first['frame']}: {first['reason']}); fix or re-create the files, or check rgb_dir / lmdb_dir"
        )
    metrics = compute_metrics(
        np.asarray(preds["label"]),
        np.asarray(preds["prob"]),
        preds["video_key"],
        preds["label_name"],
        video_agg=video_agg,
        threshold=threshold,
    )
    metrics.update(drop_report(preds, str(out_dir)))
    if extra:
        metrics.update(extra)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions_csv(
        out_dir / "predictions.csv",
        [
            {"video_key": v, "frame": f, "label": int(y), "label_name": n, "prob": float(p)}
            for v, f, y, n, p in zip(
                preds["video_key"],
                preds["frame"],
                preds["label"],
                preds["label_name"],
                preds["prob"],
                strict=True,
            )
        ],
    )
    write_metrics_json(out_dir / "metrics.json", metrics)
    if preds.get("feat"):
        feat = np.stack(preds["feat"])
        atomic_write(out_dir / "feat.npy", lambda f: np.save(f, feat))  # a full disk names the file
    return metrics


def drop_report(preds: dict[str, Any], what: str) -> dict[str, Any]:
    """The metrics.json entries for what was dropped from one evaluated set, logged when non-empty."""
    drops = DropLog()
    drops.add(preds.get("dropped") or [])
    videos = list(preds.get("dropped_videos") or [])
    drops.report(what)
    if videos:
        log.warning(
            "%s: %d video(s) dropped at index time (empty frame list): %s", what, len(videos), videos[:5]
        )
    return {**drops.summary(), "n_dropped_videos": len(videos), "dropped_videos": videos[:DROPPED_LIST_CAP]}
