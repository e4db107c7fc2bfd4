"""analysis/complexity.py: parameter counts per module, FLOPs of a known layer, speed columns, errors."""

from __future__ import annotations

import csv

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tests.conftest import TINY_VIT


def _main(args: list[str], capsys) -> tuple[int, str, str]:
    from analysis.complexity import main
    from fbi_common.cli import run_cli

    with pytest.raises(SystemExit) as exc:
        run_cli(main, args)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


def test_flop_counter_counts_two_flops_per_multiply_add() -> None:
    lin = torch.nn.Linear(10, 7)
    with FlopCounterMode(display=False) as c:
        lin(torch.zeros(3, 10))
    assert c.get_total_flops() == 2 * 3 * 10 * 7


def test_table_for_tiny_detectors(tmp_path, capsys) -> None:
    args = ["--detector_path", "clip_demo.yaml", "fbi_clip_demo.yaml", "--batch", "2", "--iters", "1", "--warmup", "0",
            "--num_identities", "5", "--threads", "1", "--out", str(tmp_path), "--opts", TINY_VIT]  # fmt: skip
    code, out, err = _main(args, capsys)
    assert code == 0, err
    with open(tmp_path / "complexity.csv", newline="") as f:
        rows = {r["detector"]: r for r in csv.DictReader(f)}
    clip, fbi = rows["clip_demo"], rows["fbi_clip_demo"]
    assert int(fbi["params"]) > int(clip["params"]) > 0 and float(fbi["gflops"]) > 0
    assert float(clip["train_img_per_s"]) > 0 and float(clip["infer_img_per_s"]) > 0
    modules = dict(m.split(":", 1) for m in fbi["modules"].split(";"))
    assert {"backbone", "freq", "boundary", "identity", "head"} <= set(modules)
    assert sum(int(v.split(":")[0]) for v in modules.values()) == int(fbi["params"])
    assert "| fbi_clip_demo | fbi_clip | 32 |" in out and (tmp_path / "complexity.tex").is_file()


def test_unknown_yaml_exit_2(capsys) -> None:
    code, _, err = _main(["--detector_path", "no_such_detector.yaml"], capsys)
    assert code == 2 and err.startswith("error: ") and "available" in err


def test_every_rival_demo_config_is_measured(tmp_path, capsys) -> None:
    """The cost step of `reproduce.py --recipe demo --rivals`: each rival's train step runs on the synthetic
    batch (CADDM's multi-scale facial swap reads the video keys of real/fake pairs)."""
    from analysis.pipeline.recipes import rival_models

    yamls = [m.yaml for m in rival_models("_demo")]
    assert {"caddm_demo.yaml", "effort_demo.yaml"} <= set(yamls)
    args = ["--detector_path", *yamls, "--batch", "2", "--iters", "1", "--warmup", "0", "--threads", "1",
            "--out", str(tmp_path)]  # fmt: skip
    code, _, err = _main(args, capsys)
    assert code == 0, err
    with open(tmp_path / "complexity.csv", newline="") as f:
        rows = {r["detector"]: r for r in csv.DictReader(f)}
    assert set(rows) == {y.removesuffix(".yaml") for y in yamls}
    assert all(float(r["train_img_per_s"]) > 0 for r in rows.values())
