"""training/robustness.py: every perturbation on a small image (identity at "clean", measurable at the severest
level, seeded), and the end-to-end run whose "clean" predictions equal test.py's exactly."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from tests.conftest import REPO, tiny_opts
from training.perturb import ops
from training.perturb.protocols import DEEPERFORENSICS, IMAGE, ProtocolError, select
from training.perturb.readers import PerturbedReader

YAML = "training/config/detector/clip_demo.yaml"
HAVE_FFMPEG = shutil.which("ffmpeg") is not None


class _ArrayReader:
    def __init__(self, img: np.ndarray) -> None:
        self.img = img

    def read_image(self, rel: str) -> np.ndarray:
        return self.img.copy()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A 128 px natural RGB image (so 112/64 px resizes are real down-scalings)."""
    return cv2.resize(skdata.astronaut()[:256, 128:384], (128, 128), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize(
    "ptype", [t for t in DEEPERFORENSICS + IMAGE if not t.per_video], ids=lambda t: t.code
)
def test_each_perturbation_clean_is_identity_severest_changes(ptype, image) -> None:
    reader = PerturbedReader(_ArrayReader(image), ptype, 0, seed=0)
    np.testing.assert_array_equal(reader.read_image("a/frames/v/000.png"), image)
    worst = len(ptype.levels)
    a = PerturbedReader(_ArrayReader(image), ptype, worst, seed=0).read_image("a/frames/v/000.png")
    assert a.dtype == np.uint8 and a.shape == image.shape
    assert np.abs(a.astype(float) - image).mean() > 2.0, (
        f"{ptype.code} level {worst} barely changes the image"
    )
    b = PerturbedReader(_ArrayReader(image), ptype, worst, seed=0).read_image("a/frames/v/000.png")
    np.testing.assert_array_equal(a, b)  # seeded: the same frame gets the same perturbation
    mild = PerturbedReader(_ArrayReader(image), ptype, 1, seed=0).read_image("a/frames/v/000.png")
    assert np.abs(mild.astype(float) - image).mean() <= np.abs(a.astype(float) - image).mean() + 1e-9


def test_random_ops_depend_on_frame_and_seed(image) -> None:
    noise = next(t for t in IMAGE if t.code == "noise")
    r = PerturbedReader(_ArrayReader(image), noise, 3, seed=0)
    assert not np.array_equal(r.read_image("x/000.png"), r.read_image("x/008.png"))
    other = PerturbedReader(_ArrayReader(image), noise, 3, seed=1)
    assert not np.array_equal(r.read_image("x/000.png"), other.read_image("x/000.png"))


def test_operations_match_their_definitions(image) -> None:
    grey = ops.saturation(image, 0.0)
    assert np.abs(grey.astype(int) - grey[..., :1]).max() <= 2  # no chroma left
    np.testing.assert_array_equal(ops.contrast(image, 0.5), np.round(image * 0.5).astype(np.uint8))
    occluded = ops.block_occlusion(image, 80, np.random.default_rng(0))
    assert (occluded == 128).all(-1).sum() >= 8 * 8  # grey blocks, at least one full block
    np.testing.assert_array_equal(ops.gaussian_blur(image, 7), cv2.GaussianBlur(image, (7, 7), 7 / 6))
    assert np.array_equal(ops.resize_roundtrip(image, 128), image)  # not smaller: no-op


@pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg not installed")
def test_video_compression_changes_frames_and_keeps_count(image) -> None:
    frames = [np.roll(image, 2 * i, axis=1) for i in range(4)]
    (out,) = ops.videos_h264([frames], 40)
    assert len(out) == 4 and out[0].shape == image.shape
    assert np.abs(out[0].astype(float) - frames[0]).mean() > 2.0
    (odd,) = ops.videos_h264([[f[:-1, :-1] for f in frames]], 30)
    assert odd[0].shape == (127, 127, 3)


@pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg not installed")
def test_batched_video_compression_equals_one_video_at_a_time(image) -> None:
    """`videos_h264` (one ffmpeg call for many videos, what the VC cache uses) gives every video exactly
    what encoding it alone gives, in the right order, sizes mixed."""
    videos = [
        [np.roll(image, 3 * i, axis=1) for i in range(4)],
        [np.roll(image[:64, :96], 2 * i, axis=0) for i in range(3)],  # another size
        [np.ascontiguousarray(image[::-1]) for _ in range(5)],
    ]
    from benchmarks.bench_vc import one_video_two_processes  # the reference: one ffmpeg pair per video

    batched = ops.videos_h264(videos, 35)
    assert [len(v) for v in batched] == [4, 3, 5]
    for frames, got in zip(videos, batched, strict=True):
        want = one_video_two_processes(frames, 35)
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


@pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg not installed")
def test_vc_cache_is_the_same_whatever_the_chunk(image, tmp_path) -> None:
    """The VC crop cache sends videos to ffmpeg in chunks; chunk 1 and chunk 2 write the same frames."""
    from types import SimpleNamespace

    from training.perturb.cache import crop_video_cache
    from training.perturb.protocols import DEEPERFORENSICS
    from training.perturb.readers import cache_name

    frames = {
        f"v{v}/frames/{i:03d}.png": np.roll(image, 5 * v + i, axis=1) for v in range(3) for i in range(3)
    }
    frames["v2/frames/003.png"] = image[:64, :64]  # a video with two frame sizes: two streams
    reader = SimpleNamespace(read_image=lambda rel: frames[rel].copy())
    records = [SimpleNamespace(frames=sorted(r for r in frames if r.startswith(f"v{v}/"))) for v in range(3)]
    ds = SimpleNamespace(records=records, reader=reader)
    vc = next(t for t in DEEPERFORENSICS if t.code == "VC")
    one, two = (crop_video_cache(ds, vc, 3, tmp_path / f"c{n}", chunk=n) for n in (1, 2))
    for rel in frames:
        a, b = (cv2.imread(str(root / cache_name(rel))) for root in (one, two))
        assert a is not None and np.array_equal(a, b) and a.shape[:2] == frames[rel].shape[:2]


def test_protocol_selection_errors() -> None:
    assert [t.code for _, t, _ in select("image", None, None)] == ["jpeg-quality", "blur", "resize", "noise"]
    assert [i for _, _, i in select("deeperforensics", ["cs"], [1, 5])] == [[1, 5]]
    for args in (("nope", None, None), ("image", ["CS"], None), ("both", None, [9])):
        with pytest.raises(ProtocolError):
            select(*args)


@pytest.fixture(scope="module")
def tiny_run(demo_data, tmp_path_factory) -> Path:
    log_dir = tmp_path_factory.mktemp("rob")
    args = [sys.executable, "training/train.py", "--detector_path", YAML, "--opts",
            *tiny_opts(demo_data, log_dir, "run", max_steps=2)]  # fmt: skip
    p = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return log_dir / "run"


def _main(module: str, args: list[str], capsys) -> tuple[int, str, str]:
    from fbi_common.cli import run_cli

    main = __import__(module, fromlist=["main"]).main
    with pytest.raises(SystemExit) as exc:
        run_cli(main, args)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


@pytest.mark.slow
def test_clean_equals_test_py_and_perturbed_differs(tiny_run, demo_data, tmp_path, capsys) -> None:
    opts = ["--opts", *tiny_opts(demo_data, tmp_path, "x")]
    ckpt = str(tiny_run / "ckpt" / "best.pth")
    code, out, err = _main(
        "training.test",
        ["--detector_path", YAML, "--weights_path", ckpt, "--out", str(tmp_path / "t"), *opts],
        capsys,
    )
    assert code == 0, err
    assert "| test set |" in out and "| FBI-Demo |" in out  # test.py prints the summary table (runner.finish)
    types = ["GB", "VC"] if HAVE_FFMPEG else ["GB"]
    args = [
        "--detector_path",
        YAML,
        "--weights_path",
        ckpt,
        "--types",
        *types,
        "--levels",
        "5",
        "--out",
        str(tmp_path / "r"),
        *opts,
    ]
    code, out, err = _main("training.robustness", args, capsys)
    assert code == 0, err
    clean = (tmp_path / "r" / "clean" / "FBI-Demo" / "predictions.csv").read_bytes()
    assert clean == (tmp_path / "t" / "FBI-Demo" / "predictions.csv").read_bytes()
    for code_ in types:
        blurred = (
            tmp_path / "r" / "deeperforensics" / code_ / "level5" / "FBI-Demo" / "predictions.csv"
        ).read_bytes()
        assert blurred != clean
    assert "crop-only dataset" in out and f"wrote {tmp_path / 'r' / 'robustness.md'}" in out
    rows = list(csv.DictReader((tmp_path / "r" / "robustness.csv").read_text().splitlines()))
    assert [r["type"] for r in rows] == ["clean", *types]
    assert (tmp_path / "r" / "plots" / "deeperforensics_GB.png").read_bytes()[:4] == b"\x89PNG"
    again = _main("training.robustness", args, capsys)  # finished evaluations are reused
    assert again[0] == 0 and (tmp_path / "r" / "clean" / "FBI-Demo" / "predictions.csv").read_bytes() == clean


@pytest.mark.slow
def test_bad_flags_exit_2(tiny_run, tmp_path, capsys) -> None:
    ckpt = str(tiny_run / "ckpt" / "best.pth")
    for extra in (["--types", "XYZ"], ["--levels", "0"]):
        code, _, err = _main(
            "training.robustness", ["--detector_path", YAML, "--weights_path", ckpt, *extra], capsys
        )
        assert code == 2 and err.startswith("error: ") and "Traceback" not in err, err
    code, _, err = _main(
        "training.robustness",
        ["--detector_path", YAML, "--weights_path", "/nope.pth", "--out", str(tmp_path / "r")],
        capsys,
    )  # --out: the default folder would be created in the repo's logs/
    assert code == 2 and "nope.pth" in err


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg not installed")
def test_video_path_recrops_from_source_videos(tiny_run, tmp_path, capsys) -> None:
    """Source videos available: perturb the frame, then detect + align + crop with the shared face path.
    Re-cropping unperturbed frames reproduces the stored crops, so its predictions equal the clean test's."""
    import json

    from fbi_common.face import FaceEngine, FacePipeline
    from fbi_common.video import open_video, read_frames
    from preprocessing.fbi_prep.synthetic import astronaut_frame, write_video
    from training.perturb.video import face_settings

    s = face_settings()
    pipe = FacePipeline(FaceEngine(s["detector"], str(s["landmarks"]), s["detect_max_side"], s["detect_upsample"]),
                        64, s["scale"], s["face_policy"])  # fmt: skip
    raw, rgb, index = (
        tmp_path / "raw",
        tmp_path / "rgb",
        {"Astro_real": {"test": {}}, "Astro_fake": {"test": {}}},
    )
    for cls, tint in (("real", (1.0, 1.0, 1.0)), ("fake", (0.8, 1.0, 1.2))):
        frames = [
            np.clip(astronaut_frame(t, 240) * np.array(tint), 0, 255).astype(np.uint8) for t in range(6)
        ]
        src = write_video(raw / cls / "videos" / "v0.mp4", frames)
        cap = open_video(src)
        decoded = read_frames(cap, [0, 5])
        cap.release()
        rels = []
        for idx, img in decoded.items():
            rel = f"Astro/{cls}/frames/v0/{idx:03d}.png"
            (rgb / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(rgb / rel), pipe.frame(img)[0][0].crop)
            rels.append(rel)
        index[f"Astro_{cls}"]["test"]["v0"] = {"label": f"Astro_{cls}", "frames": rels}
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "Astro.json").write_text(json.dumps({"Astro": index}))
    opts = [f"rgb_dir={rgb}", f"dataset_json_folder={tmp_path / 'json'}", "label_dict.Astro_real=0", "label_dict.Astro_fake=1",
            "workers=0", "frame_num={train: 2, val: 2, test: 2}", "test_batchSize=8"]  # fmt: skip
    args = ["--detector_path", YAML, "--weights_path", str(tiny_run / "ckpt" / "best.pth"), "--test_dataset", "Astro",
            "--types", "CS", "VC", "--levels", "5", "--video_root", str(raw), "--out", str(tmp_path / "r"), "--opts", *opts]  # fmt: skip
    code, out, err = _main("training.robustness", args, capsys)
    assert code == 0, err
    clean = (tmp_path / "r" / "clean" / "Astro" / "predictions.csv").read_text()
    assert (tmp_path / "r" / "clean_recrop" / "Astro" / "predictions.csv").read_text() == clean
    for t in ("CS", "VC"):
        assert (
            tmp_path / "r" / "deeperforensics" / t / "level5" / "Astro" / "predictions.csv"
        ).read_text() != clean
    summary = json.loads((tmp_path / "r" / "robustness.json").read_text())
    assert summary["mode"] == "video" and "crop-only" not in out
    assert [r["type"] for r in summary["rows"]] == ["clean", "clean (re-cropped)", "CS", "VC"]
