"""FBI-CLIP: CLIP ViT (LN-tuned) + Frequency adapter + Boundary mining + Identity-adversarial head (docs/DESIGN.md §4)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fbi_common.logging import get_logger
from training.detectors.base import BaseDetector, batch_labels
from training.detectors.fbi_clip_config import FBI_CLIP_DEFAULTS, LOSS_TERMS, check_config
from training.loss.fbi_losses import boundary_supervision, freq_consistency, identity_ce, margin_ce
from training.loss.hypersphere import alignment_loss, uniformity_loss
from training.modules.boundary import BoundaryMining, mask_boundary
from training.modules.freq_adapter import FreqAdapter
from training.modules.heads import IdentityHead, build_head
from training.modules.slerp import slerp_augment
from training.networks.clip_backbone import ClipBackbone
from training.registry import DETECTORS

log = get_logger("detectors.fbi_clip")

_IDENTITY_MODULES = {"cls": "identity", "z": "identity_z"}  # attach point → module name
_IDENTITY_LOGITS = {"cls": "identity_logits", "z": "identity_logits_z"}


def _attach_points(attach: str) -> list[str]:
    return ["cls", "z"] if attach == "both" else [attach]


@DETECTORS.register("fbi_clip")
class FBIClipDetector(BaseDetector):
    """CLIP ViT with a zero-gated frequency adapter, boundary-weighted patch pooling and a GRL identity head.

    Every part is switched from `model:` keys, and a switched-off part is not built at all (no unused
    parameters under DDP): `freq.enabled`, `boundary.enabled`, `loss_weights.identity > 0` (identity head),
    `loss_weights.freq_consistency > 0` (branch projections). With everything off this is the LN-tuned CLIP
    baseline with an L2-normalised embedding and a cosine/linear head.
    """

    config_defaults: ClassVar[dict] = FBI_CLIP_DEFAULTS  # the keys, with comments: fbi_clip_config.py

    test_config: ClassVar[dict] = {
        "pretrained": "none",
        "tune": "full",
        "vision_cfg": {"width": 32, "layers": 2, "head_width": 16, "patch_size": 8, "image_size": 32},
        "freq": {"channels": 8},
        "boundary": {"channels": 4},
        "head": {"embed_dim": 16, "margin": 0.2},
        "slerp": {"prob": 0.5},
        "loss_weights": {"align": 0.1, "uniform": 0.1, "freq_consistency": 0.1},
    }

    @classmethod
    def needs_masks(cls, model_cfg: dict) -> str | None:
        """Why this config needs blending masks (read by the pre-flight), or None."""
        if float(model_cfg.get("loss_weights", {}).get("boundary", 0.0)) > 0:
            return "model.loss_weights.boundary > 0 supervises the boundary map with blending masks"
        return None

    def __init__(
        self,
        arch: str,
        pretrained: str | None,
        tune: str,
        last_k: int,
        vision_cfg: dict | None,
        image_size: int | None,
        quick_gelu: bool | None,
        freq: dict,
        boundary: dict,
        head: dict,
        identity: dict,
        slerp: dict,
        loss_weights: dict,
        num_identities: int = 0,
    ) -> None:
        """Every section complete (as `from_config` / the config loader give it)."""
        super().__init__()
        self.cfg = cfg = {
            "freq": freq,
            "boundary": boundary,
            "head": head,
            "identity": identity,
            "slerp": slerp,
            "loss_weights": loss_weights,
        }
        self.weights = {k: float(cfg["loss_weights"][k]) for k in LOSS_TERMS}
        check_config(cfg, self.weights, num_identities)
        self.backbone = ClipBackbone(arch, pretrained, tune, last_k, vision_cfg, image_size, quick_gelu)
        # The CLIP projection (`embed`) is not used here; freezing it keeps DDP free of unused params.
        self.backbone.visual.proj.requires_grad_(False)
        bb = self.backbone
        self.set_input_spec(bb.image_size, bb.mean, bb.std)
        self._build_branches(cfg, num_identities)
        fused = bb.width * (2 if cfg["boundary"]["enabled"] else 1)
        h = cfg["head"]
        self.proj = nn.Linear(fused, h["embed_dim"])
        self.head = build_head(h["type"], h["embed_dim"], 2, h["scale"], h["margin"])

    def _build_branches(self, cfg: dict, num_identities: int) -> None:
        bb, f, b = self.backbone, cfg["freq"], cfg["boundary"]
        if f["enabled"]:
            blocks = sorted({int(frac * bb.num_blocks) for frac in f["inject_at"]})
            log.info("fbi_clip: frequency tokens enter after blocks %s of %d", blocks, bb.num_blocks)
            self.freq = FreqAdapter(
                width=bb.width,
                grid_size=bb.grid_size,
                patch_size=bb.patch_size,
                blocks=blocks,
                num_blocks=bb.num_blocks,
                use_fft=f["fft"],
                use_dwt=f["dwt"],
                fft_radius=f["fft_radius"],
                fft_outputs=f["fft_outputs"],
                wavelet=f["wavelet"],
                wavelet_bands=f["wavelet_bands"],
                channels=f["channels"],
            )
            if self.weights["freq_consistency"]:
                self.freq_proj = nn.ModuleDict(
                    {k: nn.Linear(f["channels"], f["channels"]) for k in ("fft", "dwt")}
                )
        if b["enabled"]:
            self.boundary = BoundaryMining(
                bb.grid_size, b["channels"], b["blur_kernel"], b["blur_sigma"], b["canny"]
            )
        if self.weights["identity"]:
            # `identity` reads the CLS token, `identity_z` the embedding (module names kept per attach point,
            # so checkpoints of one attach point load into the same config)
            i, dims = cfg["identity"], {"cls": bb.width, "z": cfg["head"]["embed_dim"]}
            for where in _attach_points(i["attach"]):
                head = IdentityHead(dims[where], num_identities, i["hidden"], i["lambda_max"], i["gamma"], i["depth"], i["ramp"])  # fmt: skip
                setattr(self, _IDENTITY_MODULES[where], head)

    # ---- interface ---------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, model_cfg: dict, data_info: dict) -> FBIClipDetector:
        """As the base, plus the number of training identities (sizes the identity classifier)."""
        n_ids = int(data_info.get("num_identities", 0))
        return cls(**cls.resolve_model_cfg(model_cfg), num_identities=n_ids)

    def identity_heads(self) -> dict[str, IdentityHead]:
        """The built identity heads by attach point (`cls`, `z`); empty without the identity branch."""
        return {w: getattr(self, m) for w, m in _IDENTITY_MODULES.items() if hasattr(self, m)}

    def set_progress(self, progress: float) -> None:
        for head in self.identity_heads().values():
            head.set_progress(progress)

    def encode(self, images: torch.Tensor) -> dict[str, Any]:
        """Backbone features with the frequency tokens injected: `{"cls", "patch", "x01", "freq"}`.

        `images`: uint8 or [0, 1] pixels. The frequency and boundary branches read the [0, 1] pixels,
        the ViT their mean/std-normalised version.
        """
        x01 = self.to_unit(images)
        fo = self.freq(x01) if hasattr(self, "freq") else None
        hook = self.freq.block_hook(fo.tokens) if fo is not None else None
        out = self.backbone(self.normalize(x01), block_hook=hook)
        return {"cls": out["cls"], "patch": out["patch"], "x01": x01, "freq": fo}

    def forward(self, batch: dict, inference: bool = False) -> dict[str, torch.Tensor]:
        enc = self.encode(batch["image"])
        pred: dict[str, torch.Tensor] = {}
        parts = [enc["cls"]]
        if hasattr(self, "boundary"):
            bo = self.boundary(enc["x01"], enc["patch"])
            parts.append(bo["feature"])
            pred["boundary_logits"] = bo["logits"]
        z = F.normalize(self.proj(torch.cat(parts, dim=-1)), dim=-1)
        logits = self.head(z)
        pred.update({"cls": logits, "prob": torch.softmax(logits.float(), dim=1)[:, 1], "feat": z})
        if not inference:
            feats = {"cls": enc["cls"], "z": z}
            for where, head in self.identity_heads().items():
                pred[_IDENTITY_LOGITS[where]] = head(feats[where])
            if hasattr(self, "freq_proj"):
                fo = enc["freq"]
                pred["freq_fft"] = self.freq_proj["fft"](fo.fft.mean(dim=1))
                pred["freq_dwt"] = self.freq_proj["dwt"](fo.dwt.mean(dim=1))
        return pred

    def get_losses(self, batch: dict, pred: dict) -> dict[str, torch.Tensor]:
        w, z = self.weights, pred["feat"]
        y = batch_labels(batch, z.device)
        losses: dict[str, torch.Tensor] = {}
        s = self.cfg["slerp"]
        z_ce, y_ce = z, y
        if self.training and s["prob"] > 0:
            z_aug, _, moved = slerp_augment(z, y, prob=s["prob"], t_range=s["t_range"])
            if s["mode"] == "replace":
                z_ce = z_aug
            else:  # extend: the batch plus its interpolated copies
                z_ce, y_ce = torch.cat([z, z_aug[moved]]), torch.cat([y, y[moved]])
        losses["ce"] = margin_ce(self.head.train_logits(z_ce, y_ce), y_ce)
        if w["align"]:
            losses["align"] = alignment_loss(z, y)
        if w["uniform"]:
            losses["uniform"] = uniformity_loss(z)
        if w["freq_consistency"]:
            losses["freq_consistency"] = freq_consistency(pred["freq_fft"], pred["freq_dwt"])
        if w["identity"]:
            if "identity" not in batch:
                raise KeyError(
                    "model.loss_weights.identity > 0 needs batch['identity'] (identity labels from the index)"
                )
            ids = torch.as_tensor(batch["identity"], device=z.device)
            terms = [identity_ce(pred[_IDENTITY_LOGITS[w]], ids) for w in self.identity_heads()]
            losses["identity"] = sum(terms) / len(terms)  # attach both: the mean of the two heads' CE
        if w["boundary"]:
            losses["boundary"] = self._boundary_loss(batch, pred)
        overall = sum(w[k] * v for k, v in losses.items())
        out = {"overall": overall, **losses}
        heads = list(self.identity_heads().values())
        if heads:  # logged with the losses (not part of `overall`): the GRL ramp (one schedule for all heads)
            out["grl_lambda"] = torch.tensor(heads[0].grl.lambd, device=z.device)
        out.update(self.gate_magnitudes())
        return out

    def gate_magnitudes(self) -> dict[str, torch.Tensor]:
        """Mean |gate| of the frequency injection after each block, `{"freq_gate_bN": scalar}` (detached).

        Logged with the losses (not part of `overall`) so TensorBoard shows how much frequency signal each
        block lets in over training; the gates start at zero (analysis/fbi_maps.py plots them).
        """
        if not hasattr(self, "freq"):
            return {}
        g = self.freq.gates.detach().abs().mean(dim=1)
        return {f"freq_gate_b{b}": g[k] for k, b in enumerate(self.freq.blocks)}

    def _boundary_loss(self, batch: dict, pred: dict) -> torch.Tensor:
        if "mask" not in batch:
            raise KeyError(
                "model.loss_weights.boundary > 0 supervises the boundary map with blending masks, but the batch has "
                "no 'mask': set with_mask: true in the config (or model.loss_weights.boundary: 0)"
            )
        b = self.cfg["boundary"]
        logits = pred["boundary_logits"]
        size = tuple(logits.shape[-2:])
        target = mask_boundary(batch["mask"], b["target_blur_kernel"], b["target_blur_sigma"], size)
        return boundary_supervision(logits, target.to(logits.device), 1.0, b["dice"])
