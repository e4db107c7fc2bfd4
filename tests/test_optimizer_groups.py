"""Optimiser parameter groups (timm's helper): no weight decay on 1-D parameters, frozen ones left out."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from training.trainer.build import build_optimizer


def _cfg(kind: str = "adamw", wd: float = 0.05) -> dict:
    o = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": wd, "amsgrad": False}
    return {"model_name": "toy", "optimizer": {"type": kind, kind: {**o, "momentum": 0.9}}}


def test_one_d_parameters_get_no_decay_and_the_decayed_group_comes_first():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LayerNorm(4), nn.Linear(4, 2))
    model[0].bias.requires_grad_(False)
    opt = build_optimizer(model, _cfg())
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    decay, no_decay = ({id(p) for p in g["params"]} for g in opt.param_groups)
    assert decay == {id(model[0].weight), id(model[2].weight)}
    assert no_decay == {id(model[1].weight), id(model[1].bias), id(model[2].bias)}  # frozen bias absent
    assert isinstance(build_optimizer(model, _cfg("sgd")), torch.optim.SGD)


def test_nothing_trainable_is_explained():
    with pytest.raises(ValueError, match="no trainable parameters.*model.tune"):
        build_optimizer(nn.Linear(2, 2).requires_grad_(False), _cfg())
