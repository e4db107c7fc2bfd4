"""FBI-CLIP train-step time ÷ LN-tuned `clip` train-step time, same backbone/batch/input, side by side.

Both detectors come from the shipped YAMLs (`fbi_clip.yaml`, `clip.yaml`; random init since the machine
may be offline), on two towers: the tiny demo ViT (width 192, 6 blocks, patch 8, 64 px) and ViT-B/16
(224 px). A train step = forward + get_losses + backward + AdamW step. All variants are timed in one
interleaved loop (the order rotates every repetition) and the ratio reported is the median over
repetitions of the per-repetition ratio, so machine load hits every variant alike (the ratio of minimum
times is printed too). Times are process CPU seconds by default (`--clock wall` for wall time): on a
shared machine wall time mostly measures the other jobs. To show where the extra time goes, FBI-CLIP is also timed with each branch alone
(frequency adapter, boundary mining, identity head) on top of the all-off variant (= LN + L2 + cosine head).

    python benchmarks/bench_fbi_step.py [--reps-tiny 20] [--reps-b16 6] [--batch-tiny 32] [--batch-b16 2]
                                        [--threads 1] [--skip-b16]
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
from fbi_common.cli import positive_int, run_cli  # noqa: E402
from fbi_common.paths import REPO_ROOT  # noqa: E402
from training.config import load_config  # noqa: E402
from training.registry import DETECTORS  # noqa: E402

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


# CPU time of this process: on a shared machine, wall time also counts the time other jobs hold the
# cores, which swamps a 5 % difference; process CPU time does not (with --clock wall it is wall time).
CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCK["cpu"]


def _step(det: torch.nn.Module, opt: torch.optim.Optimizer, batch: dict) -> float:
    t0 = clock()
    opt.zero_grad(set_to_none=True)
    losses = det.get_losses(batch, det(batch))
    losses["overall"].backward()
    opt.step()
    return clock() - t0


def bench(tower: dict | None, batch_size: int, reps: int, warmup: int = 1) -> dict[str, dict[str, float]]:
    """Per variant: median and min step seconds, and the median of its per-repetition ratio to `clip`
    (each repetition times every variant back to back, so a ratio compares steps run seconds apart)."""
    models = {name: _build(y, o, tower) for name, (y, o) in _variants().items()}
    size = next(iter(models.values())).input_spec["size"]
    g = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.randn(batch_size, 3, size, size, generator=g),
        "label": torch.arange(batch_size) % 2,
        "identity": torch.randint(0, 8, (batch_size,), generator=g),
    }
    opts = {
        n: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
        for n, m in models.items()
    }
    names = list(models)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + reps):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate so no variant is always first
        for n in order:
            dt = _step(models[n], opts[n], batch)
            if r >= warmup:
                times[n].append(dt)
    base = times["clip (LN)"]
    return {
        n: {
            "median": statistics.median(v),
            "min": min(v),
            "ratio": statistics.median(t / b for t, b in zip(v, base, strict=True)),
        }
        for n, v in times.items()
    }


def branch_costs(tower: dict | None, batch_size: int, reps: int) -> dict[str, float]:
    """Forward + backward seconds of each FBI-CLIP branch alone (min over `reps`), on the same input."""
    det = _build("fbi_clip.yaml", {}, tower)
    size, width = det.input_spec["size"], det.backbone.width
    x01 = torch.rand(batch_size, 3, size, size)
    patch = torch.randn(batch_size, det.backbone.grid_size[0] * det.backbone.grid_size[1], width)
    cls = torch.randn(batch_size, width, requires_grad=True)
    ids = torch.randint(0, 8, (batch_size,))
    jobs = {
        "freq adapter (FFT+DWT+stems+fuse)": lambda: det.freq(x01).tokens.sum(),
        "boundary mining (cues+net+pool)": lambda: det.boundary(x01, patch.requires_grad_())["feature"].sum(),
        "identity head (GRL+linear+CE)": lambda: torch.nn.functional.cross_entropy(det.identity(cls), ids),
    }
    out = {}
    for name, fn in jobs.items():
        ts = []
        for _ in range(reps + 1):
            t0 = clock()
            fn().backward()
            ts.append(clock() - t0)
        out[name] = min(ts[1:])
    return out


def report(label: str, res: dict[str, dict[str, float]], branches: dict[str, float]) -> float:
    clip = res["clip (LN)"]
    print(f"\n== {label} ==")
    print(
        f"{'variant':<18}{'median [ms]':>13}{'min [ms]':>10}{'÷ clip (paired median)':>25}{'÷ clip (min)':>14}"
    )
    for n, r in res.items():
        print(
            f"{n:<18}{1000 * r['median']:>13.1f}{1000 * r['min']:>10.1f}"
            f"{r['ratio']:>25.3f}{r['min'] / clip['min']:>14.3f}"
        )
    print(f"branch fwd+bwd alone (min), share of the clip step (min {1000 * clip['min']:.1f} ms):")
    for n, t in branches.items():
        print(f"  {n:<36}{1000 * t:>9.1f} ms {100 * t / clip['min']:>6.1f} %")
    return res["fbi_clip (full)"]["ratio"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps-tiny", type=positive_int, default=20)
    ap.add_argument("--reps-b16", type=positive_int, default=6)
    ap.add_argument("--batch-tiny", type=positive_int, default=32)
    ap.add_argument("--batch-b16", type=positive_int, default=2)
    ap.add_argument("--skip-b16", action="store_true")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: steadier on a shared machine; 0 = all)",
    )
    ap.add_argument("--clock", choices=list(CLOCK), default="cpu", help="process CPU time (default) or wall")
    args = ap.parse_args(argv)
    global clock
    clock = CLOCK[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, {args.clock} clock")
    results = {}
    tiny = bench(TINY_TOWER, args.batch_tiny, args.reps_tiny)
    tiny_br = branch_costs(TINY_TOWER, args.batch_tiny, 5)
    results["tiny"] = report(f"tiny ViT (192w, 6 blocks, 64 px), batch {args.batch_tiny}", tiny, tiny_br)
    if not args.skip_b16:
        b16 = bench(None, args.batch_b16, args.reps_b16)
        b16_br = branch_costs(None, args.batch_b16, 3)
        results["b16"] = report(f"ViT-B/16 (224 px), batch {args.batch_b16}", b16, b16_br)
    print()
    for k, v in results.items():
        print(f"RESULT fbi_over_clip_ln_step_ratio_{k} {v:.3f}")


if __name__ == "__main__":
    run_cli(main)
