"""Checkpoints: atomic round-trip, weights_only loading, DDP/compile prefixes, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from training.trainer.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model_weights,
    model_state_from,
    save_checkpoint,
    strip_prefixes,
)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))


def test_round_trip_self_describing(tmp_path):
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net(torch.randn(2, 4)).sum().backward()
    opt.step()
    state = {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "step": 42,
        "best_metric": 0.91,
        "config": {"model_name": "x", "frame_num": {"train": 8}},
        "label_dict": {"FF-real": 0, "FF-DF": 1},
        "identity_map": {"000": 0},
    }
    path = save_checkpoint(tmp_path / "ckpt" / "last.pth", state)
    assert not list(path.parent.glob("*.tmp")), "temporary file left behind"
    loaded = load_checkpoint(path)  # weights_only=True inside
    assert loaded["format"].startswith("fbi-clip-checkpoint")
    assert loaded["epoch"] == 3 and loaded["config"]["frame_num"]["train"] == 8
    other = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    load_model_weights(other, loaded)
    x = torch.randn(5, 4)
    assert torch.equal(other(x), net(x))
    opt2 = torch.optim.AdamW(other.parameters(), lr=1e-3)
    opt2.load_state_dict(loaded["optimizer"])
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod.", "_orig_mod.module."])
def test_prefixed_and_plain_state_dicts_load(tmp_path, prefix):
    net = _net()
    sd = {prefix + k: v for k, v in net.state_dict().items()}
    torch.save(sd, tmp_path / "plain.pth")
    other = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    load_model_weights(other, load_checkpoint(tmp_path / "plain.pth"))
    for (k, a), b in zip(net.state_dict().items(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert set(strip_prefixes(sd)) == set(net.state_dict())


def test_state_dict_wrapper_key(tmp_path):
    net = _net()
    torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, tmp_path / "w.pth")
    assert set(model_state_from(load_checkpoint(tmp_path / "w.pth"))) == set(net.state_dict())


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "c.pth", {"model": _net().state_dict()})
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pth.*truncated"):
        load_checkpoint(tmp_path / "cut.pth")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pth")


class _Evil:
    """A non-tensor object: weights_only=True must refuse to unpickle it."""


def test_arbitrary_pickles_are_refused(tmp_path):
    torch.save({"model": _Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pth")


def test_mismatched_architecture_names_keys(tmp_path):
    torch.save(_net().state_dict(), tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_model_weights(nn.Sequential(nn.Linear(4, 3)), load_checkpoint(tmp_path / "w.pth"))


def test_unsafe_pickle_says_so_and_truncation_says_truncated(tmp_path):
    torch.save({"model": _Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="contains Python objects.*refused for safety") as e:
        load_checkpoint(tmp_path / "evil.pth")
    assert "truncated" not in str(e.value)
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(tmp_path / "empty.pth")


def test_failed_write_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    from fbi_common.io import WriteError

    path = save_checkpoint(tmp_path / "ckpt" / "last.pth", {"epoch": 1})

    def disk_full(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(WriteError, match=r"last\.pth.*No space left on device"):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1, "the previous checkpoint was damaged"
    assert not list(path.parent.glob(".*.tmp")), "the temp file of the failed write was left behind"


def test_stale_temp_files_of_an_interrupted_write_are_removed(tmp_path):
    from training.trainer.checkpoint import clean_checkpoint_folder

    save_checkpoint(tmp_path / "last.pth", {"epoch": 1})
    stale = tmp_path / ".last.pth.abc123.tmp"  # what a kill -9 during torch.save leaves
    stale.write_bytes(b"half a checkpoint")
    nested = tmp_path / "val" / "epoch_001" / ".predictions.csv.x1.tmp"  # a killed predictions write
    nested.parent.mkdir(parents=True)
    nested.write_text("video_key,fr")
    clean_checkpoint_folder(tmp_path)
    assert not stale.exists() and not nested.exists() and (tmp_path / "last.pth").is_file()


def test_shape_mismatch_is_a_checkpoint_error(tmp_path):
    torch.save(
        nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5), nn.Linear(5, 2)).state_dict(), tmp_path / "w.pth"
    )
    with pytest.raises(CheckpointError, match="does not fit the model"):
        load_model_weights(_net(), load_checkpoint(tmp_path / "w.pth"))


def test_atomic_writes_get_ordinary_file_permissions(tmp_path):
    """Reports, tables and checkpoints are readable like any file the user writes (not mkstemp's 0600)."""
    import os

    from fbi_common.io import atomic_write_text

    old = os.umask(0o022)
    try:
        new = atomic_write_text(tmp_path / "report.md", "# report\n")
        assert new.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.txt"
        kept.write_text("x")
        kept.chmod(0o600)
        atomic_write_text(kept, "y")
        assert kept.stat().st_mode & 0o777 == 0o600 and kept.read_text() == "y"
    finally:
        os.umask(old)
