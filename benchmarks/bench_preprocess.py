"""Preprocessing speed on one synthetic video: frames/s end to end, where the time goes, grab vs seek decoding,
and detection on a downscaled vs full-size frame. Ends with `RESULT <name> <value>` lines.

Configuration measured (printed too): a 960x540, 300-frame mp4v video of a moving face (skimage astronaut),
fixed_num_frames 32, dlib HOG (upsample [0, 1]), 68-point landmarks, 256 px PNG crops, 1 process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.results import result_lines  # noqa: E402
from fbi_common.cli import positive_int, run_cli  # noqa: E402
from fbi_common.face import FaceEngine  # noqa: E402
from fbi_common.video import decode_selected  # noqa: E402
from preprocessing.fbi_prep import synthetic  # noqa: E402
from preprocessing.fbi_prep.adapters.base import VideoJob  # noqa: E402
from preprocessing.fbi_prep.pipeline import VideoProcessor  # noqa: E402
from preprocessing.fbi_prep.settings import load_section  # noqa: E402


def make_video(path: Path, n: int, w: int, h: int) -> Path:
    frames = []
    for t in range(n):
        face = synthetic.astronaut_frame(t, 320)
        canvas = np.full((h, w, 3), 90, np.uint8)
        x, y = w // 2 - 160 + int(40 * np.sin(t / 15)), h // 2 - 160
        canvas[y : y + 320, x : x + 320] = face
        frames.append(canvas)
    return synthetic.write_video(path, frames)


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=positive_int, default=300, help="video length")
    ap.add_argument("--num_frames", type=positive_int, default=32, help="frames kept per video")
    ap.add_argument("--repeats", type=positive_int, default=3)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_prep_"))
    video = make_video(tmp / "v.mp4", args.frames, 960, 540)
    cfg = load_section("preprocess") | {"num_frames": args.num_frames, "workers": 1}
    print(f"video: {video} 960x540, {args.frames} frames (mp4v); keep {args.num_frames}; "
          f"detector {cfg['detector']} upsample {cfg['detect_upsample']} max_side {cfg['detect_max_side']}; "
          f"crop {cfg['size']} px {cfg['image_format']}; 1 process, 1 OpenCV thread")  # fmt: skip

    grab = best_of(
        lambda: decode_selected(video, "fixed_num_frames", args.num_frames, 1, "grab"), args.repeats
    )
    seek = best_of(
        lambda: decode_selected(video, "fixed_num_frames", args.num_frames, 1, "seek"), args.repeats
    )
    full = best_of(lambda: decode_selected(video, "fixed_num_frames", args.frames, 1, "grab"), 1)
    print(
        f"decode {args.num_frames} of {args.frames}: grab walk {grab:.3f}s, seek {seek:.3f}s; all frames {full:.3f}s"
    )

    engine = FaceEngine(cfg["detector"], "auto", cfg["detect_max_side"], cfg["detect_upsample"])
    job = VideoJob(src=str(video), rel="v.mp4", out_dir="", video="v")
    rec = None
    for _ in range(args.repeats):  # keep the fastest run: the machine is shared
        r = VideoProcessor(cfg, engine)(job, tmp / "out")
        if r["status"] != "ok":
            raise RuntimeError(f"benchmark video failed: {r}")
        rec = r if rec is None or r["seconds"] < rec["seconds"] else rec
    fps = rec["frames_written"] / rec["seconds"]
    total = sum(rec["timing"].values())
    print(f"pipeline: {rec['frames_written']} crops in {rec['seconds']:.3f}s = {fps:.1f} frames/s")
    for stage in ("decode", "detect", "landmarks", "align", "write"):
        print(
            f"  {stage:9s} {rec['timing'].get(stage, 0):.3f}s ({100 * rec['timing'].get(stage, 0) / total:.0f}%)"
        )

    grey = cv2.cvtColor(decode_selected(video, "fixed_num_frames", 1, 1).frames[0], cv2.COLOR_BGR2GRAY)
    small = FaceEngine(cfg["detector"], "auto", 640, cfg["detect_upsample"])
    big = FaceEngine(cfg["detector"], "auto", 0, cfg["detect_upsample"])
    t_small = best_of(lambda: small.detect(grey), args.repeats * 3)
    t_big = best_of(lambda: big.detect(grey), args.repeats * 3)
    print(
        f"HOG detect one 960x540 frame: downscaled to 640 {t_small * 1000:.1f} ms, full size {t_big * 1000:.1f} ms"
    )

    shares = {f"share_{s}": f"{rec['timing'].get(s, 0) / total:.3f}" for s in ("decode", "detect", "landmarks", "align", "write")}  # fmt: skip
    print(result_lines({"preprocess_frames_per_s": f"{fps:.2f}", **shares,
                        "decode_seek_over_grab_ratio": f"{seek / grab:.2f}",
                        "decode_sparse_over_all_frames_ratio": f"{grab / full:.2f}",
                        "detect_fullsize_over_downscaled_ratio": f"{t_big / t_small:.2f}"}))  # fmt: skip
    return 0


if __name__ == "__main__":
    run_cli(main)
