"""Fill the decoded-frame cache (`frame_cache: auto` or `DIR`) before training:
`python training/build_frame_cache.py --detector_path <yaml> [--splits train val test] [--size S] [--opts frame_cache=DIR ...]`.

Decodes and resizes every frame of each split's datasets once, with `workers` DataLoader workers,
into the tables training then reads (training/dataset/frame_cache.py). Optional: without it the
first epoch fills the cache as it reads. With `frame_cache: auto` the tables go where training puts
them (`frame_cache/` beside rgb_dir or lmdb_dir; training/dataset/frame_cache_auto.py), for the
train and val splits only — auto never caches test sets; name a folder to cache those. `--size` is
the network input size (default: the config's `resolution`); it must be the size training uses,
since a table holds frames at one size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from training.config import load_config  # noqa: E402
from training.config.schema import ConfigError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detector_path", required=True, help="detector YAML training will use")
    p.add_argument("--splits", nargs="+", choices=["train", "val", "test"], default=["train", "val"])
    p.add_argument(
        "--size", type=int, default=None, help="network input size (default: the config's resolution)"
    )
    p.add_argument(
        "--opts", nargs="*", default=[], metavar="KEY=VALUE", help="dotted overrides, applied last"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.detector_path, opts=args.opts)
    if not cfg.get("frame_cache"):
        raise ConfigError(
            f"{args.detector_path}: frame_cache is null; name the cache folder with --opts frame_cache=DIR "
            "(and use the same frame_cache when training)"
        )
    size = args.size or cfg.get("resolution")
    if not size:
        raise ConfigError(
            f"{args.detector_path}: no network input size (resolution is null); pass --size, e.g. --size 224 "
            "for a CLIP ViT at 224 px"
        )
    from training.dataset import build_dataset, dataset_names
    from training.dataset.frame_cache import fill_cache
    from training.dataset.frame_cache_auto import auto_place, is_auto
    from training.dataset.loaders import attach_frame_cache, cache_label

    auto = is_auto(cfg["frame_cache"])
    if auto and "test" in args.splits:
        raise ConfigError(
            f"{args.detector_path}: frame_cache: auto never caches test sets (they are read once); drop "
            "test from --splits, or name a folder with --opts frame_cache=DIR (and use it when testing)"
        )

    spec = {"size": int(size), "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}  # the loaders read only size
    for split in args.splits:
        groups = [[n] for n in dataset_names(cfg, split)] if split == "test" else [None]  # test: one per set
        for names in groups:
            ds = build_dataset(cfg, split, names, spec)
            if auto:
                names = names or dataset_names(cfg, split)
                root, problem, _ = auto_place(
                    cfg, cache_label(names, split), ds.frames(), int(size), ds.with_mask, ds.reader.source
                )
                if problem is not None:
                    raise ConfigError(
                        f"frame_cache: auto: {problem}; name another folder with --opts frame_cache=DIR"
                    )
                attach_frame_cache(cfg, ds, root, names, split)
            counts = fill_cache(ds, int(cfg.get("workers", 0)), desc=f"{split} frame cache")
            print(
                f"{split}: {ds.cache.path}: {ds.cache.filled()} of {ds.cache.n} frames cached "
                f"({counts['cached']} now, {counts['dropped']} bad frames dropped)"
            )
    return 0


if __name__ == "__main__":
    run_cli(main)
