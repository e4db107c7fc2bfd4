"""CLIP baselines: linear probe and the GenD / LNCLIP-DF LayerNorm-tuning recipe, as one configurable detector."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.detectors.base import BaseDetector, batch_labels
from training.loss.hypersphere import alignment_loss, uniformity_loss
from training.modules.slerp import slerp_augment
from training.networks.clip_backbone import ClipBackbone
from training.registry import DETECTORS

FEATURES = ("cls", "embed")
SLERP_MODES = ("replace", "extend")


@DETECTORS.register("clip")
class ClipDetector(BaseDetector):
    """open_clip ViT → feature (`cls` or `embed`) → optional L2 norm → dropout → Linear(2).

    Recipes are configs: `tune: none` is a linear probe; `tune: ln` + `l2_norm` + alignment/uniformity
    weights + slerp is GenD (Yermakov et al. 2025; LNCLIP-DF in its first version).
    `feature: cls` (default) is the post-`ln_post` class token before CLIP's projection, which is what
    GenD classifies (HF `pooler_output`); `embed` is CLIP's projected image embedding. With `l2_norm`
    the head is a plain linear layer on the unit sphere (as in GenD; the bias keeps it temperature-free).

    Losses: `ce` on the logits, `align` (same-label pairs pulled together) and `uniform` (spread over
    the sphere) on z; a zero weight skips the term. Slerp (training only): with probability `prob`,
    each z moves towards a random same-class batch partner by t ~ U(t_range); `replace` classifies the
    moved embeddings instead of the originals, `extend` classifies both.
    """

    config_defaults: ClassVar[dict[str, Any]] = {
        "arch": "ViT-B-16",  # open_clip architecture
        "pretrained": "openai",  # open_clip tag, local file, or none
        "vision_cfg": None,  # overrides of the arch's vision_cfg (tiny towers for tests/demos)
        "image_size": None,  # input size; null: the arch's (positional grid resized on load)
        "quick_gelu": None,  # null: from the tag (true for OpenAI weights); set it for local OpenAI files
        "tune": "ln",  # ln | none | full | last_k
        "last_k": 0,  # blocks trained with tune: last_k
        "feature": "cls",  # cls | embed
        "l2_norm": True,  # classify the L2-normalised feature
        "head": "linear",
        "dropout": 0.0,  # before the head
        "loss_weights": {"ce": 1.0, "align": 0.0, "uniform": 0.0},
        "slerp": {"prob": 0.0, "t_range": [0.0, 1.0], "mode": "extend"},
    }
    classifier_modules: ClassVar[tuple[str, ...]] = ("dropout", "head")
    test_config: ClassVar[dict[str, Any]] = {
        "pretrained": "none",
        "vision_cfg": {"width": 64, "layers": 2, "patch_size": 8, "image_size": 32, "head_width": 32},
        "loss_weights": {"ce": 1.0, "align": 0.1, "uniform": 0.5},
        "slerp": {"prob": 1.0, "t_range": [0.0, 1.0], "mode": "extend"},
    }

    def __init__(
        self,
        arch: str,
        pretrained: str | None,
        vision_cfg: dict | None,
        image_size: int | None,
        quick_gelu: bool | None,
        tune: str,
        last_k: int,
        feature: str,
        l2_norm: bool,
        head: str,
        dropout: float,
        loss_weights: dict[str, float],
        slerp: dict[str, Any],
    ) -> None:
        super().__init__()
        _check_options(feature, head, l2_norm, loss_weights, slerp)
        self.backbone = ClipBackbone(arch, pretrained, tune, last_k, vision_cfg, image_size, quick_gelu)
        self.feature, self.l2_norm = feature, l2_norm
        self.loss_weights = {k: float(v) for k, v in loss_weights.items()}
        self.slerp = {"prob": float(slerp["prob"]), "t_range": list(slerp["t_range"]), "mode": slerp["mode"]}
        self.dropout = nn.Dropout(dropout)
        dim = self.backbone.width if feature == "cls" else self.backbone.embed_dim
        self.head = nn.Linear(dim, 2)
        b = self.backbone
        if feature == "cls" and b.visual.proj is not None:
            # The projection is unused when the head reads the CLS token: freeze it so DDP sees no
            # trainable parameter without a gradient.
            b.visual.proj.requires_grad_(False)
        self.set_input_spec(b.image_size, b.mean, b.std)

    def forward(self, batch: dict, inference: bool = False) -> dict[str, Tensor]:
        return self.classifier(self.features(batch))

    def features(self, batch: dict) -> Tensor:
        """The backbone's `cls` or `embed` feature (frozen with `tune: none`: the cacheable part)."""
        return self.backbone(self.normalize(batch["image"]))[self.feature]

    def classifier(self, features: Tensor) -> dict[str, Tensor]:
        z = F.normalize(features, dim=-1) if self.l2_norm else features
        logits = self.head(self.dropout(z))
        return {"cls": logits, "prob": self.fake_prob(logits), "feat": z}

    def get_losses(self, batch: dict, pred: dict) -> dict[str, Tensor]:
        z, logits = pred["feat"], pred["cls"]
        labels = batch_labels(batch, z.device)
        w = self.loss_weights
        ce_logits, ce_labels = logits, labels
        if self.training and self.slerp["prob"] > 0:
            z_aug, labels_aug, mask = slerp_augment(z, labels, self.slerp["prob"], self.slerp["t_range"])
            if self.slerp["mode"] == "replace":
                ce_logits = self.head(self.dropout(z_aug))
            else:
                extra = self.head(self.dropout(z_aug[mask]))
                ce_logits = torch.cat([logits, extra])
                ce_labels = torch.cat([labels, labels_aug[mask]])
        losses: dict[str, Tensor] = {}
        if w["ce"] > 0:
            losses["ce"] = F.cross_entropy(ce_logits, ce_labels)
        if w["align"] > 0:
            losses["align"] = alignment_loss(z, labels)
        if w["uniform"] > 0:
            losses["uniform"] = uniformity_loss(z)
        losses["overall"] = sum(w[k] * v for k, v in losses.items())
        return losses


def _check_options(feature: str, head: str, l2_norm: bool, loss_weights: dict, slerp: dict) -> None:
    """Explain bad `model:` values before anything heavy is built."""
    if feature not in FEATURES:
        raise ValueError(f"model.feature='{feature}' is not one of {list(FEATURES)}")
    if head != "linear":
        raise ValueError(f"model.head='{head}' is not supported by the clip detector; use 'linear'")
    bad = sorted(set(loss_weights) ^ {"ce", "align", "uniform"})
    if bad:
        raise ValueError(f"model.loss_weights needs exactly the keys ce, align, uniform (problem: {bad})")
    if any(float(v) < 0 for v in loss_weights.values()):
        raise ValueError(f"model.loss_weights must be >= 0, got {loss_weights}")
    if not any(float(v) > 0 for v in loss_weights.values()):
        raise ValueError("model.loss_weights are all 0: nothing to train")
    if set(slerp) != {"prob", "t_range", "mode"} or slerp["mode"] not in SLERP_MODES:
        raise ValueError(f"model.slerp needs prob, t_range, mode ({' | '.join(SLERP_MODES)}); got {slerp}")
    t = list(slerp["t_range"])
    if not (0.0 <= float(slerp["prob"]) <= 1.0 and len(t) == 2 and 0.0 <= t[0] <= t[1] <= 1.0):
        raise ValueError(
            f"model.slerp: prob must be in [0, 1] and t_range [t0, t1] with 0 <= t0 <= t1 <= 1; got {slerp}"
        )
    sphere_terms = float(loss_weights["align"]) > 0 or float(loss_weights["uniform"]) > 0
    if not l2_norm and (sphere_terms or float(slerp["prob"]) > 0):
        raise ValueError(
            "model.loss_weights.align/uniform and model.slerp act on the unit sphere: set model.l2_norm: true"
        )
