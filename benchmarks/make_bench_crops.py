"""Builds a folder of 256-px real-photo crops in DeepfakeBench's layout and JSON format, for loader benchmarks:

    python benchmarks/make_bench_crops.py [--out benchmarks/out/crops] [--name Celeb-DF-v2]
        [--videos 64] [--frames 8] [--size 256] [--image_format png|jpg]

Sources are the photographs that ship with scikit-image (no download): the astronaut's face, the cat,
coffee, rocket, Hubble, microscopy and retina photos — crops at random position and scale, drifting a
few pixels from frame to frame like a tracked face — and LFW face crops upscaled from 25 px. They are
written as preprocessing writes crops (PNG compression 3, or JPEG quality 95), so decoding costs what
it costs on real datasets. Layout: `<out>/rgb/<name>/{Celeb-real,Celeb-synthesis}/{frames,landmarks,
masks}/<video>/<idx>.png|.npy` and `<out>/dataset_json/<name>.json`, whose frame paths start with
`./datasets/rgb/<name>/...` as DeepfakeBench's released JSONs do (both loaders resolve them against
`--rgb_dir <out>/rgb`). The labels only name the two halves: nothing here is fake.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402

# (name, face box (top, left, size) or None for anywhere in the photo)
PHOTOS = [
    ("astronaut", (20, 130, 220)),
    ("chelsea", (20, 120, 200)),
    ("coffee", None),
    ("rocket", None),
    ("hubble_deep_field", None),
    ("immunohistochemistry", None),
    ("retina", None),
]
LABELS = (("CelebDFv2_real", "Celeb-real"), ("CelebDFv2_fake", "Celeb-synthesis"))


def _sources() -> list[np.ndarray]:
    from skimage import data

    return [getattr(data, name)() for name, _ in PHOTOS]


def _lfw_faces() -> np.ndarray:
    from skimage.data import lfw_subset

    return (lfw_subset()[:100] * 255).astype(np.uint8)  # the first 100 are faces


def _video_frames(rng: np.random.Generator, photos, faces, size: int, n: int) -> list[np.ndarray]:
    """n RGB frames of one "video": a crop box drifting a few pixels per frame."""
    if rng.random() < 0.25:
        face = cv2.cvtColor(faces[rng.integers(len(faces))], cv2.COLOR_GRAY2RGB)
        tint = np.array([1.0, 0.9, 0.8]) * rng.uniform(0.9, 1.1, 3)
        img = np.clip(cv2.resize(face, (size + 16, size + 16), interpolation=cv2.INTER_CUBIC) * tint, 0, 255)
        img, box = img.astype(np.uint8), (8, 8, size)
    else:
        k = int(rng.integers(len(PHOTOS)))
        img = photos[k]
        h, w = img.shape[:2]
        if PHOTOS[k][1] is not None and rng.random() < 0.7:
            box = PHOTOS[k][1]
        else:
            side = int(rng.integers(min(h, w) // 3, min(h, w) - 8))
            box = (int(rng.integers(4, h - side - 3)), int(rng.integers(4, w - side - 3)), side)
    top, left, side = box
    h, w = img.shape[:2]
    out = []
    for _ in range(n):
        top = int(np.clip(top + rng.integers(-2, 3), 0, h - side))
        left = int(np.clip(left + rng.integers(-2, 3), 0, w - side))
        crop = img[top : top + side, left : left + side]
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        out.append(cv2.resize(crop, (size, size), interpolation=interp))
    return out


def _landmarks(rng: np.random.Generator, size: int) -> np.ndarray:
    """81 plausible points (DeepfakeBench stores dlib's 81-point landmarks), int32 like its files."""
    t = np.linspace(0, 2 * np.pi, 81, endpoint=False)
    r = size * rng.uniform(0.25, 0.35)
    pts = np.stack([size / 2 + r * np.cos(t), size / 2 + 1.2 * r * np.sin(t)], axis=1)
    return np.clip(pts + rng.normal(0, 2, pts.shape), 0, size - 1).astype(np.int32)


def _mask(size: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    cv2.ellipse(m, (size // 2, size // 2), (size // 3, int(size / 2.4)), 0, 0, 360, 255, -1)
    return m


def build(out: Path, name: str, videos: int, frames: int, size: int, image_format: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    photos, faces = _sources(), _lfw_faces()
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    tree: dict = {}
    n_bytes = n_files = 0
    for label, folder in LABELS:
        tree[label] = {"train": {}, "val": {}, "test": {}}
        for v in range(videos):
            split = "train" if v < videos * 0.8 else ("val" if v < videos * 0.9 else "test")
            video = f"id{v}_{folder[-4:].lower()}_{v:04d}"
            rels = []
            for i, img in enumerate(_video_frames(rng, photos, faces, size, frames)):
                rel = f"{name}/{folder}/frames/{video}/{i:03d}.{image_format}"
                path = out / "rgb" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                if not cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params):
                    raise OSError(f"cv2.imwrite failed for {path}")
                n_bytes, n_files = n_bytes + path.stat().st_size, n_files + 1
                for sub, ext, value in (
                    ("landmarks", ".npy", _landmarks(rng, size)),
                    ("masks", ".png", _mask(size)),
                ):
                    p = out / "rgb" / rel.replace("/frames/", f"/{sub}/").rsplit(".", 1)[0]
                    p = p.with_suffix(ext)
                    p.parent.mkdir(parents=True, exist_ok=True)
                    np.save(p, value) if ext == ".npy" else cv2.imwrite(str(p), value)
                rels.append(f"./datasets/rgb/{rel}")
            tree[label][split][video] = {"label": label, "frames": rels}
    js = out / "dataset_json" / f"{name}.json"
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps({name: tree}, indent=1))
    print(f"{n_files} {image_format} crops of {size} px, {n_bytes / n_files / 1024:.0f} KiB each on average")
    return js


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="benchmarks/out/crops", help="output folder (rgb/ and dataset_json/)")
    p.add_argument("--name", default="Celeb-DF-v2", help="dataset name (JSON top-level key and folder)")
    p.add_argument("--videos", type=int, default=64, help="videos per label")
    p.add_argument("--frames", type=int, default=8, help="frames per video")
    p.add_argument("--size", type=int, default=256, help="crop size in pixels")
    p.add_argument("--image_format", choices=["png", "jpg"], default="png")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.videos < 10 or args.frames < 1 or args.size < 32:
        p.error("need --videos >= 10, --frames >= 1 and --size >= 32")
    out = resolve_path(args.out)
    js = build(out, args.name, args.videos, args.frames, args.size, args.image_format, args.seed)
    print(f"wrote {out / 'rgb' / args.name} and {js}")
    print(
        f"benchmark: python benchmarks/bench_loader.py --dataset {args.name} "
        f"--dataset_json_folder {js.parent} --rgb_dir {out / 'rgb'} --mode both"
    )
    return 0


if __name__ == "__main__":
    run_cli(main)
