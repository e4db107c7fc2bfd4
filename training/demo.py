"""Score new images/videos with trained checkpoint(s), using the training data's face pipeline:
`python training/demo.py --weights_path <ckpt.pth> [<ckpt2.pth> ...] --input <image|video|folder>
[--out DIR] [--output result.json]`.

Every face is found (dlib; by default faces down to ~40 px in the full-size picture), linked into
tracks over a video's `--num_frames` evenly spaced frames, aligned and cropped exactly as
`preprocessing/preprocess.py` did for the checkpoint's training data (the settings recorded in the
checkpoint; a flag overriding one warns), then scored. A frame's score is the max over its faces
(`--frame_rule`), a video's the mean over its frames (`--video_rule`). Several checkpoints form an
ensemble (`--ensemble mean|vote`). The verdict uses the (ensemble) validation-calibrated threshold.
Exit code 0: every input scored; 1: some inputs had no face or could not be read (each says why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.logging import setup_logging  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from training.inference.ensemble import ENSEMBLE_RULES, FRAME_RULES, VIDEO_RULES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--weights_path", nargs="+", required=True, help="checkpoint(s) written by training/train.py"
    )
    p.add_argument("--input", required=True, help="an image, a video, or a folder of them (recursive)")
    p.add_argument(
        "--out", help="folder for scores.csv, result.json and annotated pictures (default: print only)"
    )
    p.add_argument("--output", help="write the per-face, per-frame results to this JSON file")
    p.add_argument("--num_frames", type=int, default=16, help="frames per video (evenly spaced; default 16)")
    p.add_argument(
        "--no-detect",
        dest="detect",
        action="store_false",
        help="inputs are already aligned face crops (e.g. frames/ of a processed dataset)",
    )
    p.add_argument(
        "--frame_rule", choices=FRAME_RULES, default="max", help="faces -> frame score (default max)"
    )
    p.add_argument(
        "--video_rule", choices=VIDEO_RULES, default="mean", help="frames -> video score (default mean)"
    )
    p.add_argument(
        "--ensemble",
        choices=ENSEMBLE_RULES,
        default="mean",
        help="several checkpoints: soft or majority vote",
    )
    p.add_argument(
        "--ensemble_weights", type=float, nargs="+", help="one weight per checkpoint (default equal)"
    )
    g = p.add_argument_group(
        "face pipeline (default: the checkpoint's training values; overriding one warns)"
    )
    g.add_argument("--detector", choices=["hog", "cnn"], help="dlib face detector")
    g.add_argument("--landmarks", dest="landmark_model", choices=["auto", "68", "81"], help="landmark model")
    g.add_argument("--crop_size", dest="size", type=int, help="aligned crop side in pixels")
    g.add_argument("--crop_scale", dest="scale", type=float, help="margin around the alignment template")
    g.add_argument(
        "--image_format", choices=["png", "jpg"], help="jpg: JPEG round trip like jpg training data"
    )
    g.add_argument(
        "--detect_upsample",
        dest="search_upsample",
        type=int,
        nargs="+",
        help="search pass: dlib upsampling levels (default 1: faces down to ~40 px); the first "
        "pass always detects as the training data was",
    )
    g.add_argument(
        "--detect_max_side",
        dest="search_max_side",
        type=int,
        help="search pass: detect on a copy downscaled to this side (default 0 = full size)",
    )
    g.add_argument(
        "--detect_min_score",
        dest="search_min_score",
        type=float,
        help="search pass: keep detections with at least this dlib score (default 0.5; real faces "
        "score about 1-2.6, face-like patches about 0)",
    )
    g.add_argument(
        "--track_reid", action="store_true", help="link face tracks with dlib face descriptors too"
    )
    g.add_argument(
        "--smooth_landmarks", type=int, default=0, help="average landmarks over N frames of a track"
    )
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    return p.parse_args(argv)  # fmt: skip


FACE_FLAGS = (
    "detector",
    "landmark_model",
    "size",
    "scale",
    "image_format",
    "search_upsample",
    "search_max_side",
    "search_min_score",
)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(None)
    import torch

    from training.inference import Detector, list_media
    from training.inference.report import annotate, summary_rows, write_csv, write_json

    media = list_media(resolve_input(args.input))
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    detector = Detector.from_checkpoint(
        [resolve_input(w) for w in args.weights_path], device, detect=args.detect, num_frames=args.num_frames,
        face={k: getattr(args, k) for k in FACE_FLAGS}, frame_rule=args.frame_rule, video_rule=args.video_rule,
        ensemble=args.ensemble, weights=args.ensemble_weights, reid=args.track_reid, smooth=args.smooth_landmarks,
    )  # fmt: skip
    results, pictures = [], []
    out = resolve_path(args.out).resolve() if args.out else None
    for res, frames in detector.analyse_many(media, progress=len(media) > 1):
        results.append(res)
        if out is not None and frames:
            pictures.append(annotate(res, frames, out))
    info = detector.describe()
    names = ", ".join(f"{c['model_name']} ({Path(c['path']).name})" for c in info["checkpoints"])
    print(f"model {names}; threshold {detector.threshold:.3f}; rules {info['rules']}")
    rows = summary_rows(results)
    width = max(len(r["path"]) for r in rows)
    for r in rows:
        print(f"{r['path']:<{width}}  {r['kind']:5s} frames={r['frames']:<3d} faces={r['faces']:<3d} "
              f"tracks={r['tracks']:<2d} fake_prob={r['fake_prob'] or '-':>6s}  {r['verdict']:5s} {r['note']}")  # fmt: skip
    written = []
    if out is not None:
        written += [write_csv(out / "scores.csv", results), write_json(out / "result.json", info, results)]
        written += [p for p in pictures if p is not None]
    if args.output:
        written.append(write_json(resolve_path(args.output).resolve(), info, results))
    for w in written:
        print(f"wrote {Path(w).resolve()}")
    return 0 if all(r["error"] is None for r in results) else 1


def resolve_input(p: str) -> Path:
    """An input path as the user means it: relative to the current folder, else to the repository root."""
    here = Path(p).expanduser()
    return here if here.exists() or here.is_absolute() else resolve_path(p)


if __name__ == "__main__":
    run_cli(main)
