"""Weight files and hubs for the backbones: reading checkpoint files, offline-safe hub probes, download hints.

Shared by ``clip_backbone.py`` (open_clip tags and files) and ``timm_backbone.py`` (timm tags and files).
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from pathlib import Path

import open_clip
import torch
from timm.models import clean_state_dict, load_state_dict
from torch import Tensor


def is_no_weights(pretrained: str | None) -> bool:
    """True for the spellings of "no pretrained weights" (None, "", "none", "null", "false")."""
    return pretrained is None or str(pretrained).strip().lower() in ("", "none", "null", "false")


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a checkpoint file, wrapper prefixes removed: safetensors or a `torch.save`d dict
    (`state_dict` / `model` key unwrapped, loaded with weights_only=True) through timm's
    `load_state_dict`, or an OpenAI TorchScript archive (which neither timm nor torch.load reads with
    weights_only)."""
    path = Path(path)
    if path.suffix != ".safetensors" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            scripted = any("/code/" in n for n in zf.namelist())  # OpenAI's original .pt releases
        if scripted:
            with warnings.catch_warnings():  # torch.jit is deprecated, but these files are TorchScript
                warnings.simplefilter("ignore", FutureWarning)
                return clean_state_dict(dict(torch.jit.load(str(path), map_location="cpu").state_dict()))
    try:
        obj = load_state_dict(str(path), use_ema=False, device="cpu", weights_only=True)
    except Exception as e:  # unsafe pickle / truncated / not a checkpoint: the checkpoint loader's words
        from training.trainer.checkpoint import read_error

        raise read_error(path, e) from e
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise RuntimeError(f"{path} does not hold a state dict (name → tensor)")
    return obj


def hub_unreachable(url: str, timeout: float | None = None) -> str | None:
    """Why `url`'s host cannot be reached (None if it can), answered within about `timeout` seconds.

    A plain download attempt without internet can hang on DNS and retries for minutes; this probe
    (which honours proxy env vars) runs in a daemon thread so it cannot block longer than the timeout.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE and "huggingface" in url:
        return "HF_HUB_OFFLINE is set"
    timeout = float(os.environ.get("FBI_HUB_TIMEOUT", "5")) if timeout is None else timeout
    parts = urllib.parse.urlsplit(url)
    root = f"{parts.scheme}://{parts.netloc}/"
    result: list[str | None] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(root, method="HEAD"), timeout=timeout).close()
            result.append(None)
        except urllib.error.HTTPError:  # the server answered: reachable
            result.append(None)
        except Exception as e:
            result.append(f"{parts.netloc} is unreachable ({e})")

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1.0)
    return result[0] if result else f"{parts.netloc} did not answer within {timeout:.0f}s"


def _hf_entry(tag_cfg: dict) -> tuple[str, list[str]] | None:
    """(repo_id, file names in the order open_clip tries them) of a tag hosted on the HF hub."""
    repo, name = os.path.split(tag_cfg.get("hf_hub", ""))  # 'org/model/' means the default file name
    if not repo:
        return None
    name = name or "open_clip_pytorch_model.bin"
    if name == "open_clip_pytorch_model.bin":
        return repo, ["open_clip_model.safetensors", name]
    if name.endswith((".bin", ".pth")):
        return repo, [name[:-4] + ".safetensors", name]
    return repo, [name]


def cached_open_clip_weights(tag_cfg: dict) -> str | None:
    """The already-downloaded weight file of a tag (HF cache or ~/.cache/clip), without any network call."""
    entry = _hf_entry(tag_cfg)
    if entry is not None:
        from huggingface_hub import try_to_load_from_cache

        for name in entry[1]:
            hit = try_to_load_from_cache(entry[0], name)
            if isinstance(hit, str):
                return hit
    if tag_cfg.get("url"):
        local = Path("~/.cache/clip").expanduser() / os.path.basename(tag_cfg["url"])
        if local.is_file():
            return str(local)
    return None


def download_open_clip(arch: str, tag: str, tag_cfg: dict) -> str:
    """Download the weight file of an open_clip tag, or say in one message why not and how to get it offline."""
    hint = _open_clip_hint(arch, tag, tag_cfg)
    err = hub_unreachable(_open_clip_url(tag_cfg))
    if err:
        raise RuntimeError(f"cannot download open_clip weights {arch}/{tag}: {err}. {hint}")
    try:
        return open_clip.pretrained.download_pretrained(tag_cfg)
    except Exception as e:  # the hub raises many types (HTTP, OS, offline mode); all mean the same
        raise RuntimeError(f"download of open_clip weights {arch}/{tag} failed: {e}. {hint}") from e


def _open_clip_url(tag_cfg: dict) -> str:
    if tag_cfg.get("hf_hub"):
        from huggingface_hub import constants

        return constants.ENDPOINT
    return tag_cfg.get("url", "")


def _open_clip_hint(arch: str, tag: str, tag_cfg: dict) -> str:
    entry = _hf_entry(tag_cfg)
    if entry is not None:
        repo, (name, *_) = entry
        where = f"`hf download {repo} {name}` or https://huggingface.co/{repo}/resolve/main/{name}"
    else:
        name = os.path.basename(tag_cfg.get("url", "")) or "weights.pt"
        where = tag_cfg.get("url", "the model's release page")
    gelu = " model.quick_gelu=true" if tag_cfg.get("quick_gelu") else ""
    return (
        f"Download the weights of {arch}/{tag} on a machine with internet ({where}), copy the file here "
        f"and pass it as a local file: --opts model.pretrained=/path/to/{name}{gelu}"
    )
