"""Frequency adapter: FFT high-pass and wavelet sub-band branches → ViT-grid tokens added through zero gates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pywt
import torch
import torch.nn.functional as F
from torch import nn

FFT_OUTPUTS = ("highpass", "logamp")


def _fp32(x: torch.Tensor) -> torch.Tensor:
    """Upcast half types (AMP) to fp32; fp32/fp64 pass unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def fft_highpass(x: torch.Tensor, radius: float, outputs: Sequence[str] = FFT_OUTPUTS) -> torch.Tensor:
    """Per-channel 2-D FFT with every frequency of normalised radius < `radius` removed.

    `radius` is a fraction of the Nyquist frequency (0.25 keeps the upper 3/4 of the band along each
    axis). Returns the requested views stacked on channels: `highpass` (the inverse FFT, an image of
    the fine detail) and/or `logamp` (log(1 + |F|) of the filtered spectrum, DC centred). Always
    computed in fp32 with autocast off: half-precision FFTs are restricted to power-of-two sizes on
    CUDA and lose the small high-frequency magnitudes this branch is about.
    """
    bad = [o for o in outputs if o not in FFT_OUTPUTS]
    if bad or not outputs:
        raise ValueError(f"fft outputs {list(outputs)}: choose one or more of {list(FFT_OUTPUTS)}")
    h, w = x.shape[-2:]
    with torch.autocast(device_type=x.device.type, enabled=False):
        # rfft2 of a real image is ~10× cheaper on CPU than fft2 (which first converts to complex);
        # the other half of the spectrum follows from Hermitian symmetry when the log-amplitude needs it.
        spec = torch.fft.rfft2(_fp32(x), norm="ortho")
        fy = torch.fft.fftfreq(h, device=x.device).abs() * 2.0  # 1.0 = Nyquist
        fx = torch.fft.rfftfreq(w, device=x.device) * 2.0
        keep = (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt() >= radius
        spec = spec * keep
        views = []
        for o in outputs:
            if o == "highpass":
                views.append(torch.fft.irfft2(spec, s=(h, w), norm="ortho"))
            else:
                views.append(torch.log1p(_shifted_full_amplitude(spec, h, w)))
        return torch.cat(views, dim=1)


def _shifted_full_amplitude(half: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """fftshift(|F|) on the full h×w grid, gathered from an rfft2 half spectrum in one indexing op.

    For real input |F(ky, kx)| = |F(−ky, −kx)|, so every full-grid frequency reads a half-grid one;
    one gather replaces the mirror + concatenation + fftshift (rolls), which cost ~5× more on CPU.
    """
    wh = half.shape[-1]  # w // 2 + 1
    # cheaper than complex abs on CPU; the floor keeps the gradient finite at the removed (zero) bins
    amp = torch.sqrt((half.real.square() + half.imag.square()).clamp_min(1e-20))
    dev = half.device
    ky = (torch.arange(h, device=dev) - h // 2) % h  # shifted row → frequency row
    kx = (torch.arange(w, device=dev) - w // 2) % w
    mirrored = kx >= wh  # these columns live at (−ky, w − kx) in the half spectrum
    src_y = torch.where(mirrored[None, :], (-ky[:, None]) % h, ky[:, None].expand(h, w))
    src_x = torch.where(mirrored, w - kx, kx)[None, :].expand(h, w)
    idx = (src_y * wh + src_x).reshape(-1)
    flat = amp.flatten(-2)
    # gather with an expanded index is ~4× faster on CPU than index_select along the last dim
    return flat.gather(-1, idx.expand(*flat.shape[:-1], -1)).unflatten(-1, (h, w))


class WaveletDWT(nn.Module):
    """One-level 2-D DWT (PyWavelets `periodization` convention) as one fixed-filter strided conv.

    The filters come from `pywt.Wavelet(name).filter_bank`, so any orthogonal PyWavelets wavelet works
    and the coefficients equal `pywt.dwt2(..., mode="periodization")` (tested). A registered buffer
    + one grouped conv is cheaper than rebuilding filters on every call, follows `.to(device)`, and
    backpropagates. Output: B×(C·len(bands))×H/2×W/2, bands in the order given (LL, LH=cH, HL=cV, HH=cD).
    """

    BANDS = ("LL", "LH", "HL", "HH")

    def __init__(self, wavelet: str = "haar", bands: Sequence[str] = ("LH", "HL", "HH")) -> None:
        super().__init__()
        try:
            wav = pywt.Wavelet(wavelet)
        except ValueError as e:
            raise ValueError(f"freq wavelet '{wavelet}': not a PyWavelets wavelet ({e})") from e
        if not wav.orthogonal:
            raise ValueError(f"freq wavelet '{wavelet}' is not orthogonal; use haar, dbN, symN or coifN")
        bad = [b for b in bands if b not in self.BANDS]
        if bad or not bands:
            raise ValueError(f"wavelet bands {list(bands)}: choose from {list(self.BANDS)}")
        dec_lo, dec_hi = wav.filter_bank[0], wav.filter_bank[1]
        # conv2d is a correlation, pywt a convolution: flip the taps.
        lo = torch.tensor(dec_lo[::-1], dtype=torch.float64)
        hi = torch.tensor(dec_hi[::-1], dtype=torch.float64)
        one_d = {"L": lo, "H": hi}
        # band "XY": X filters the rows (vertical axis), Y the columns; LH = pywt cH.
        filt = torch.stack([torch.outer(one_d[b[1]], one_d[b[0]]) for b in bands])
        self.register_buffer("filters", filt[:, None], persistent=False)
        self.bands = tuple(bands)
        self.pad = len(dec_lo) // 2 - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"WaveletDWT needs an even image size, got {h}×{w}")
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = _fp32(x).reshape(b * c, 1, h, w)
            if self.pad:
                x = F.pad(x, (self.pad,) * 4, mode="circular")
            y = F.conv2d(x, self.filters.to(x.dtype), stride=2)
        return y.reshape(b, c * len(self.bands), h // 2, w // 2)


def _stem(in_ch: int, ch: int, stride: int) -> nn.Sequential:
    """Patchify conv (kernel = stride, like the ViT patch embedding) then a 3×3 conv at token resolution.

    Working at the token grid from the first layer keeps the branch at a few % of the ViT's FLOPs; the
    3×3 conv gives each token its neighbours' frequency statistics.
    """
    return nn.Sequential(
        nn.Conv2d(in_ch, ch, stride, stride=stride),
        nn.GELU(),
        nn.Conv2d(ch, ch, 3, padding=1),
        nn.GELU(),
    )


@dataclass
class FreqOutput:
    tokens: torch.Tensor  # B×N×width, the fused frequency tokens
    fft: torch.Tensor | None  # B×N×C, FFT-branch tokens (before fusion)
    dwt: torch.Tensor | None  # B×N×C, DWT-branch tokens (before fusion)


class FreqAdapter(nn.Module):
    """FFT ∥ DWT branches → conv stems → tokens on the ViT grid → concat + projection to `width`.

    The tokens enter the ViT residual stream after the blocks in `blocks`, each through its own
    per-channel gate initialised to zero, so at initialisation the backbone is unchanged.
    """

    def __init__(
        self,
        width: int,
        grid_size: tuple[int, int],
        patch_size: int,
        blocks: Sequence[int],
        num_blocks: int,
        use_fft: bool = True,
        use_dwt: bool = True,
        fft_radius: float = 0.25,
        fft_outputs: Sequence[str] = FFT_OUTPUTS,
        wavelet: str = "haar",
        wavelet_bands: Sequence[str] = ("LH", "HL", "HH"),
        channels: int = 32,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        if not (use_fft or use_dwt):
            raise ValueError("model.freq: at least one of fft / dwt must be on (or set freq.enabled: false)")
        blocks = sorted(set(int(b) for b in blocks))
        if not blocks or blocks[0] < 0 or blocks[-1] >= num_blocks:
            raise ValueError(
                f"model.freq.blocks {blocks}: need block indices in [0, {num_blocks - 1}] for this backbone"
            )
        if not 0.0 <= fft_radius < 1.0:
            raise ValueError(f"model.freq.fft_radius {fft_radius}: a fraction of Nyquist in [0, 1)")
        self.grid_size = tuple(grid_size)
        self.blocks = blocks
        self._slot = {b: k for k, b in enumerate(blocks)}
        self.fft_radius = float(fft_radius)
        self.fft_outputs = tuple(fft_outputs)
        self.use_fft, self.use_dwt = bool(use_fft), bool(use_dwt)
        if use_fft:
            fft_probe = fft_highpass(torch.zeros(1, in_chans, 4, 4), 0.0, self.fft_outputs)
            self.fft_stem = _stem(fft_probe.shape[1], channels, stride=patch_size)
        self.dwt = WaveletDWT(wavelet, wavelet_bands) if use_dwt else None
        if use_dwt:
            # the DWT halves the resolution, so half a patch covers one token
            self.dwt_stem = _stem(in_chans * len(wavelet_bands), channels, stride=max(1, patch_size // 2))
        n_branch = int(use_fft) + int(use_dwt)
        self.fuse = nn.Sequential(nn.LayerNorm(channels * n_branch), nn.Linear(channels * n_branch, width))
        self.gates = nn.Parameter(torch.zeros(len(blocks), width))

    def _to_tokens(self, feat: torch.Tensor) -> torch.Tensor:
        if feat.shape[-2:] != self.grid_size:  # e.g. odd patch sizes for the DWT stem: pool to the grid
            feat = F.adaptive_avg_pool2d(feat, self.grid_size)
        return feat.flatten(2).transpose(1, 2)

    def forward(self, x01: torch.Tensor) -> FreqOutput:
        """`x01`: B×3×H×W images in [0, 1] (un-normalised)."""
        fft_tok = dwt_tok = None
        parts = []
        if self.use_fft:
            fft_tok = self._to_tokens(self.fft_stem(fft_highpass(x01, self.fft_radius, self.fft_outputs)))
            parts.append(fft_tok)
        if self.use_dwt:
            dwt_tok = self._to_tokens(self.dwt_stem(self.dwt(x01)))
            parts.append(dwt_tok)
        tokens = self.fuse(torch.cat(parts, dim=-1))
        return FreqOutput(tokens=tokens, fft=fft_tok, dwt=dwt_tok)

    def block_hook(self, tokens_freq: torch.Tensor) -> Callable[[int, torch.Tensor], torch.Tensor]:
        """A `ClipBackbone` block hook adding gated `tokens_freq` to the patch tokens (CLS untouched)."""
        # One zero row for the CLS slot, padded once: each injection is then a single fused
        # tokens + gate ⊙ freq (addcmul), ~3× cheaper on CPU than slicing and concatenating per block.
        padded = F.pad(tokens_freq, (0, 0, 1, 0))

        def hook(i: int, tokens: torch.Tensor) -> torch.Tensor:
            k = self._slot.get(i)
            if k is None:
                return tokens
            if tokens.shape[1] != padded.shape[1]:
                raise ValueError(
                    f"freq adapter made {padded.shape[1] - 1} tokens but block {i} has "
                    f"{tokens.shape[1] - 1} patch tokens; the adapter grid must match the backbone grid"
                )
            return torch.addcmul(tokens, self.gates[k].to(tokens.dtype), padded.to(tokens.dtype))

        return hook
