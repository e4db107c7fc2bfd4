"""The console scripts `pip install -e .` puts on PATH (`fbi-train`, `fbi-metrics`, ...; see pyproject.toml).

Each runs the same `main(argv) -> int` as the script file (`python training/train.py ...`) through
`run_cli`, so errors, exit codes and `--debug` behave identically. The CLI module is imported only when
its command runs: `fbi_common` itself depends on neither `training` nor `preprocessing`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from fbi_common.cli import run_cli


def script(module: str) -> Callable[[], None]:
    """A console-script entry point that runs `module.main` through `run_cli`."""

    def run() -> None:
        run_cli(import_module(module).main)

    run.__doc__ = f"Run `{module}.main` with the command-line arguments."
    return run


train = script("training.train")
test = script("training.test")
demo = script("training.demo")
app = script("training.app")
make_demo_data = script("training.make_demo_data")
metrics = script("training.metrics.__main__")
preprocess = script("preprocessing.preprocess")
rearrange = script("preprocessing.rearrange")
dataset2lmdb = script("preprocessing.dataset2lmdb")
doctor = script("preprocessing.doctor")
plot_roc = script("analysis.plot_roc")
tsne = script("analysis.tsne")
gradcam = script("analysis.gradcam")
fbi_maps = script("analysis.fbi_maps")
spectrum = script("analysis.spectrum")
calibration = script("analysis.calibration")
curves = script("analysis.curves")
robustness = script("training.robustness")
results_table = script("analysis.results_table")
ablation = script("analysis.ablation")
complexity = script("analysis.complexity")
reproduce = script("analysis.reproduce")
identity_probe = script("analysis.identity_probe")
