"""Score new images/videos with a trained checkpoint, using the training-time preprocessing:
`python training/demo.py --weights_path <ckpt.pth> --input <image|video|folder> [--out DIR]`.

Faces are found and aligned exactly as `preprocessing/preprocess.py` does (dlib + 5-point similarity,
256 px at scale 1.3 by default), then resized/normalised as recorded in the checkpoint. A video is
scored on `--num_frames` evenly spaced frames; its score is the mean fake probability. The verdict
uses the checkpoint's validation-calibrated threshold (0.5 when it has none).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.logging import setup_logging  # noqa: E402
from training.inference import FaceCropper, Predictor, annotate, list_media, results_rows, score_media  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights_path", required=True, help="checkpoint written by training/train.py")
    p.add_argument("--input", required=True, help="an image, a video, or a folder of them (recursive)")
    p.add_argument("--out", help="folder for scores.csv and annotated pictures (default: print only)")
    p.add_argument("--num_frames", type=int, default=16, help="frames per video (evenly spaced)")
    p.add_argument("--face_policy", choices=["largest", "all"], default="largest")
    p.add_argument("--crop_size", type=int, default=256, help="aligned crop size (as in preprocessing)")
    p.add_argument("--crop_scale", type=float, default=1.3, help="crop margin (as in preprocessing)")
    p.add_argument(
        "--no-detect",
        dest="detect",
        action="store_false",
        help="inputs are already aligned face crops (e.g. frames/ of a processed dataset)",
    )
    p.add_argument("--device", default="cuda" if _cuda() else "cpu")
    return p.parse_args(argv)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(None)
    try:
        media = list_media(args.input)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    predictor = Predictor(args.weights_path, args.device)
    cropper = FaceCropper(args.crop_size, args.crop_scale, args.face_policy) if args.detect else None
    results = [score_media(m, predictor, cropper, args.num_frames) for m in media]
    rows = results_rows(results, predictor.threshold)
    print(f"model {predictor.model_name}, threshold {predictor.threshold:.3f}")
    width = max(len(r["path"]) for r in rows)
    for r in rows:
        print(
            f"{r['path']:<{width}}  {r['kind']:5s} frames={r['frames']:<3d} faces={r['faces']:<3d} "
            f"fake_prob={r['fake_prob'] or '-':>6s}  {r['verdict']:5s} {r['note']}"
        )
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "scores.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        for m, r in zip(media, results, strict=True):
            annotate(m, r, predictor.threshold, out)
        print(f"wrote {out / 'scores.csv'} and annotated pictures")
    return 0 if all(r.error is None for r in results) else 1


if __name__ == "__main__":
    run_cli(main)
