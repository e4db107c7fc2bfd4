"""Frame, mask and landmark readers over a folder tree (`FileReader`) or LMDB environments (`LmdbReader`).

Both take paths relative to `rgb_dir` (POSIX, as produced by `index.normalize_frame_path`) and
return decoded arrays; a missing or undecodable entry raises `FrameError` naming it and why.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import lmdb
import numpy as np

from fbi_common.datasets import dataset_folder
from fbi_common.errors import DataError, FBIError
from fbi_common.paths import resolve_path

_NPY_MAGIC = b"\x93NUMPY"
# DeepfakeBench stores landmarks as `np.load(path).tobytes()`: no header, 81 points of int32
# (int64 when written by NumPy on Linux/macOS, where the default integer is 64-bit).
_DFB_POINTS = 81


class FrameError(FBIError, RuntimeError):
    """A frame, mask or landmark that is missing or cannot be decoded.

    Takes one message argument so DataLoader workers can re-raise it in the main process.
    """


class FrameNotFound(FrameError):
    """The file or LMDB key does not exist (as opposed to existing but being corrupt)."""


class LmdbMissing(DataError, FileNotFoundError):
    """A whole LMDB environment (or the whole rgb_dir) is missing: never a droppable bad frame, always a stop."""


def _frame_error(path: str, reason: str, missing: bool = False) -> FrameError:
    return (FrameNotFound if missing else FrameError)(f"{path}: {reason}")


# OpenCV ≥ 4.10 decodes straight to RGB (no BGR→RGB pass); older versions decode BGR and convert.
_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)


def decode_rgb(buf: np.ndarray) -> np.ndarray | None:
    """Encoded image bytes (uint8 array) → (H, W, 3) uint8 RGB, or None if OpenCV cannot decode them."""
    if _IMREAD_RGB is not None:
        return cv2.imdecode(buf, _IMREAD_RGB)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _why(buf: bytes) -> str:
    if not buf:
        return " (the file is empty: an interrupted write?)"
    if buf[:8] == b"\x89PNG\r\n\x1a\n" or buf[:3] == b"\xff\xd8\xff":
        return " (truncated or corrupt image data)"
    return " (not a PNG/JPEG image)"


def decode_image(buf: bytes, path: str) -> np.ndarray:
    """Encoded PNG/JPEG bytes → (H, W, 3) uint8 RGB."""
    img = decode_rgb(np.frombuffer(buf, dtype=np.uint8)) if buf else None
    if img is None:
        raise _frame_error(path, f"cv2 could not decode {len(buf)}-byte file{_why(buf)}")
    return img


def decode_mask(buf: bytes, path: str) -> np.ndarray:
    """Encoded mask bytes → (H, W) uint8 (colour masks are converted to grey)."""
    mask = cv2.imdecode(np.frombuffer(buf, dtype=np.uint8), cv2.IMREAD_GRAYSCALE) if buf else None
    if mask is None:
        raise _frame_error(path, f"cv2 could not decode {len(buf)}-byte mask file{_why(buf)}")
    return mask


def decode_landmark(buf: bytes, path: str) -> np.ndarray:
    """`.npy` bytes, or a headerless DeepfakeBench buffer, → (K, 2) float32."""
    try:
        if buf[:6] == _NPY_MAGIC:
            arr = np.load(io.BytesIO(buf), allow_pickle=False)
        elif len(buf) == _DFB_POINTS * 2 * 8:
            arr = np.frombuffer(buf, dtype=np.int64)
        elif buf and len(buf) % 8 == 0:
            arr = np.frombuffer(buf, dtype=np.int32)
        else:
            raise ValueError(f"{len(buf)} bytes is neither .npy nor a raw int32 (K, 2) buffer")
        shape = arr.shape
        if buf[:6] == _NPY_MAGIC and not (arr.ndim == 2 and shape[1] == 2):
            raise ValueError(f"array of shape {shape}, expected (K, 2) x/y points")
        arr = np.asarray(arr, dtype=np.float32).reshape(-1, 2)
    except (ValueError, TypeError, EOFError, OSError) as e:
        raise _frame_error(path, f"cannot read landmarks ({e})") from None
    if arr.shape[0] == 0:
        raise _frame_error(path, "landmark array is empty")
    if not np.isfinite(arr).all():
        raise _frame_error(path, "landmarks contain NaN or infinite values")
    return arr


class FileReader:
    """Reads frames from `rgb_dir/<rel>` (absolute `rel` paths are read as they are)."""

    def __init__(self, rgb_dir: str | Path) -> None:
        self.rgb_dir = resolve_path(rgb_dir)

    def path_of(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.rgb_dir / rel

    def read_bytes(self, rel: str) -> bytes:
        path = self.path_of(rel)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            if not Path(rel).is_absolute() and not self.rgb_dir.is_dir():
                raise LmdbMissing(
                    f"rgb_dir {self.rgb_dir} does not exist (reading {rel}); set rgb_dir to the folder "
                    "preprocess.py wrote (or lmdb: true with lmdb_dir)"
                ) from None
            raise _frame_error(str(path), "file not found", missing=True) from None
        except OSError as e:
            raise _frame_error(str(path), f"cannot read file ({e.strerror or e})") from None

    def read_image(self, rel: str) -> np.ndarray:
        return decode_image(self.read_bytes(rel), str(self.path_of(rel)))

    def read_mask(self, rel: str) -> np.ndarray:
        return decode_mask(self.read_bytes(rel), str(self.path_of(rel)))

    def read_landmark(self, rel: str) -> np.ndarray:
        return decode_landmark(self.read_bytes(rel), str(self.path_of(rel)))

    @property
    def source(self) -> str:
        """What the frames are read from (part of a frame-cache table's identity)."""
        return f"files:{self.rgb_dir}"

    def stamp(self, rel: str) -> tuple[int, int]:
        """(mtime_ns, size) of the frame's file, (0, -1) if it is missing (frame-cache freshness)."""
        return _stamp(self.path_of(rel))

    def __repr__(self) -> str:
        return f"FileReader({self.rgb_dir})"


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return 0, -1
    return int(st.st_mtime_ns), int(st.st_size)


# One read-only handle per environment and process, shared by every LmdbReader: py-lmdb refuses
# to open the same environment twice in a process, and LMDB handles must not cross a fork.
_ENVS: dict[str, lmdb.Environment] = {}
_ENVS_PID = [os.getpid()]


def _shared_env(path: Path) -> lmdb.Environment:
    if _ENVS_PID[0] != os.getpid():
        # A forked DataLoader worker: closing its inherited copies unmaps them in this process only
        # (the parent keeps its handles) and frees the paths for this process's own handles.
        for env in _ENVS.values():
            env.close()
        _ENVS.clear()
        _ENVS_PID[0] = os.getpid()
    env = _ENVS.get(str(path))
    if env is None:
        env = lmdb.open(
            str(path), subdir=path.is_dir(), readonly=True, lock=False, readahead=False, meminit=False
        )
        _ENVS[str(path)] = env
    return env


def close_lmdb_envs() -> None:
    """Close this process's LMDB handles (e.g. before rewriting an environment)."""
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


class LmdbReader:
    """Reads frames from `<lmdb_dir>/<Dataset>_lmdb`, the env chosen by the path's first component.

    The FF++ family (FF-*, FaceShifter, DeepFakeDetection) shares `FaceForensics++_lmdb`. Keys tried,
    in order: ours (`FaceForensics++/original_sequences/.../000.png`), DeepfakeBench's Windows form
    (all backslashes) and its Linux form (`FaceForensics++\\original_sequences/...`). Environments
    are opened lazily, read-only and lock-free, once per process (shared by all readers), so a
    reader survives being pickled or forked into DataLoader workers.
    """

    def __init__(self, lmdb_dir: str | Path) -> None:
        self.lmdb_dir = resolve_path(lmdb_dir)

    def env_path(self, rel: str) -> Path:
        first = rel.split("/", 1)[0]
        return self.lmdb_dir / f"{dataset_folder(first)}_lmdb"

    def _env(self, rel: str) -> tuple[lmdb.Environment, Path]:
        path = self.env_path(rel)
        if str(path) not in _ENVS and not path.exists():
            raise LmdbMissing(
                f"LMDB environment not found: {path} (needed for '{rel}'). Build it with "
                f"`python preprocessing/dataset2lmdb.py --dataset {rel.split('/', 1)[0]}`, fix lmdb_dir, "
                "or set lmdb: false"
            )
        try:
            return _shared_env(path), path
        except lmdb.Error as e:
            raise DataError(
                f"cannot open the LMDB environment {path}: {e}. Rebuild it with preprocessing/dataset2lmdb.py "
                "or set lmdb: false"
            ) from None

    @staticmethod
    def candidate_keys(rel: str) -> list[str]:
        first, _, rest = rel.partition("/")
        keys = [rel, rel.replace("/", "\\"), f"{first}\\{rest}"]
        return list(dict.fromkeys(keys))

    def read_bytes(self, rel: str) -> bytes:
        if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
            raise _frame_error(rel, "absolute path cannot be an LMDB key; fix the JSON or set lmdb: false")
        env, path = self._env(rel)
        keys = self.candidate_keys(rel)
        with env.begin(write=False) as txn:
            for key in keys:
                value = txn.get(key.encode("utf-8"))
                if value is not None:
                    return bytes(value)
        raise _frame_error(f"{path}[{rel}]", f"key not found in LMDB (tried {keys})", missing=True)

    def read_image(self, rel: str) -> np.ndarray:
        return decode_image(self.read_bytes(rel), f"{self.env_path(rel)}[{rel}]")

    def read_mask(self, rel: str) -> np.ndarray:
        return decode_mask(self.read_bytes(rel), f"{self.env_path(rel)}[{rel}]")

    def read_landmark(self, rel: str) -> np.ndarray:
        return decode_landmark(self.read_bytes(rel), f"{self.env_path(rel)}[{rel}]")

    @property
    def source(self) -> str:
        return f"lmdb:{self.lmdb_dir}"

    def stamp(self, rel: str) -> tuple[int, int]:
        """(mtime_ns, size) of the environment's data file: a rewritten LMDB makes its cached frames stale."""
        path = self.env_path(rel)
        return _stamp(path / "data.mdb" if path.is_dir() else path)

    def __repr__(self) -> str:
        return f"LmdbReader({self.lmdb_dir})"
