"""The detector interface every model implements (see docs/ARCHITECTURE.md, "Detectors")."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.config.merge import resolve_model
from training.utils.pixels import normalize, to_unit


class BaseDetector(nn.Module):
    """Base class of all detectors: one file per detector, overriding only what differs.

    A new detector:

    1. subclasses `BaseDetector` and registers itself with `@DETECTORS.register("name")` in a new
       file under `training/detectors/` (the package imports every file, so nothing else changes);
    2. sets `config_defaults` — every key allowed under `model:` in a YAML, with its default — and
       takes the same keys as typed keyword arguments, without defaults, in `__init__` (the default
       `from_config` calls `cls(**resolve_model_cfg(model_cfg))`, which fills and checks every key —
       the defaults live only in `config_defaults`; override `from_config` only to use `data_info`,
       e.g. identity counts);
    3. sets `test_config` — the `model:` overrides that make it tiny (random init, small widths) so
       `tests/test_detectors.py` can build it with `from_config(test_config)` and take an
       optimiser step on a few 32–64 px images in about a second;
    4. calls `self.set_input_spec(size, mean, std)` in `__init__` (the data pipeline resizes to
       `size`; the model normalises with `mean`/`std`);
    5. implements `forward(batch, inference=False) -> {"cls": B×2 logits, "prob": B, "feat": B×D}`,
       reading `self.normalize(batch["image"])` (or `self.to_unit(...)` for [0, 1] pixels);
    6. overrides `get_losses` only if it needs more than cross-entropy on `cls`, and `set_progress`
       only if something depends on the training progress (e.g. a ramped coefficient);
    7. optionally splits `forward` into `features` (frozen) and `classifier` (trainable), which
       `feature_cache: true` uses (training/trainer/feature_cache.py).
    """

    config_defaults: ClassVar[dict[str, Any]] = {}
    test_config: ClassVar[dict[str, Any]] = {}
    display_name: ClassVar[str | None] = None  # the name tables print (None: the registry name)
    input_spec: dict[str, Any]
    pixel_mean: Tensor
    pixel_std: Tensor

    # ---- pixels in: the model owns its normalisation ------------------------------------------------
    def set_input_spec(self, size: int, mean: Sequence[float], std: Sequence[float]) -> None:
        """Set `input_spec` and the (non-persistent) `pixel_mean`/`pixel_std` buffers used by `normalize`.

        Called in `__init__` with the backbone's values, and again when a config or checkpoint
        overrides them (`training.trainer.build.apply_input_spec`). Non-persistent: state dicts do not
        change, so checkpoints written before normalisation moved into the model still load.
        """
        mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean/std need 3 values each and std > 0; got mean={mean}, std={std}")
        self.input_spec = {"size": int(size), "mean": mean, "std": std}
        old = getattr(self, "pixel_mean", None)
        device = old.device if isinstance(old, Tensor) else None
        for name, v in (("pixel_mean", mean), ("pixel_std", std)):
            self.register_buffer(name, torch.tensor(v, device=device).view(1, 3, 1, 1), persistent=False)

    @staticmethod
    def to_unit(images: Tensor) -> Tensor:
        """RGB pixels as floats in [0, 1]: uint8 (what the loaders deliver) is divided by 255,
        floating-point input is taken to be in [0, 1] already and returned unchanged."""
        return to_unit(images)

    def normalize(self, images: Tensor) -> Tensor:
        """`(to_unit(images) − mean) / std` with this detector's mean/std (B×3×H×W, float)."""
        return normalize(images, self.pixel_mean, self.pixel_std)

    @classmethod
    def from_config(cls, model_cfg: dict, data_info: dict) -> BaseDetector:
        """Build from a `model:` section; missing keys take `config_defaults`, unknown keys are refused."""
        return cls(**cls.resolve_model_cfg(model_cfg))

    @classmethod
    def resolve_model_cfg(cls, model_cfg: dict) -> dict[str, Any]:
        """`config_defaults` ← `model_cfg`, checked: the loader's one merge (`training.config.merge`),
        so `__init__` always gets every key — a partial section (tests, old checkpoints) is filled in."""
        return resolve_model(cls, [(f"the model config of {cls.__name__}", model_cfg)])

    @abstractmethod
    def forward(self, batch: dict, inference: bool = False) -> dict[str, Tensor]:
        """`{"cls": B×2 logits, "prob": B fake probability, "feat": B×D features}`."""

    # ---- optional split for the frozen-feature cache (`feature_cache: true`) -------------------------
    classifier_modules: ClassVar[tuple[str, ...]] = ()  # children `classifier` uses; () = no split

    def features(self, batch: dict) -> Tensor:
        """B×D: the part of `forward` before the classifier (DeepfakeBench's name). A detector with the
        split sets `classifier_modules` and makes `forward(batch)` equal `classifier(features(batch))`;
        when nothing outside those modules trains, `feature_cache: true` runs this once per frame."""
        raise NotImplementedError(f"{type(self).__name__} has no features()/classifier() split")

    def classifier(self, features: Tensor) -> dict[str, Tensor]:
        """`forward`'s output from `features(batch)`: `{"cls", "prob", "feat"}` (DeepfakeBench's
        `classifier` returns the logits; the whole prediction here, so `get_losses` runs unchanged)."""
        raise NotImplementedError(f"{type(self).__name__} has no features()/classifier() split")

    def get_losses(self, batch: dict, pred: dict) -> dict[str, Tensor]:
        """Cross-entropy of `pred["cls"]` against `batch["label"]`: `{"overall", "ce"}`."""
        ce = F.cross_entropy(pred["cls"], batch_labels(batch, pred["cls"].device))
        return {"overall": ce, "ce": ce}

    def set_progress(self, progress: float) -> None:
        """Called every optimiser step with the training progress in [0, 1]; no-op by default."""

    @staticmethod
    def fake_prob(logits: Tensor) -> Tensor:
        """Probability of class 1 (fake) from B×2 logits."""
        return logits.softmax(dim=1)[:, 1]

    def param_report(self) -> str:
        """Parameter counts: total, trainable, and per top-level child module."""
        total = sum(p.numel() for p in self.parameters())
        train = sum(p.numel() for p in self.parameters() if p.requires_grad)
        share = f" ({100.0 * train / total:.2f}%)" if total else ""
        lines = [f"{type(self).__name__}: {human_count(total)} params, {human_count(train)} trainable{share}"]
        for name, child in self.named_children():
            n = sum(p.numel() for p in child.parameters())
            t = sum(p.numel() for p in child.parameters() if p.requires_grad)
            if n:  # parameter-free children (dropout, activations) would only add noise
                lines.append(f"  {name}: {human_count(n)} ({human_count(t)} trainable)")
        direct = list(self.parameters(recurse=False))
        if direct:
            n, t = sum(p.numel() for p in direct), sum(p.numel() for p in direct if p.requires_grad)
            lines.append(f"  (own parameters): {human_count(n)} ({human_count(t)} trainable)")
        return "\n".join(lines)


class TimmDetector(BaseDetector):
    """Shared body of the single-CNN baselines: a timm backbone's pooled features → dropout → Linear(2).

    Subclasses only set `config_defaults` (timm model name and weight tag) and `test_config`.
    `image_size: null` uses the weights' native input size (timm's pretrained config).
    """

    def __init__(self, backbone: str, pretrained: str | None, dropout: float, image_size: int | None) -> None:
        super().__init__()
        from training.networks.timm_backbone import TimmBackbone

        self.backbone = TimmBackbone(backbone, pretrained=pretrained)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone.num_features, 2)
        size = int(image_size) if image_size is not None else self.backbone.image_size
        self.set_input_spec(size, self.backbone.mean, self.backbone.std)

    def forward(self, batch: dict, inference: bool = False) -> dict[str, Tensor]:
        feat = self.backbone(self.normalize(batch["image"]))
        logits = self.head(self.dropout(feat))
        return {"cls": logits, "prob": self.fake_prob(logits), "feat": feat}


def human_count(n: int) -> str:
    """12345678 → '12.3M'; below a thousand the exact number."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def batch_labels(batch: dict, device: torch.device) -> Tensor:
    """`batch["label"]` as a long tensor on `device` (collate may give a tensor or a list)."""
    return torch.as_tensor(batch["label"], device=device).long()
