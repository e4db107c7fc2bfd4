"""The robustness run: a checkpoint × test sets × perturbation types × levels, each a full test.py-style evaluation.

Output folder layout (`--out`):

    clean/<Dataset>/{metrics.json,predictions.csv}                 the unperturbed test (= test.py's)
    <protocol>/<TYPE>/level<i>/<Dataset>/{metrics.json,predictions.csv}
    robustness.json, robustness.csv, robustness.md, plots/<protocol>_<TYPE>.png, plots/overview.png

A finished evaluation (its metrics.json stamped with the same checkpoint, perturbation and seed) is not
redone, so an interrupted run resumes. Frames are perturbed with generators seeded per (seed, type, level,
frame path): the results do not depend on batch size, workers or order.
"""

from __future__ import annotations

import json
from pathlib import Path

from fbi_common.io import atomic_write_json
from fbi_common.logging import get_logger
from training.perturb.cache import crop_video_cache
from training.perturb.evaluate import Loaded, evaluate, load, test_dataset
from training.perturb.ops import FFmpegMissing, ffmpeg_binary
from training.perturb.protocols import PerturbType, fmt_param, select
from training.perturb.readers import CachedReader, PerturbedReader

log = get_logger("robustness")

CROPS_NOTE = (
    "crop-only dataset: the perturbations were applied to the stored face crops (no source videos given with "
    "--video_root), not to the videos before face detection as in DeeperForensics-1.0"
)


def _done(out: Path, stamp: dict) -> dict | None:
    try:
        m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = all(m.get(k) == v for k, v in stamp.items()) and (out / "predictions.csv").is_file()
    return m if ok else None


def _one(ld: Loaded, ds, reader, out: Path, stamp: dict, desc: str) -> dict:
    stamp = {**stamp, "checkpoint": str(ld.checkpoint)}
    return _done(out, stamp) or evaluate(ld, ds, reader, out, stamp, desc=desc)


def _auc(m: dict, key: str) -> float:
    v = m.get(key)
    return float("nan") if v is None else float(v)  # null in metrics.json: one class only


def _row(protocol: str, ptype: PerturbType | None, level: int, name: str, m: dict, mode: str) -> dict:
    return {
        "protocol": protocol,
        "type": "clean" if ptype is None else ptype.code,
        "type_name": "clean" if ptype is None else ptype.name,
        "level": level,
        "param": "" if ptype is None else fmt_param(ptype.levels[level - 1]),
        "unit": "" if ptype is None else ptype.unit,
        "test_set": name,
        "frame_auc": _auc(m, "frame_auc"),
        "video_auc": _auc(m, "video_auc"),
        "n_frames": m.get("n_frames"),
        "n_videos": m.get("n_videos"),
        "mode": mode,
    }


def run_robustness(
    cfg: dict,
    weights_path: str,
    out_dir: Path,
    protocol: str = "both",
    types: list[str] | None = None,
    levels: list[int] | None = None,
    seed: int = 0,
    video_root: str | None = None,
) -> dict:
    """Evaluate every selected (type, level) on every test set; returns and writes the summary."""
    plan = select(protocol, types, levels)
    ld = load(cfg, weights_path)
    notes, rows = [], []
    vc_skip = _vc_unavailable(plan)
    if vc_skip:
        notes.append(vc_skip)
        plan = [(p, t, i) for p, t, i in plan if not t.per_video]
    mode = "crops"
    if video_root:
        from training.perturb.video import VideoSource  # only the video path needs the face models

        source = VideoSource(video_root, ld, out_dir / "cache" / "video")
        mode = "video"
    else:
        notes.append(CROPS_NOTE)
    for name in ld.cfg["test_dataset"]:
        ds = test_dataset(ld, name)
        m = _one(
            ld,
            ds,
            ds.reader,
            out_dir / "clean" / name,
            {"perturbation": "clean", "seed": seed},
            f"clean {name}",
        )
        rows.append(_row("clean", None, 0, name, m, "crops"))
        if mode == "video":
            rows += source.evaluate_all(ds, name, plan, seed, out_dir)
            continue
        for proto, ptype, idx in plan:
            for i in idx:
                stamp = {"perturbation": f"{ptype.code}:{i}", "seed": seed, "mode": mode}
                if ptype.per_video:
                    cache = crop_video_cache(ds, ptype, i, out_dir / "cache" / f"{ptype.code}_{i}" / name)
                    reader = CachedReader(cache, ds.reader)
                else:
                    reader = PerturbedReader(ds.reader, ptype, i, seed)
                out = out_dir / proto / ptype.code / f"level{i}" / name
                m = _one(ld, ds, reader, out, stamp, f"{name} {ptype.code} {i}")
                rows.append(_row(proto, ptype, i, name, m, mode))
    summary = {"checkpoint": str(ld.checkpoint), "seed": seed, "mode": mode, "notes": notes, "rows": rows}
    atomic_write_json(out_dir / "robustness.json", summary)
    return summary


def _vc_unavailable(plan: list) -> str | None:
    if not any(t.per_video for _, t, _ in plan):
        return None
    try:
        ffmpeg_binary()
    except FFmpegMissing as e:
        log.warning("skipping VC: %s", e)
        return f"VC (video compression) skipped: {e}"
    return None
