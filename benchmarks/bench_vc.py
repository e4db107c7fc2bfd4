"""Robustness VC (H.264 re-encode of crop videos): one ffmpeg encode + decode per chunk of videos vs per video.

    python benchmarks/bench_vc.py [--videos 120] [--frames 4] [--size 64] [--crf 35] [--chunk 32]

Builds `--videos` short crop videos (`--frames` frames of `--size` px cut from scikit-image's astronaut,
shifted frame to frame; FBI-Demo's test split is 120 videos of 4 frames at 64 px) and compresses them at
`--crf` twice: the way the VC cache did it before (`one_video_two_processes`: each video piped through its
own ffmpeg encode and decode processes) and the way it does now (`training.perturb.ops.videos_h264`,
`--chunk` videos per pair of processes, each video its own stream and encoder). Checks that both give
the same frames bit for bit, then prints the wall seconds of each and ends with `RESULT vc_per_video_s`,
`RESULT vc_batched_s` and `RESULT vc_batched_speedup`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.results import result_lines  # noqa: E402
from fbi_common.cli import positive_int, run_cli  # noqa: E402
from fbi_common.errors import FBIError  # noqa: E402
from training.perturb.ops import ffmpeg_binary, videos_h264  # noqa: E402


def one_video_two_processes(frames: list[np.ndarray], crf: int) -> list[np.ndarray]:
    """The reference: one video (even sizes) piped through its own ffmpeg encode and decode processes."""
    h, w = frames[0].shape[:2]
    common = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error"]
    enc = subprocess.run(
        [*common, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25.0", "-i", "-",
         "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", "yuv420p", "-threads", "1",
         "-f", "h264", "-"],
        input=b"".join(f.tobytes() for f in frames), capture_output=True, check=True,
    )  # fmt: skip
    dec = subprocess.run([*common, "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         input=enc.stdout, capture_output=True, check=True)  # fmt: skip
    return list(np.frombuffer(dec.stdout, np.uint8).reshape(len(frames), h, w, 3))


def make_videos(n: int, frames: int, size: int) -> list[list[np.ndarray]]:
    from skimage import data

    face = cv2.resize(data.astronaut()[:256, 128:384], (size + 16, size + 16), interpolation=cv2.INTER_AREA)

    def crop(v: int, f: int) -> np.ndarray:
        dy, dx = (v + f) % 16, (3 * v + f) % 16
        return np.ascontiguousarray(face[dy : dy + size, dx : dx + size])

    return [[crop(v, f) for f in range(frames)] for v in range(n)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=positive_int, default=120)
    p.add_argument("--frames", type=positive_int, default=4)
    p.add_argument("--size", type=int, default=64, help="even frame side in px")
    p.add_argument("--crf", type=int, default=35)
    p.add_argument("--chunk", type=positive_int, default=32, help="videos per ffmpeg call (the VC cache's)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    videos = make_videos(args.videos, args.frames, args.size - args.size % 2)
    t0 = time.perf_counter()
    ref = [one_video_two_processes(v, args.crf) for v in videos]
    t1 = time.perf_counter()
    got = [
        out
        for s in range(0, len(videos), args.chunk)
        for out in videos_h264(videos[s : s + args.chunk], args.crf)
    ]
    t2 = time.perf_counter()
    same = all(np.array_equal(a, b) for r, g in zip(ref, got, strict=True) for a, b in zip(r, g, strict=True))
    if not same:
        raise FBIError(
            "the batched VC encode differs from one video at a time with this ffmpeg "
            f"({ffmpeg_binary()}): the VC cache's results would change; report it with `ffmpeg -version`"
        )
    print(f"{args.videos} videos × {args.frames} frames at {args.size} px, CRF {args.crf}: identical frames")
    print(f"  one video per ffmpeg encode + decode: {t1 - t0:6.2f} s")
    print(f"  {args.chunk} videos per ffmpeg call:        {t2 - t1:6.2f} s")
    print(result_lines({"vc_per_video_s": f"{t1 - t0:.2f}", "vc_batched_s": f"{t2 - t1:.2f}",
                        "vc_batched_speedup": f"{(t1 - t0) / (t2 - t1):.1f}"}))  # fmt: skip
    return 0


if __name__ == "__main__":
    run_cli(main)
