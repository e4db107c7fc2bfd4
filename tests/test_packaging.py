"""pyproject.toml declares an installable package: console scripts that run the CLIs, pins that are used."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib

import pytest

import fbi_common.console as console
from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SCRIPTS = PYPROJECT["project"]["scripts"]


def _pins(name: str) -> dict[str, str]:
    """Distribution name → the line's comment, for every pin in a requirements file."""
    pins = {}
    for line in (REPO / name).read_text(encoding="utf-8").splitlines():
        req, _, comment = line.partition("#")
        if req.strip():
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.]+", req.strip()), f"{name}: not an exact pin: {line}"
            pins[req.split("==")[0].strip()] = comment.strip()
    return pins


def _top_level_modules(dist: str) -> set[str]:
    """The importable top-level names a distribution installs (from its RECORD)."""
    files = importlib.metadata.distribution(dist).files or []
    tops = {f.parts[0].split(".")[0] for f in files if len(f.parts) > 1 or f.suffix in (".py", ".so")}
    return {t for t in tops if t.isidentifier() and not t.startswith("__")}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_console_script_runs_its_cli(name, monkeypatch, capsys):
    module, _, attr = SCRIPTS[name].partition(":")
    assert module == "fbi_common.console"
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exc:
        getattr(console, attr)()
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_console_script_errors_go_through_run_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["fbi-train", "--detector_path", str(tmp_path / "nope.yaml")])
    with pytest.raises(SystemExit) as exc:
        console.train()
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: ") and "nope.yaml" in err and "Traceback" not in err


def test_every_runtime_pin_is_used():
    """A pin nothing imports (or names, e.g. via torch.utils.tensorboard) must say why in its comment."""
    code = "\n".join(p.read_text(encoding="utf-8") for d in ("training", "preprocessing", "fbi_common",
                     "analysis", "benchmarks") for p in (REPO / d).rglob("*.py"))  # fmt: skip
    unused = []
    for dist, comment in _pins("requirements.txt").items():
        names = _top_level_modules(dist)
        assert names, f"requirements.txt pins {dist}, which installs no module; run sh install.sh"
        used = any(re.search(rf"\b{re.escape(m)}\b", code) for m in names)
        if not used and not comment.startswith("not imported"):
            unused.append(dist)
    assert not unused, f"pinned but never imported (drop them, or comment '# not imported: why'): {unused}"


def test_dependencies_come_from_the_requirements_files():
    project = PYPROJECT["project"]
    assert "dependencies" not in project  # dynamic: read from the files below
    assert {"dependencies", "optional-dependencies"} <= set(project["dynamic"])
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"]["file"] == ["requirements.txt"]
    assert dynamic["optional-dependencies"]["dev"]["file"] == ["requirements-dev.txt"]
    assert not set(_pins("requirements.txt")) & set(_pins("requirements-dev.txt"))


def _run_elsewhere(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_metrics_module_runs_from_any_directory(tmp_path):
    where = _run_elsewhere(["-c", "import training; print(training.__file__)"], tmp_path).stdout.strip()
    if not where.startswith(str(REPO)):
        pytest.skip(f"this checkout is not the pip-installed one ({where or 'none'}); run sh install.sh")
    (tmp_path / "predictions.csv").write_text(
        "video_key,frame,label,prob\na,a/0.png,0,0.2\nb,b/0.png,1,0.9\n"
    )
    p = _run_elsewhere(["-m", "training.metrics", "predictions.csv"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "frame" in p.stdout
