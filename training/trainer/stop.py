"""Ctrl-C / SIGTERM as a clean stop: the signal only sets a flag; the loop checks it between steps.

Under DDP every rank checks the flag at the same points and the flags are all-reduced (max), so all
ranks stop after the same optimiser step and rank 0 saves a consistent `last.pth`.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import torch
import torch.distributed as dist

from fbi_common.logging import get_logger

log = get_logger("stop")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Context manager installing SIGINT/SIGTERM handlers that record the signal instead of raising.

    Repeated signals (a launcher such as torchrun forwards the terminal's Ctrl-C a second time) are
    absorbed: the run stops at the next step boundary either way. Outside the main thread (where
    handlers cannot be installed) it does nothing.
    """

    def __init__(self, device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            log.warning(
                "%s received: stopping after the current step (the state is saved to ckpt/last.pth)",
                signal.Signals(signum).name,
            )

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()

    def requested(self) -> bool:
        """True on every rank when any rank got a signal (a collective call under DDP)."""
        local = 0 if self.signum is None else int(self.signum)
        if dist.is_available() and dist.is_initialized():
            flag = torch.tensor([local], dtype=torch.int64, device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            local = int(flag.item())
        if local and self.signum is None:
            self.signum = local
        return bool(local)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + int(self.signum or signal.SIGINT)
