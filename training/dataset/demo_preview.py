"""The demo datasets' preview figure: a contact sheet of real frames, fake frames and blending masks."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from fbi_common.paths import resolve_path
from training.dataset.demo_data import labels_of, write_png


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
    write_png(out_path, np.concatenate(labelled, axis=0), compression=9)  # small enough to commit
    return out_path
