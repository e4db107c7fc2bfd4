"""open_clip ViT visual tower as a backbone: building it, loading its weights, tuning modes and a per-block token hook.

Reading weight files, probing the hubs and the offline messages live in ``weights.py`` (shared with timm_backbone).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.model import CLIPVisionCfg, _build_vision_tower, resize_pos_embed
from open_clip.pretrained import get_pretrained_cfg, list_pretrained_tags_by_model
from open_clip.transformer import VisionTransformer
from timm.models import clean_state_dict
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.networks.weights import (
    cached_open_clip_weights,
    download_open_clip,
    is_no_weights,
    read_state_dict,
)

log = get_logger("networks.clip")

TUNE_MODES = ("ln", "none", "full", "last_k")
BlockHook = Callable[[int, Tensor], Tensor]


class ClipBackbone(nn.Module):
    """The visual tower of an open_clip ViT (the text tower is never built).

    `pretrained`: an open_clip tag (`openai`, `laion2b_s34b_b88k`, ...), a local file (a full open_clip
    or OpenAI checkpoint, or a visual-only state dict; `module.`/`_orig_mod.` prefixes are stripped)
    or `none` (random init). `vision_cfg` keys override the arch's `vision_cfg` (any `CLIPVisionCfg`
    field, plus `embed_dim` for the projection size), which builds e.g. a tiny tower for tests/demos.
    `quick_gelu`: null takes the tag's setting (True for OpenAI weights); set it to true when loading
    OpenAI-trained weights from a local file. `tune`: `ln` (LayerNorm affine params only), `none`
    (all frozen), `full`, `last_k` (last `last_k` blocks + ln_post + proj).
    """

    def __init__(
        self,
        arch: str = "ViT-B-16",
        pretrained: str | None = "none",
        tune: str = "ln",
        last_k: int = 0,
        vision_cfg: dict | None = None,
        image_size: int | None = None,
        quick_gelu: bool | None = None,
    ) -> None:
        super().__init__()
        if tune not in TUNE_MODES:  # checked before any weights are read
            raise ValueError(f"model.tune='{tune}' is not one of {list(TUNE_MODES)}")
        model_cfg = open_clip.get_model_config(arch)
        if model_cfg is None:
            raise ValueError(f"model.arch: unknown open_clip architecture '{arch}'; e.g. ViT-B-16, ViT-L-14")
        tag_cfg = {} if is_no_weights(pretrained) else get_pretrained_cfg(arch, str(pretrained))
        cfg = _vision_cfg(arch, model_cfg, vision_cfg, image_size)
        embed_dim = cfg.pop("embed_dim", model_cfg["embed_dim"])
        self._quick_gelu_guessed = quick_gelu is None
        if quick_gelu is None:
            quick_gelu = bool(tag_cfg.get("quick_gelu", model_cfg.get("quick_gelu", False)))
        self.visual: VisionTransformer = _build_vision_tower(embed_dim, CLIPVisionCfg(**cfg), quick_gelu)
        _check_supported(arch, self.visual)

        self.arch, self.quick_gelu = arch, quick_gelu
        self.pretrained = "none" if is_no_weights(pretrained) else str(pretrained)
        if not is_no_weights(pretrained):
            self._load_pretrained(str(pretrained), tag_cfg)
        self.width = self.visual.transformer.width
        self.embed_dim = self.visual.output_dim
        self.grid_size = tuple(self.visual.grid_size)
        self.patch_size = int(self.visual.patch_size[0])
        self.image_size = int(self.visual.image_size[0])
        self.num_blocks = len(self.visual.transformer.resblocks)
        self.mean = tuple(float(v) for v in tag_cfg.get("mean", OPENAI_DATASET_MEAN))
        self.std = tuple(float(v) for v in tag_cfg.get("std", OPENAI_DATASET_STD))
        self.set_tune(tune, int(last_k))

    # ---- weights ---------------------------------------------------------------------------------
    def _load_pretrained(self, pretrained: str, tag_cfg: dict) -> None:
        if tag_cfg:
            path = cached_open_clip_weights(tag_cfg)
            if path is None:
                path = download_open_clip(self.arch, pretrained, tag_cfg)
        else:
            path = resolve_path(pretrained)
            if not path.is_file():
                tags = list_pretrained_tags_by_model(self.arch)
                raise FileNotFoundError(
                    f"model.pretrained='{pretrained}' is neither an open_clip tag for {self.arch} "
                    f"(known tags: {tags}) nor an existing file (looked at {path}); use a tag, a file "
                    "path, or 'none' for random init"
                )
            if self._quick_gelu_guessed:
                log.warning(
                    "model.quick_gelu not set for local weights %s: using %s (the %s default); "
                    "OpenAI-trained CLIP weights need model.quick_gelu=true",
                    path,
                    self.quick_gelu,
                    self.arch,
                )
        self.load_visual_weights(read_state_dict(path), source=str(path))

    def load_visual_weights(self, state_dict: dict[str, Tensor], source: str = "state dict") -> None:
        """Load a full open_clip/OpenAI state dict (keys `visual.*`) or a visual-only one, strictly."""
        sd = clean_state_dict(state_dict)  # timm's: strips DDP `module.` / torch.compile `_orig_mod.`
        if any(k.startswith("visual.") for k in sd):
            sd = {k[len("visual.") :]: v for k, v in sd.items() if k.startswith("visual.")}
        # open_clip's own helper resizes the positional grid when image_size differs from the weights
        wrapped = {f"visual.{k}": v for k, v in sd.items()}
        resize_pos_embed(wrapped, SimpleNamespace(visual=self.visual))
        sd = {k[len("visual.") :]: v for k, v in wrapped.items()}
        try:
            self.visual.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            raise RuntimeError(
                f"weights in {source} do not fit the {self.arch} visual tower (check model.arch / "
                f"model.vision_cfg match the checkpoint): {str(e)[:800]}"
            ) from e
        log.info("loaded %d visual tensors from %s", len(sd), source)

    # ---- tuning ----------------------------------------------------------------------------------
    def set_tune(self, tune: str, last_k: int = 0) -> None:
        """Set requires_grad for the tuning mode (see the class docstring)."""
        if tune not in TUNE_MODES:
            raise ValueError(f"model.tune='{tune}' is not one of {list(TUNE_MODES)}")
        if tune == "last_k" and not 1 <= last_k <= self.num_blocks:
            raise ValueError(f"model.last_k={last_k} must be in 1..{self.num_blocks} with tune: last_k")
        if tune != "last_k" and last_k:
            raise ValueError(f"model.last_k={last_k} is only used with tune: last_k (tune is '{tune}')")
        self.visual.requires_grad_(tune == "full")
        if tune == "ln":
            for m in self.visual.modules():
                if isinstance(m, nn.LayerNorm):
                    m.requires_grad_(True)
        elif tune == "last_k":
            for blk in self.visual.transformer.resblocks[-last_k:]:
                blk.requires_grad_(True)
            self.visual.ln_post.requires_grad_(True)
            self.visual.proj.requires_grad_(True)
        self.tune, self.last_k = tune, last_k

    # ---- forward ---------------------------------------------------------------------------------
    def embed_tokens(self, x: Tensor) -> Tensor:
        """Image → tokens entering block 0 (B×(1+N)×width): patch conv, class token, positions, ln_pre."""
        v = self.visual
        x = v.conv1(x).flatten(2).transpose(1, 2)
        cls = v.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + v.positional_embedding.to(x.dtype)
        return v.ln_pre(v.patch_dropout(x))

    def forward(self, x: Tensor, block_hook: BlockHook | None = None) -> dict[str, Tensor]:
        """`{"cls", "patch", "embed"}`; `block_hook(i, tokens) -> tokens` runs after block `i`.

        tokens are batch-first B×(1+N)×width with the class token at index 0.
        """
        v = self.visual
        tokens = self.embed_tokens(x)
        batch_first = v.transformer.batch_first
        for i, blk in enumerate(v.transformer.resblocks):
            t = tokens if batch_first else tokens.transpose(0, 1)
            if v.transformer.grad_checkpointing and self.training and torch.is_grad_enabled():
                t = checkpoint(blk, t, use_reentrant=False)
            else:
                t = blk(t)
            tokens = t if batch_first else t.transpose(0, 1)
            if block_hook is not None:
                tokens = block_hook(i, tokens)
        tokens = v.ln_post(tokens)
        cls = tokens[:, 0]
        return {"cls": cls, "patch": tokens[:, 1:], "embed": cls @ v.proj}

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual.set_grad_checkpointing(enable)


def _vision_cfg(arch: str, model_cfg: dict, override: dict | None, image_size: int | None) -> dict[str, Any]:
    cfg = dict(model_cfg["vision_cfg"])
    cfg.update(override or {})
    if image_size is not None:
        cfg["image_size"] = int(image_size)
    known = {f.name for f in dataclasses.fields(CLIPVisionCfg)} | {"embed_dim"}
    bad = sorted(set(cfg) - known)
    if bad:
        raise ValueError(f"model.vision_cfg: unknown keys {bad} for {arch}; valid keys: {sorted(known)}")
    for key in ("image_size", "patch_size"):
        if isinstance(cfg.get(key), (list, tuple)):
            if len(set(cfg[key])) != 1:
                raise ValueError(f"model.vision_cfg.{key}={cfg[key]}: only square sizes are supported")
            cfg[key] = int(cfg[key][0])
    if cfg["image_size"] % cfg["patch_size"]:
        raise ValueError(
            f"image size {cfg['image_size']} is not a multiple of patch size {cfg['patch_size']} ({arch})"
        )
    return cfg


def _check_supported(arch: str, visual: nn.Module) -> None:
    if not isinstance(visual, VisionTransformer):
        raise ValueError(
            f"model.arch='{arch}' is not an open_clip ViT; ClipBackbone supports ViT towers only"
        )
    if visual.attn_pool is not None or visual.pool_type != "tok":
        raise ValueError(
            f"model.arch='{arch}' pools with attn_pool/pool_type='{visual.pool_type}'; "
            "ClipBackbone needs class-token pooling (CLIP ViTs such as ViT-B-16, ViT-L-14)"
        )
