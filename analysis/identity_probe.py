"""Identity probe: does the identity-adversarial head remove identity from the features it acts on?

    python analysis/identity_probe.py --weights_path RUN_OR_CKPT [RUN_OR_CKPT ...] --test_dataset A [B ...]
        [--features z|cls|both] [--splits test train] [--frames_per_video 4] [--folds 5] [--seed 0]
        [--detector_path YAML] [--out DIR] [--opts key=value ...]

For each checkpoint and dataset, features of `--frames_per_video` frames per video (evenly spaced, seeded;
no augmentation) are extracted — `z` (the detector's `feat`: FBI-CLIP's L2-normalised embedding) and/or
`cls` (the backbone's class token / pooled feature, where FBI-CLIP's gradient-reversal head attaches) —
and a cross-validated logistic-regression probe predicts the identity (identities from the dataset index,
`identity_rule` of the run). Folds are grouped by video (a video's frames never sit on both sides), so
the probe has to recognise the *person* in another video, not the video. Reported against chance
(1 / #identities), for all / real / fake frames, separately for identities seen in training (`--splits
train`) and unseen ones (the test split), plus the real/fake AUC of the same features under the same
protocol. Writes identity_probe.csv and .md into --out (default logs/tables/identity_probe_<time>).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from analysis.pipeline.probe import identity_probe, realfake_auc  # noqa: E402
from analysis.tables.render import Grid  # noqa: E402
from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import FBIError  # noqa: E402
from fbi_common.io import atomic_write_text  # noqa: E402
from fbi_common.paths import resolve_path  # noqa: E402

COLUMNS = ("checkpoint", "dataset", "split", "identities", "features", "frames", "n_frames", "n_videos", "n_identities",
           "accuracy", "chance", "majority", "realfake_auc")  # fmt: skip


class ProbeError(FBIError, ValueError):
    """An identity-probe input that cannot be used as given."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--weights_path", nargs="+", required=True, help="run folders (their ckpt/best.pth) or checkpoints"
    )
    p.add_argument("--test_dataset", nargs="+", required=True, help="datasets to probe")
    p.add_argument("--features", choices=["z", "cls", "both"], default="both")
    p.add_argument(
        "--splits", nargs="+", default=["test"], choices=["test", "train", "val"], help="splits to probe"
    )
    p.add_argument("--frames_per_video", type=int, default=4)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--detector_path", default=None, help="YAML (default: the run folder's config.yaml)")
    p.add_argument("--out", default=None, help="output folder (relative: repo root)")
    p.add_argument(
        "--opts", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides (data folders)"
    )
    return p.parse_args(argv)


def _checkpoint(p: str) -> Path:
    path = Path(p) if Path(p).exists() else resolve_path(p)
    path = path / "ckpt" / "best.pth" if path.is_dir() else path
    if not path.is_file():
        raise ProbeError(
            f"--weights_path {p}: no checkpoint (expected a run folder with ckpt/best.pth, or a .pth)"
        )
    return path


@torch.no_grad()
def extract(ld, split: str, name: str, n: int) -> dict:
    """Features (z, cls), labels, video keys and identity strings of `n` frames per video."""
    from training.dataset import build_dataset, build_loader, identity_of

    cfg = {**ld.cfg, "use_data_augmentation": False, "frame_num": {**ld.cfg["frame_num"], split: n}}
    ds = build_dataset(cfg, split, [name], ld.spec, identity_map=ld.identity_map)
    ident = {r.key: identity_of(r, cfg["identity_rule"]) for r in ds.records}
    captured: list[torch.Tensor] = []
    backbone = getattr(ld.model, "backbone", None)
    hook = (
        backbone.register_forward_hook(
            lambda m, i, o: captured.append(o["cls"] if isinstance(o, dict) else o)
        )
        if backbone
        else None
    )
    out = {"z": [], "cls": [], "label": [], "video": []}
    ld.model.eval()
    try:
        for batch in tqdm(
            build_loader(ds, cfg, train=False, distributed=False),
            desc=f"features {name} {split}",
            leave=False,
        ):
            if batch is None:
                continue
            captured.clear()
            img = batch["image"].to(ld.dist_info.device)
            out["z"].append(ld.model({**batch, "image": img}, inference=True)["feat"].float().cpu())
            out["cls"].append(captured[-1].float().cpu() if captured else out["z"][-1])
            out["label"] += batch["label"].tolist()
            out["video"] += list(batch["video_key"])
    finally:
        if hook:
            hook.remove()
    return {"z": torch.cat(out["z"]).numpy(), "cls": torch.cat(out["cls"]).numpy(), "label": np.array(out["label"]),
            "video": np.array(out["video"]), "identity": np.array([ident[v] for v in out["video"]])}  # fmt: skip


def probe_rows(
    ckpt: str, name: str, split: str, data: dict, seen: set, feats: list[str], folds: int, seed: int
) -> list[dict]:
    rows = []
    is_seen = np.array([i in seen for i in data["identity"]])
    for idents, mask_ids in (("seen", is_seen), ("unseen", ~is_seen)):
        for frames, mask in (
            ("all", mask_ids),
            ("real", mask_ids & (data["label"] == 0)),
            ("fake", mask_ids & (data["label"] == 1)),
        ):
            if not mask.any():
                continue
            for f in feats:
                x, ids, vid = data[f][mask], data["identity"][mask], data["video"][mask]
                r = identity_probe(x, ids, vid, folds, seed)
                auc = (
                    realfake_auc(x, data["label"][mask], vid, folds, seed)
                    if frames == "all"
                    else float("nan")
                )
                rows.append({"checkpoint": ckpt, "dataset": name, "split": split, "identities": idents, "features": f,
                             "frames": frames, "n_frames": r.n_frames, "n_videos": r.n_videos, "n_identities": r.n_identities,
                             "accuracy": r.accuracy, "chance": r.chance, "majority": r.majority, "realfake_auc": auc})  # fmt: skip
    return rows


def render(rows: list[dict]) -> str:
    g = Grid("Identity probe: held-out-video identity accuracy of a linear probe (chance = 1 / #identities)",
             ["checkpoint", "dataset", "split", "identities", "features", "frames", "#id", "accuracy", "chance", "real/fake AUC"], [])  # fmt: skip
    for r in rows:
        g.rows.append([r["checkpoint"], r["dataset"], r["split"], r["identities"], r["features"], r["frames"], str(r["n_identities"]),
                       f"{r['accuracy']:.3f}", f"{r['chance']:.3f}", "" if r["realfake_auc"] != r["realfake_auc"] else f"{r['realfake_auc']:.3f}"])  # fmt: skip
    g.notes.append(
        "Folds grouped by video (StratifiedGroupKFold); identities with frames from one video only are left out."
    )
    return g.markdown()


def probe_checkpoint(weights: str, datasets: list[str], splits: list[str], feats: list[str], frames: int = 4,
                     folds: int = 5, seed: int = 0, detector_path: str | None = None, opts: list[str] | None = None,
                     name: str | None = None) -> list[dict]:  # fmt: skip
    """Probe rows of one checkpoint (run folder or .pth) on every dataset × split (see the module docstring)."""
    from training.config import load_config
    from training.perturb.evaluate import load

    ckpt = _checkpoint(weights)
    yaml = detector_path or ckpt.parent.parent / "config.yaml"
    if not Path(yaml).is_file():
        raise ProbeError(f"{ckpt}: no config.yaml next to its run folder; pass --detector_path")
    ld = load(load_config(str(yaml), cli={"test_dataset": datasets}, opts=list(opts or [])), ckpt)
    name = name or (ckpt.parent.parent.name if ckpt.parent.name == "ckpt" else ckpt.stem)
    rows = []
    for ds in datasets:
        for split in splits:
            data = extract(ld, split, ds, frames)
            rows += probe_rows(name, ds, split, data, set(ld.identity_map), feats, folds, seed)
    return rows


def write_rows(rows: list[dict], out: Path, stem: str = "identity_probe") -> list[Path]:
    """`<stem>.csv` (every row, full precision) and `<stem>.md` into `out`."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return [
        atomic_write_text(out / f"{stem}.csv", buf.getvalue()).resolve(),
        atomic_write_text(out / f"{stem}.md", render(rows)).resolve(),
    ]


def _test_metric(run: Path, dataset: str, key: str) -> float:
    path = run / "test" / dataset / "metrics.json"
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))[key])
    except (OSError, ValueError, KeyError):
        return float("nan")


def _acc(rows: list[dict], **match: str) -> tuple[float, float]:
    """(accuracy, chance) of the row matching every key (frames: all), nan when the probe has no such row."""
    hit = [r for r in rows if r["frames"] == "all" and all(r[k] == v for k, v in match.items())]
    return (hit[0]["accuracy"], hit[0]["chance"]) if hit else (float("nan"), float("nan"))


def variants_table(variants: list[tuple[str, list[Path]]], rows: list[dict], dataset: str) -> Grid:
    """Variants × {video/frame AUC of the detector, identity-probe accuracy on z and cls, unseen and seen ids}.

    `variants`: (label, run folders over seeds; the first is the one probed); AUCs are averaged over the
    seeds' `test/<dataset>/metrics.json`; `rows` are `probe_checkpoint` rows named by label.
    """
    g = Grid(f"Identity probe next to AUC — {dataset} (identity accuracy of a video-grouped linear probe; lower = less identity)",
             ["variant", "video AUC", "frame AUC", "id acc z (unseen)", "id acc cls (unseen)", "chance (unseen)",
              "id acc z (seen)", "id acc cls (seen)", "chance (seen)"], [])  # fmt: skip

    def f3(v: float) -> str:
        return "n/a" if v != v else f"{v:.3f}"

    for label, runs in variants:
        aucs = [[_test_metric(r, dataset, k) for r in runs] for k in ("video_auc", "frame_auc")]
        cells = [f3(float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")) for a in aucs]
        for idents in ("unseen", "seen"):
            (az, chance), (ac, _) = (_acc(rows, checkpoint=label, dataset=dataset, identities=idents, features=f) for f in ("z", "cls"))  # fmt: skip
            cells += [f3(az), f3(ac), f3(chance)]
        g.rows.append([label, *cells])
    g.notes.append(
        "unseen: the test split's identities (never trained on); seen: the training split's identities, "
        "probed on held-out videos of them — what the GRL head is trained to remove. AUC: the detector's own "
        "head on the test split (mean over seeds); the probe uses the first seed's checkpoint."
    )
    return g


def variants_report(by_label: dict[str, list[Path]], out: Path, train: list[str], test: list[str],
                    opts: list[str], stem: str = "identity_probe") -> list[Path]:  # fmt: skip
    """Probe each variant's first run (`by_label`: label → run folders over seeds); `<stem>.md` puts its identity
    accuracy next to the variants' AUC per test set, `<stem>_probe.csv|md` hold every probe row."""
    rows = []
    for label, dirs in tqdm(by_label.items(), desc="identity probe", leave=False):
        for ds in test:  # seen identities exist only in a training set's train split
            splits = ["test", "train"] if ds in train else ["test"]
            rows += probe_checkpoint(str(dirs[0]), [ds], splits, ["z", "cls"], opts=opts, name=label)
    written = write_rows(rows, out, f"{stem}_probe")
    md = "\n".join(variants_table(list(by_label.items()), rows, ds).markdown() for ds in test)
    return [atomic_write_text(out / f"{stem}.md", md).resolve(), *written]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    feats = ["z", "cls"] if args.features == "both" else [args.features]
    rows = []
    for w in tqdm(args.weights_path, desc="checkpoints", disable=len(args.weights_path) < 2):
        rows += probe_checkpoint(w, args.test_dataset, args.splits, feats, args.frames_per_video, args.folds,
                                 args.seed, args.detector_path, args.opts)  # fmt: skip
    out = (
        resolve_path(args.out)
        if args.out
        else resolve_path("logs/tables") / f"identity_probe_{time.strftime('%Y-%m-%d-%H-%M-%S')}"
    )
    written = write_rows(rows, out)
    print(written[1].read_text(encoding="utf-8"))
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
