"""End to end with no manual step: astronaut videos (+ broken ones) -> preprocess -> rearrange -> dataset2lmdb
-> doctor -> the training side's readers (file vs LMDB byte-identical) -> train.py and test.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fbi_common.face.align import eye_angle_deg
from preprocessing.fbi_prep import synthetic

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
NAME = "AstroE2E"
SPLITS = {"train": 2, "val": 1, "test": 1}  # face videos per class and split


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    assert p.returncode == 0, f"{args[:2]} failed:\nSTDOUT:\n{p.stdout[-3000:]}\nSTDERR:\n{p.stderr[-5000:]}"
    return p


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Run the four preprocessing commands once; return the folders they wrote."""
    tmp = tmp_path_factory.mktemp("e2e")
    raw = tmp / NAME
    rows = ["path,label,split"]
    for split, n in SPLITS.items():
        for i in range(n):
            for label in ("real", "fake"):
                rel = f"{label}/{split}_{i}.mp4"
                synthetic.face_video(raw / rel, n_frames=8, size=256, colour_shift=label == "fake")
                rows.append(f"{rel},{label},{split}")
    synthetic.corrupt_video(raw / "fake/corrupt.mp4")
    synthetic.empty_video(raw / "fake/empty.mp4")
    synthetic.noface_video(raw / "real/noface.mp4")
    rows += ["fake/corrupt.mp4,fake,train", "fake/empty.mp4,1,train", "real/noface.mp4,0,test"]
    (raw / "labels.csv").write_text("\n".join(rows) + "\n")
    rgb, js, lm = tmp / "rgb", tmp / "dataset_json", tmp / "lmdb"
    prep = REPO / "preprocessing"
    # As DeepfakeBench users run it: from inside preprocessing/.
    _run(
        [
            "preprocess.py",
            "--dataset",
            "custom",
            "--root",
            str(raw),
            "--out",
            str(rgb),
            "--num_frames",
            "3",
            "--workers",
            "2",
        ],
        prep,
    )
    _run(
        ["rearrange.py", "--dataset", "custom", "--name", NAME, "--rgb_dir", str(rgb), "--out", str(js)], prep
    )
    _run(
        [str(prep / "dataset2lmdb.py"), "--dataset", NAME, "--rgb_dir", str(rgb), "--lmdb_dir", str(lm)], tmp
    )
    return {"tmp": tmp, "rgb": rgb, "json": js, "lmdb": lm}


def test_ledger_records_every_failure_and_the_rest_finished(pipeline):
    lines = (pipeline["rgb"] / NAME / "preprocess_ledger.jsonl").read_text().splitlines()
    status = {json.loads(x)["video"]: json.loads(x)["status"] for x in lines}
    assert status.pop("fake/corrupt.mp4") == "unreadable" and status.pop("fake/empty.mp4") == "unreadable"
    assert status.pop("real/noface.mp4") == "no_face"
    assert set(status.values()) == {"ok"} and len(status) == 2 * sum(SPLITS.values())


def test_json_follows_design_and_crops_are_aligned(pipeline):
    doc = json.loads((pipeline["json"] / f"{NAME}.json").read_text())
    assert doc["_label_dict"] == {f"{NAME}_real": 0, f"{NAME}_fake": 1}
    top = doc[NAME]
    for label in (f"{NAME}_real", f"{NAME}_fake"):
        assert {s: len(v) for s, v in top[label].items()} == SPLITS
    frames = [f for lbl in top.values() for s in lbl.values() for v in s.values() for f in v["frames"]]
    assert len(frames) == 2 * sum(SPLITS.values()) * 3
    for f in frames:
        assert f.startswith(f"{NAME}/") and "\\" not in f
        img = cv2.imread(str(pipeline["rgb"] / f))
        assert img.shape == (256, 256, 3)
        lm = np.load(pipeline["rgb"] / f.replace("/frames/", "/landmarks/").replace(".png", ".npy"))
        assert abs(eye_angle_deg(lm)) < 3.0  # eyes level
        # Face centred: horizontally the landmark span, vertically forehead (brows - 35% of brow-to-chin) to chin.
        brow, chin = lm[17:27, 1].min(), lm[8, 1]
        assert abs((lm[:, 0].min() + lm[:, 0].max()) / 2 - 128) < 12
        assert abs((brow - 0.35 * (chin - brow) + chin) / 2 - 128) < 15
        assert lm.min() > 0 and lm.max() < 256  # landmarks on the face, inside the crop


def test_doctor_passes_on_files_and_lmdb_and_fails_on_a_broken_frame(pipeline):
    doctor = str(REPO / "preprocessing/doctor.py")
    common = ["--dataset", NAME, "--json_folder", str(pipeline["json"]), "--rgb_dir", str(pipeline["rgb"])]
    p = _run([doctor, *common], pipeline["tmp"])
    assert "RESULT: OK" in p.stdout and "train" in p.stdout
    p = _run([doctor, *common, "--lmdb", "--lmdb_dir", str(pipeline["lmdb"])], pipeline["tmp"])
    assert "checked against LMDB" in p.stdout and "RESULT: OK" in p.stdout
    # A copy of the JSON pointing at a truncated frame: the doctor must say so and exit non-zero.
    broken = pipeline["tmp"] / "broken"
    broken.mkdir()
    doc = json.loads((pipeline["json"] / f"{NAME}.json").read_text())
    video = next(iter(doc[NAME][f"{NAME}_fake"]["test"].values()))
    bad = pipeline["rgb"] / video["frames"][0]
    bad_copy = bad.with_name("bad.png")
    bad_copy.write_bytes(bad.read_bytes()[:100])
    video["frames"][0] = str(bad_copy.relative_to(pipeline["rgb"]).as_posix())
    (broken / f"{NAME}.json").write_text(json.dumps(doc))
    p = subprocess.run([sys.executable, doctor, *common[:2], "--json_folder", str(broken), "--rgb_dir", str(pipeline["rgb"])],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    bad_copy.unlink()
    assert p.returncode == 1 and "bad.png does not decode" in p.stdout


def test_file_and_lmdb_readers_give_identical_frames(pipeline):
    readers = pytest.importorskip("training.dataset.readers")
    fr, lr = readers.FileReader(pipeline["rgb"]), readers.LmdbReader(pipeline["lmdb"])
    doc = json.loads((pipeline["json"] / f"{NAME}.json").read_text())
    n = 0
    for lbl in doc[NAME].values():
        for split in lbl.values():
            for v in split.values():
                for f in v["frames"]:
                    np.testing.assert_array_equal(fr.read_image(f), lr.read_image(f))
                    lmk = f.replace("/frames/", "/landmarks/").replace(".png", ".npy")
                    np.testing.assert_array_equal(fr.read_landmark(lmk), lr.read_landmark(lmk))
                    n += 1
    assert n == 2 * sum(SPLITS.values()) * 3


def test_train_and_test_on_the_preprocessed_data(pipeline):
    from tests.conftest import TINY_VIT

    run_dir = pipeline["tmp"] / "logs"
    opts = [
        TINY_VIT, f"rgb_dir={pipeline['rgb']}", f"dataset_json_folder={pipeline['json']}", f"log_dir={run_dir}",
        "run_name=e2e", "lmdb=true", f"lmdb_dir={pipeline['lmdb']}",
        "workers=0", "nEpochs=1", "max_steps=2",
        "frame_num={train: 3, val: 3, test: 3}", "train_batchSize=8", "test_batchSize=16",
    ]  # fmt: skip
    yaml = "training/config/detector/clip_demo.yaml"
    # `--train_dataset NAME` just works: the custom label names come from the JSON's _label_dict.
    _run(["training/train.py", "--detector_path", yaml, "--train_dataset", NAME, "--test_dataset", NAME,
          "--opts", *opts], REPO)  # fmt: skip
    # The face pipeline travels preprocess_meta.json -> dataset JSON -> checkpoint (demo.py crops with it).
    face = json.loads((pipeline["json"] / f"{NAME}.json").read_text())["_preprocessing"]
    assert face["size"] == 256 and face["scale"] == 1.3 and face["landmark_model"] == "dlib_68"
    from training.trainer.checkpoint import load_checkpoint

    assert load_checkpoint(run_dir / "e2e/ckpt/last.pth")["preprocessing"]["face"] == face
    metrics = json.loads((run_dir / "e2e" / "test" / NAME / "metrics.json").read_text())
    assert metrics["n_videos"] == 2 * SPLITS["test"] and metrics["n_frames"] == 2 * SPLITS["test"] * 3
    out = pipeline["tmp"] / "test_out"
    _run(["training/test.py", "--detector_path", yaml, "--weights_path", str(run_dir / "e2e/ckpt/last.pth"),
          "--test_dataset", NAME, "--out", str(out), "--opts", *opts], REPO)  # fmt: skip
    again = json.loads((out / NAME / "metrics.json").read_text())
    assert again["n_frames"] == metrics["n_frames"]
