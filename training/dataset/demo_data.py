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
- The crops are grey. Every video gets a skin-like colour tint (per identity) and a white-balance jitter
  (per video), for reals and fakes alike, so colour itself says nothing about the label; only the
  *inconsistency* between the blended face and its surroundings does.
- Fakes: the target frame is blended with a transformed copy of itself (per-channel gain/offset, small
  affine warp, optional blur) inside a feathered ellipse. A single global gain is close to invisible to a
  small ViT; the per-channel colour mismatch is what makes the cue learnable (docs/DESIGN.md §8). With these
  settings a random-init ViT (width 192, 6 layers, patch 8, AdamW 1e-3, batch 64, 15-step warm-up, grad
  clip 1) reaches held-out video AUC ~0.9 after ~60-75 steps and ~0.97 after 150; without the warm-up it
  stays near chance for 150 steps. Global colour statistics alone give chance (frame AUC 0.5).
- Masks are the blending weights actually used (uint8 0-255); real frames get an all-zero mask so a
  loader with ``with_mask`` finds a file for every frame.
- Landmarks are synthetic approximations: five points (left eye, right eye, nose tip, left and right mouth
  corner) measured once on the mean LFW-subset face and moved with each frame's motion. They are not
  detections on the individual face.
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
from fbi_common.io import atomic_write_json
from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path

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
NUM_FACES = 100
SPLITS = ("train", "val", "test")
# Five landmarks on the 25x25 LFW-subset crop (x, y), measured on the mean face.
LANDMARKS_25 = np.array([(6.2, 8.0), (14.8, 8.0), (10.5, 13.0), (7.5, 17.5), (13.5, 17.5)], np.float32)
FACE_CENTRE_25 = (10.5, 12.5)


def load_faces(size: int) -> np.ndarray:
    """The 100 LFW-subset faces, bicubically upscaled to ``size`` px: float32 (100, size, size) in [0, 1]."""
    from skimage.data import lfw_subset  # imported lazily: only the demo needs scikit-image's data

    faces = lfw_subset()[:NUM_FACES].astype(np.float32)
    up = [cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in faces]
    return np.clip(np.stack(up), 0.0, 1.0)


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


def _affine(centre: tuple[float, float], angle: float, scale: float, tx: float, ty: float) -> np.ndarray:
    m = cv2.getRotationMatrix2D(centre, angle, scale)
    m[:, 2] += (tx, ty)
    return m


def _video_motion(rng: np.random.Generator, n: int, size: int) -> list[np.ndarray]:
    """Smooth per-frame affines (drifting 1-2 px shift, small rotation/zoom), like a slowly moving head."""
    px = size / 64.0
    c = (size / 2.0 - 0.5, size / 2.0 - 0.5)
    start = rng.uniform([-1, -1, -2, -0.02], [1, 1, 2, 0.02]) * [px, px, 1, 1]
    drift = rng.uniform([-1.5, -1.5, -2, -0.02], [1.5, 1.5, 2, 0.02]) * [px, px, 1, 1]
    out = []
    for t in np.linspace(0.0, 1.0, n) if n > 1 else [0.0]:
        tx, ty, ang, sc = start + t * drift + rng.normal(0, [0.15 * px, 0.15 * px, 0.2, 0.002])
        out.append(_affine(c, float(ang), 1.0 + float(sc), float(tx), float(ty)))
    return out


def _face_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A soft ellipse over the inner face with random size, tilt and feathering: float32 (S, S) in [0, 1]."""
    k = size / 25.0
    cx, cy = ((np.array(FACE_CENTRE_25) + 0.5) * k - 0.5) + rng.normal(0, 0.015 * size, 2)
    ax, ay = rng.uniform(0.22, 0.28) * size, rng.uniform(0.29, 0.36) * size
    hard = np.zeros((size, size), np.float32)
    cv2.ellipse(hard, (round(cx), round(cy)), (round(ax), round(ay)), rng.uniform(-8, 8), 0, 360, 1.0, -1)
    sigma = rng.uniform(0.02, 0.05) * size  # random feathering width
    return cv2.GaussianBlur(hard, (0, 0), sigma)


def _source(target: np.ndarray, p: dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """The self-blend source: the target with a colour mismatch, a small warp and an optional blur.

    The colour gain flickers a little from frame to frame, like the temporal inconsistency of real face swaps.
    """
    c = (size / 2.0 - 0.5, size / 2.0 - 0.5)
    src = cv2.warpAffine(target, _affine(c, *p["warp"]), (size, size), borderMode=cv2.BORDER_REFLECT101)
    if p["blur"] > 0:
        src = cv2.GaussianBlur(src, (0, 0), p["blur"])
    return src * (p["gain"] * rng.normal(1.0, 0.02, 3).astype(np.float32)) + p["offset"]


def _blend_params(rng: np.random.Generator, size: int) -> dict:
    px = size / 64.0
    return {
        "mask": _face_mask(rng, size),
        "alpha": rng.uniform(0.7, 1.0),  # blend strength, as in SBI
        "gain": rng.uniform(0.82, 1.18, 3).astype(np.float32),  # per channel: the crucial cue
        "offset": rng.uniform(-0.08, 0.08, 3).astype(np.float32),  # about SBI's RGB shift of 20/255
        "warp": (rng.uniform(-2, 2), rng.uniform(0.97, 1.03), *rng.uniform(-1, 1, 2) * px),
        "blur": rng.uniform(0.4, 1.0) * px if rng.random() < 0.5 else 0.0,
    }


def render_video(
    face: np.ndarray, tint: np.ndarray, fake: bool, rng: np.random.Generator, n_frames: int
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """One video of a face: RGB uint8 frames, uint8 blending masks (zeros for reals), float32 (5, 2) landmarks."""
    size = face.shape[0]
    # Separate streams: with the same ``rng`` a real and a fake video share colour and motion exactly,
    # so they differ only inside the blending mask.
    video_rng, blend_rng = rng.spawn(2)
    base = face[..., None] * (tint * video_rng.uniform(0.95, 1.05, 3)).astype(np.float32)  # white balance
    blend = _blend_params(blend_rng, size) if fake else None
    lm_canon = (LANDMARKS_25 + 0.5) * (size / 25.0) - 0.5
    frames, masks, lms = [], [], []
    for m in _video_motion(video_rng, n_frames, size):
        img = cv2.warpAffine(base, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        weight = np.zeros((size, size), np.float32)
        if blend is not None:
            weight = cv2.warpAffine(blend["mask"], m, (size, size)) * blend["alpha"]
            img = weight[..., None] * _source(img, blend, size, blend_rng) + (1.0 - weight[..., None]) * img
        img = img * video_rng.uniform(0.97, 1.03)  # brightness flicker, same for both classes
        frames.append(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
        masks.append(np.round(weight * 255).astype(np.uint8))
        lms.append((lm_canon @ m[:, :2].T + m[:, 2]).astype(np.float32))
    return frames, masks, lms


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
        _imwrite(root.parent / frame_rel, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        _imwrite(root.parent / mask_rel, mask)
        np.save(root / cls / "landmarks" / video / f"{name}.npy", lm)
        entry["frames"].append(frame_rel)
        entry["masks"].append(mask_rel)
    return entry


def _imwrite(path: Path, img: np.ndarray, compression: int = 1) -> None:
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
        tint = _skin_tint(np.random.default_rng([seed, tint_key, ident]))
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


def _render_x(*args, **kwargs):
    from training.dataset.demo_x import render_video_x  # a sibling module; imported late to avoid a cycle

    return render_video_x(*args, **kwargs)


def _render_id(*args, **kwargs):
    from training.dataset.demo_id import render_video_id

    return render_video_id(*args, **kwargs)


_RENDERERS = {DATASET: render_video, DATASET_X: _render_x, DATASET_ID: _render_id}


def _skin_tint(rng: np.random.Generator) -> np.ndarray:
    """A skin-like RGB tint for a grey face (red strongest, blue weakest), varied per identity."""
    return np.array([1.0, rng.uniform(0.78, 0.9), rng.uniform(0.62, 0.8)], np.float32)


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
        if dataset in used:
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


def save_preview(
    json_path: str | Path, rgb_dir: str | Path, out_path: str | Path, n: int = 6, scale: int = 3
) -> Path:
    """A contact sheet of ``n`` test identities: rows real frame / fake frame / blending mask, upscaled ``scale``x.

    The dataset (FBI-Demo or FBI-Demo-X) is the JSON's top-level key.
    """
    top = json.loads(resolve_path(json_path).read_text(encoding="utf-8"))
    labels = labels_of(next(iter(top)))
    data = next(iter(top.values()))
    rgb_dir = resolve_path(rgb_dir)
    split = "test" if data[labels["fake"]]["test"] else "train"  # prefer identities no model trained on
    fakes, reals = data[labels["fake"]][split], data[labels["real"]][split]
    videos = [v for v in sorted(fakes) if v.endswith("_v0")][:n]

    def tile(rel: str, grey: bool = False) -> np.ndarray:
        img = cv2.imread(str(rgb_dir / rel), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"preview: cannot read {rgb_dir / rel}; rebuild with --overwrite")
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if grey else img
        return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)

    rows = [
        [tile(reals[v]["frames"][0]) for v in videos],
        [tile(fakes[v]["frames"][0]) for v in videos],
        [tile(fakes[v]["masks"][0], grey=True) for v in videos],
    ]
    h = rows[0][0].shape[0]
    labelled = []
    for name, row in zip(("real", "fake", "mask"), rows, strict=True):
        label = np.full((h, 64, 3), 255, np.uint8)
        cv2.putText(label, name, (4, h // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        labelled.append(np.concatenate([label, *row], axis=1))
    out_path = resolve_path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _imwrite(out_path, np.concatenate(labelled, axis=0), compression=9)  # small enough to commit
    return out_path
