"""Project logger: rank 0 logs INFO to console and the run folder, other ranks only warnings."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

_ROOT = "fbi"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str) -> logging.Logger:
    """A child of the project logger (`fbi.<name>`)."""
    return logging.getLogger(f"{_ROOT}.{name}")


def setup_logging(run_dir: str | Path | None = None, rank: int = 0) -> logging.Logger:
    """Configure the project logger once per process; safe to call again (handlers are replaced)."""
    logger = logging.getLogger(_ROOT)
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    logger.propagate = False
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
    logger.addHandler(console)
    if run_dir is not None and rank == 0:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(Path(run_dir) / "log.txt", encoding="utf-8")
        fh.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(fh)
    return logger
