"""FBI-Demo-ID, the identity-rich demo set: same identity split as FBI-Demo, a different "photo" per video."""

from __future__ import annotations

import json

import numpy as np

from tests.test_demo_x import SMALL, _digest
from training.dataset.demo_data import DATASET, DATASET_ID, build_demo_dataset
from training.dataset.demo_id import render_video_id
from training.dataset.demo_render import load_faces, render_video


def test_same_split_own_labels_and_fbi_demo_untouched(demo_data) -> None:
    rgb, js = demo_data["rgb_dir"], demo_data["json_folder"]
    before = _digest(rgb / DATASET)
    ident = json.loads(build_demo_dataset(rgb, js, **SMALL, dataset=DATASET_ID).read_text())[DATASET_ID]
    demo = json.loads((js / f"{DATASET}.json").read_text())[DATASET]
    assert set(ident) == {"FBI-Demo-ID_real", "FBI-Demo-ID_fake"}
    for split in ("train", "val", "test"):
        assert sorted(ident["FBI-Demo-ID_real"][split]) == sorted(demo["FBI-Demo_real"][split])
    assert _digest(rgb / DATASET) == before


def test_videos_of_one_identity_are_different_photos() -> None:
    """Two videos of a face differ far more in FBI-Demo-ID than in FBI-Demo (where they are one photo)."""
    face, tint = load_faces(64)[7], np.array([1.0, 0.85, 0.7], np.float32)

    def gap(render) -> float:
        a, b = (
            render(face, tint, False, np.random.default_rng([0, v]), 1)[0][0].astype(float) for v in (0, 1)
        )
        return float(np.abs(a - b).mean())

    demo_gap, id_gap = gap(render_video), gap(render_video_id)
    assert id_gap > 3 * demo_gap and id_gap > 15  # mean |Δ| in 0-255 grey levels
