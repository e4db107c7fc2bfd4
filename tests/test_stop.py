"""A stop request (SIGINT/SIGTERM) is one flag for all DDP ranks: a signal on any rank stops every rank
at the same check, so rank 0 saves a consistent checkpoint and nobody waits in a collective."""

from __future__ import annotations

import os
import signal

import torch.distributed as dist
import torch.multiprocessing as mp

from tests.conftest import free_port
from training.trainer.stop import StopRequest


def _rank(rank: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    seen = []
    with StopRequest() as stop:
        for step in range(6):
            if rank == 1 and step == 3:
                signal.raise_signal(signal.SIGTERM)  # only rank 1 is told to stop
            if stop.requested():
                seen.append((step, stop.name, stop.exit_code))
                break
    out.put((rank, seen))
    dist.destroy_process_group()


def test_a_signal_on_one_rank_stops_every_rank_at_the_same_step():
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = free_port()
    mp.start_processes(_rank, args=(port, out), nprocs=2, start_method="spawn")
    results = dict(out.get(timeout=60) for _ in range(2))
    assert results[0] == results[1] == [(3, "SIGTERM", 128 + signal.SIGTERM)], results


def test_handlers_are_restored_and_a_single_process_needs_no_group():
    before = signal.getsignal(signal.SIGINT)
    with StopRequest() as stop:
        assert not stop.requested()
        signal.raise_signal(signal.SIGINT)  # does not raise KeyboardInterrupt inside the context
        assert stop.requested() and stop.name == "SIGINT" and stop.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before
