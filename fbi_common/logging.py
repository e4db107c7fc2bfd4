"""Project logger: rank 0 logs INFO to console and the run folder, other ranks only warnings."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

_ROOT = "fbi"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str) -> logging.Logger:
    """A child of the project logger (`fbi.<name>`)."""
    return logging.getLogger(f"{_ROOT}.{name}")


class _ConsoleHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time of the record (not the stream of the first call),
    so a redirected or replaced stderr (tests, notebooks) never meets a closed stream."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _RunLogHandler(logging.FileHandler):
    """`log.txt`: a failed write (disk full, folder gone) is one console warning, then the file is
    dropped — never a `--- Logging error ---` traceback per line, never a crash of the run."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        err = sys.exc_info()[1]
        logger = logging.getLogger(_ROOT)
        logger.removeHandler(self)
        with contextlib.suppress(OSError, ValueError):
            self.close()
        reason = getattr(err, "strerror", None) or err
        logger.warning("cannot write %s (%s): the rest of this run logs to the console only", self.baseFilename,
                       reason)  # fmt: skip


def setup_logging(run_dir: str | Path | None = None, rank: int = 0) -> logging.Logger:
    """Configure the project logger once per process; safe to call again (handlers are replaced)."""
    logger = logging.getLogger(_ROOT)
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    logger.propagate = False
    console = _ConsoleHandler()
    console.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
    logger.addHandler(console)
    if run_dir is not None and rank == 0:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        fh = _RunLogHandler(Path(run_dir) / "log.txt", encoding="utf-8")
        fh.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(fh)
    return logger
