# FBI-CLIP on a CUDA runtime. Build: docker build -t fbi-clip .  Run: docker run --gpus all -it fbi-clip
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-pip libgl1 libglib2.0-0 ffmpeg git \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /workspace/fbi-clip
# The pinned packages first (a cached layer), then the repository, installed editable by install.sh.
COPY requirements.txt requirements-dev.txt ./
RUN python -m pip install -r requirements.txt -r requirements-dev.txt
COPY . .
RUN sh install.sh
CMD ["python", "training/train.py", "--list"]
