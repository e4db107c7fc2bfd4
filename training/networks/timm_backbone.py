"""timm image models as pooled-feature backbones, with offline-friendly pretrained weight loading."""

from __future__ import annotations

import os
from pathlib import Path

import timm
import torch
from torch import Tensor, nn

from fbi_common.logging import get_logger
from fbi_common.paths import resolve_path
from training.networks.weights import hub_unreachable, is_no_weights, read_state_dict

log = get_logger("networks.timm")


class TimmBackbone(nn.Module):
    """A timm model without its classifier: `forward(x)` returns pooled features (B×`num_features`).

    `pretrained`: `none`/null (random init), a timm weight tag — either the bare tag (`tf_in1k`) or
    `<name>.<tag>` (`legacy_xception.tf_in1k`), or `default` for timm's default tag — or a local
    file (a timm or Cadene/DeepfakeBench checkpoint; `state_dict`/`model` wrappers and `module.`
    prefixes are handled and the ImageNet classifier is dropped). `mean`/`std`/`image_size` come from timm's pretrained config.
    """

    def __init__(
        self, name: str, pretrained: str | None = "none", drop_path_rate: float | None = None
    ) -> None:
        super().__init__()
        if not timm.is_model(name):
            raise ValueError(
                f"model.backbone: unknown timm model '{name}'; e.g. {timm.list_models(name[:4] + '*')[:8]}"
            )
        kwargs: dict = {"num_classes": 0}
        if drop_path_rate is not None:
            kwargs["drop_path_rate"] = drop_path_rate
        self.name, self.pretrained = name, "none" if is_no_weights(pretrained) else str(pretrained)
        if is_no_weights(pretrained):
            self.model = timm.create_model(name, pretrained=False, **kwargs)
        elif _looks_like_file(str(pretrained)):
            path = resolve_path(str(pretrained))
            if not path.is_file():
                raise FileNotFoundError(f"model.pretrained: weight file {path} does not exist ({name})")
            self.model = timm.create_model(name, pretrained=False, **kwargs)
            _load_local(self.model, path)
            log.info("loaded %s weights from %s", name, path)
        else:
            full = _full_name(name, str(pretrained))
            cached = _cached_or_reachable(full)
            # a cached file is loaded directly: the hub client would otherwise still go online first
            overlay = {"file": cached} if cached else None
            self.model = timm.create_model(full, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
        data_cfg = timm.data.resolve_data_config({}, model=self.model)
        self.num_features = int(self.model.num_features)
        self.image_size = int(data_cfg["input_size"][-1])
        self.mean = tuple(float(v) for v in data_cfg["mean"])
        self.std = tuple(float(v) for v in data_cfg["std"])

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def _load_local(model: nn.Module, path: Path) -> None:
    """Load a local checkpoint strictly, minus the ImageNet classifier. Also reads Cadene/DeepfakeBench
    files (`xception-b5690688.pth` stores 1×1 pointwise kernels as 2-D matrices)."""
    sd = read_state_dict(path)  # wrapper prefixes already removed (timm's clean_state_dict)
    own = model.state_dict()
    heads = tuple(f"{h}." for h in (model.pretrained_cfg.get("classifier"), "last_linear", "fc") if h)
    sd = {k: v for k, v in sd.items() if k in own or not k.startswith(heads)}
    for k, v in sd.items():
        if k in own and v.ndim == 2 and own[k].ndim == 4 and own[k].shape[2:] == (1, 1):
            sd[k] = v[:, :, None, None]
    arch = model.pretrained_cfg.get("architecture")
    try:
        missing, unexpected = model.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise RuntimeError(
            f"weights in {path} do not fit timm '{arch}' (check model.backbone): {str(e)[:600]}"
        ) from e
    if missing or unexpected:
        raise RuntimeError(
            f"weights in {path} do not fit timm '{arch}' (check model.backbone): "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )


def _looks_like_file(p: str) -> bool:
    return any(s in p for s in ("/", "\\")) or p.endswith((".pth", ".pt", ".bin", ".safetensors", ".ckpt"))


def _full_name(name: str, pretrained: str) -> str:
    """`<name>.<tag>` for a bare tag, `default` or a full `<name>.<tag>`; unknown tags are explained."""
    if pretrained.lower() in ("default", "true", "imagenet"):
        return name
    full = pretrained if pretrained.startswith(name + ".") else f"{name}.{pretrained}"
    known = timm.list_pretrained(name + ".*") or timm.list_pretrained(name)
    if full not in known:
        raise ValueError(
            f"model.pretrained='{pretrained}' is not a timm weight tag of {name} (known: {known}) and does "
            "not look like a file path; use a tag, 'default', a path, or 'none'"
        )
    return full


def _cached_or_reachable(full_name: str) -> str | None:
    """The cached weight file, or None when the download host answers; otherwise fail within seconds
    (instead of retrying a download for minutes) with instructions for offline machines."""
    cfg = timm.models.get_pretrained_cfg(full_name)
    if cfg is None:
        raise ValueError(f"timm model '{full_name}' has no pretrained weights; use pretrained: none")
    cfg = cfg.to_dict()
    hf_id, url = cfg.get("hf_hub_id"), cfg.get("url")
    if hf_id:
        from huggingface_hub import constants, try_to_load_from_cache

        names = (
            [cfg["hf_hub_filename"]]
            if cfg.get("hf_hub_filename")
            else ["model.safetensors", "pytorch_model.bin"]
        )
        for n in names:
            hit = try_to_load_from_cache(hf_id.rstrip("/"), n)
            if isinstance(hit, str):
                return hit
        probe, name = constants.ENDPOINT, names[0]
        where = f"`hf download {hf_id} {name}` or https://huggingface.co/{hf_id}/resolve/main/{name}"
    elif url:
        name = os.path.basename(url)
        local = Path(torch.hub.get_dir()) / "checkpoints" / name
        if local.is_file():
            return str(local)
        probe, where = url, url
    else:
        raise ValueError(f"timm model '{full_name}' has no download location; pass a local file")
    err = hub_unreachable(probe)
    if err:
        raise RuntimeError(
            f"cannot download timm weights {full_name}: {err}. Download them on a machine with internet "
            f"({where}), copy the file here and pass it as a local file: "
            f"--opts model.pretrained=/path/to/{name}"
        )
    return None
