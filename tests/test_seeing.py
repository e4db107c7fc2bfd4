"""Analysis maths on synthetic inputs: the ViT token→grid reshape, Grad-CAM on tiny ViT/CNN detectors, the
spectrum against a plain NumPy computation, ECE on a hand example, video-wise sampling, separability."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from analysis.calibration import reliability, set_summary
from analysis.common import sample_indices
from analysis.gradcam import cam_target, gradcam_maps, vit_reshape_transform
from analysis.spectrum import azimuthal_average, log_amplitude
from analysis.tsne import separability
from training.registry import DETECTORS


def tiny_detector(name: str):
    import training.detectors  # noqa: F401  (fills the registry)

    cls = DETECTORS.get(name)
    torch.manual_seed(0)
    cfg = {**copy.deepcopy(cls.config_defaults), **copy.deepcopy(cls.test_config)}
    if name == "fbi_clip":
        cfg["loss_weights"] = {**cfg["loss_weights"], "identity": 0.0}
    return cls.from_config(cfg, {"num_identities": 2}).eval()


# ---- Grad-CAM -------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [True, False])
def test_vit_reshape_puts_token_i_at_its_grid_cell(batch_first):
    b, gh, gw, d = 2, 3, 4, 5
    tokens = torch.zeros(b, 1 + gh * gw, d)
    tokens[:, 0] = -1.0  # the CLS token must be dropped
    for i in range(gh * gw):
        tokens[:, 1 + i] = i  # patch token i (row-major) carries its index in every channel
    tokens[1] += 100.0  # the second image is distinguishable
    x = tokens if batch_first else tokens.transpose(0, 1)
    grid = vit_reshape_transform((gh, gw), batch_first)(x)
    assert grid.shape == (b, d, gh, gw)
    for r in range(gh):
        for c in range(gw):
            assert torch.all(grid[0, :, r, c] == r * gw + c)
            assert torch.all(grid[1, :, r, c] == 100 + r * gw + c)
    with pytest.raises(ValueError, match="grid"):
        vit_reshape_transform((gh, gw + 1), batch_first)(x)


@pytest.mark.parametrize("name", ["clip", "fbi_clip", "xception"])
def test_gradcam_map_has_input_size_and_follows_the_input(name):
    model = tiny_detector(name)
    size = model.input_spec["size"]
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, size, size, generator=g)
    x[1] = torch.rand(3, size, size, generator=g) ** 3  # a different image
    cams = gradcam_maps(model, x)
    assert cams.shape == (2, size, size) and np.isfinite(cams).all()
    assert cams.min() >= 0 and cams.max() <= 1 + 1e-6
    assert not np.allclose(cams[0], cams[1], atol=1e-3), "the map does not depend on the input"
    again = gradcam_maps(model, x[:1])
    np.testing.assert_allclose(again[0], cams[0], atol=1e-5)  # batch-independent and deterministic
    layer, reshape, _ = cam_target(model)
    assert (reshape is None) == (name == "xception")


def test_gradcam_target_layer_of_a_vit_sees_the_patch_grid():
    model = tiny_detector("clip")
    layer, reshape, where = cam_target(model)
    seen = {}

    def hook(module, inputs, output):  # returns None: the output is left alone
        seen["shape"] = reshape(output).shape

    handle = layer.register_forward_hook(hook)
    with torch.no_grad():
        model({"image": torch.rand(1, 3, 32, 32)}, inference=True)
    handle.remove()
    assert seen["shape"] == (1, model.backbone.width, *model.backbone.grid_size) and "ln_1" in where


# ---- spectrum -------------------------------------------------------------------------------------
def test_spectrum_of_a_synthetic_image_matches_plain_numpy():
    h = w = 32
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.5 + 0.3 * np.cos(2 * np.pi * 5 * xx / w) + 0.1 * np.cos(2 * np.pi * (3 * yy / h + 2 * xx / w))
    spec = log_amplitude(img)
    # independent: unshifted FFT indexed by signed frequencies, no mean removal except the DC term
    f = np.fft.fft2(img)
    f[0, 0] = 0.0
    ky, kx = np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w
    amp = np.abs(f) + 1e-8
    for iy in range(h):
        for ix in range(w):  # compared as amplitudes: the log of a ~1e-15 bin is all rounding noise
            assert np.exp(spec[int(ky[iy]) + h // 2, int(kx[ix]) + w // 2]) == pytest.approx(
                amp[iy, ix], abs=1e-9
            )
    # the cosine at 5 cycles/width shows up at (0, ±5) with amplitude 0.3/2·h·w
    assert np.exp(spec[h // 2, w // 2 + 5]) == pytest.approx(0.15 * h * w, rel=1e-6)
    profile, freq = azimuthal_average(spec)
    unshifted = np.fft.ifftshift(spec)
    radius = np.hypot(ky[:, None], kx[None, :])
    for r in range(h // 2 + 1):
        ring = np.abs(radius - r) < 0.5
        assert profile[r] == pytest.approx(unshifted[ring].mean(), abs=1e-9)
    assert freq[0] == 0 and freq[-1] == pytest.approx(1.0)


# ---- calibration ----------------------------------------------------------------------------------
def test_ece_on_a_hand_example():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.3, 0.35, 0.9, 0.8, 1.0])
    rows, ece = reliability(y, p, n_bins=2)
    # bin [0, .5): p .1 .3 .35 → mean .25, fakes 1/3; bin [.5, 1]: p .9 .8 1.0 → mean .9, fakes 2/3
    assert [r["count"] for r in rows] == [3, 3]
    assert ece == pytest.approx(0.5 * abs(1 / 3 - 0.25) + 0.5 * abs(2 / 3 - 0.9))
    _, perfect = reliability(np.array([0, 1, 1, 1]), np.array([0.0, 1.0, 1.0, 1.0]), n_bins=10)
    assert perfect == 0.0
    rows, _ = reliability(y, p, n_bins=4)
    assert rows[1]["count"] == 2 and np.isnan(rows[2]["mean_prob"])  # [.25, .5) has .3, .35; [.5, .75) none
    s = set_summary(y, p, val_threshold=0.5, n_bins=2)
    assert s["acc_at_0.5"] == pytest.approx(4 / 6) and s["acc_at_val_threshold"] == s["acc_at_0.5"]
    assert s["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert s["acc_at_opt_threshold"] >= s["acc_at_0.5"] - 1e-12 or s["threshold_opt"] > 0


# ---- sampling and separability --------------------------------------------------------------------
def test_sampling_is_by_video_seeded_and_balanced():
    desc = [
        {"video_key": f"{lab}/v{v}", "label_name": lab}
        for lab in ("real", "A", "B")
        for v in range(10)
        for _ in range(4)
    ]
    a, b = sample_indices(desc, 24, seed=3), sample_indices(desc, 24, seed=3)
    assert a == b and len(a) == 24 and a != sample_indices(desc, 24, seed=4)
    picked = [desc[i] for i in a]
    assert {d["label_name"] for d in picked} == {"real", "A", "B"}
    assert all(sum(d["video_key"] == v for d in picked) == 4 for v in {d["video_key"] for d in picked})
    one = sample_indices(desc, 9, seed=0, per_video=1)
    assert len({desc[i]["video_key"] for i in one}) == 9
    assert sample_indices(desc, None, seed=0) == list(range(len(desc)))


def test_separability_is_high_for_separated_groups_and_nan_for_one_group():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    feat = rng.normal(size=(80, 6)) + 3.0 * y[:, None]
    videos = [f"v{i // 4}" for i in range(80)]
    s = separability(feat, feat[:, :2], ["real" if v == 0 else "fake" for v in y], videos)
    assert s["probe_auc"] > 0.95 and s["silhouette_2d"] > 0.3
    one = separability(feat, feat[:, :2], ["D"] * 80, videos)
    assert np.isnan(one["probe_auc"]) and one["note"]
