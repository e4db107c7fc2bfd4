"""A timm CNN cut into stem → stages → head, so two-stream detectors can act between stages.

The rival detectors (SRM, F3Net, SPSL, CADDM) need what a pooled-feature backbone hides: the
feature maps after a given block (F3Net's MixBlock after Xception blocks 7 and 12, SRM's attention
after the entry flow, SPSL's shallow cut, CADDM's last feature map). timm models expose their blocks
as children but no common "run up to block k" API (`forward_intermediates` cannot inject features
back), so this wrapper knows the three layouts the rivals use and splits them once:

| family | stem | stages | head (before pooling) |
|---|---|---|---|
| `legacy_xception` | conv1 … act2 | block1 … block12 | conv3 … act4 |
| ResNets (`resnet*`, `test_resnet`) | conv1, bn1, act1, maxpool | layer1 … layer4 | — |
| EfficientNets (`efficientnet_*`, `tf_efficientnet_*`, `test_efficientnet`) | conv_stem, bn1 | blocks[0] … blocks[-1] | conv_head, bn2 |

Weights come through `TimmBackbone` (timm tag, local file or none; offline tags fail fast with the
download advice). `in_chans != 3` replaces the first convolution with timm's `adapt_input_conv`
of the loaded one (the pretrained RGB filters repeated and rescaled), as timm does for pretrained
models with other channel counts.
"""

from __future__ import annotations

import torch
from timm.models import adapt_input_conv
from torch import Tensor, nn

from training.networks.timm_backbone import TimmBackbone

_LAYOUTS = {
    "xception": (
        ["conv1", "bn1", "act1", "conv2", "bn2", "act2"],
        [f"block{i}" for i in range(1, 13)],
        ["conv3", "bn3", "act3", "conv4", "bn4", "act4"],
    ),
    "resnet": (["conv1", "bn1", "act1", "maxpool"], ["layer1", "layer2", "layer3", "layer4"], []),
    "efficientnet": (["conv_stem", "bn1"], None, ["conv_head", "bn2"]),  # None: every child of `blocks`
}


def _family(model: nn.Module, name: str) -> str:
    children = dict(model.named_children())
    if "block12" in children and "conv4" in children:
        return "xception"
    if "layer4" in children and "conv1" in children:
        return "resnet"
    if "conv_stem" in children and "blocks" in children:
        return "efficientnet"
    raise ValueError(
        f"model.backbone='{name}': the staged backbone knows legacy_xception, ResNets and EfficientNets "
        "(e.g. legacy_xception, resnet34, efficientnet_b4, test_resnet, test_efficientnet)"
    )


class StagedCNN(nn.Module):
    """`stem(x)`, `stages[i](x)`, `head(x)`, `pool(x)`; `stage_channels[i]` = channels after stage i.

    `num_stages` keeps only the first stages (SPSL's shallow network) and drops the head; the
    dropped parts are not kept as modules, so no parameter goes without a gradient.
    """

    def __init__(
        self,
        name: str,
        pretrained: str | None = "none",
        in_chans: int = 3,
        num_stages: int | None = None,
    ) -> None:
        super().__init__()
        tb = TimmBackbone(name, pretrained=pretrained)
        model = tb.model
        self.name, self.mean, self.std, self.image_size = name, tb.mean, tb.std, tb.image_size
        self.family = _family(model, name)
        stem_names, stage_names, head_names = _LAYOUTS[self.family]
        children = dict(model.named_children())
        stages = list(children["blocks"]) if stage_names is None else [children[n] for n in stage_names]
        if num_stages is not None and not 1 <= num_stages <= len(stages):
            raise ValueError(f"model: num_stages={num_stages} must be in 1..{len(stages)} for {name}")
        self.stem = nn.Sequential(*[children[n] for n in stem_names])
        if in_chans != 3:
            _adapt_first_conv(self.stem, int(in_chans))
        self.in_chans = int(in_chans)
        full = num_stages is None or num_stages == len(stages)
        self.stages = nn.ModuleList(stages[:num_stages] if num_stages else stages)
        self.head = nn.Sequential(*[children[n] for n in head_names]) if full else nn.Identity()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.stage_channels, self.stage_strides = self._probe()
        self.num_features = self._probe_head()

    @torch.no_grad()
    def _probe(self) -> tuple[list[int], list[int]]:
        """Channels and strides after each stage, from one forward of a 64 px zero image (eval mode)."""
        was = self.training
        self.eval()
        x = self.stem(torch.zeros(1, self.in_chans, 64, 64))
        channels, strides = [], []
        for stage in self.stages:
            x = stage(x)
            channels.append(int(x.shape[1]))
            strides.append(64 // int(x.shape[-1]))
        self.train(was)
        return channels, strides

    @torch.no_grad()
    def _probe_head(self) -> int:
        if isinstance(self.head, nn.Identity):
            return self.stage_channels[-1]
        was = self.training
        self.eval()
        x = torch.zeros(1, self.stage_channels[-1], 2, 2)
        n = int(self.head(x).shape[1])
        self.train(was)
        return n

    def forward(self, x: Tensor) -> Tensor:
        """Pooled features of the whole (possibly shallow) network."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.pool(self.head(x))


def _adapt_first_conv(stem: nn.Sequential, in_chans: int) -> None:
    """Give the first convolution `in_chans` inputs in place (its class, e.g. timm's Conv2dSame, stays)."""
    conv = next((m for m in stem.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None or conv.groups != 1:
        raise ValueError("cannot change the input channels: the stem has no plain first convolution")
    conv.weight = nn.Parameter(adapt_input_conv(in_chans, conv.weight.detach()))
    conv.in_channels = in_chans
