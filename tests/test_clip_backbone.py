"""ClipBackbone: tuning modes, block hook, equality with open_clip, weight files, fast offline failure."""

from __future__ import annotations

import socket
import time
import warnings

import huggingface_hub.constants as hf_constants
import pytest
import torch
from safetensors.torch import save_file

from training.networks.clip_backbone import ClipBackbone

TINY = {"width": 64, "layers": 3, "patch_size": 8, "image_size": 32, "head_width": 32, "embed_dim": 48}


def tiny(**kw) -> ClipBackbone:
    return ClipBackbone(**{"vision_cfg": TINY, "pretrained": "none", **kw})


def trainable(b: ClipBackbone) -> set[str]:
    return {n for n, p in b.visual.named_parameters() if p.requires_grad}


def test_attributes():
    b = tiny()
    assert (b.width, b.embed_dim, b.grid_size, b.patch_size, b.image_size, b.num_blocks) == (
        64,
        48,
        (4, 4),
        8,
        32,
        3,
    )
    assert len(b.mean) == 3 and len(b.std) == 3 and b.mean[0] == pytest.approx(0.48145466)
    assert not hasattr(b, "transformer") and not hasattr(b, "token_embedding")  # no text tower


def test_tune_modes_set_exact_requires_grad():
    ln = {"ln_pre.weight", "ln_pre.bias", "ln_post.weight", "ln_post.bias"}
    ln |= {
        f"transformer.resblocks.{i}.ln_{j}.{w}" for i in range(3) for j in (1, 2) for w in ("weight", "bias")
    }
    assert trainable(tiny(tune="ln")) == ln
    assert trainable(tiny(tune="none")) == set()
    b = tiny(tune="full")
    assert trainable(b) == {n for n, _ in b.visual.named_parameters()}
    last2 = trainable(tiny(tune="last_k", last_k=2))
    expected = {
        n
        for n, _ in b.visual.named_parameters()
        if n.startswith(("transformer.resblocks.1.", "transformer.resblocks.2."))
    }
    assert last2 == expected | {"ln_post.weight", "ln_post.bias", "proj"}


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"tune": "lora"}, "model.tune"),
        ({"tune": "last_k", "last_k": 0}, "last_k"),
        ({"tune": "last_k", "last_k": 4}, "last_k"),
        ({"tune": "ln", "last_k": 2}, "only used with tune: last_k"),
        ({"vision_cfg": {**TINY, "heads": 3}}, "unknown keys \\['heads'\\]"),
        ({"vision_cfg": {**TINY, "image_size": 36}}, "multiple of patch size"),
        ({"arch": "NoSuchViT"}, "unknown open_clip architecture"),
    ],
)
def test_bad_arguments_are_explained(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kw)


@pytest.mark.parametrize("quick_gelu", [False, True])
def test_no_hook_output_equals_open_clip_visual(quick_gelu):
    torch.manual_seed(0)
    b = tiny(quick_gelu=quick_gelu).eval()
    x = torch.randn(2, 3, 32, 32)
    out = b(x)
    assert out["cls"].shape == (2, 64) and out["patch"].shape == (2, 16, 64) and out["embed"].shape == (2, 48)
    torch.testing.assert_close(out["embed"], b.visual(x), atol=1e-5, rtol=0)
    inter = b.visual.forward_intermediates(x, indices=1, normalize_intermediates=True, output_fmt="NLC")
    torch.testing.assert_close(out["patch"], inter["image_intermediates"][0], atol=1e-5, rtol=0)


def test_hook_called_once_per_block_and_can_modify_tokens():
    torch.manual_seed(0)
    b = tiny().eval()
    x = torch.randn(2, 3, 32, 32)
    calls = []

    def record(i, tokens):
        calls.append((i, tuple(tokens.shape)))
        return tokens

    plain = b(x)
    same = b(x, block_hook=record)
    assert calls == [(i, (2, 17, 64)) for i in range(3)]
    torch.testing.assert_close(same["embed"], plain["embed"])

    # a per-channel shift (a constant one would be invisible through the pre-LN blocks)
    delta = torch.linspace(-1.0, 1.0, 64)
    shifted = b(x, block_hook=lambda i, t: t + delta if i == 0 else t)
    assert not torch.allclose(shifted["embed"], plain["embed"], atol=1e-3)
    zeroed = b(x, block_hook=lambda i, t: torch.zeros_like(t) if i == 2 else t)
    # LayerNorm of an all-zero token is its bias
    torch.testing.assert_close(zeroed["cls"], b.visual.ln_post.bias.expand(2, -1))


def test_grad_checkpointing_matches_and_backprops():
    torch.manual_seed(0)
    b = tiny(tune="full").train()
    x = torch.randn(2, 3, 32, 32)
    ref = b(x)["embed"]
    b.set_grad_checkpointing(True)
    out = b(x)["embed"]
    torch.testing.assert_close(out, ref)
    out.sum().backward()
    assert b.visual.conv1.weight.grad is not None


def _reference(seed: int = 1) -> tuple[ClipBackbone, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    src = tiny().eval()
    x = torch.randn(2, 3, 32, 32)
    return src, x, src(x)["embed"]


def test_local_visual_state_dict_round_trip(tmp_path):
    src, x, ref = _reference()
    path = tmp_path / "visual.pt"
    torch.save(src.visual.state_dict(), path)
    loaded = tiny(pretrained=str(path)).eval()
    torch.testing.assert_close(loaded(x)["embed"], ref)
    assert not torch.allclose(tiny().eval()(x)["embed"], ref)  # a fresh init differs


def test_local_full_checkpoint_with_module_prefix_and_text_keys(tmp_path):
    src, x, ref = _reference()
    sd = {f"module.visual.{k}": v for k, v in src.visual.state_dict().items()}
    sd["module.token_embedding.weight"] = torch.zeros(10, 4)  # text tower keys are ignored
    sd["module.logit_scale"] = torch.tensor(1.0)
    path = tmp_path / "full.pt"
    torch.save({"state_dict": sd, "epoch": 3}, path)
    torch.testing.assert_close(tiny(pretrained=str(path)).eval()(x)["embed"], ref)


def test_local_safetensors_and_mismatch_message(tmp_path):
    src, x, ref = _reference()
    path = tmp_path / "visual.safetensors"
    save_file({k: v.contiguous() for k, v in src.visual.state_dict().items()}, str(path))
    torch.testing.assert_close(tiny(pretrained=str(path)).eval()(x)["embed"], ref)
    with pytest.raises(RuntimeError, match="do not fit the ViT-B-16 visual tower"):
        ClipBackbone(vision_cfg={**TINY, "width": 96}, pretrained=str(path))


class _FullModel(torch.nn.Module):
    """Stands in for a whole CLIP model: its state dict has `visual.*` keys, like OpenAI's files."""

    def __init__(self, visual: torch.nn.Module) -> None:
        super().__init__()
        self.visual = visual
        self.logit_scale = torch.nn.Parameter(torch.ones([]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x) * self.logit_scale


def test_local_torchscript_archive_like_openai_releases(tmp_path):
    src, x, ref = _reference()
    path = tmp_path / "ViT-tiny.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated; OpenAI's files still use it
        torch.jit.trace(_FullModel(src.visual), x, check_trace=False).save(str(path))
    torch.testing.assert_close(tiny(pretrained=str(path)).eval()(x)["embed"], ref)


def test_local_weights_at_another_resolution_are_resized(tmp_path):
    src, _, _ = _reference()
    path = tmp_path / "visual.pt"
    torch.save(src.visual.state_dict(), path)
    b = tiny(pretrained=str(path), image_size=48)
    assert b.grid_size == (6, 6) and b(torch.randn(1, 3, 48, 48))["patch"].shape == (1, 36, 64)


def test_missing_file_or_unknown_tag_is_explained():
    with pytest.raises(FileNotFoundError, match="neither an open_clip tag .* nor an existing file"):
        tiny(pretrained="no/such/file.pt")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty weight cache and a hub endpoint that refuses connections."""
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(hf_constants, "ENDPOINT", "http://127.0.0.1:9")
    return monkeypatch


def test_unreachable_tag_fails_fast_with_instructions(offline):
    start = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        tiny(pretrained="openai")
    assert time.monotonic() - start < 5
    msg = str(info.value)
    assert "unreachable" in msg and "model.pretrained=/path/to/" in msg and "model.quick_gelu=true" in msg
    assert "hf download timm/vit_base_patch16_clip_224.openai" in msg


def test_silent_hub_times_out(offline):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # accepts the TCP handshake but never answers the request
    try:
        offline.setattr(hf_constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        offline.setenv("FBI_HUB_TIMEOUT", "1")
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="model.pretrained="):
            tiny(pretrained="laion2b_s34b_b88k")
        assert time.monotonic() - start < 4
    finally:
        server.close()
