"""Effort's orthogonal subspace decomposition: a linear weight split by SVD into a frozen principal
part and a trainable low-rank residual, plus the attention module that uses such weights.

For W = U Σ Vᵀ (singular values in decreasing order) and residual rank k: the principal part
W_p = U[:, :r] Σ[:r] V[:r]ᵀ (r = rank − k) is a frozen buffer; the residual U_res diag(s_res) V_resᵀ
starts as the k smallest singular triplets and is trained, so at initialisation W_p + residual = W
(up to float rounding). Hand-written because no library offers it (peft's LoRA/PiSSA start from
zero or train the principal part).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SVDResidualLinear(nn.Module):
    """`F.linear(x, W_p + U_res diag(s_res) V_res, bias)` with W_p and the bias frozen.

    The SVD runs on first use (forward, a loss, or `weight()`), not at construction: a ViT-L/14 has
    96 attention weights of 1024×1024 (≈1.7 s each on one CPU core), and building a detector to
    inspect or load it should not pay that. Loading a state dict that was saved after the SVD
    restores the factors directly (`decomposed` is part of the state).
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, residual_rank: int) -> None:
        super().__init__()
        out_f, in_f = weight.shape
        full = min(out_f, in_f)
        if not 1 <= residual_rank < full:
            raise ValueError(
                f"model.residual_rank={residual_rank} must be in 1..{full - 1} for a {tuple(weight.shape)} weight"
            )
        r = full - residual_rank
        self.register_buffer("weight_principal", torch.zeros(out_f, in_f))
        self.register_buffer("u_principal", torch.zeros(out_f, r))
        self.register_buffer("v_principal", torch.zeros(r, in_f))
        self.register_buffer("weight_fnorm_sq", torch.zeros(()))
        self.register_buffer("decomposed", torch.zeros((), dtype=torch.bool))
        self.u_residual = nn.Parameter(torch.zeros(out_f, residual_rank))
        self.s_residual = nn.Parameter(torch.zeros(residual_rank))
        self.v_residual = nn.Parameter(torch.zeros(residual_rank, in_f))
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        self.in_features, self.out_features, self.rank_principal = int(in_f), int(out_f), r
        self._source: Tensor | None = weight.detach().float().clone()
        self._ready = False
        self.register_load_state_dict_post_hook(_after_load)

    @torch.no_grad()
    def materialize(self) -> None:
        """Decompose the source weight into the principal buffers and the residual parameters (once)."""
        if self._ready:
            return
        if self._source is None:
            raise RuntimeError("SVDResidualLinear has neither factors nor a source weight")
        dev = self.weight_principal.device
        w = self._source.to(dev)
        u, s, vh = torch.linalg.svd(w, full_matrices=False)
        r = self.rank_principal
        self.weight_principal.copy_((u[:, :r] * s[:r]) @ vh[:r])
        self.u_principal.copy_(u[:, :r])
        self.v_principal.copy_(vh[:r])
        self.weight_fnorm_sq.copy_(w.pow(2).sum())
        self.u_residual.copy_(u[:, r:])
        self.s_residual.copy_(s[r:])
        self.v_residual.copy_(vh[r:])
        self.decomposed.fill_(True)
        self._source, self._ready = None, True

    def residual(self) -> Tensor:
        return (self.u_residual * self.s_residual) @ self.v_residual

    def weight(self) -> Tensor:
        """The effective weight W_p + residual."""
        self.materialize()
        return self.weight_principal + self.residual()

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight().to(x.dtype), bias)

    def orthogonal_loss(self) -> Tensor:
        """‖ÛᵀÛ − I‖²_F + ‖V̂V̂ᵀ − I‖²_F for Û = [U_p U_res], V̂ = [V_p; V_res].

        With U_p orthonormal and frozen, ÛᵀÛ − I has the blocks U_pᵀU_res (twice) and
        U_resᵀU_res − I (the U_pᵀU_p − I block is 0 up to rounding and has no gradient), which avoids
        forming a full d×d product every step.
        """
        self.materialize()
        eye = torch.eye(self.s_residual.numel(), device=self.s_residual.device)
        cross_u = self.u_principal.t() @ self.u_residual
        cross_v = self.v_principal @ self.v_residual.t()
        self_u = self.u_residual.t() @ self.u_residual - eye
        self_v = self.v_residual @ self.v_residual.t() - eye
        return 2 * cross_u.pow(2).sum() + self_u.pow(2).sum() + 2 * cross_v.pow(2).sum() + self_v.pow(2).sum()

    def singular_value_loss(self) -> Tensor:
        """|‖W_p + residual‖²_F − ‖W‖²_F|: the energy (sum of squared singular values) stays the original's."""
        return (self.weight().pow(2).sum() - self.weight_fnorm_sq).abs()


def _after_load(module: SVDResidualLinear, incompatible: object) -> None:
    if bool(module.decomposed):
        module._source, module._ready = None, True


class SVDSelfAttention(nn.Module):
    """Drop-in for a batch-first `nn.MultiheadAttention` used as self-attention (open_clip ViT blocks):
    q, k, v and the output projection are `SVDResidualLinear`s; attention by `scaled_dot_product_attention`."""

    def __init__(self, mha: nn.MultiheadAttention, residual_rank: int) -> None:
        super().__init__()
        if not mha._qkv_same_embed_dim or mha.in_proj_weight is None:
            raise ValueError("SVDSelfAttention needs a MultiheadAttention with a fused in_proj_weight")
        if mha.dropout or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("SVDSelfAttention supports attention without dropout, bias_k or zero_attn")
        d = mha.embed_dim
        w, b = mha.in_proj_weight, mha.in_proj_bias
        parts = [(w[i * d : (i + 1) * d], None if b is None else b[i * d : (i + 1) * d]) for i in range(3)]
        self.q, self.k, self.v = (SVDResidualLinear(pw, pb, residual_rank) for pw, pb in parts)
        self.out_proj = SVDResidualLinear(mha.out_proj.weight, mha.out_proj.bias, residual_rank)
        self.num_heads, self.batch_first = mha.num_heads, mha.batch_first

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        need_weights: bool = False,
        attn_mask: Tensor | None = None,
    ) -> tuple[Tensor, None]:
        if not (query is key and key is value):
            raise ValueError(
                "SVDSelfAttention is self-attention only (query, key and value must be the same)"
            )
        x = query if self.batch_first else query.transpose(0, 1)
        bsz, n, d = x.shape
        h = self.num_heads

        def heads(t: Tensor) -> Tensor:
            return t.view(bsz, n, h, d // h).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)), attn_mask)
        out = self.out_proj(out.transpose(1, 2).reshape(bsz, n, d))
        return (out if self.batch_first else out.transpose(0, 1)), None


def svd_layers(module: nn.Module) -> list[SVDResidualLinear]:
    return [m for m in module.modules() if isinstance(m, SVDResidualLinear)]
