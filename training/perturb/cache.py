"""Pre-computed perturbed frames for the ops that need a whole video (VC on crops) or the source video.

Crop-only datasets: every video's crops, in frame order, are encoded together as one H.264 stream and
decoded again (`ops.videos_h264`, a chunk of videos per ffmpeg call), and the results are written under the cache root with the frames'
relative paths (`readers.cache_name`). A `.complete` marker makes a finished cache reusable.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fbi_common.io import atomic_write, atomic_write_text
from training.dataset import DeepfakeDataset
from training.perturb.protocols import PerturbType
from training.perturb.readers import cache_name

MARKER = ".complete"


def write_png(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError(f"OpenCV could not PNG-encode a frame for {path}")
    atomic_write(path, lambda f: f.write(buf.tobytes()))


def crop_video_cache(
    ds: DeepfakeDataset, ptype: PerturbType, level: int, root: Path, chunk: int = 32
) -> Path:
    """Apply a per-video op to every video's crops of ``ds``; returns ``root`` (skipped when complete).

    Videos go to the op ``chunk`` at a time (VC: one ffmpeg encode and one decode per chunk instead of
    per video, same frames bit for bit).
    """
    if (root / MARKER).is_file():
        return root
    param = ptype.levels[level - 1]
    pending: list[tuple[list[str], list[np.ndarray]]] = []  # (relative paths, frames): one codec stream each

    def flush() -> None:
        outs = ptype.op([frames for _, frames in pending], param)
        for (rels, _), out in zip(pending, outs, strict=True):
            for rel, img in zip(rels, out, strict=True):
                write_png(root / cache_name(rel), img)
        pending.clear()

    for rec in tqdm(
        ds.records, desc=f"{ptype.code} level {level}: encoding videos", leave=False, dynamic_ncols=True
    ):
        frames = [ds.reader.read_image(rel) for rel in rec.frames]
        by_size: dict[tuple, list[int]] = defaultdict(list)  # a codec stream needs one frame size
        for i, f in enumerate(frames):
            by_size[f.shape].append(i)
        pending += [([rec.frames[i] for i in idx], [frames[i] for i in idx]) for idx in by_size.values()]
        if len(pending) >= chunk:
            flush()
    if pending:
        flush()
    atomic_write_text(root / MARKER, f"{ptype.code} level {level} ({param})\n")
    return root
