"""Repo-root-relative path resolution, so every script works from any current directory."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parents[1]


def resolve_path(p: str | Path) -> Path:
    """Absolute paths are returned unchanged; relative ones resolve against the repo root (not the cwd)."""
    p = Path(p).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p
