"""analysis/ablation.py: plans, trains, skips finished runs, exports commands / SLURM, builds the Δ table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import TINY_VIT, tiny_opts

TINY_FBI = ["model.freq.channels=4", "model.boundary.channels=4", "model.head.embed_dim=16"]


def _main(args: list[str], capsys) -> tuple[int, str, str]:
    from analysis.ablation import main
    from fbi_common.cli import run_cli

    with pytest.raises(SystemExit) as exc:
        run_cli(main, args)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


def _args(demo_data, tmp_path: Path, *extra: str) -> list[str]:
    opts = [
        o
        for o in tiny_opts(demo_data, tmp_path, "unused", max_steps=2)
        if not o.startswith(("log_dir", "run_name"))
    ]
    return ["--base", "fbi_clip_demo.yaml", "--variants", "no_freq", "--seeds", "1", "--test_dataset", "FBI-Demo",
            "--out", str(tmp_path / "abl"), "--n_boot", "20", *extra, "--opts", *opts, *TINY_FBI]  # fmt: skip


@pytest.mark.slow
def test_print_commands_and_slurm_then_run_skip_and_table(demo_data, tmp_path, capsys) -> None:
    code, out, err = _main(_args(demo_data, tmp_path, "--print-commands"), capsys)
    assert code == 0, err
    lines = [line for line in out.splitlines() if "training/train.py" in line]
    assert len(lines) == 2 and "fbi_clip_demo_no_freq.yaml" in lines[1] and "run_name=full_s1" in lines[0]
    assert TINY_VIT.split("=")[0] in out and "results_table.py" in out

    script = tmp_path / "array.sh"
    code, out, err = _main(_args(demo_data, tmp_path, "--slurm", str(script)), capsys)
    assert code == 0 and "#SBATCH --array=0-1" in script.read_text() and f"wrote {script}" in out

    code, out, err = _main(_args(demo_data, tmp_path), capsys)
    assert code == 0, err
    root = tmp_path / "abl" / "fbi_clip_demo"
    pred = root / "no_freq_s1" / "test" / "FBI-Demo" / "predictions.csv"
    assert (
        pred.is_file()
        and (root / "ablation.md").is_file()
        and (root / "ablation_video_auc_paired.tex").is_file()
    )
    with open(root / "ablation.csv", newline="") as f:
        rows = {(r["metric"], r["detector"], r["test_set"]): r for r in csv.DictReader(f)}
    full, no_freq = (
        rows[("video_auc", "fbi_clip_demo (full)", "FBI-Demo")],
        rows[("video_auc", "no_freq", "FBI-Demo")],
    )
    assert float(no_freq["delta"]) == pytest.approx(float(no_freq["mean"]) - float(full["mean"]), abs=1e-12)
    assert no_freq["reference"] == "fbi_clip_demo (full)" and no_freq["p_delong"] != ""
    ident = (root / "ablation_identity.md").read_text()  # identity-probe accuracy next to AUC, per variant
    assert "id acc z (unseen)" in ident and "| no_freq |" in ident and "| fbi_clip_demo (full) |" in ident
    with open(root / "ablation_identity_probe.csv", newline="") as f:
        assert {r["checkpoint"] for r in csv.DictReader(f)} == {"fbi_clip_demo (full)", "no_freq"}

    mtime = pred.stat().st_mtime_ns
    code, out, err = _main(_args(demo_data, tmp_path, "--print-commands"), capsys)
    assert code == 0 and "# every run is finished" in out
    code, out, err = _main(_args(demo_data, tmp_path), capsys)  # resumable: nothing is retrained
    assert code == 0 and pred.stat().st_mtime_ns == mtime


def test_unknown_variant_is_one_error_line(demo_data, tmp_path, capsys) -> None:
    args = _args(demo_data, tmp_path, "--print-commands")
    args[args.index("no_freq")] = "no_such_part"
    code, _, err = _main(args, capsys)
    assert code == 2 and err.startswith("error: ") and "no_boundary" in err and "Traceback" not in err
