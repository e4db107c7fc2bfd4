"""The preprocess run: list a dataset's videos, skip finished ones, fan out over a process pool, keep the ledger."""

from __future__ import annotations

import multiprocessing as mp
import platform
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from fbi_common.face import FaceEngine, landmark_model_path
from fbi_common.face.align import TEMPLATE_112, TEMPLATE_SHIFT_Y
from fbi_common.io import WriteError, atomic_write_json
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path

from .adapters import LayoutError, get_adapter
from .adapters.base import VideoJob
from .ledger import FAILED, Ledger, settings_hash
from .pipeline import VideoProcessor

log = get_logger("preprocess")

_WORKER: VideoProcessor | None = None
_WORKER_ERROR: str | None = None


def _init_worker(cfg: dict[str, Any]) -> None:
    """Load the dlib models once per worker process; one OpenCV thread each so workers do not oversubscribe.

    A failure is kept and reported per video: an initializer that raises makes the pool respawn forever.
    """
    global _WORKER, _WORKER_ERROR
    cv2.setNumThreads(1)
    try:
        _WORKER = VideoProcessor(cfg)
    except Exception as e:
        _WORKER_ERROR = f"worker start-up failed: {type(e).__name__}: {e}"


def _work(args: tuple[VideoJob, str, str]) -> dict:
    job, out_root, hash_ = args
    if _WORKER is None:
        return {
            "video": job.rel,
            "settings_hash": "",
            "status": "error",
            "error": _WORKER_ERROR,
            "outputs": [],
        }
    return _WORKER(job, out_root, hash_)


def output_folder(cfg: dict[str, Any]) -> Path:
    """<out>/<Dataset folder> for these settings."""
    return resolve_path(cfg["out"]) / get_adapter(cfg["dataset"]).folder_for(cfg)


def _copy_meta(adapter, root: Path, out: Path, cfg: dict[str, Any]) -> None:
    """Copy the small split/label files rearrange needs next to the frames, so it works without the raw tree."""
    files = [p for pat in adapter.meta_files for p in root.glob(pat) if p.is_file()]
    if cfg["dataset"] == "custom":
        files = []
        src = adapter.labels_path(root, cfg)
        dst = out / "labels.csv"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    for p in files:
        dst = out / p.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst)


def face_pipeline(cfg: dict[str, Any], landmark_model: str) -> dict[str, Any]:
    """The settings that make a crop what it is; rearrange carries them into the dataset JSON
    (`_preprocessing`), training into every checkpoint, and demo.py crops new media with them."""
    return {
        "detector": cfg["detector"], "detect_max_side": cfg["detect_max_side"],
        "detect_upsample": list(cfg["detect_upsample"]), "landmark_model": landmark_model,
        "template": {"points_112": TEMPLATE_112.tolist(), "shift_y": TEMPLATE_SHIFT_Y},
        "scale": float(cfg["scale"]), "size": int(cfg["size"]), "image_format": cfg["image_format"],
        "jpeg_quality": int(cfg["jpeg_quality"]), "face_policy": cfg["face_policy"],
        "smooth_landmarks": int(cfg.get("smooth_landmarks", 0)),
    }  # fmt: skip


def _write_run_meta(out: Path, cfg: dict[str, Any], landmark_model: str, hash_: str) -> None:
    meta = {
        "settings": cfg,
        "settings_hash": hash_,
        "landmark_model": landmark_model,
        "alignment": {"template_112": TEMPLATE_112.tolist(), "size": cfg["size"], "scale": cfg["scale"]},
        "face_pipeline": face_pipeline(cfg, landmark_model),
        "versions": {"opencv": cv2.__version__, "python": platform.python_version()},
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "preprocess_meta.json", meta, default=str)


def run(cfg: dict[str, Any], engine: FaceEngine | None = None) -> dict[str, Any]:
    """Preprocess one dataset; returns a summary (counts per status, failures). Failed videos never stop the run.

    `engine` lets a caller reuse already-loaded dlib models (tests, notebooks); it must match cfg.
    """
    adapter = get_adapter(cfg["dataset"])
    root = resolve_path(cfg["root"])
    out = output_folder(cfg)
    jobs = adapter.list_videos(root, cfg)
    if not jobs:
        raise LayoutError(f"no videos found under --root {root} for {cfg['dataset']}. {adapter.layout_hint}")
    _, lm_name = landmark_model_path(str(cfg["landmarks"]))
    hash_ = settings_hash(cfg, lm_name)
    ledger = Ledger(resolve_path(cfg["ledger"]) if cfg.get("ledger") else out / "preprocess_ledger.jsonl")
    todo = [j for j in jobs if not ledger.finished(j.rel, hash_, cfg["retry_failed"])]
    n_done = len(jobs) - len(todo)
    if cfg["limit"]:
        todo = todo[: cfg["limit"]]
    try:
        _copy_meta(adapter, root, out, cfg)
        _write_run_meta(out, cfg, lm_name, hash_)
    except WriteError:
        raise
    except OSError as e:
        raise WriteError(
            f"cannot write to the output folder {out}: {e.strerror or e}; check --out, free space and permissions"
        ) from None
    log.info(
        "%s: %d videos found, %d already done (ledger %s), %d to process with %d worker(s); landmarks: %s",
        adapter.folder_for(cfg), len(jobs), n_done, ledger.path, len(todo), cfg["workers"], lm_name,
    )  # fmt: skip
    args = [(j, str(out), hash_) for j in todo]
    bar = tqdm(
        total=len(args), desc=f"preprocess {adapter.folder_for(cfg)}", unit="video", dynamic_ncols=True
    )
    try:
        if cfg["workers"] == 1 or len(args) <= 1:
            proc = VideoProcessor(cfg, engine) if args else None
            for a in args:
                _record(ledger, proc(*a), bar)
        else:
            # spawn, not fork: forking a parent whose OpenCV thread pool has run can deadlock the children.
            with mp.get_context("spawn").Pool(
                cfg["workers"], initializer=_init_worker, initargs=(cfg,)
            ) as pool:
                for rec in pool.imap_unordered(_work, args, chunksize=1):
                    _record(ledger, rec, bar)
    finally:
        bar.close()
    return summarize(ledger, [j.rel for j in jobs])


def _record(ledger: Ledger, rec: dict, bar: tqdm) -> None:
    ledger.append(rec)
    bar.update(1)
    if rec["status"] in FAILED:
        log.warning("%s: %s - %s", rec["video"], rec["status"], rec["error"])
    elif rec["status"] == "partial":
        log.info(
            "%s: %d/%d frames (%d dropped)",
            rec["video"],
            rec["frames_written"],
            rec["frames_wanted"],
            len(rec["dropped"]),
        )
    if rec.get("identity_switches"):
        log.warning(
            "%s: face_policy largest switched between %d people %d time(s); its crops mix identities "
            "(face_policy track keeps one person)", rec["video"], len(rec["tracks_used"]), rec["identity_switches"],
        )  # fmt: skip


def summarize(ledger: Ledger, videos: list[str]) -> dict[str, Any]:
    """Counts per status over this dataset's videos, from the ledger (so resumed runs report everything)."""
    recs = [ledger.records[v] for v in videos if v in ledger.records]
    counts = Counter(r["status"] for r in recs)
    counts["not_run"] = len(videos) - len(recs)
    replaced = sum(len(r.get("replaced", {})) for r in recs)
    failures = [(r["video"], r["status"], r["error"]) for r in recs if r["status"] in FAILED]
    log.info(
        "done: %s; %d face-less frames replaced by a neighbour; ledger: %s",
        ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v), replaced, ledger.path,
    )  # fmt: skip
    for v, s, e in failures[:20]:
        log.warning("  failed %s [%s]: %s", v, s, e)
    return {
        "counts": dict(counts),
        "failures": failures,
        "replaced_frames": replaced,
        "ledger": str(ledger.path),
    }
