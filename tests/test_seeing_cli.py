"""The analysis commands end to end on a tiny trained FBI-CLIP run: each writes its PNG and numbers (from another
cwd, printing absolute paths); bad inputs give one `error:` line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fbi_common.cli import run_cli
from tests.conftest import REPO, tiny_opts

PNG = b"\x89PNG\r\n\x1a\n"
FBI_TINY = ["model.freq.channels=4", "model.boundary.channels=4", "model.head.embed_dim=16"]


def _tool(name: str, *args: str, cwd: Path) -> list[Path]:
    p = subprocess.run([sys.executable, str(REPO / "analysis" / f"{name}.py"), *map(str, args)], cwd=cwd,
                       capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert p.returncode == 0, f"{name}: {p.stderr[-4000:]}"
    written = [
        Path(line.removeprefix("wrote ")) for line in p.stdout.splitlines() if line.startswith("wrote ")
    ]
    assert written and all(f.is_absolute() and f.is_file() for f in written), p.stdout
    for f in written:
        if f.suffix == ".png":
            assert f.read_bytes()[:8] == PNG and f.stat().st_size > 5_000, f
    return written


@pytest.fixture(scope="module")
def fbi_run(demo_data, tmp_path_factory) -> Path:
    """A 2-step FBI-CLIP run (masks, frequency gates, boundary map, identity head) with test predictions."""
    log_dir = tmp_path_factory.mktemp("seeing")
    args = ["training/train.py", "--detector_path", "training/config/detector/fbi_clip_demo.yaml", "--opts",
            *FBI_TINY, *tiny_opts(demo_data, log_dir, "fbi", max_steps=2)]  # fmt: skip
    p = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert p.returncode == 0, p.stderr[-4000:]
    return log_dir / "fbi"


def test_model_tools_write_figures_and_numbers(fbi_run, tmp_path):
    files = _tool(
        "tsne",
        "--weights_path",
        fbi_run,
        "--test_dataset",
        "FBI-Demo",
        "--n",
        "40",
        "--out",
        tmp_path / "t",
        cwd=tmp_path,
    )
    assert {f.name for f in files} >= {"tsne_by_label.png", "tsne_by_manipulation.png", "tsne_by_dataset.png"}
    assert all(f.parent == tmp_path / "t" for f in files)
    sep = json.loads((tmp_path / "t" / "separability.json").read_text())
    assert sep["n_frames"] == 40 and 0.0 <= sep["views"]["label"]["probe_auc"] <= 1.0
    files = _tool("gradcam", "--weights_path", fbi_run / "ckpt" / "last.pth", "--test_dataset", "FBI-Demo", "--n", "4",
                  cwd=tmp_path)  # fmt: skip
    assert files[0] == fbi_run / "analysis" / "gradcam" / "gradcam.png"  # default: inside the run folder
    summary = json.loads((fbi_run / "analysis" / "gradcam" / "gradcam.json").read_text())
    assert summary["n_frames"] == 4 and 0.0 <= summary["fake_cam_share_in_mask"] <= 1.0
    files = _tool(
        "fbi_maps", "--weights_path", fbi_run, "--test_dataset", "FBI-Demo", "--n", "2", cwd=tmp_path
    )
    assert {f.name for f in files} >= {"boundary_map.png", "freq_gates.png", "boundary_stats.json"}
    stats = json.loads((fbi_run / "analysis" / "fbi_maps" / "boundary_stats.json").read_text())
    assert 0.0 <= stats["band_auc"] <= 1.0 and stats["n_frames"] == 120
    gates = (fbi_run / "analysis" / "fbi_maps" / "freq_gates.csv").read_text()
    assert "tensorboard" in gates and "best.pth" in gates


def test_run_tools_write_figures_and_numbers(fbi_run, demo_data, tmp_path):
    data = [f"rgb_dir={demo_data['rgb_dir']}", f"dataset_json_folder={demo_data['json_folder']}"]
    files = _tool(
        "spectrum",
        "--dataset",
        "FBI-Demo",
        "--n",
        "20",
        "--out",
        tmp_path / "s",
        "--opts",
        *data,
        cwd=tmp_path,
    )
    meta = json.loads((tmp_path / "s" / "spectrum.json").read_text())
    assert meta["n_frames"] == {"real": 20, "fake": 20} and meta["size"] == [32, 32] and len(files) == 4
    files = _tool("calibration", fbi_run, cwd=tmp_path)
    cal = json.loads((fbi_run / "analysis" / "calibration" / "calibration.json").read_text())
    assert 0.0 <= cal["FBI-Demo"]["ece"] <= 1.0 and cal["FBI-Demo"]["n"] == 120
    assert cal["FBI-Demo"]["threshold_val"] is not None  # transferred from validation via metrics.json
    assert {f.name for f in files} >= {"calibration_FBI-Demo.png", "roc_pr.png", "reliability_FBI-Demo.csv"}
    files = _tool("curves", fbi_run, "--out", tmp_path / "c", cwd=tmp_path)
    tags = (tmp_path / "c" / "scalars.csv").read_text()
    assert "train/grl_lambda" in tags and "train/freq_gate_b0" in tags and "val/frame_auc" in tags
    files = _tool("plot_roc", fbi_run, "--out", tmp_path / "roc.png", cwd=tmp_path)
    assert [f.name for f in files] == ["roc.png", "roc.csv"]


def _fails(main, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as e:
        run_cli(main, argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert e.value.code == 2 and len(errors) == 1 and "Traceback" not in err, err
    return err[err.index(errors[0]) :]


def test_bad_inputs_give_one_error_line(fbi_run, tmp_path, capsys):
    from analysis import calibration, curves, fbi_maps, gradcam, plot_roc, spectrum, tsne

    missing = str(tmp_path / "nope.pth")
    assert "does not exist" in _fails(
        tsne.main, ["--weights_path", missing, "--test_dataset", "FBI-Demo"], capsys
    )
    assert "NoSuchSet" in _fails(
        gradcam.main, ["--weights_path", str(fbi_run), "--test_dataset", "NoSuchSet"], capsys
    )
    assert "--n 0" in _fails(fbi_maps.main, ["--weights_path", str(fbi_run), "--test_dataset", "FBI-Demo", "--n", "0"],
                             capsys)  # fmt: skip
    assert "NoSuchSet" in _fails(spectrum.main, ["--dataset", "NoSuchSet"], capsys)
    assert "predictions.csv" in _fails(calibration.main, [str(tmp_path)], capsys)
    assert "run folder" in _fails(curves.main, [str(tmp_path)], capsys)
    assert "predictions.csv" in _fails(plot_roc.main, [str(tmp_path / "none.csv")], capsys)
