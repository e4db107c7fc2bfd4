"""Frame paths from dataset JSONs → POSIX paths relative to `rgb_dir`, frame order, sibling folders.

Frame-path rule (`normalize_frame_path`): JSON files written on other machines hold paths relative
to `rgb_dir`, cwd-relative (`./datasets/rgb/...`), absolute, or Windows-style
(`UADFV\\real\\frames\\0000\\000.png`, or drive-letter absolute paths). Every path is turned into a POSIX
path relative to `rgb_dir` by the first rule that applies:

1. backslashes become `/`; empty and `.` segments are dropped;
2. a leading `rgb_dir` (the resolved absolute path, or the configured string) is stripped;
3. else everything up to and including the first segment equal to the rgb folder name (`rgb`, or
   `rgb_dir`'s own last component) is stripped;
4. else everything before the first segment equal to the dataset's folder name (the dataset name;
   `FaceForensics++` for the FF++ family) is stripped — this covers DeepfakeBench's `./datasets\\X\\...`;
5. else a relative path is kept as is, and an absolute one stays absolute (read verbatim by
   `FileReader`; it cannot be an LMDB key).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from fbi_common.paths import resolve_path

_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def _parts(path: str | Path) -> list[str]:
    return [s for s in str(path).replace("\\", "/").split("/") if s not in ("", ".")]


@lru_cache(maxsize=16)
def _rgb_prefixes(rgb_dir: str | None) -> tuple[list[list[str]], frozenset[str]]:
    """Segment lists that mean "this is rgb_dir" (as configured, and resolved), and rgb folder names."""
    if rgb_dir is None:
        return [], frozenset({"rgb"})
    configured = _parts(Path(rgb_dir).expanduser())
    markers = {"rgb", configured[-1]} if configured else {"rgb"}
    return [configured, _parts(resolve_path(rgb_dir))], frozenset(markers)


def normalize_frame_path(raw: str, rgb_dir: str | Path | None = None, anchors: tuple[str, ...] = ()) -> str:
    """Turn any JSON frame path into a POSIX path relative to `rgb_dir` (rules in the module docstring)."""
    posix = raw.replace("\\", "/")
    parts = _parts(posix)
    prefixes, markers = _rgb_prefixes(None if rgb_dir is None else str(rgb_dir))
    for prefix in prefixes:
        if prefix and parts[: len(prefix)] == prefix and len(parts) > len(prefix):
            return "/".join(parts[len(prefix) :])
    for i, seg in enumerate(parts[:-1]):
        if seg in markers:
            return "/".join(parts[i + 1 :])
    for i, seg in enumerate(parts[:-1]):
        if seg in anchors:
            return "/".join(parts[i:])
    if posix.startswith("/"):
        return "/" + "/".join(parts)
    return "/".join(parts)


def frame_sort_key(path: str) -> tuple[float, str]:
    """Numeric frame index from the file stem (`000.png` → 0, `frame_12.png` → 12), name as tie-break."""
    name = path.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0]
    m = _DIGITS.search(stem)
    return (int(m.group(1)) if m else float("inf"), name)


def derive_sibling(frame: str, folder: str, ext: str | None = None) -> str:
    """`.../frames/<video>/<idx>.png` → `.../<folder>/<video>/<idx><ext>` (last `frames` segment only)."""
    parts = frame.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "frames":
            parts[i] = folder
            break
    else:
        raise ValueError(f"cannot derive the {folder} path of frame '{frame}': it has no 'frames' folder")
    if ext is not None:
        parts[-1] = parts[-1].rsplit(".", 1)[0] + ext
    return "/".join(parts)
