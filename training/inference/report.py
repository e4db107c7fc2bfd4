"""What inference writes: the summary CSV, the JSON result file, annotated pictures, the score plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fbi_common.io import atomic_write, atomic_write_json, atomic_write_text

CSV_COLUMNS = ("path", "kind", "frames", "faces", "tracks", "fake_prob", "threshold", "verdict", "note")
_RED, _GREEN, _GREY = (40, 40, 230), (60, 180, 60), (160, 160, 160)


def summary_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One CSV row per input."""
    return [
        {
            "path": r["path"], "kind": r["kind"], "frames": r["n_frames"], "faces": r["n_faces"],
            "tracks": len(r["tracks"]), "fake_prob": "" if r["score"] is None else f"{r['score']:.4f}",
            "threshold": f"{r['threshold']:.4f}", "verdict": r["verdict"], "note": r["error"] or "",
        }
        for r in results
    ]  # fmt: skip


def write_csv(path: Path, results: list[dict[str, Any]]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(summary_rows(results))
    return atomic_write_text(path, buf.getvalue())


def write_json(path: Path, header: dict[str, Any], results: list[dict[str, Any]]) -> Path:
    """`{checkpoints, threshold, rules, face_pipeline, ..., results: [...]}`."""
    return atomic_write_json(path, {**header, "results": results})


def best_frame(result: dict[str, Any]) -> int | None:
    """The frame to show: the one with the most faces, then the highest score."""
    scored = [f for f in result["frames"] if not f["no_face"]]
    if not scored:
        return None
    return max(scored, key=lambda f: (len(f["tracks"]), f["score"]))["frame"]


def _label(img: np.ndarray, text: str, org: tuple[int, int], colour, size: float) -> None:
    """Text on a dark filled box, readable on any background."""
    thick = max(1, round(size * 1.6))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
    x, y = max(0, org[0]), max(h + base + 2, org[1])
    cv2.rectangle(img, (x, y - h - base - 2), (x + w + 4, y + 2), (20, 20, 20), -1)
    cv2.putText(img, text, (x + 2, y - base + 1), cv2.FONT_HERSHEY_SIMPLEX, size, colour, thick, cv2.LINE_AA)


def draw(frame_bgr: np.ndarray, result: dict[str, Any], idx: int) -> np.ndarray:
    """Every face of frame `idx` boxed and labelled with its track, verdict and fake probability
    ("#0 real 0.03" / "#1 fake 0.91"), plus the file's verdict at the top."""
    img = frame_bgr.copy()
    thr = result["threshold"]
    scale = max(0.45, img.shape[1] / 1400)
    for tr in result["tracks"]:
        for f in tr["frames"]:
            if f["frame"] != idx:
                continue
            box = f["box"] or [0, 0, img.shape[1] - 1, img.shape[0] - 1]
            colour = _RED if f["score"] >= thr else _GREEN
            label = f"#{tr['track']} {'fake' if f['score'] >= thr else 'real'} {f['score']:.2f}"
            cv2.rectangle(img, tuple(box[:2]), tuple(box[2:]), colour, max(2, round(2 * scale)))
            _label(img, label, (box[0], box[1] - 3), colour, scale)
    score = result["score"]
    head = (
        f"{result['verdict'].upper()} {score:.2f} (threshold {thr:.2f})" if score is not None else "no face"
    )
    colour = _GREY if score is None else (_RED if score >= thr else _GREEN)
    _label(img, head, (4, 0), colour, 1.4 * scale)
    return img


def annotate(result: dict[str, Any], frames: dict[int, np.ndarray], out_dir: Path) -> Path | None:
    """Write `<stem>_scored.png`: the chosen frame with every face drawn; None when no face was scored."""
    idx = best_frame(result)
    if idx is None or idx not in frames:
        return None
    out = Path(out_dir) / f"{Path(result['path']).stem}_scored.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", draw(frames[idx], result, idx))
    if not ok:
        raise OSError(f"could not encode {out}")
    return atomic_write(out, lambda f: f.write(buf.tobytes()))


def score_plot(result: dict[str, Any], title: str):
    """A matplotlib figure: fake probability per frame for each face track, the frame score and threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    for tr in result["tracks"]:
        ax.plot([f["frame"] for f in tr["frames"]], [f["score"] for f in tr["frames"]], "o-", ms=3,
                label=f"face #{tr['track']}")  # fmt: skip
    pts = [(f["frame"], f["score"]) for f in result["frames"] if f["score"] is not None]
    if pts:
        ax.plot(*zip(*pts, strict=True), "k--", lw=1, label=f"frame ({result['rules']['frame']})")
    ax.axhline(result["threshold"], color="grey", lw=1, ls=":", label="threshold")
    ax.set(xlabel="frame index", ylabel="fake probability", ylim=(-0.02, 1.02), title=title)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig
