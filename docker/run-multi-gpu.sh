#!/usr/bin/env bash
# Runs a gapm program with one node per visible GPU on this machine:
#   docker/run-multi-gpu.sh PROGRAM [ARGS...]
# Each node gets RANK, WORLD_SIZE, LOCAL_RANK (its GPU), MASTER_ADDR and MASTER_PORT.
set -euo pipefail
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
[ "$gpus" -ge 1 ] || { echo "run-multi-gpu: no GPU visible (nvidia-smi -L)" >&2; exit 1; }
if [ "$gpus" -eq 1 ]; then exec "$@"; fi
export MASTER_ADDR=${MASTER_ADDR:-127.0.0.1} MASTER_PORT=${MASTER_PORT:-29500} WORLD_SIZE=$gpus
pids=()
for ((r = 0; r < gpus; r++)); do
  RANK=$r LOCAL_RANK=$r "$@" 2>&1 | sed "s/^/[$r] /" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done
exit $status
