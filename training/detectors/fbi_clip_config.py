"""FBI-CLIP's `model:` keys: their defaults (with what each means) and the checks across keys.

`FBIClipDetector.config_defaults` is `FBI_CLIP_DEFAULTS`; the config loader validates a YAML's `model:` section
against it, and `check_config` (called when the detector is built) refuses switches and loss weights that
contradict each other, all problems at once.
"""

from __future__ import annotations

from training.config.choices import GRL_RAMPS, IDENTITY_ATTACH

LOSS_TERMS = ("ce", "align", "uniform", "freq_consistency", "identity", "boundary")

FBI_CLIP_DEFAULTS: dict = {
    "arch": "ViT-B-16",  # open_clip architecture (ViT-B-16, ViT-L-14, ...)
    "pretrained": "openai",  # open_clip tag, local weights file, or none
    "tune": "ln",  # ln | none | full | last_k
    "last_k": 0,  # blocks trained with tune: last_k
    "vision_cfg": None,  # overrides of the arch's open_clip vision_cfg (tiny demo towers)
    "image_size": None,  # input size; null: the arch's (positional grid resized on load)
    "quick_gelu": None,  # null: the pretrained tag's setting
    "freq": {
        "enabled": True,
        # where tokens are added: fractions of the depth, block = floor(f · num_blocks), so one
        # setting fits B/16 (0, 3, 6, 9), L/14 (0, 6, 12, 18) and tiny towers alike
        "inject_at": [0.0, 0.25, 0.5, 0.75],
        "fft": True,
        "fft_radius": 0.25,  # frequencies below this fraction of Nyquist are removed
        "fft_outputs": ["highpass", "logamp"],
        "dwt": True,
        "wavelet": "haar",  # any orthogonal PyWavelets wavelet (haar, db2, sym4, ...)
        "wavelet_bands": ["LH", "HL", "HH"],
        "channels": 32,  # conv stem width per branch
    },
    "boundary": {
        "enabled": True,
        "channels": 16,
        "blur_kernel": 5,  # high-pass residual = image − Gaussian blur(kernel, sigma)
        "blur_sigma": 1.0,
        "canny": False,  # add a Canny edge cue (slower; not differentiable)
        "target_blur_kernel": 7,  # supervision target 4·m̃(1−m̃) of the blurred mask m̃
        "target_blur_sigma": 2.0,
        "dice": 1.0,  # weight of Dice next to BCE inside the boundary loss
    },
    "head": {
        "type": "cosine",  # cosine | linear
        "embed_dim": 256,  # size of the L2-normalised embedding z
        "scale": 16.0,  # cosine head scale s
        "margin": 0.0,  # additive angular margin m (ArcFace), training only
    },
    "identity": {  # the GRL identity-adversarial head, built when loss_weights.identity > 0
        "attach": "cls",  # cls | z | both: the backbone CLS token, the embedding z, or a head on each
        "lambda_max": 0.1,  # GRL strength once ramped up (gradient × −λ into the features)
        "ramp": "dann",  # dann: λ_max·(2/(1+e^{−γp})−1) | linear: λ_max·p | constant: λ_max (p: progress)
        "gamma": 10.0,  # steepness γ of the dann ramp
        "depth": 1,  # layers of the identity classifier: 1 linear; k ≥ 2: k−1 hidden GELU layers
        "hidden": 256,  # width of those hidden layers (depth ≥ 2)
    },
    "slerp": {"prob": 0.0, "t_range": [0.0, 1.0], "mode": "extend"},  # mode: extend | replace
    "loss_weights": {
        "ce": 1.0,
        "align": 0.0,
        "uniform": 0.0,
        "freq_consistency": 0.0,
        "identity": 0.1,
        "boundary": 0.0,  # needs with_mask: true
    },
}


def check_config(cfg: dict, w: dict[str, float], num_identities: int) -> None:
    """Collect every contradiction between switches and loss weights; raise once, naming the keys."""
    problems = [f"model.loss_weights.{k}={v} must be ≥ 0" for k, v in w.items() if v < 0]
    if w["ce"] <= 0:
        problems.append("model.loss_weights.ce must be > 0: the classifier head is trained only by it")
    if w["freq_consistency"] and not (cfg["freq"]["enabled"] and cfg["freq"]["fft"] and cfg["freq"]["dwt"]):
        problems.append(
            "model.loss_weights.freq_consistency > 0 needs freq.enabled, freq.fft and freq.dwt all true"
        )
    if w["boundary"] and not cfg["boundary"]["enabled"]:
        problems.append("model.loss_weights.boundary > 0 needs model.boundary.enabled: true")
    if w["identity"] and num_identities < 2:
        problems.append(
            f"model.loss_weights.identity > 0 needs ≥ 2 training identities, the data gave {num_identities}; "
            "check identity_rule or set model.loss_weights.identity: 0"
        )
    i = cfg["identity"]
    if i["attach"] not in IDENTITY_ATTACH or i["ramp"] not in GRL_RAMPS:
        problems.append(
            f"model.identity: attach '{i['attach']}' (choose {' | '.join(IDENTITY_ATTACH)}), "
            f"ramp '{i['ramp']}' (choose {' | '.join(GRL_RAMPS)})"
        )
    if i["depth"] < 1 or (i["depth"] > 1 and i["hidden"] < 1) or i["lambda_max"] < 0:
        problems.append(
            f"model.identity: depth={i['depth']}, hidden={i['hidden']}, lambda_max={i['lambda_max']}; "
            "need depth ≥ 1, hidden ≥ 1 when depth ≥ 2, lambda_max ≥ 0"
        )
    bad = [f for f in cfg["freq"]["inject_at"] if not 0.0 <= f < 1.0]
    if bad:
        problems.append(f"model.freq.inject_at {bad}: fractions of the depth in [0, 1)")
    s = cfg["slerp"]
    t0, t1 = (list(s["t_range"]) + [None, None])[:2]
    if not 0 <= s["prob"] <= 1 or s["mode"] not in ("extend", "replace") or not (0 <= t0 <= t1 <= 1):
        problems.append(
            f"model.slerp {s}: need 0 ≤ prob ≤ 1, mode extend | replace, t_range [t0, t1] with 0 ≤ t0 ≤ t1 ≤ 1"
        )
    if problems:
        raise ValueError("fbi_clip config:\n  - " + "\n  - ".join(problems))
