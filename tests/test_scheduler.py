"""LR schedules: warm-up then cosine/step, stepped per optimiser step, and the LR really changes."""

from __future__ import annotations

import math

import pytest
import torch

from training.trainer.scheduler import build_scheduler, load_scheduler_state, lr_factor


def _cfg(**kw):
    base = {"lr_scheduler": "cosine", "warmup_epochs": 1.0, "lr_eta_min": 0.0, "lr_step": 2, "lr_gamma": 0.5}
    return {**base, **kw}


def _lrs(cfg, steps_per_epoch, total):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = build_scheduler(opt, cfg, steps_per_epoch, total)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_warmup_then_cosine():
    lrs = _lrs(_cfg(), steps_per_epoch=10, total=50)
    assert lrs[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    # after warm-up: cosine from 1 to 0 over the remaining 40 steps
    for s in range(10, 50):
        assert lrs[s] == pytest.approx(0.5 * (1 + math.cos(math.pi * (s - 10) / 40)))
    assert lrs[-1] < 0.01


def test_step_schedule_decays_every_lr_step_epochs():
    lrs = _lrs(_cfg(lr_scheduler="step", warmup_epochs=0.0), steps_per_epoch=5, total=30)
    assert lrs[0] == 1.0 and lrs[9] == 1.0
    assert lrs[10] == pytest.approx(0.5) and lrs[20] == pytest.approx(0.25)


def test_constant_and_floor():
    assert _lrs(_cfg(lr_scheduler=None, warmup_epochs=0.0), 4, 8) == [1.0] * 8
    f = lr_factor(100, kind="cosine", total=100, warmup=0, eta_min=0.1, step_size=1, gamma=1.0)
    assert f == pytest.approx(0.1)


def test_scheduler_state_round_trips():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = build_scheduler(opt, _cfg(), 10, 50)
    for _ in range(17):
        opt.step()
        s.step()
    state = s.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s2 = build_scheduler(opt2, _cfg(), 10, 50)
    s2.load_state_dict(state)
    assert s2.get_last_lr() == pytest.approx(s.get_last_lr())


def test_resume_with_a_longer_run_stretches_the_schedule():
    cfg = _cfg(warmup_epochs=0.0)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = build_scheduler(opt, cfg, 10, 20)
    for _ in range(20):  # the first run ends at the cosine floor
        opt.step()
        s.step()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s2 = build_scheduler(opt2, cfg, 10, 40)  # resumed with twice the epochs
    load_scheduler_state(s2, s.state_dict())
    assert s2.last_epoch == 20
    opt2.step()
    s2.step()  # step 21 of the new 40-step cosine (the old 20-step one would give its floor, 0)
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + math.cos(math.pi * 21 / 40)))
