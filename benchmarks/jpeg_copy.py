"""A JPEG copy of a dataset's crops (what preprocessing's `image_format: jpg` writes), to measure what JPEG does:

    python benchmarks/jpeg_copy.py --dataset FBI-Demo [--name FBI-Demo-jpg] [--quality 95]
        [--rgb_dir datasets/rgb] [--dataset_json_folder preprocessing/dataset_json]

Reads `<dataset_json_folder>/<dataset>.json` (DeepfakeBench's format, any of its path flavours),
decodes every frame and writes it with `cv2.imwrite(..., [IMWRITE_JPEG_QUALITY, q])` — exactly what
preprocessing writes with `image_format: jpg`, `jpeg_quality: q` (OpenCV's defaults: baseline,
4:2:0 chroma subsampling) — as `<rgb_dir>/<name>/...` (the frame's path with its dataset folder
renamed, `.jpg`); landmarks and masks are copied unchanged (masks stay lossless PNG). Then writes
`<dataset_json_folder>/<name>.json`: the same labels, splits, videos and frame indices, every path
pointing at the copies — a dataset `<name>` to train and test on next to the original. For the
FF++ family (whose JSON nests a compression level under fixed dataset names) re-run preprocessing
with `image_format: jpg` instead. README "Performance" has what it measured on the demo.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
from tqdm import tqdm  # noqa: E402

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.datasets import FF_FAMILY, SPLITS, dataset_folder  # noqa: E402
from fbi_common.errors import DataError  # noqa: E402
from fbi_common.io import atomic_write_json  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402
from training.dataset.frame_paths import derive_sibling, normalize_frame_path  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="dataset to copy (<dataset_json_folder>/<NAME>.json)")
    p.add_argument("--name", default=None, help="name of the copy (default: <dataset>-jpg)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality (preprocessing's jpeg_quality)")
    p.add_argument("--rgb_dir", default="datasets/rgb", help="frame root of both (relative: repo root)")
    p.add_argument("--dataset_json_folder", default="preprocessing/dataset_json")
    args = p.parse_args(argv)
    args.name = args.name or f"{args.dataset}-jpg"
    if not 1 <= args.quality <= 100:
        p.error("--quality must be in 1..100")
    if args.dataset in FF_FAMILY or args.name in FF_FAMILY or args.name == args.dataset:
        p.error(
            "--dataset/--name: FF++-family JSONs nest a compression level under fixed names; re-run "
            "preprocessing with image_format: jpg for them (and --name must differ from --dataset)"
        )
    return args


def _copy_path(rel: str, dataset: str, name: str, ext: str | None = None) -> str:
    """`<dataset folder>/rest` → `<name>/rest` (other paths get `<name>/` in front); `ext` replaces the suffix."""
    head, _, rest = rel.partition("/")
    out = f"{name}/{rest}" if head == dataset_folder(dataset) and rest else f"{name}/{rel}"
    return out.rsplit(".", 1)[0] + ext if ext else out


def _videos(tree: dict, where: Path):
    """(label, split, video, info) of every video entry of a non-FF++ DeepfakeBench JSON."""
    for label, splits in tree.items():
        for split, videos in (splits or {}).items():
            if split not in SPLITS or not isinstance(videos, dict):
                raise DataError(f"{where}: {label}/{split}: expected splits {SPLITS} holding videos")
            for video, info in videos.items():
                if not isinstance(info, dict) or "frames" not in info:
                    raise DataError(f"{where}: {label}/{split}/{video}: no 'frames' list")
                yield label, split, video, info


def copy_dataset(args: argparse.Namespace) -> tuple[Path, int]:
    rgb, folder = resolve_path(args.rgb_dir), resolve_path(args.dataset_json_folder)
    src_json = folder / f"{args.dataset}.json"
    if not src_json.is_file():
        raise DataError(f"{src_json} not found: check --dataset and --dataset_json_folder")
    data = json.loads(src_json.read_text(encoding="utf-8"))
    if args.dataset not in data:
        raise DataError(f"{src_json}: no top-level key '{args.dataset}' (it has {sorted(data)})")
    anchors = (args.dataset, dataset_folder(args.dataset))
    entries = list(_videos(data[args.dataset], src_json))
    out: dict = {}
    n = 0
    for label, split, video, info in tqdm(entries, desc=f"{args.name} (JPEG q{args.quality})", unit="video"):
        frames = [normalize_frame_path(f, rgb, anchors) for f in info["frames"]]
        masks = [normalize_frame_path(m, rgb, anchors) for m in info.get("masks") or []]
        masks = masks or [derive_sibling(f, "masks") for f in frames]
        for f in frames:
            img = cv2.imread(str(rgb / f), cv2.IMREAD_COLOR)
            if img is None:
                raise DataError(f"{rgb / f}: missing or not decodable (listed in {src_json})")
            dst = rgb / _copy_path(f, args.dataset, args.name, ".jpg")
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, args.quality]):
                raise DataError(f"{dst}: cv2.imwrite failed (disk full or not writable?)")
            n += 1
        for side in [derive_sibling(f, "landmarks", ".npy") for f in frames] + masks:
            if (rgb / side).is_file():
                dst = rgb / _copy_path(side, args.dataset, args.name)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(rgb / side, dst)
        entry = {**info, "frames": [_copy_path(f, args.dataset, args.name, ".jpg") for f in frames]}
        found = [m for m in masks if (rgb / m).is_file()]
        if found:  # listed even when the source derived them: `<idx>.jpg` frames would derive `.jpg` masks
            entry["masks"] = [_copy_path(m, args.dataset, args.name) for m in found]
        out.setdefault(label, {}).setdefault(split, {})[video] = entry
    dst_json = folder / f"{args.name}.json"
    atomic_write_json(dst_json, {args.name: out})
    return dst_json, n


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    js, n = copy_dataset(args)
    print(
        f"{n} frames re-encoded as JPEG quality {args.quality} into {resolve_path(args.rgb_dir) / args.name}"
    )
    print(f"wrote {js}")
    return 0


if __name__ == "__main__":
    run_cli(main)
