"""What a detector costs: parameters (total / trainable, per top-level module), forward FLOPs, measured speed.

FLOPs come from `torch.utils.flop_counter.FlopCounterMode` on one image at the detector's input size
(inference forward; it counts 2 FLOPs per multiply-add, so GFLOPs here are about 2× the "GMACs" many
papers call FLOPs). Speed is measured on the current device with random pixels in [0, 1] (the pixel
contract of the detectors): inference = `model(batch, inference=True)` under no_grad; a train step =
forward + `get_losses` + backward + optimiser step (the config's optimiser). Each is timed over `iters`
repetitions after `warmup` untimed ones and reported as the median images/s — on a shared CPU the numbers
move by ±10-20 % between runs; compare rows measured in the same invocation.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode

from training.trainer.build import build_detector, build_optimizer, input_spec


@dataclass
class Cost:
    name: str
    model_name: str
    size: int
    params: int
    trainable: int
    modules: list[tuple[str, int, int]] = field(default_factory=list)  # (child, params, trainable)
    gflops: float = float("nan")
    infer_ips: float = float("nan")
    train_ips: float = float("nan")
    batch: int = 0
    device: str = "cpu"


def synthetic_batch(
    model: torch.nn.Module, n: int, num_identities: int, device: torch.device | str = "cpu"
) -> dict:
    """A seeded batch with every key a dataset item has (docs/ARCHITECTURE.md, "Data"): [0, 1] pixels,
    labels, label names, video keys in the FF++ shape (`dataset/label/compression/video`; real/fake pairs
    share the video name, for detectors that pair them), frame paths, identities, indices, masks."""
    s = int(model.input_spec["size"])
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 2
    return {
        "image": torch.rand(n, 3, s, s, generator=g).to(device),
        "label": labels.to(device),
        "label_name": ["FF-DF" if y else "FF-real" for y in labels.tolist()],
        "video_key": [
            f"FaceForensics++/{'FF-DF' if i % 2 else 'FF-real'}/c23/{i // 2:03d}" for i in range(n)
        ],
        "frame": [f"f/{i:03d}.png" for i in range(n)],
        "identity": (torch.arange(n) % max(1, num_identities)).to(device),
        "mask": torch.rand(n, 1, s, s, generator=g).to(device),
        "index": torch.arange(n).to(device),
    }


def _timed(fn, iters: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(
    cfg: dict, name: str, batch: int, iters: int, warmup: int, num_identities: int, speed: bool = True
) -> Cost:
    """Build ``cfg``'s detector and measure it (see the module docstring)."""
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.get("cuda", True) else "cpu")
    info = {"num_identities": num_identities, "label_names": sorted(cfg["label_dict"]), "identity_map": {}}
    model = build_detector(cfg, info).to(device)
    input_spec(cfg, model)  # the config's resolution override, as in training (sets model.input_spec)
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    modules = [
        (n, sum(p.numel() for p in c.parameters()), sum(p.numel() for p in c.parameters() if p.requires_grad))
        for n, c in model.named_children()
    ]
    cost = Cost(name, cfg["model_name"], int(model.input_spec["size"]), params, trainable,
                [m for m in modules if m[1]], batch=batch, device=device.type)  # fmt: skip
    model.eval()
    one = synthetic_batch(model, 1, num_identities, device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(one, inference=True)
    cost.gflops = counter.get_total_flops() / 1e9
    if not speed:
        return cost
    data = synthetic_batch(model, batch, num_identities, device)

    @torch.no_grad()
    def infer() -> None:
        model(data, inference=True)

    cost.infer_ips = batch / _timed(infer, iters, warmup, device)
    model.train()
    model.set_progress(0.5)
    opt = build_optimizer(model, cfg)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        model.get_losses(data, model(data))["overall"].backward()
        opt.step()

    cost.train_ips = batch / _timed(step, iters, warmup, device)
    return cost
