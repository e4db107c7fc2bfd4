"""How every entry script ends: one `error: ...` line and exit code 2 instead of a traceback.

    if __name__ == "__main__":
        run_cli(main)          # main(argv) -> int

`--debug` anywhere on the command line (removed before `main` sees it) or `FBI_DEBUG=1` in the
environment shows the full traceback instead. Errors raised inside DataLoader worker processes reach
the user as their original message, not PyTorch's "Caught X in DataLoader worker process 0" wrapper.
Ctrl-C that nothing handled prints `interrupted` and exits with 130; a run that handled it (the
trainer saves its state first) raises `Stopped`, printed as `stopped: <message>` with its exit code.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable

from fbi_common.errors import FBIError, Stopped

DEBUG_FLAG = "--debug"
DEBUG_ENV = "FBI_DEBUG"
EXIT_USAGE = 2
_WORKER_MARK = "Original Traceback (most recent call last):"
# A missing file, a folder where a file was expected, no permission: the user's environment, not a bug.
USER_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
# Disk full, quota, read-only file system: also the environment (the message names the file and the fix).
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def positive_int(text: str) -> int:
    """argparse `type=` for counts that must be ≥ 1 (repeats, frames, batch sizes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {value}")
    return value


def debug_requested(argv: list[str] | None = None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0", "false", "no")


def error_message(exc: BaseException) -> str:
    """The one line a user sees for `exc`: its own message, unwrapped from DataLoader workers."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if _WORKER_MARK in text:  # torch re-raises worker errors as "Caught X in ...\nOriginal Traceback ..."
        tail = [line for line in text.split(_WORKER_MARK, 1)[1].splitlines() if line.strip()]
        last = tail[-1].strip() if tail else text
        name, sep, rest = last.partition(": ")
        text = rest if sep and name.replace(".", "").replace("_", "").isalnum() else last
    if isinstance(exc, OSError) and not isinstance(exc, FBIError) and exc.errno in _USER_ERRNOS:
        return _os_error_text(exc)
    if isinstance(exc, (FBIError, *USER_OS_ERRORS)) or _is_wrapped_fbi(exc):
        return text.strip() or type(exc).__name__  # may list several problems, one per line
    text = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return f"{type(exc).__name__}: {text} (unexpected; rerun with {DEBUG_FLAG} for the traceback)"


def _os_error_text(exc: OSError) -> str:
    """`<file>: <reason> (<what to do>)` for a disk-full / read-only / permission OSError."""
    where = f"{exc.filename}: " if exc.filename else ""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}{reason} (free disk space or quota, or write somewhere else, and run again)"
    return f"{where}{reason} (the folder is read-only or not writable for you; pick a writable one)"


def _is_wrapped_fbi(exc: BaseException) -> bool:
    """A worker-side error re-raised in the main process keeps its type when it takes one message."""
    return any(isinstance(e, FBIError) for e in (exc.__cause__, exc.__context__) if e is not None)


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run `main(argv)` and exit with its code; exceptions become one `error:` line and exit code 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != DEBUG_FLAG]
    try:
        code = main(argv)
    except SystemExit:
        raise
    except Stopped as exc:
        if int(os.environ.get("RANK", 0)) == 0:  # one line per run, not per process
            print(f"stopped: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # the one place exceptions become messages
        if debug:
            raise
        print(f"error: {error_message(exc)}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    sys.exit(0 if code is None else int(code))
