"""Gradient Reversal Layer (DANN): identity forward, gradient × (−λ) backward, with the λ(p) ramps."""

from __future__ import annotations

import math

import torch
from torch import nn

from training.config.choices import GRL_RAMPS


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lambd: float) -> torch.Tensor:  # noqa: ANN001
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        return -ctx.lambd * grad, None


def grad_reverse(x: torch.Tensor, lambd: float) -> torch.Tensor:
    """Return `x` unchanged; its gradient is multiplied by −`lambd` on the way back."""
    return _GradReverse.apply(x, float(lambd))


def dann_lambda(progress: float, lambda_max: float, gamma: float = 10.0) -> float:
    """DANN schedule λ(p) = λ_max·(2 / (1 + e^{−γp}) − 1): 0 at p = 0, → λ_max as p → 1."""
    p = min(max(float(progress), 0.0), 1.0)
    return float(lambda_max) * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


def ramp_lambda(progress: float, lambda_max: float, ramp: str = "dann", gamma: float = 10.0) -> float:
    """λ at training progress p ∈ [0, 1]: `dann` (above), `linear` λ_max·p, or `constant` λ_max from step 0."""
    if ramp == "dann":
        return dann_lambda(progress, lambda_max, gamma)
    if ramp == "linear":
        return float(lambda_max) * min(max(float(progress), 0.0), 1.0)
    if ramp == "constant":
        return float(lambda_max)
    raise ValueError(f"model.identity.ramp='{ramp}' is not one of {' | '.join(GRL_RAMPS)}")


class GradientReversal(nn.Module):
    """GRL whose λ follows a ramp (`GRL_RAMPS`); call `set_progress(p)` every step (p ∈ [0, 1])."""

    def __init__(self, lambda_max: float = 1.0, gamma: float = 10.0, ramp: str = "dann") -> None:
        super().__init__()
        if lambda_max < 0:
            raise ValueError(f"model.identity.lambda_max={lambda_max}: must be ≥ 0")
        if ramp not in GRL_RAMPS:
            raise ValueError(f"model.identity.ramp='{ramp}' is not one of {' | '.join(GRL_RAMPS)}")
        self.lambda_max, self.gamma, self.ramp = float(lambda_max), float(gamma), ramp
        self.lambd = ramp_lambda(0.0, self.lambda_max, ramp, self.gamma)

    def set_progress(self, progress: float) -> None:
        self.lambd = ramp_lambda(progress, self.lambda_max, self.ramp, self.gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lambd)

    def extra_repr(self) -> str:
        return f"lambda_max={self.lambda_max}, ramp={self.ramp}, gamma={self.gamma}, lambd={self.lambd:.4f}"
