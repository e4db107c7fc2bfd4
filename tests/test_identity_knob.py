"""The identity head as an experimental knob: attach point (cls | z | both), λ ramp, classifier depth."""

from __future__ import annotations

import pytest
import torch

from tests.test_fbi_clip import batch, tiny
from training.config import load_config
from training.config.choices import GRL_RAMPS, IDENTITY_ATTACH
from training.config.schema import ConfigError
from training.loss.fbi_losses import identity_ce
from training.modules.grl import GradientReversal, ramp_lambda
from training.modules.heads import IdentityHead

DEMO = "training/config/detector/fbi_clip_demo.yaml"


def test_every_ramp_choice_has_its_shape() -> None:
    at = {r: [ramp_lambda(p, 0.4, r) for p in (0.0, 0.5, 1.0)] for r in GRL_RAMPS}
    assert at["constant"] == [0.4, 0.4, 0.4] and at["linear"] == pytest.approx([0.0, 0.2, 0.4])
    assert at["dann"][0] == 0.0 and 0.39 < at["dann"][1] < at["dann"][2] < 0.4
    with pytest.raises(ValueError, match="dann"):
        GradientReversal(0.4, ramp="cosine")


def test_depth_builds_that_many_layers() -> None:
    linear = [m for m in IdentityHead(6, 5, hidden=7, depth=3).modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(6, 7), (7, 7), (7, 5)]
    assert isinstance(IdentityHead(6, 5, hidden=7, depth=1).classifier, torch.nn.Linear)
    with pytest.raises(ValueError, match="hidden"):
        IdentityHead(6, 5, hidden=0, depth=2)


@pytest.mark.parametrize("attach", IDENTITY_ATTACH)
def test_attach_point_decides_which_features_the_reversed_gradient_reaches(attach: str) -> None:
    det = tiny(identity={"attach": attach, "ramp": "constant", "lambda_max": 1.0})
    b = batch()
    ids = torch.as_tensor(b["identity"])

    def grad_of_identity_loss(lambd: float) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        det.zero_grad()
        for head in det.identity_heads().values():
            head.grl.lambd = lambd
        pred = det(b)
        sum(identity_ce(pred[k], ids) for k in pred if k.startswith("identity_logits")).backward()
        proj = det.proj.weight.grad
        ln = det.backbone.visual.ln_post.weight.grad  # after the CLS token: only a cls head reaches it
        return (None if proj is None else proj.clone()), (None if ln is None else ln.clone())

    rev_proj, rev_ln = grad_of_identity_loss(1.0)
    plain_proj, plain_ln = grad_of_identity_loss(-1.0)  # λ = −1: the plain (non-reversed) gradient
    assert set(det.identity_heads()) == ({"cls", "z"} if attach == "both" else {attach})
    # z = proj(...): only a z head sends identity gradient through the projection
    assert (rev_proj is not None and rev_proj.abs().sum() > 0) == (attach in ("z", "both"))
    assert rev_ln is not None and rev_ln.abs().sum() > 0  # every attach point reaches the backbone
    if attach != "both":  # one head: the reversed gradient is exactly minus the plain one
        for rev, plain in ((rev_proj, plain_proj), (rev_ln, plain_ln)):
            if rev is not None:
                assert torch.allclose(rev, -plain, atol=1e-6)


def test_yaml_choices_are_schema_checked() -> None:
    cfg = load_config(DEMO, opts=["model.identity.attach=both", "model.identity.ramp=linear"])
    assert cfg["model"]["identity"]["attach"] == "both"
    with pytest.raises(ConfigError, match=r"model\.identity\.attach.*cls \| z \| both"):
        load_config(DEMO, opts=["model.identity.attach=token"])
    with pytest.raises(ConfigError, match=r"model\.identity\.ramp"):
        load_config(DEMO, opts=["model.identity.ramp=step"])


@pytest.mark.parametrize("variant", ["identity_z", "identity_both", "identity_strong", "identity_deep"])
def test_shipped_identity_variants_differ_from_the_demo_only_in_the_identity_head(variant: str) -> None:
    base = load_config(DEMO)
    cfg = load_config(f"training/config/detector/fbi_clip_demo_{variant}.yaml")
    diff = {k for k in cfg if cfg[k] != base[k]}
    assert diff == {"model"}
    m, mb = cfg["model"], base["model"]
    assert {k for k in m if m[k] != mb[k]} <= {"identity", "loss_weights"}
    assert m["identity"] != mb["identity"]
