#!/bin/sh
# Multi-GPU / multi-node training through torchrun.
#   sh train.sh training/config/detector/fbi_clip.yaml [extra train.py flags]
# Environment: NGPU (processes per node, default: all visible GPUs, or 1 on CPU),
#              NNODES (default 1), NODE_RANK (default 0), MASTER_ADDR (default 127.0.0.1),
#              MASTER_PORT (default 29500).
set -e
if [ $# -lt 1 ]; then
  echo "usage: sh train.sh <detector.yaml> [train.py flags...]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "$0")" && pwd)"
YAML="$1"; shift
PY="${PYTHON:-python}"
if [ -z "$NGPU" ]; then
  NGPU=$("$PY" -c "import torch; print(max(1, torch.cuda.device_count()))")
fi
exec "$PY" -m torch.distributed.run \
  --nproc_per_node "$NGPU" --nnodes "${NNODES:-1}" --node_rank "${NODE_RANK:-0}" \
  --master_addr "${MASTER_ADDR:-127.0.0.1}" --master_port "${MASTER_PORT:-29500}" \
  "$ROOT/training/train.py" --detector_path "$YAML" --ddp "$@"
