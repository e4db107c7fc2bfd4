"""Shared parts of the analysis tools: checkpoint → detector, seeded frame samples as [0, 1] pixels.

The tools (`tsne.py`, `gradcam.py`, `fbi_maps.py`, `spectrum.py`, `calibration.py`, `curves.py`) are entry
scripts; this module and `analysis/files.py` are library code they import (no `sys.path`, no `print`).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.files import AnalysisError, find_checkpoint, run_dir_of
from fbi_common.errors import FBIError
from fbi_common.logging import get_logger
from training.utils.pixels import to_unit

log = get_logger("analysis")


@dataclass
class LoadedModel:
    """A detector rebuilt from one of our checkpoints, with the config and input spec it was trained with."""

    model: nn.Module
    cfg: dict
    spec: dict
    ckpt_path: Path
    run_dir: Path | None
    threshold: float | None
    epoch: int | None

    @property
    def name(self) -> str:
        """Short label for titles: `<run folder>/<checkpoint>` (or the file name)."""
        return f"{self.run_dir.name}/{self.ckpt_path.name}" if self.run_dir else self.ckpt_path.name


def with_data_opts(cfg: dict, opts: Sequence[str] | None) -> dict:
    """`cfg` with `--opts key=value` overrides of data keys (rgb_dir, dataset_json_folder, ...).

    `model.*` keys are refused: the weights fix the architecture.
    """
    from training.config.loader import merge, parse_opt
    from training.config.schema import ConfigError

    problems: list[str] = []
    for item in opts or []:
        layer = parse_opt(item, problems)
        if layer is None:
            continue
        if "model" in layer or "model_name" in layer:
            raise AnalysisError(
                f"--opts {item}: the checkpoint fixes the model; only data keys can be overridden"
            )
        cfg = merge(cfg, layer)
    if problems:
        raise ConfigError(problems)
    return cfg


def tool_parser(doc: str | None, datasets_help: str, *, many: bool = False,
                weights_help: str = "checkpoint (.pth) or run folder (uses ckpt/best.pth)") -> argparse.ArgumentParser:  # fmt: skip
    """The parser of a tool that reads a checkpoint and frames of a dataset: --weights_path, --test_dataset
    (`many`: one or more names); the tool adds its own flags, then `add_sample_flags`."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights_path", required=True, help=weights_help)
    p.add_argument("--test_dataset", nargs="+" if many else None, required=True, help=datasets_help)
    return p


def add_sample_flags(p: argparse.ArgumentParser, tool: str) -> None:
    """--split, --seed, --out (default `<run folder>/analysis/<tool>`) and --opts (data-key overrides)."""
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help=f"output folder (default: <run folder>/analysis/{tool})")
    p.add_argument(
        "--opts", nargs="*", default=[], metavar="KEY=VALUE", help="data-key overrides, e.g. rgb_dir=..."
    )


def written(files: Iterable[str | Path]) -> str:
    """The lines a tool prints for the files it wrote: `wrote <absolute path>` each."""
    return "\n".join(f"wrote {Path(f).resolve()}" for f in files)


def load_detector(
    weights_path: str | Path, opts: Sequence[str] | None = None, datasets: Sequence[str] = ()
) -> LoadedModel:
    """Rebuild the detector of a checkpoint written by train.py (or of a run folder's best checkpoint), on CPU,
    with the input size and normalisation the weights were trained with.

    `datasets` (the tool's --test_dataset) are resolved and their JSONs read first, so a misspelt name or a
    broken JSON stops the tool before the model is built.
    """
    from training.dataset.index import check_datasets
    from training.trainer.build import build_detector, input_spec
    from training.trainer.checkpoint import load_checkpoint, load_model_weights

    path = find_checkpoint(weights_path)
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt.get("config"), dict):
        raise AnalysisError(
            f"{path} has no saved config (a plain state_dict?); the analysis tools need a checkpoint written by "
            "training/train.py to rebuild the model and its data settings"
        )
    cfg = with_data_opts(ckpt["config"], opts)
    check_datasets(datasets, cfg)
    identity_map = ckpt.get("identity_map") or {}
    info = {"num_identities": max(1, len(identity_map)), "label_names": sorted(cfg["label_dict"]),
            "identity_map": identity_map}  # fmt: skip
    model = build_detector(cfg, info)
    load_model_weights(model, ckpt, source=str(path))
    model.eval()
    thr = ckpt.get("threshold")
    epoch = ckpt.get("best_epoch") if path.name == "best.pth" else ckpt.get("epoch")
    spec = input_spec(cfg, model, ckpt.get("preprocessing"))
    return LoadedModel(model, cfg, spec, path, run_dir_of(path),
                       None if thr is None else float(thr), epoch)  # fmt: skip


# ---- pixels -------------------------------------------------------------------------------------
class PixelModel(nn.Module):
    """`x01 → logits`: a detector called on float [0, 1] pixels (it normalises inside), as Grad-CAM expects."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return self.model({"image": x01}, inference=True)["cls"]


@torch.no_grad()
def predict_pixels(lm: LoadedModel, x01: torch.Tensor, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Detector outputs for [0, 1] pixels, batched and concatenated (tensors only)."""
    outs: dict[str, list[torch.Tensor]] = defaultdict(list)
    for i in range(0, len(x01), batch_size):
        pred = lm.model({"image": x01[i : i + batch_size]}, inference=True)
        for k, v in pred.items():
            if torch.is_tensor(v):
                outs[k].append(v.float())
    return {k: torch.cat(v) for k, v in outs.items()}


# ---- frames ---------------------------------------------------------------------------------------
@dataclass
class Frames:
    """A sample of frames of one dataset split with their provenance (row i of every field = frame i)."""

    dataset: str
    x01: torch.Tensor  # N×3×S×S float in [0, 1], at the network size (the loaders' uint8 / 255)
    label: np.ndarray  # N, 0 real / 1 fake
    label_name: list[str]
    video_key: list[str]
    frame: list[str]
    mask: torch.Tensor | None  # N×1×S×S in [0, 1] (with_mask), else None

    def rows(self) -> list[dict[str, Any]]:
        return [{"dataset": self.dataset, "video_key": v, "frame": f, "label": int(y), "label_name": n}
                for v, f, y, n in zip(self.video_key, self.frame, self.label, self.label_name, strict=True)]  # fmt: skip


def sample_indices(
    describe: Sequence[Mapping[str, Any]], n: int | None, seed: int, per_video: int | None = None
) -> list[int]:
    """Up to `n` item indices drawn by video: videos shuffled (seeded) per label name, label names taken in
    turn (so every manipulation and both classes are represented), the first `per_video` sampled frames of a
    chosen video kept (None: all). `n` None or ≤ 0: every item. Returned sorted."""
    by_video: dict[str, list[int]] = defaultdict(list)
    label_of: dict[str, str] = {}
    for i, d in enumerate(describe):
        if per_video is None or len(by_video[d["video_key"]]) < per_video:
            by_video[d["video_key"]].append(i)
        label_of[d["video_key"]] = d["label_name"]
    total = sum(len(v) for v in by_video.values())
    if not n or n <= 0 or n >= total:
        return sorted(i for v in by_video.values() for i in v)
    rng = np.random.default_rng(seed)
    queues: dict[str, list[str]] = defaultdict(list)
    for v in sorted(by_video):
        queues[label_of[v]].append(v)
    for q in queues.values():
        rng.shuffle(q)
    chosen: list[int] = []
    names = sorted(queues)
    while len(chosen) < n and any(queues.values()):
        for name in names:
            if queues[name] and len(chosen) < n:
                chosen.extend(by_video[queues[name].pop()][: n - len(chosen)])
    return sorted(chosen)


def load_frames(
    cfg: dict,
    spec: Mapping[str, Any],
    dataset: str,
    split: str = "test",
    n: int | None = None,
    seed: int = 0,
    with_mask: bool | str = False,
    select: Iterable[str] | None = None,
    per_video: int | None = None,
) -> Frames:
    """Evaluation-transformed frames of `dataset`/`split` (no augmentation), sampled by video (`sample_indices`).

    `with_mask="auto"`: blending masks when the dataset JSON lists them for its fake videos, else none.
    `select`: frame paths or video keys to take instead of a random sample (each must exist).
    `per_video`: at most this many frames of each video (e.g. 1 for a gallery of different videos).
    """
    from training.dataset import build_dataset

    cfg = {**cfg, "with_mask": False}
    try:
        ds = build_dataset(cfg, split, [dataset], spec)
    except (KeyError, FileNotFoundError, ValueError) as e:
        if isinstance(e, FBIError):
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise AnalysisError(f"cannot read the {split} split of dataset '{dataset}': {msg}") from e
    if with_mask == "auto":
        fakes = [r for r in ds.records if r.label == 1]
        with_mask = bool(fakes) and all(r.masks for r in fakes)
        log.info("%s: %s", dataset, "blending masks found" if with_mask else "no blending masks in the JSON")
    ds.with_mask = bool(with_mask)
    desc = [ds.describe(i) for i in range(len(ds))]
    if select is not None:
        idx = _selected(desc, list(select), dataset, split)
    else:
        idx = sample_indices(desc, n, seed, per_video)
    if not idx:
        raise AnalysisError(f"dataset '{dataset}' has no frames in its {split} split; pick another --split")
    items = [ds[i] for i in idx]
    images = torch.stack([it["image"] for it in items])
    masks = to_unit(torch.stack([it["mask"] for it in items])) if ds.with_mask else None
    return Frames(dataset, to_unit(images), np.array([int(it["label"]) for it in items]),
                  [it["label_name"] for it in items], [it["video_key"] for it in items],
                  [it["frame"] for it in items], masks)  # fmt: skip


def _selected(desc: list[dict], wanted: list[str], dataset: str, split: str) -> list[int]:
    out: list[int] = []
    for w in wanted:
        hits = [i for i, d in enumerate(desc) if w in (d["frame"], d["video_key"])]
        if not hits:
            raise AnalysisError(
                f"--frames {w}: no such frame path or video key in the {split} split of '{dataset}' "
                f"(e.g. {desc[0]['frame'] if desc else 'none'})"
            )
        out.extend(h for h in hits if h not in out)
    return out
