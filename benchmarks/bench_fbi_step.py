"""FBI-CLIP train-step time ÷ LN-tuned `clip` train-step time, same backbone/batch/input, side by side.

Both detectors come from the shipped YAMLs (`fbi_clip.yaml`, `clip.yaml`; random init since the machine
may be offline), on two towers: the tiny demo ViT (width 192, 6 blocks, patch 8, 64 px) and ViT-B/16
(224 px). A train step = forward + get_losses + backward + AdamW step. All variants are timed in one
interleaved loop (the order rotates every repetition) and the median is reported, so machine load hits
every variant alike. To show where the extra time goes, FBI-CLIP is also timed with each branch alone
(frequency adapter, boundary mining, identity head) on top of the all-off variant (= LN + L2 + cosine head).

    python benchmarks/bench_fbi_step.py [--reps-tiny 15] [--reps-b16 3] [--batch-tiny 32] [--batch-b16 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import training.detectors  # noqa: E402,F401  (fills the registry)
from training.config import load_config  # noqa: E402
from training.registry import DETECTORS  # noqa: E402
from training.utils.paths import REPO_ROOT  # noqa: E402

CFG_DIR = REPO_ROOT / "training" / "config" / "detector"
TINY_TOWER = {"width": 192, "layers": 6, "head_width": 64, "patch_size": 8, "image_size": 64}
OFF = {"freq": {"enabled": False}, "boundary": {"enabled": False}}
NO_ID = {"loss_weights": {"identity": 0.0, "freq_consistency": 0.0}}


def _variants() -> dict[str, tuple[str, dict]]:
    """name → (yaml, model overrides). Overrides are merged into the shipped `model:` section."""
    return {
        "clip (LN)": ("clip.yaml", {}),
        "fbi_clip (full)": ("fbi_clip.yaml", {}),
        "fbi: all off": ("fbi_clip.yaml", {**OFF, **NO_ID}),
        "fbi: +freq": ("fbi_clip.yaml", {"boundary": {"enabled": False}, **NO_ID}),
        "fbi: +boundary": ("fbi_clip.yaml", {"freq": {"enabled": False}, **NO_ID}),
        "fbi: +identity": ("fbi_clip.yaml", {**OFF, "loss_weights": {"freq_consistency": 0.0}}),
    }


def _build(yaml_name: str, overrides: dict, tower: dict | None) -> torch.nn.Module:
    cfg = load_config(CFG_DIR / yaml_name)
    model_cfg = cfg["model"]
    for key, val in overrides.items():
        model_cfg[key] = {**model_cfg[key], **val}
    model_cfg["pretrained"] = "none"
    if tower is not None:
        model_cfg["vision_cfg"] = tower
    torch.manual_seed(0)
    det = DETECTORS.get(cfg["model_name"]).from_config(model_cfg, {"num_identities": 8, "label_names": []})
    det.train()
    det.set_progress(0.5)
    return det


def _step(det: torch.nn.Module, opt: torch.optim.Optimizer, batch: dict) -> float:
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    losses = det.get_losses(batch, det(batch))
    losses["overall"].backward()
    opt.step()
    return time.perf_counter() - t0


def bench(tower: dict | None, batch_size: int, reps: int, warmup: int = 1) -> dict[str, float]:
    """Median train-step seconds per variant, timed interleaved."""
    models = {name: _build(y, o, tower) for name, (y, o) in _variants().items()}
    size = next(iter(models.values())).input_spec["size"]
    g = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.randn(batch_size, 3, size, size, generator=g),
        "label": torch.arange(batch_size) % 2,
        "identity": torch.randint(0, 8, (batch_size,), generator=g),
    }
    opts = {
        n: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4) for n, m in models.items()
    }
    names = list(models)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + reps):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate so no variant is always first
        for n in order:
            dt = _step(models[n], opts[n], batch)
            if r >= warmup:
                times[n].append(dt)
    return {n: statistics.median(v) for n, v in times.items()}


def report(label: str, med: dict[str, float]) -> float:
    base, full, off = med["clip (LN)"], med["fbi_clip (full)"], med["fbi: all off"]
    print(f"\n== {label} ==")
    print(f"{'variant':<20}{'step [ms]':>11}{'÷ clip':>9}{'extra vs all-off [ms]':>24}")
    for n, t in med.items():
        extra = "" if n == "clip (LN)" else f"{1000 * (t - off):+.1f}"
        print(f"{n:<20}{1000 * t:>11.1f}{t / base:>9.3f}{extra:>24}")
    return full / base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps-tiny", type=int, default=15)
    ap.add_argument("--reps-b16", type=int, default=3)
    ap.add_argument("--batch-tiny", type=int, default=32)
    ap.add_argument("--batch-b16", type=int, default=2)
    ap.add_argument("--skip-b16", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    results = {}
    tiny = bench(TINY_TOWER, args.batch_tiny, args.reps_tiny)
    results["tiny"] = report(f"tiny ViT (192w, 6 blocks, 64 px), batch {args.batch_tiny}", tiny)
    if not args.skip_b16:
        b16 = bench(None, args.batch_b16, args.reps_b16)
        results["b16"] = report(f"ViT-B/16 (224 px), batch {args.batch_b16}", b16)
    print()
    for k, v in results.items():
        print(f"RESULT fbi_over_clip_ln_step_ratio_{k} {v:.3f}")


if __name__ == "__main__":
    main()
