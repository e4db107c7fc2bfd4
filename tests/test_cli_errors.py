"""Every command-line tool on bad input: exit code 2, one `error:` line naming the problem and the fix,
and no traceback (unless --debug / FBI_DEBUG=1). All cases run in one interpreter that forks per case
(tests/cli_harness.py), so the suite pays the torch/open_clip import once. --debug and disk faults:
test_fault_errors.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_inputs import DEMO_YAML, bad_files, old_run, resumable_run
from tests.conftest import REPO, tiny_opts

FBI_YAML = "training/config/detector/fbi_clip_demo.yaml"
FBI_TINY = ["model.freq.channels=4", "model.boundary.channels=4", "model.head.embed_dim=16"]


def _cases(tmp: Path, demo: dict) -> dict[str, tuple[list[str], list[str]]]:
    """case id → (argv, substrings the error must contain)."""
    f = bad_files(tmp, demo)
    run = resumable_run(tmp, demo)
    old = old_run(tmp, demo)
    logs = tmp / "logs"

    def train(
        *opts: str, yaml: str = DEMO_YAML, flags: tuple = (), name: str = "r", **extra: object
    ) -> list[str]:
        return ["training/train.py", "--detector_path", yaml, *flags, "--opts",
                *tiny_opts(demo, logs, name, **extra), *opts]  # fmt: skip

    def test(weights: Path, *opts: str, **extra: object) -> list[str]:
        return ["training/test.py", "--detector_path", DEMO_YAML, "--weights_path", str(weights),
                "--out", str(tmp / "out"), "--opts", *tiny_opts(demo, logs, "t", **extra), *opts]  # fmt: skip

    nomask = {"rgb_dir": f["nomask"]}
    return {
        "yaml_missing": (["training/train.py", "--detector_path", "nope.yaml"], ["nope.yaml", "not found"]),
        "yaml_invalid": (["training/train.py", "--detector_path", str(f["bad_yaml"])], ["not valid YAML"]),
        "no_detector_path": (["training/train.py"], ["--detector_path is required"]),
        "unknown_key": (train("train_batchsize=3"), ["did you mean 'train_batchSize'"]),
        "batch_zero": (train("train_batchSize=0"), ["train_batchSize", "≥ 1"]),
        "frame_num_zero": (train("frame_num.test=0"), ["frame_num.test", "≥ 1"]),
        "bad_choice": (train(flags=("--select_on", "best")), ["--select_on", "invalid choice"]),
        "test_dataset_typo": (
            train(test_dataset="[FBI-Demoo]"),
            ["test dataset 'FBI-Demoo'", "did you mean 'FBI-Demo'"],
        ),
        "all_splits_at_once": (
            train(test_dataset="[Nope1]", val_dataset="[Nope2]"),
            ["2 problems", "'Nope1'", "'Nope2'"],
        ),
        "json_folder_missing": (
            train(dataset_json_folder=str(tmp / "nojson"), train_dataset="[Tiny]", test_dataset="[Tiny]"),
            ["nojson", "Tiny"],
        ),
        "log_dir_unwritable": (train("log_dir=/proc/fbi_logs"), ["log_dir", "not writable"]),
        "masks_missing_clip": (train(with_mask="true", **nomask), ["mask missing", "with_mask: false"]),
        "masks_missing_fbi": (
            train(*FBI_TINY, yaml=FBI_YAML, **nomask),
            ["mask missing", "model.loss_weights.boundary > 0"],
        ),
        "run_name_taken": (train(name="taken"), ["already exists", "--resume"]),
        "resume_changed": (
            [
                "training/train.py",
                "--detector_path",
                DEMO_YAML,
                "--resume",
                str(run),
                "--opts",
                *tiny_opts(demo, logs, "resumed", train_batchSize=16),
            ],  # fmt: skip
            ["train_batchSize: 32 in the run, 16 now", "may change"],
        ),
        "resume_not_a_run": (["training/train.py", "--resume", str(f["text"])], ["not in one"]),
        "resume_no_config_yaml": (
            ["training/train.py", "--resume", str(run)],
            ["config.yaml is missing", "restore it", "--detector_path <that yaml>"],
        ),
        "same_bad_json_every_split": (
            train(
                dataset_json_folder=str(f["broken_json"]),
                train_dataset="[Broken]",
                val_dataset="[Broken]",
                test_dataset="[Broken]",
            ),
            ["1 problem found", "train, val and test dataset 'Broken'", "Broken.json"],
        ),
        # a dataset typo stops the tools before the model is built (these checkpoints hold no weights)
        "gradcam_dataset_typo": (
            [
                "analysis/gradcam.py",
                "--weights_path",
                str(run / "ckpt" / "last.pth"),
                "--test_dataset",
                "FBI-Demoo",
            ],
            ["FBI-Demoo", "did you mean 'FBI-Demo'"],
        ),
        "tsne_dataset_typo": (
            ["analysis/tsne.py", "--weights_path", str(run), "--test_dataset", "FBI-Demo", "Nope"],
            ["--test_dataset Nope", "unknown dataset 'Nope'"],
        ),
        # an old run folder's config.yaml (scalar sbi.shift) is read, so the typo is what stops it
        "robustness_old_run_dataset_typo": (
            [
                "training/robustness.py",
                "--detector_path",
                str(old / "config.yaml"),
                "--weights_path",
                str(old / "ckpt" / "last.pth"),
                "--test_dataset",
                "FBI-Demoo",
            ],
            ["FBI-Demoo", "did you mean 'FBI-Demo'"],
        ),
        "weights_file_missing": (train("model.pretrained=/nonexistent/w.bin"), ["/nonexistent/w.bin"]),
        "unknown_arch": (train("model.arch=ViT-Nope"), ["ViT-Nope"]),
        "pretrained_malicious": (
            train(f"model.pretrained={f['reduce']}"),
            ["reduce.pth", "refused for safety"],
        ),
        "test_malicious_reduce": (test(f["reduce"]), ["reduce.pth", "refused for safety"]),
        "zero_steps": (train(accum_steps=1000, name="zero"), ["not one optimiser step", "accum_steps"]),
        "corrupt_frame_in_worker": (
            train(rgb_dir=str(f["corrupt"]), workers=2, nEpochs=1, name="corrupt"),
            ["id098_v0", "could not decode", "bad_frame_policy: drop"],
        ),
        "test_weights_missing": (test(tmp / "nope.pth"), ["checkpoint not found"]),
        "test_truncated": (test(f["truncated"]), ["truncated"]),
        "test_pickle": (test(f["pickle"]), ["contains Python objects", "refused for safety"]),
        "test_not_a_checkpoint": (test(f["text"]), ["not a PyTorch checkpoint"]),
        "test_mismatch": (test(f["mismatch"]), ["does not match the model"]),
        "test_dataset_typo_test_py": (test(f["mismatch"], test_dataset="[FBI-Demoo]"), ["'FBI-Demoo'"]),
        "demo_input_missing": (
            ["training/demo.py", "--weights_path", str(f["pickle"]), "--input", str(tmp / "none")],
            ["does not exist"],
        ),
        "demo_pickle": (
            ["training/demo.py", "--weights_path", str(f["pickle"]), "--input", str(tmp)],
            ["refused for safety"],
        ),  # fmt: skip
        "demo_plain_state_dict": (
            ["training/demo.py", "--weights_path", str(f["mismatch"]), "--input", str(tmp)],
            ["not a checkpoint written by training/train.py"],
        ),
        "metrics_missing_csv": (["-m", "training.metrics", str(tmp / "none.csv")], ["file not found"]),
        "metrics_bad_csv": (["-m", "training.metrics", str(f["csv"])], ["bad.csv", "missing column", "prob"]),
        "plot_roc_missing_csv": (
            ["analysis/plot_roc.py", str(tmp / "none.csv")],
            ["none.csv", "does not exist"],
        ),
        "preprocess_no_root": (
            ["preprocessing/preprocess.py", "--root", str(tmp / "none"), "--workers", "1"],
            ["--root", "none"],
        ),  # fmt: skip
        "preprocess_bad_setting": (["preprocessing/preprocess.py", "--num_frames", "-1"], ["num_frames"]),
        "rearrange_no_data": (
            [
                "preprocessing/rearrange.py",
                "--dataset",
                "custom",
                "--root",
                str(tmp / "none"),
                "--rgb_dir",
                str(tmp),
            ],  # fmt: skip
            ["does not exist"],
        ),
        "dataset2lmdb_no_data": (
            ["preprocessing/dataset2lmdb.py", "--dataset", "Nope", "--rgb_dir", str(tmp)],
            ["does not exist"],
        ),
        "make_demo_data_bad_size": (["training/make_demo_data.py", "--size", "0"], ["size"]),
        "bench_fbi_step_bad_reps": (["benchmarks/bench_fbi_step.py", "--reps-tiny", "0"], ["integer ≥ 1"]),
        "bench_demo_bad_yaml": (
            ["benchmarks/bench_demo.py", "--detector_path", "nope.yaml", "--reuse-data"],
            ["nope.yaml", "not found"],
        ),  # fmt: skip
    }


@pytest.fixture(scope="module")
def results(demo_data, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("cli")
    cases = _cases(tmp, demo_data)
    spec = [
        {"id": k, "argv": argv, "cwd": str(tmp), "env": {"OMP_NUM_THREADS": "1", "FBI_DEBUG": ""}}
        for k, (argv, _) in cases.items()
    ]
    (tmp / "cases.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, str(REPO / "tests" / "cli_harness.py"), str(tmp / "cases.json"),
                    str(tmp / "results.json")], check=True, timeout=1500, cwd=tmp)  # fmt: skip
    out = json.loads((tmp / "results.json").read_text())
    return {k: {**out[k], "expect": cases[k][1], "tmp": tmp} for k in cases}


def _ids() -> list[str]:
    # The ids without building the files: parse them from the source of _cases.
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(_cases))
    ret = next(n for n in ast.walk(tree) if isinstance(n, ast.Return))
    return [k.value for k in ret.value.keys]


@pytest.mark.parametrize("case", _ids())
def test_bad_input_gives_one_error_line(results, case):
    r = results[case]
    text = r["stdout"] + r["stderr"]
    assert r["code"] == 2, f"{case}: exit {r['code']}\n{text[-3000:]}"
    assert "Traceback" not in text, f"{case}: traceback shown\n{text[-3000:]}"
    lines = [ln for ln in r["stderr"].splitlines() if ln.startswith("error:") or ": error:" in ln]
    assert len(lines) == 1, f"{case}: expected one error line\n{r['stderr'][-3000:]}"
    message = r["stderr"][r["stderr"].index(lines[0]) :]
    for want in r["expect"]:
        assert want.lower() in message.lower(), f"{case}: {want!r} missing from\n{message[-3000:]}"
    assert "(unexpected;" not in message, f"{case}: reported as a bug\n{message}"


def test_errors_come_before_any_work(results):
    """A misspelt test set (or any pre-flight problem) stops before the model is built and leaves no
    run folder; a run name already used is refused without touching the old folder."""
    for case in (
        "test_dataset_typo",
        "all_splits_at_once",
        "masks_missing_clip",
        "log_dir_unwritable",
        "gradcam_dataset_typo",
        "tsne_dataset_typo",
        "robustness_old_run_dataset_typo",
    ):
        err = results[case]["stderr"]
        assert "fbi.build: detector" not in err and "run folder:" not in err, case
    logs = results["test_dataset_typo"]["tmp"] / "logs"
    assert not (logs / "r").exists(), "a failed pre-flight left a stub run folder"
    assert not (logs / "zero").exists(), "a start that failed while building left a stub run folder"
    assert (logs / "taken" / "log.txt").read_text() == "an earlier run\n"


def test_a_malicious_pickle_never_runs(results):
    assert not (results["test_malicious_reduce"]["tmp"] / "PWNED").exists(), "the pickle's payload ran"


def test_worker_error_is_the_original_message(results):
    err = results["corrupt_frame_in_worker"]["stderr"]
    assert "DataLoader worker" not in err and "Caught" not in err, err[-2000:]
    # the failed start (training had begun) left a FAILED note, not a silent half-run
    run = results["corrupt_frame_in_worker"]["tmp"] / "logs" / "corrupt"
    assert (run / "FAILED").is_file() and "id098_v0" in (run / "FAILED").read_text()
