"""Image perturbations of the robustness protocols (docs/DESIGN.md §9), on decoded uint8 RGB frames.

Every function takes an (H, W, 3) uint8 RGB image, the level's parameter and a NumPy generator (used only
by the random ones) and returns a new uint8 RGB image of the same size. They act *before* the model's own
resize/normalisation, the way a re-encoded or degraded video reaches a detector. OpenCV does the work
(colour conversions, filters, codecs); ``videos_h264`` runs a batch of frame
sequences through the ``ffmpeg`` binary.

DeeperForensics-1.0 operations follow its paper's definitions as summarised in docs/DESIGN.md §9. Two decisions:
- BW pastes ``max(1, ⌊min(H, W)/256⌋) × level`` grey 8×8 blocks: the formula is for full video frames,
  and without the ``max(1, ·)`` a crop under 256 px would never be occluded.
- Pixelation ("JPEG" in DeeperForensics, though no JPEG is involved) shrinks to ``⌊H/f⌋ × ⌊W/f⌋`` and
  enlarges back, both with OpenCV's default bilinear interpolation, as the DeeperForensics code does.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from fbi_common.errors import FBIError


class FFmpegMissing(FBIError, RuntimeError):
    """Video compression needs the ffmpeg binary."""


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _to_ycc(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(
        img.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb
    )  # Y, Cr, Cb; chroma centred at 0.5


def _from_ycc(ycc: np.ndarray) -> np.ndarray:
    return _u8(cv2.cvtColor(ycc.astype(np.float32), cv2.COLOR_YCrCb2RGB) * 255.0)


def identity(img: np.ndarray, _param: object = None, _rng: np.random.Generator | None = None) -> np.ndarray:
    return img.copy()


def saturation(img: np.ndarray, level: float, _rng=None) -> np.ndarray:
    """CS: in YCbCr, scale the Cb/Cr deviations from 0.5 by ``level`` (0 = grey)."""
    ycc = _to_ycc(img)
    ycc[..., 1:] = 0.5 + (ycc[..., 1:] - 0.5) * float(level)
    return _from_ycc(ycc)


def contrast(img: np.ndarray, level: float, _rng=None) -> np.ndarray:
    """CC: multiply the pixel values by ``level``."""
    return _u8(img.astype(np.float32) * float(level))


def block_occlusion(img: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """BW: ``max(1, ⌊min(H, W)/256⌋) × level`` grey (128) 8×8 blocks at random positions."""
    h, w = img.shape[:2]
    out = img.copy()
    n = max(1, min(h, w) // 256) * int(level)
    ys = rng.integers(0, max(1, h - 8 + 1), n)
    xs = rng.integers(0, max(1, w - 8 + 1), n)
    for y, x in zip(ys, xs, strict=True):
        out[y : y + 8, x : x + 8] = 128
    return out


def noise_ycc(img: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """GNC: add N(0, variance) to Y, Cb and Cr on [0, 1]."""
    ycc = _to_ycc(img)
    ycc += rng.normal(0.0, np.sqrt(float(variance)), ycc.shape).astype(np.float32)
    return _from_ycc(ycc)


def gaussian_blur(img: np.ndarray, param: int | tuple[int, float], _rng=None) -> np.ndarray:
    """GB / blur sweep: an odd kernel ``k`` with σ = k/6, or an explicit ``(k, σ)``."""
    k, sigma = (int(param), int(param) / 6.0) if np.isscalar(param) else (int(param[0]), float(param[1]))
    return cv2.GaussianBlur(img, (k, k), sigma)


def pixelate(img: np.ndarray, factor: int, _rng=None) -> np.ndarray:
    """DeeperForensics "JPEG": shrink to ⌊H/f⌋ × ⌊W/f⌋ and enlarge back (bilinear both ways)."""
    h, w = img.shape[:2]
    small = cv2.resize(
        img, (max(1, w // int(factor)), max(1, h // int(factor))), interpolation=cv2.INTER_LINEAR
    )
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg(img: np.ndarray, quality: int, _rng=None) -> np.ndarray:
    """JPEG round trip at ``quality`` (OpenCV's encoder, 4:2:0; it expects BGR)."""
    ok, enc = cv2.imencode(
        ".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError(f"OpenCV could not JPEG-encode a {img.shape} image")
    return cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def resize_roundtrip(img: np.ndarray, side: int, _rng=None) -> np.ndarray:
    """Down-resize so the shorter side is ``side`` px (INTER_AREA) and back (INTER_LINEAR); no-op if not smaller."""
    h, w = img.shape[:2]
    if side >= min(h, w):
        return img.copy()
    f = side / min(h, w)
    small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive N(0, σ²) per pixel and channel on [0, 1]."""
    x = img.astype(np.float32) / 255.0 + rng.normal(0.0, float(sigma), img.shape).astype(np.float32)
    return _u8(x * 255.0)


def ffmpeg_binary() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise FFmpegMissing(
            "video compression (VC) needs ffmpeg, which is not on PATH: install it (sh install.sh does, via "
            "apt-get, when run as root on Debian/Ubuntu; or your package manager), or leave VC out with "
            "--types CS CC BW GNC GB JPEG"
        )
    return path


def videos_h264(videos: list[list[np.ndarray]], crf: int, fps: float = 25.0) -> list[list[np.ndarray]]:
    """VC: encode each video's RGB frames (equal sizes within a video) with libx264 at ``crf`` and decode them.

    One ``ffmpeg`` process encodes all ``videos`` and one decodes them: each video is its own input and
    its own output stream with its own encoder, so every result is bit-identical to encoding that video
    alone (tested), while the two process start-ups (~0.12 s each, most of the cost for short crop
    videos) are paid once per call instead of once per video. Odd frame sizes are edge-padded to even
    ones for 4:2:0 and cropped back; one frame per input frame.
    """
    if not videos:
        return []
    ff = ffmpeg_binary()
    quiet = ["-hide_banner", "-loglevel", "error", "-y"]
    sizes = []
    with tempfile.TemporaryDirectory(prefix="fbi_vc_") as tmp:
        enc, dec, enc_out, dec_out = [ff, *quiet], [ff, *quiet], [], []
        for i, frames in enumerate(videos):
            h, w = frames[0].shape[:2]
            ph, pw = h + h % 2, w + w % 2
            sizes.append((h, w, ph, pw))
            raw = Path(tmp, f"{i}.rgb")
            with open(raw, "wb") as f:
                for fr in frames:
                    f.write(np.pad(fr, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge").tobytes())
            enc += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{pw}x{ph}", "-r", str(fps), "-i", str(raw)]
            enc_out += ["-map", f"{i}:v", "-c:v", "libx264", "-preset", "medium", "-crf", str(int(crf)),
                        "-pix_fmt", "yuv420p", "-threads", "1", "-f", "h264", str(Path(tmp, f"{i}.h264"))]  # fmt: skip
            dec += ["-threads", "1", "-f", "h264", "-i", str(Path(tmp, f"{i}.h264"))]
            dec_out += ["-map", f"{i}:v", "-f", "rawvideo", "-pix_fmt", "rgb24", str(Path(tmp, f"{i}.out"))]
        for cmd, what in ((enc + enc_out, "encoding"), (dec + dec_out, "decoding")):
            p = subprocess.run(cmd, capture_output=True, check=False)
            if p.returncode != 0:
                raise RuntimeError(f"ffmpeg H.264 {what} failed: {p.stderr.decode(errors='replace')[-300:]}")
        out = []
        for i, (frames, (h, w, ph, pw)) in enumerate(zip(videos, sizes, strict=True)):
            arr = np.fromfile(Path(tmp, f"{i}.out"), np.uint8)
            n = arr.size // (ph * pw * 3)
            if n != len(frames):
                raise RuntimeError(f"ffmpeg H.264 decoding gave {n} of {len(frames)} frames of video {i}")
            out.append([np.ascontiguousarray(a[:h, :w]) for a in arr.reshape(n, ph, pw, 3)])
    return out
