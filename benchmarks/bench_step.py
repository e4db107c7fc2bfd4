"""Train- and eval-step throughput (img/s) of the main detectors on the current device, with speed options side by side:

    python benchmarks/bench_step.py [--models clip_lp clip_ln fbi_clip xception] [--tower tiny|b16]
        [--batch 16] [--reps 5] [--options channels_last compile fused_adamw grad_ckpt feature_cache]
        [--amp none|bf16|fp16] [--clock wall|cpu] [--device cuda|cpu] [--epochs 10]

Detectors come from the shipped YAMLs (`clip_linear_probe.yaml`, `clip.yaml` (LN-tuning),
`fbi_clip.yaml`, `xception.yaml`), random init (`pretrained: none`). `--tower tiny` swaps the CLIP
tower for a small ViT (width 192, 6 blocks, patch 8, 64 px; xception gets 64-px inputs) so CPU runs
finish; `b16` keeps ViT-B/16 at 224 px (xception at 256). A train step is forward + get_losses +
backward + AdamW step on a uint8 batch already on the device; an eval step is the no-grad inference
forward. Every option in `--options` is timed on its own on top of the plain setting (`--amp` applies
to all rows), all rows interleaved per repetition, and reported as the median img/s with its ratio to
the plain row of the same model. `compile` is `torch.compile` (default mode; its compile time is
excluded by the warm-up step). Ends with `RESULT step_<model>_<train|eval>_img_s X` for the plain rows.

`feature_cache` (training's `feature_cache: true`; only for models whose trainable parameters are all in
the classifier, i.e. `clip_lp`): its train column is a step on stored features — the batch fetched from
the in-memory cache through the training code (`CachedFeatures` + `cached_loader`, shuffled), then
classifier + loss + backward + AdamW — and its eval column the one-time feature pass (`features()`, no
grad). The plain rows get their batch for free (no data loading; `bench_loader.py` times that), so the
cache's gain in a real run is larger. Epoch times for `--epochs` epochs follow, and
`RESULT feature_cache_later_epoch_speedup`, `RESULT feature_cache_run_speedup` (the whole run, the
feature pass included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.paths import REPO_ROOT  # noqa: E402

CFG_DIR = REPO_ROOT / "training" / "config" / "detector"
MODELS = {
    "clip_lp": "clip_linear_probe.yaml",
    "clip_ln": "clip.yaml",
    "fbi_clip": "fbi_clip.yaml",
    "xception": "xception.yaml",
}
TINY_TOWER = {"width": 192, "layers": 6, "head_width": 64, "patch_size": 8, "image_size": 64}
OPTIONS = ("channels_last", "compile", "fused_adamw", "grad_ckpt", "feature_cache")
AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def build(name: str, tower: str, device: torch.device, option: str | None) -> tuple[torch.nn.Module, int]:
    import training.detectors  # noqa: F401  (fills the registry)
    from training.config import load_config
    from training.registry import DETECTORS

    cfg = load_config(CFG_DIR / MODELS[name])
    model_cfg = dict(cfg["model"])
    model_cfg["pretrained"] = "none"
    if tower == "tiny" and cfg["model_name"] != "xception":
        model_cfg["vision_cfg"] = dict(TINY_TOWER)
    torch.manual_seed(0)
    det = DETECTORS.get(cfg["model_name"]).from_config(model_cfg, {"num_identities": 8, "label_names": []})
    size = int(det.input_spec["size"]) if name != "xception" or tower == "b16" else 64
    det = det.to(device).train()
    if hasattr(det, "set_progress"):
        det.set_progress(0.5)
    if option == "channels_last":
        det = det.to(memory_format=torch.channels_last)
    if option == "grad_ckpt":
        found = [m for m in det.modules() if hasattr(m, "set_grad_checkpointing")]
        try:
            for m in found:
                m.set_grad_checkpointing(True)
        except (AssertionError, NotImplementedError):  # timm's xception refuses it
            found = []
        if not found:
            return None, size  # the model has no checkpointing to switch on
    return det, size


class Frames:
    """What `CachedFeatures` reads from a dataset: its length and each item's labels and keys."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def describe(self, i: int) -> dict:
        label = i % 2
        video = f"bench/{'fake' if label else 'real'}/{i // 8:06d}"
        return {"label": label, "label_name": "fake" if label else "real", "video_key": video,
                "frame": f"{video}/{i % 8:03d}.png", "identity": 0, "index": i}  # fmt: skip


def feature_batches(det: torch.nn.Module, image: torch.Tensor, n: int):
    """An endless shuffled stream of training batches from a cache of `n` stored features, built with
    the training code; the features are the model's own, of random images."""
    from torch.utils.data import DataLoader

    from training.dataset.dataset import collate_drop_none
    from training.trainer.feature_cache import CachedFeatures, cached_loader

    with torch.no_grad():
        det.eval()
        f = det.features({"image": image}).float().cpu()
    feats = f.repeat((n + len(f) - 1) // len(f), 1)[:n]
    g = torch.Generator().manual_seed(0)
    plain = DataLoader(Frames(n), batch_size=len(image), shuffle=True, drop_last=True,
                       collate_fn=collate_drop_none, generator=g)  # fmt: skip
    loader = cached_loader(plain, CachedFeatures(Frames(n), feats, {}))
    while True:
        yield from loader


class Row:
    """One (model, option) setting: its detector, optimizer, batch and timings."""

    def __init__(self, name: str, option: str | None, args, device: torch.device) -> None:
        self.name, self.option = name, option
        self.det, size = build(name, args.tower, device, option)
        if self.det is not None and option == "feature_cache":
            from training.config import ConfigError
            from training.trainer.feature_cache import check_model

            try:  # the training option's own rule decides where it applies
                check_model({"feature_cache": True, "model_name": name}, self.det)
            except ConfigError:
                self.det = None
        if self.det is None:
            return
        params = [p for p in self.det.parameters() if p.requires_grad]
        kw = {"fused": True} if option == "fused_adamw" else {}
        self.opt = torch.optim.AdamW(params, lr=1e-4, **kw)
        g = torch.Generator().manual_seed(0)
        image = torch.randint(0, 256, (args.batch, 3, size, size), dtype=torch.uint8, generator=g).to(device)
        if option == "channels_last":
            image = image.contiguous(memory_format=torch.channels_last)
        self.batch = {
            "image": image,
            "label": (torch.arange(args.batch) % 2).to(device),
            "identity": torch.randint(0, 8, (args.batch,), generator=g).to(device),
        }
        self.forward = torch.compile(self.det) if option == "compile" else self.det
        self.amp, self.device = AMP[args.amp], device
        if option == "feature_cache":
            self.cached = feature_batches(self.det, self.batch["image"], 8 * args.batch)
            self.train_step, self.eval_step = self.cached_train_step, self.feature_pass
        self.times: dict[str, list[float]] = {"train": [], "eval": []}

    def _autocast(self):
        from training.trainer.build import autocast

        return autocast(self.device, self.amp)

    def train_step(self) -> None:
        self.det.train()
        self.opt.zero_grad(set_to_none=True)
        with self._autocast():
            losses = self.det.get_losses(self.batch, self.forward(self.batch))
        losses["overall"].backward()
        self.opt.step()

    @torch.no_grad()
    def eval_step(self) -> None:
        self.det.eval()
        with self._autocast():
            self.forward(self.batch, inference=True)

    def cached_train_step(self) -> None:
        from training.trainer.build import run_detector, to_device

        self.det.train()
        batch = to_device(next(self.cached), self.device)
        self.opt.zero_grad(set_to_none=True)
        with self._autocast():
            losses = self.det.get_losses(batch, run_detector(self.det, batch))
        losses["overall"].backward()
        self.opt.step()

    @torch.no_grad()
    def feature_pass(self) -> None:
        self.det.eval()
        with self._autocast():
            self.det.features(self.batch)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--tower", choices=["tiny", "b16"], default="tiny")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--reps", type=int, default=5, help="timed repetitions per row (after one warm-up)")
    p.add_argument(
        "--options", nargs="*", choices=OPTIONS, default=["channels_last", "fused_adamw", "feature_cache"]
    )
    p.add_argument("--amp", choices=list(AMP), default="none")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--epochs", type=int, default=10, help="epochs of the feature_cache run-time estimate")
    args = p.parse_args(argv)
    if args.batch < 2 or args.reps < 1 or args.epochs < 1:
        p.error("--batch must be >= 2, --reps >= 1 and --epochs >= 1")
    device = torch.device(args.device)
    if "fused_adamw" in args.options and device.type not in ("cuda", "cpu"):
        p.error("fused AdamW needs a CUDA or CPU device")
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = [Row(m, o, args, device) for m in args.models for o in (None, *args.options)]
    skipped = [r for r in rows if r.det is None]
    rows = [r for r in rows if r.det is not None]
    print(
        f"torch {torch.__version__}, device {device}, tower {args.tower}, batch {args.batch}, amp {args.amp}, "
        f"{args.reps} reps, {args.clock} clock, {torch.get_num_threads()} threads"
    )
    for r in skipped:
        print(f"({r.name}: {r.option} not available for this model)")
    for rep in range(args.reps + 1):  # rep 0 warms up (and compiles)
        for r in rows[rep % len(rows) :] + rows[: rep % len(rows)]:
            for kind, fn in (("train", r.train_step), ("eval", r.eval_step)):
                sync()
                t0 = clock()
                fn()
                sync()
                if rep:
                    r.times[kind].append(clock() - t0)
    plain = {r.name: r for r in rows if r.option is None}
    print(f"\n{'model':<10}{'option':<15}{'train img/s':>12}{'÷ plain':>9}{'eval img/s':>12}{'÷ plain':>9}")
    for r in rows:
        rate = {k: args.batch / statistics.median(v) for k, v in r.times.items()}
        base = {k: args.batch / statistics.median(v) for k, v in plain[r.name].times.items()}
        print(
            f"{r.name:<10}{r.option or 'plain':<15}{rate['train']:>12.1f}{rate['train'] / base['train']:>9.2f}"
            f"{rate['eval']:>12.1f}{rate['eval'] / base['eval']:>9.2f}"
        )
    ref = plain.get("clip_ln")
    if ref is not None:
        print("\nplain train step vs clip_ln:", ", ".join(
            f"{n} {statistics.median(ref.times['train']) / statistics.median(r.times['train']):.2f}×"
            for n, r in plain.items()))  # fmt: skip
    for n, r in plain.items():
        for k, v in r.times.items():
            print(f"RESULT step_{n}_{k}_img_s {args.batch / statistics.median(v):.1f}")
    for r in rows:
        if r.option == "feature_cache":
            print_feature_cache(r, plain[r.name], args)
    return 0


def print_feature_cache(row: Row, plain: Row, args) -> None:
    """Seconds per 1000 training frames: an epoch without the cache, the feature pass, a cached epoch,
    and the whole `--epochs` run each way."""
    per_k = {k: 1000 * statistics.median(v) / args.batch for k, v in row.times.items()}
    plain_epoch = 1000 * statistics.median(plain.times["train"]) / args.batch
    cached_run = per_k["eval"] + args.epochs * per_k["train"]
    print(
        f"\n{row.name} with feature_cache, seconds per 1000 training frames (data loading excluded): epoch "
        f"without the cache {plain_epoch:.2f} s; with it a one-time feature pass {per_k['eval']:.2f} s, then "
        f"{per_k['train']:.3f} s per epoch; {args.epochs} epochs: {args.epochs * plain_epoch:.1f} s vs "
        f"{cached_run:.1f} s"
    )
    print(
        f"RESULT step_{row.name}_cached_train_img_s {args.batch / statistics.median(row.times['train']):.1f}"
    )
    print(f"RESULT feature_cache_later_epoch_speedup {plain_epoch / per_k['train']:.1f}")
    print(f"RESULT feature_cache_run_speedup {args.epochs * plain_epoch / cached_run:.2f}")


if __name__ == "__main__":
    run_cli(main)
