"""Train- and eval-step throughput (img/s) of the main detectors on the current device, with speed options side by side:

    python benchmarks/bench_step.py [--models clip_lp clip_ln fbi_clip xception] [--tower tiny|b16]
        [--batch 16] [--reps 5] [--options channels_last compile fused_adamw grad_ckpt]
        [--amp none|bf16|fp16] [--clock wall|cpu] [--device cuda|cpu]

Detectors come from the shipped YAMLs (`clip_linear_probe.yaml`, `clip.yaml` (LN-tuning),
`fbi_clip.yaml`, `xception.yaml`), random init (`pretrained: none`). `--tower tiny` swaps the CLIP
tower for a small ViT (width 192, 6 blocks, patch 8, 64 px; xception gets 64-px inputs) so CPU runs
finish; `b16` keeps ViT-B/16 at 224 px (xception at 256). A train step is forward + get_losses +
backward + AdamW step on a uint8 batch already on the device; an eval step is the no-grad inference
forward. Every option in `--options` is timed on its own on top of the plain setting (`--amp` applies
to all rows), all rows interleaved per repetition, and reported as the median img/s with its ratio to
the plain row of the same model. `compile` is `torch.compile` (default mode; its compile time is
excluded by the warm-up step). Ends with `RESULT step_<model>_<train|eval>_img_s X` for the plain rows.
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
OPTIONS = ("channels_last", "compile", "fused_adamw", "grad_ckpt")
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


class Row:
    """One (model, option) setting: its detector, optimizer, batch and timings."""

    def __init__(self, name: str, option: str | None, args, device: torch.device) -> None:
        self.name, self.option = name, option
        self.det, size = build(name, args.tower, device, option)
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--tower", choices=["tiny", "b16"], default="tiny")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--reps", type=int, default=5, help="timed repetitions per row (after one warm-up)")
    p.add_argument("--options", nargs="*", choices=OPTIONS, default=["channels_last", "fused_adamw"])
    p.add_argument("--amp", choices=list(AMP), default="none")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    if args.batch < 2 or args.reps < 1:
        p.error("--batch must be >= 2 and --reps >= 1")
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
    return 0


if __name__ == "__main__":
    run_cli(main)
