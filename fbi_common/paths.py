"""Repo-root-relative path resolution, so every script works from any current directory."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parents[1]


def resolve_path(p: str | Path) -> Path:
    """Absolute paths are returned unchanged; relative ones resolve against the repo root (not the cwd)."""
    p = Path(p).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


def existing_path(p: str | Path) -> Path:
    """A path typed on the command line: cwd-relative if that exists, else repo-root-relative.

    Returned absolute either way (even when neither exists, so the caller's error names a full path).
    """
    given = Path(p).expanduser()
    if given.is_absolute():
        return given
    here = Path.cwd() / given
    return here if here.exists() else REPO_ROOT / given
