"""Robustness summary as tables (type × level AUC, level mean, relative drop vs clean) and one line plot per type.

Relative drop = (clean − level-averaged AUC) / clean, per type; the overall mean averages the types'
level means (DeeperForensics-1.0 style). Frame and video AUC are reported side by side.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fbi_common.io import atomic_write, atomic_write_text  # noqa: E402
from training.perturb.protocols import BY_PROTOCOL  # noqa: E402

CSV_COLUMNS = ("protocol", "type", "type_name", "level", "param", "unit", "test_set", "frame_auc", "video_auc",
               "n_frames", "n_videos", "mode")  # fmt: skip


def _f(v: float | None, pct: bool = True) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{100 * v:.1f}" if pct else f"{v:+.1%}"


def _index(rows: list[dict]) -> tuple[dict, dict]:
    """Clean rows per test set, and perturbed rows by (protocol, type, test set) → {level: row}."""
    clean = {r["test_set"]: r for r in rows if r["type"] == "clean"}
    by = defaultdict(dict)
    for r in rows:
        if r["protocol"] != "clean":  # also skips the video path's "clean (re-cropped)" reference
            by[(r["protocol"], r["type"], r["test_set"])][r["level"]] = r
    return clean, by


def summary_rows(rows: list[dict], metric: str) -> list[dict]:
    """Per (protocol, test set, type): the level values, their mean and the relative drop; plus an overall row."""
    clean, by = _index(rows)
    out = []
    for (proto, code, ts), levels in by.items():
        vals = [levels[i][metric] for i in sorted(levels)]
        finite = [v for v in vals if v is not None and math.isfinite(v)]
        mean = sum(finite) / len(finite) if finite else math.nan
        c = clean[ts][metric]
        drop = (c - mean) / c if c else math.nan
        out.append(
            {
                "protocol": proto,
                "test_set": ts,
                "type": code,
                "levels": levels,
                "mean": mean,
                "clean": c,
                "drop": drop,
            }
        )
    for proto, ts in dict.fromkeys((r["protocol"], r["test_set"]) for r in out):
        part = [r for r in out if (r["protocol"], r["test_set"]) == (proto, ts)]
        mean = sum(r["mean"] for r in part) / len(part)
        c = clean[ts][metric]
        common = set.intersection(*(set(r["levels"]) for r in part))
        per_level = {
            i: {metric: sum(r["levels"][i][metric] for r in part) / len(part)} for i in sorted(common)
        }
        out.append({"protocol": proto, "test_set": ts, "type": "mean", "levels": per_level, "mean": mean, "clean": c,
                    "drop": (c - mean) / c if c else math.nan})  # fmt: skip
    return out


def markdown(summary: dict, title: str) -> str:
    rows = summary["rows"]
    parts = [
        f"# Robustness: {title}\n",
        f"Mode: {summary['mode']} · seed {summary['seed']} · checkpoint `{summary['checkpoint']}`\n",
    ]
    parts += [f"> {n}\n" for n in summary["notes"]]
    for r in rows:
        if r["protocol"] == "clean" and r["type"] != "clean":
            parts.append(f"{r['type']} on {r['test_set']}: video AUC {_f(r['video_auc'])}, frame AUC {_f(r['frame_auc'])} "
                         "(the stored-crop clean test is the reference of the drops).\n")  # fmt: skip
    for metric in ("video_auc", "frame_auc"):
        srows = summary_rows(rows, metric)
        for proto, ts in dict.fromkeys((r["protocol"], r["test_set"]) for r in srows):
            part = [r for r in srows if (r["protocol"], r["test_set"]) == (proto, ts)]
            n_lv = max((max(r["levels"]) for r in part if r["levels"]), default=0)
            head = ["type", "clean", *[f"L{i}" for i in range(1, n_lv + 1)], "mean", "drop vs clean"]
            lines = [f"**{metric.split('_')[0]} AUC ×100 — {proto}, {ts}**", "", "| " + " | ".join(head) + " |",
                     "|:---|" + "---:|" * (len(head) - 1)]  # fmt: skip
            for r in part:
                lv = [_f(r["levels"][i][metric]) if i in r["levels"] else "—" for i in range(1, n_lv + 1)]
                name = "**mean over types**" if r["type"] == "mean" else r["type"]
                lines.append(
                    "| "
                    + " | ".join([name, _f(r["clean"]), *lv, _f(r["mean"]), _f(r["drop"], pct=False)])
                    + " |"
                )
            parts.append("\n".join(lines) + "\n")
    parts.append(_legend(rows))
    return "\n".join(parts)


def _legend(rows: list[dict]) -> str:
    seen = {}
    for r in rows:
        if r["protocol"] != "clean":
            seen.setdefault(r["type"], {"name": r["type_name"], "unit": r["unit"], "levels": {}})["levels"][
                r["level"]
            ] = r["param"]
    items = [
        f"{c}: {v['name']} ({v['unit']} "
        + ", ".join(f"L{k} {p}" for k, p in sorted(v["levels"].items()))
        + ")"
        for c, v in seen.items()
    ]
    return "Levels: " + "; ".join(items) + ".\n" if items else ""


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def plot_type(rows: list[dict], protocol: str, code: str, title: str, path: Path) -> Path:
    """AUC vs level for one type: frame (dashed) and video (solid) per test set; x = 0 is the clean test."""
    clean, by = _index(rows)
    ptype = next(t for t in BY_PROTOCOL[protocol] if t.code == code)
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    for ts in dict.fromkeys(k[2] for k in by if k[:2] == (protocol, code)):
        levels = by[(protocol, code, ts)]
        xs = [0, *sorted(levels)]
        for metric, style in (("video_auc", "-o"), ("frame_auc", "--s")):
            ys = [clean[ts][metric]] + [levels[i][metric] for i in sorted(levels)]
            ax.plot(
                xs,
                [100 * (y if y is not None else math.nan) for y in ys],
                style,
                label=f"{ts} {metric.split('_')[0]} AUC",
            )
    n = len(ptype.levels)
    ax.set_xticks(
        range(n + 1), ["clean", *[f"L{i}\n{t}" for i, t in enumerate(map(str, ptype.levels), 1)]], fontsize=8
    )
    ax.axhline(50, color="grey", lw=0.8, ls=":", label="chance")
    sets = ", ".join(dict.fromkeys(k[2] for k in by if k[:2] == (protocol, code)))
    ax.set(
        xlabel=f"level ({ptype.unit})",
        ylabel="AUC (%)",
        title=f"{title} on {sets}\n{ptype.name} ({protocol})",
    )
    ax.set_ylim(min(45, ax.get_ylim()[0]), 100.5)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _save(fig, path)


def plot_overview(rows: list[dict], title: str, path: Path) -> Path:
    """Level-averaged video AUC per type (bars) against the clean video AUC (line), per test set and protocol."""
    srows = [r for r in summary_rows(rows, "video_auc") if r["type"] != "mean"]
    groups = list(dict.fromkeys((r["protocol"], r["test_set"]) for r in srows))
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 3.8), squeeze=False)
    for ax, (proto, ts) in zip(axes[0], groups, strict=True):
        part = [r for r in srows if (r["protocol"], r["test_set"]) == (proto, ts)]
        ax.bar(
            [r["type"] for r in part],
            [100 * r["mean"] for r in part],
            color="tab:blue",
            label="level-averaged",
        )
        ax.axhline(100 * part[0]["clean"], color="tab:red", ls="--", label="clean")
        ax.axhline(50, color="grey", lw=0.8, ls=":", label="chance")
        ax.set(title=f"{proto}, {ts}", xlabel="perturbation type", ylabel="video AUC (%)", ylim=(40, 100.5))
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return path.resolve()


def write_report(summary: dict, out_dir: Path, title: str) -> list[Path]:
    """robustness.md, robustness.csv and the plots; returns the written paths."""
    rows = summary["rows"]
    written = [
        atomic_write_text(out_dir / "robustness.md", markdown(summary, title)).resolve(),
        atomic_write_text(out_dir / "robustness.csv", to_csv(rows)).resolve(),
    ]
    for proto, code in dict.fromkeys((r["protocol"], r["type"]) for r in rows if r["protocol"] != "clean"):
        written.append(plot_type(rows, proto, code, title, out_dir / "plots" / f"{proto}_{code}.png"))
    if any(r["protocol"] != "clean" for r in rows):
        written.append(plot_overview(rows, title, out_dir / "plots" / "overview.png"))
    return written
