"""Cost table: parameters (total / trainable, per top-level module), forward GFLOPs, measured images/s:

    python analysis/complexity.py [--detector_path A.yaml B.yaml ...] [--batch 8] [--iters 3] [--warmup 1]
        [--num_identities 720] [--no-speed] [--threads N] [--out DIR] [--opts key=value ...]

Default detectors: fbi_clip, clip (LN-tuning), clip_linear_probe, xception, efficientnetb4, plus the YAML
`<name>.yaml` of every other registered detector (rivals appear once they register). Weights are not
needed — `model.pretrained` is forced to `none` (counts and speed do not depend on the values; pass
`--keep_pretrained` to load them). The identity head of FBI-CLIP is sized for `--num_identities` training
identities (720: FF++ c23's training videos with identity_rule target). GFLOPs: torch.utils.flop_counter
on one image (2 FLOPs per multiply-add). Speed on the current device (CUDA if present, else CPU with
torch's thread count) — median of --iters timed repetitions; on a shared machine expect ±10-20 %.
Writes complexity.md / .csv / .tex into --out (default logs/tables/complexity_<time>) and prints the Markdown.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tqdm import tqdm  # noqa: E402

from analysis.pipeline.plan import DETECTOR_DIR, find_yaml  # noqa: E402
from analysis.tables.render import Grid  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.io import atomic_write_text  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402

DEFAULTS = ["fbi_clip.yaml", "clip.yaml", "clip_linear_probe.yaml", "xception.yaml", "efficientnetb4.yaml"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detector_path", nargs="+", default=None, help="detector YAMLs (default: see above)")
    p.add_argument("--batch", type=int, default=8, help="images per timed forward / train step")
    p.add_argument("--iters", type=int, default=3, help="timed repetitions (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    p.add_argument("--num_identities", type=int, default=720, help="size of the identity head (FBI-CLIP)")
    p.add_argument("--no-speed", dest="speed", action="store_false", help="parameters and FLOPs only")
    p.add_argument("--keep_pretrained", action="store_true", help="load the YAMLs' pretrained weights")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's; 1 on a busy machine)"
    )
    p.add_argument("--out", default=None, help="output folder (relative: repo root)")
    p.add_argument("--title", default=None, help="table title (default: 'Cost per detector')")
    p.add_argument(
        "--opts", nargs="*", default=[], metavar="KEY=VALUE", help="overrides applied to every YAML"
    )
    return p.parse_args(argv)


def default_yamls() -> list[str]:
    """The baselines of the paper tables, then one YAML per other registered detector."""
    import training.detectors  # noqa: F401  (fills the registry)
    from training.registry import DETECTORS

    names = list(DEFAULTS)
    covered = {"fbi_clip", "clip", "xception", "efficientnetb4"}
    names += [
        f"{n}.yaml" for n in DETECTORS.names() if n not in covered and (DETECTOR_DIR / f"{n}.yaml").is_file()
    ]
    return names


def _m(n: int) -> str:
    return "0" if n == 0 else f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}K" if n >= 1e3 else str(n)


def _speed(v: float) -> str:
    return "—" if v != v else f"{v:.1f}"  # NaN: speed not measured (--no-speed)


def tables(costs: list, title: str | None = None) -> tuple[Grid, Grid]:
    import torch

    where = costs[0].device if costs[0].device != "cpu" else f"cpu, {torch.get_num_threads()} threads"
    speed = "" if costs[0].infer_ips != costs[0].infer_ips else f", device: {where}, batch {costs[0].batch}"
    main = Grid(f"{title or 'Cost per detector'} (input: the detector's own size{speed})",
                ["detector", "model", "input px", "params", "trainable", "GFLOPs / img", "train img/s", "infer img/s"], [])  # fmt: skip
    for c in costs:
        main.rows.append([c.name, c.model_name, str(c.size), _m(c.params), _m(c.trainable), f"{c.gflops:.2f}",
                          _speed(c.train_ips), _speed(c.infer_ips)])  # fmt: skip
    main.notes.append(
        "GFLOPs: torch.utils.flop_counter, one image, inference forward (2 FLOPs per multiply-add)."
    )
    parts = Grid("Parameters per top-level module", ["detector", "module", "params", "trainable"], [])
    for c in costs:
        parts.rows += [[c.name, n, _m(p), _m(t)] for n, p, t in c.modules]
    return main, parts


def to_csv(costs: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "detector",
            "model_name",
            "input_px",
            "params",
            "trainable",
            "gflops",
            "train_img_per_s",
            "infer_img_per_s",
            "batch",
            "device",
            "modules",
        ]
    )
    for c in costs:
        d = asdict(c)
        mods = ";".join(f"{n}:{p}:{t}" for n, p, t in c.modules)
        w.writerow(
            [
                d["name"],
                d["model_name"],
                d["size"],
                d["params"],
                d["trainable"],
                d["gflops"],
                d["train_ips"],
                d["infer_ips"],
                d["batch"],
                d["device"],
                mods,
            ]
        )
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from analysis.pipeline.cost import measure
    from training.config import load_config

    if args.threads:
        torch.set_num_threads(args.threads)
    yamls = [find_yaml(y) for y in (args.detector_path or default_yamls())]
    costs = []
    for y in tqdm(yamls, desc="detectors", unit="detector", dynamic_ncols=True):
        opts = ([] if args.keep_pretrained else ["model.pretrained=none"]) + list(args.opts)
        cfg = load_config(str(y), opts=opts)
        costs.append(
            measure(cfg, y.stem, args.batch, args.iters, args.warmup, args.num_identities, args.speed)
        )
    main_grid, parts = tables(costs, args.title)
    out = (
        resolve_path(args.out)
        if args.out
        else resolve_path("logs/tables") / f"complexity_{time.strftime('%Y-%m-%d-%H-%M-%S')}"
    )
    md = main_grid.markdown() + "\n" + parts.markdown()
    written = [atomic_write_text(out / "complexity.md", md), atomic_write_text(out / "complexity.csv", to_csv(costs)),
               atomic_write_text(out / "complexity.tex", main_grid.latex("tab:complexity")),
               atomic_write_text(out / "complexity_modules.tex", parts.latex("tab:complexity-modules"))]  # fmt: skip
    print(md)
    for p in written:
        print(f"wrote {p.resolve()}")
    return 0


if __name__ == "__main__":
    run_cli(main)
