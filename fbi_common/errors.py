"""The project's user-facing error type: its message says what went wrong, where, and what to do."""

from __future__ import annotations


class FBIError(Exception):
    """A problem with the user's input or environment (a file, a key, a flag), not a bug in the code.

    Entry scripts print it as one `error: <message>` line and exit with code 2 (see `fbi_common.cli`).
    The message names the file/key/flag it is about and the fix. Subclasses: `ConfigError`,
    `CheckpointError`, `FrameError`, `DataError`, ...
    """


class DataError(FBIError, ValueError):
    """A dataset index, JSON or folder that cannot be used as it is."""


class Stopped(FBIError):
    """The user stopped the run (Ctrl-C / SIGTERM) and its state was saved.

    `run_cli` prints `stopped: <message>` (on rank 0 only under torchrun) and exits with `exit_code`
    (128 + the signal number, the shell's convention).
    """

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
