"""Embedded demo datasets: self-blended (SBI-style) fake videos made from the LFW faces that ship with scikit-image.

The result is two tiny datasets in the DeepfakeBench layout, so the whole pipeline can run on a laptop CPU:

    <rgb_dir>/FBI-Demo/{real,fake}/{frames,masks,landmarks}/id042_v0/{000,008,016,024}.{png,npy}
    <dataset_json_folder>/FBI-Demo.json   (non-FF nesting, labels FBI-Demo_real / FBI-Demo_fake)
    <rgb_dir>/FBI-Demo-X/...              (the same layout; labels FBI-Demo-X_real / FBI-Demo-X_fake)

``FBI-Demo-X`` is the cross-domain test set: the same identity split (so its test identities are held out
from FBI-Demo training too), but every video is rendered by a *different* recipe — another mask shape,
colour transfer instead of gain/offset, a non-rigid warp and a JPEG pass (see ``demo_x.py`` for the list).
Training on FBI-Demo and testing on FBI-Demo-X is a real "train on one manipulation, test on another".
``FBI-Demo-ID`` (same layout and split) is the identity-rich variant for the identity probe: every video
starts from a different strongly re-posed, re-lit "photo" of its identity (``demo_id.py``), then FBI-Demo's
recipe runs unchanged, so "same image" is no longer "same identity".

Decisions worth knowing:
- Source: the first 100 images of ``skimage.data.lfw_subset()`` (the last 100 are not faces). Each image is
  treated as one identity. The subset ships without names, so a person may appear in more than one image;
  an identity-disjoint split is therefore "image-disjoint" and may be slightly optimistic.
- Rendering (the grey crops' tint, the fake recipe and why it is learnable, masks, landmarks): see
  ``demo_render.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fbi_common.errors import DataError
from fbi_common.io import atomic_write_json, file_lock
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.dataset.demo_id import render_video_id
from training.dataset.demo_render import NUM_FACES, load_faces, render_video, skin_tint
from training.dataset.demo_x import render_video_x

logger = get_logger("dataset.demo_data")

DATASET = "FBI-Demo"
DATASET_X = "FBI-Demo-X"
DATASET_ID = "FBI-Demo-ID"  # identity-rich: a different "photo" per video (demo_id.py)
DEMO_DATASETS = (DATASET, DATASET_X, DATASET_ID)
LABELS = {"real": f"{DATASET}_real", "fake": f"{DATASET}_fake"}
STAMP_NAME = ".demo_stamp.json"
# Bump when the synthesis changes, so stamped folders are rebuilt. 3: FBI-Demo-X added (FBI-Demo's
# frames, masks, landmarks and JSON are byte-identical to version 2).
GENERATOR_VERSION = 3
FRAME_STRIDE = 8  # frame indices 000, 008, 016, ... mimic frames sampled from a longer video
SPLITS = ("train", "val", "test")


def split_identities(n: int, split: Sequence[float], seed: int) -> dict[str, list[int]]:
    """Seeded identity-disjoint split of ``range(n)`` into train/val/test with the given fractions."""
    fr = [float(f) for f in split]
    if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(
            f"split must be three non-negative fractions (train, val, test) summing to 1; got {split}"
        )
    order = np.random.default_rng([seed, 0]).permutation(n).tolist()
    n_val, n_test = round(fr[1] * n), round(fr[2] * n)
    n_train = n - n_val - n_test
    cuts = (order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])
    parts = dict(zip(SPLITS, cuts, strict=True))
    for name, frac in zip(SPLITS, fr, strict=True):
        if frac > 0 and not parts[name]:
            raise ValueError(
                f"split {split} leaves the '{name}' split empty with {n} identities; raise its fraction"
            )
    return {k: sorted(v) for k, v in parts.items()}


def labels_of(dataset: str) -> dict[str, str]:
    """Label names of a demo dataset: ``{"real": "<dataset>_real", "fake": "<dataset>_fake"}``."""
    return {"real": f"{dataset}_real", "fake": f"{dataset}_fake"}


def _write_video(root: Path, cls: str, video: str, rendered: tuple, idx_width: int) -> dict:
    """Write one video's frames/masks/landmarks; return its JSON entry (paths relative to rgb_dir, POSIX).

    ``root`` is ``<rgb_dir>/<dataset>``; the dataset name is its last component.
    """
    entry: dict = {"label": labels_of(root.name)[cls], "frames": [], "masks": []}
    for k, (img, mask, lm) in enumerate(zip(*rendered, strict=True)):
        name = f"{k * FRAME_STRIDE:0{idx_width}d}"
        for kind in ("frames", "masks", "landmarks"):
            (root / cls / kind / video).mkdir(parents=True, exist_ok=True)
        frame_rel = f"{root.name}/{cls}/frames/{video}/{name}.png"
        mask_rel = f"{root.name}/{cls}/masks/{video}/{name}.png"
        write_png(root.parent / frame_rel, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        write_png(root.parent / mask_rel, mask)
        np.save(root / cls / "landmarks" / video / f"{name}.npy", lm)
        entry["frames"].append(frame_rel)
        entry["masks"].append(mask_rel)
    return entry


def write_png(path: Path, img: np.ndarray, compression: int = 1) -> None:
    """Write a BGR/grey uint8 image as PNG (compression 1: fast; the preview uses 9); a failure names the path."""
    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, compression]):
        raise OSError(f"could not write {path}; check the folder exists, is writable and has free space")


def _prepare_root(root: Path, stamp: Path, overwrite: bool) -> None:
    """Remove an earlier demo build; refuse to delete a non-empty folder this generator did not write."""
    if not root.exists():
        return
    if not stamp.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{root} exists, is not empty and was not written by the demo generator (no {STAMP_NAME}); "
            "move it away, choose another rgb_dir, or pass overwrite=True (--overwrite) to replace it"
        )
    shutil.rmtree(root)


def build_demo_dataset(
    rgb_dir: str | Path,
    json_folder: str | Path,
    *,
    size: int = 64,
    videos_per_class: int = 2,
    frames_per_video: int = 4,
    split: Sequence[float] = (0.6, 0.1, 0.3),
    seed: int = 0,
    overwrite: bool = False,
    dataset: str = DATASET,
) -> Path:
    """Write a demo dataset's frames/masks/landmarks and JSON; skip if an identical build is already there.

    ``dataset`` is ``FBI-Demo`` (the SBI-style recipe), ``FBI-Demo-X`` (the cross-domain recipe of
    ``demo_x.py``) or ``FBI-Demo-ID`` (a different photo per video, ``demo_id.py``); all use the same
    identity split for the same ``split`` and ``seed``. Returns the JSON
    path. A build is identical when the JSON exists and ``<rgb_dir>/<dataset>/.demo_stamp.json`` records the
    same parameters (and generator version) with ``complete: true``.
    """
    if dataset not in DEMO_DATASETS:
        raise ValueError(
            f"build_demo_dataset: unknown demo dataset '{dataset}'; choose one of {DEMO_DATASETS}"
        )
    for key, val, low in (
        ("size", size, 16),
        ("videos_per_class", videos_per_class, 1),
        ("frames_per_video", frames_per_video, 1),
    ):
        if not isinstance(val, int) or val < low:
            raise ValueError(f"build_demo_dataset: {key} must be an integer >= {low}; got {val!r}")
    rgb_dir, json_folder = resolve_path(rgb_dir), resolve_path(json_folder)
    root, json_path = rgb_dir / dataset, json_folder / f"{dataset}.json"
    stamp = root / STAMP_NAME
    params = {
        "version": GENERATOR_VERSION,
        "size": size,
        "videos_per_class": videos_per_class,
        "frames_per_video": frames_per_video,
        "split": [float(s) for s in split],
        "seed": int(seed),
    }
    if not overwrite and json_path.exists() and _read_json(stamp) == {**params, "complete": True}:
        logger.info("demo dataset already built in %s (same parameters); skipping", root)
        return json_path
    splits = split_identities(NUM_FACES, split, seed)
    _prepare_root(root, stamp, overwrite)
    root.mkdir(parents=True)
    # The stamp marks the folder as ours even if the build is interrupted.
    atomic_write_json(stamp, {**params, "complete": False}, indent=1)
    logger.info("building demo dataset (%s) into %s", params, root)
    index = _render_all(root, load_faces(size), splits, params)
    json_folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(json_path, {dataset: index}, indent=1)
    atomic_write_json(stamp, {**params, "complete": True}, indent=1)
    logger.info("wrote %s (train/val/test identities: %s)", json_path, [len(splits[s]) for s in SPLITS])
    return json_path


def _render_all(root: Path, faces: np.ndarray, splits: dict[str, list[int]], params: dict) -> dict:
    """Render and write every video of ``root.name``; returns the JSON index {label: {split: {video: entry}}}."""
    dataset, seed = root.name, params["seed"]
    labels = labels_of(dataset)
    index: dict = {lab: {s: {} for s in SPLITS} for lab in labels.values()}
    idx_width = max(3, len(str((params["frames_per_video"] - 1) * FRAME_STRIDE)))
    jobs = [(s, i) for s in SPLITS for i in splits[s]]
    quiet = int(os.environ.get("RANK", "0")) != 0
    for sname, ident in tqdm(jobs, desc=f"{dataset} identities", disable=quiet):
        # FBI-Demo-X and FBI-Demo-ID draw from streams disjoint from FBI-Demo's: other tints, motion and blends.
        tint_key, video_key = {DATASET: (1, 2), DATASET_X: (11, 12), DATASET_ID: (21, 22)}[dataset]
        tint = skin_tint(np.random.default_rng([seed, tint_key, ident]))
        for ci, cls in enumerate(("real", "fake")):
            for v in range(params["videos_per_class"]):
                # one generator per video: the output does not depend on the split or on build order
                rng = np.random.default_rng([seed, video_key, ident, ci, v])
                rendered = _RENDERERS[dataset](
                    faces[ident], tint, cls == "fake", rng, params["frames_per_video"]
                )
                video = f"id{ident:03d}_v{v}"
                index[labels[cls]][sname][video] = _write_video(root, cls, video, rendered, idx_width)
    return index


_RENDERERS = {DATASET: render_video, DATASET_X: render_video_x, DATASET_ID: render_video_id}


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _as_list(names: object) -> list[str]:
    if names is None:
        return []
    return [names] if isinstance(names, str) else [str(n) for n in names]  # type: ignore[union-attr]


def ensure_demo_dataset(cfg: dict) -> None:
    """Build each demo dataset (FBI-Demo, FBI-Demo-X) the config uses whose JSON (or, without LMDB, frames) is missing.

    Call it before building datasets. Under DDP only rank 0 (env ``RANK``) writes; other ranks wait for the
    finished build (polling its stamp), so no ``torch.distributed`` barrier is needed here.
    """
    used = {n for key in ("train_dataset", "val_dataset", "test_dataset") for n in _as_list(cfg.get(key))}
    for dataset in DEMO_DATASETS:
        if dataset not in used:
            continue
        if (
            int(os.environ.get("RANK", "0")) != 0
        ):  # DDP: rank 0 builds (under the lock), the others wait for it
            _ensure_one(cfg, dataset)
            continue
        # two trainings started together (reproduce.py --jobs 2): one builds, the other waits, then finds it built
        with file_lock(resolve_path(cfg["dataset_json_folder"]) / f".{dataset}.lock"):
            _ensure_one(cfg, dataset)


def _ensure_one(cfg: dict, dataset: str) -> None:
    rgb_dir, json_folder = resolve_path(cfg["rgb_dir"]), resolve_path(cfg["dataset_json_folder"])
    json_path, stamp = json_folder / f"{dataset}.json", rgb_dir / dataset / STAMP_NAME
    frames_ok = bool(cfg.get("lmdb")) or (_read_json(stamp) or {}).get("complete") is True
    if json_path.exists() and frames_ok:
        return
    if json_path.exists() and not stamp.parent.exists():
        # The JSON was built with frames elsewhere: a mistyped rgb_dir would otherwise regenerate the
        # whole dataset into the wrong folder and rewrite a JSON another run may rely on.
        raise DataError(
            f"{json_path} exists but rgb_dir {rgb_dir} has no {dataset} frames ({stamp.parent} is missing): "
            f"check rgb_dir (is it mistyped?), or regenerate both with "
            f"`python training/make_demo_data.py --dataset {dataset} --rgb_dir {rgb_dir} --json_folder {json_folder} "
            "--overwrite`"
        )
    if int(os.environ.get("RANK", "0")) != 0:
        _wait_for_build(json_path, stamp)
        return
    logger.info(
        "config uses %s but %s is missing: generating the embedded demo dataset",
        dataset,
        json_path if not json_path.exists() else stamp.parent,
    )
    if dataset == DATASET:
        build_demo_dataset(rgb_dir, json_folder, overwrite=False)
    else:
        build_demo_dataset(rgb_dir, json_folder, overwrite=False, dataset=dataset)


def _wait_for_build(json_path: Path, stamp: Path, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if json_path.exists() and (_read_json(stamp) or {}).get("complete") is True:
            return
        time.sleep(0.5)
    raise TimeoutError(
        f"waited {timeout:.0f}s for rank 0 to build the demo dataset ({json_path}); check rank 0's log"
    )
