"""A local web page for scoring uploaded media: `python training/app.py --weights_path CKPT [--port 7860]`.

Drop an image or a video: the page shows the verdict, every face boxed with its score, the per-frame
score plot, the full per-face result, and — when `analysis/gradcam.py` is present and supports the
detector — a Grad-CAM heat map of the most suspicious face. Scoring is `training.inference.Detector`,
the same code path as `demo.py`. Needs the optional Gradio extra: `pip install -r requirements-app.txt`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbi_common.cli import run_cli  # noqa: E402
from fbi_common.errors import FBIError  # noqa: E402
from fbi_common.logging import get_logger, setup_logging  # noqa: E402

log = get_logger("app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--weights_path", nargs="+", required=True, help="checkpoint(s) written by training/train.py"
    )
    p.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--num_frames", type=int, default=16, help="frames per video (evenly spaced)")
    p.add_argument(
        "--ensemble", choices=["mean", "vote"], default="mean", help="several checkpoints: soft/majority vote"
    )
    p.add_argument("--example", help="an image/video scored and shown when the page opens")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    return p.parse_args(argv)  # fmt: skip


def heatmap(detector, frame_bgr, result: dict):
    """Grad-CAM overlay (RGB uint8) of the highest-scoring face, or None when analysis/gradcam.py is
    missing or does not support this detector. The hook: `analysis.gradcam.gradcam_maps(model, x01)
    -> N×S×S` on [0, 1] pixels."""
    try:
        from analysis.gradcam import gradcam_maps
    except ImportError:
        return None
    import cv2
    import numpy as np
    import torch

    faces = detector.crops_of(frame_bgr)
    if not faces:
        return None
    scores = {tuple(f["box"] or ()): f["score"] for t in result["tracks"] for f in t["frames"]}
    box, crops = max(faces, key=lambda fc: scores.get(tuple(fc[0] or ()), 0.0))
    member = detector.members[0]
    spec = member.model.input_spec
    size = int(spec["size"])
    crop = cv2.resize(crops[0], (size, size), interpolation=cv2.INTER_AREA)
    x01 = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(255).to(member.device)
    try:
        cam = gradcam_maps(member.model, x01)[0]
    except FBIError as e:
        log.info("no heat map: %s", e)
        return None
    colour = cv2.applyColorMap((cam * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
    return (0.55 * crop + 0.45 * colour).astype(np.uint8)


def build_app(detector, title: str, example: str | None = None):
    """The Gradio Blocks page; its API endpoint `/score` takes a file and returns the same outputs."""
    import cv2
    import gradio as gr
    import numpy as np

    from training.inference.report import best_frame, draw, score_plot

    def score(path):
        if path is None:
            raise gr.Error("drop an image or a video first")
        res, frames = detector.analyse(Path(path))
        name = Path(path).name
        idx = best_frame(res)
        picture = cv2.cvtColor(draw(frames[idx], res, idx), cv2.COLOR_BGR2RGB) if idx is not None else None
        fig = score_plot(res, f"{name} — {title}")
        fig.canvas.draw()
        plot = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()
        import matplotlib.pyplot as plt

        plt.close(fig)
        heat = heatmap(detector, frames[idx], res) if idx is not None else None
        if res["score"] is None:
            text = f"### {name}: no verdict\n{res['error']}"
        else:
            text = (f"### {name}: **{res['verdict'].upper()}** — fake probability {res['score']:.3f} "
                    f"(threshold {res['threshold']:.3f})\n{res['n_faces']} face(s) in {len(res['tracks'])} "
                    f"track(s) over {res['n_frames']} frame(s); frame score = {res['rules']['frame']} over faces, "
                    f"{res['kind']} score = {res['rules']['video']} over frames")  # fmt: skip
        # Gradio reads any {"path": ...} dict as a file to serve: show the result with `file` instead.
        shown = {"file": name, **{k: v for k, v in res.items() if k != "path"}}
        return text, picture, plot, heat, shown

    with gr.Blocks(title="FBI-CLIP deepfake detector") as app:
        gr.Markdown(f"# FBI-CLIP deepfake detector\n{title}. Drop an image or a video; every face is scored.")
        with gr.Row():
            inp = gr.File(label="image or video", file_types=["image", "video"], type="filepath")
            verdict = gr.Markdown()
        btn = gr.Button("Score", variant="primary")
        with gr.Row():
            picture = gr.Image(label="faces (box: fake probability)", type="numpy")
            plot = gr.Image(label="per-frame score", type="numpy")
            heat = gr.Image(label="heat map (Grad-CAM, most suspicious face)", type="numpy")
        result = gr.JSON(label="per-face, per-frame result")
        outputs = [verdict, picture, plot, heat, result]
        btn.click(score, inputs=inp, outputs=outputs, api_name="score")
        inp.upload(score, inputs=inp, outputs=outputs, api_name=False)
        if example:  # scored once at start-up, shown as soon as the page opens
            shown = (example, *score(example))
            app.load(lambda: shown, outputs=[inp, *outputs], api_name=False)
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(None)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home from a local tool
    try:
        import gradio  # noqa: F401
    except ImportError as e:
        raise FBIError("the web page needs Gradio: pip install -r requirements-app.txt") from e
    import torch

    from training.demo import resolve_input
    from training.inference import Detector

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    detector = Detector.from_checkpoint(
        [resolve_input(w) for w in args.weights_path],
        device,
        num_frames=args.num_frames,
        ensemble=args.ensemble,
    )
    names = ", ".join(f"{m.model_name} ({m.path.name})" for m in detector.members)
    example = str(resolve_input(args.example)) if args.example else None
    app = build_app(detector, f"checkpoint{'s' if len(detector.members) > 1 else ''}: {names}", example)
    print(f"serving on http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    app.launch(server_name=args.host, server_port=args.port, show_error=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
