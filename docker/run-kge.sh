#!/usr/bin/env bash
# Runs the KGE sample (ComplEx with AdaGrad on WordNet 3.0, samples/kge) with one gapm node
# per visible GPU of this host, through gapm-run: each process gets RANK, WORLD_SIZE and
# LOCAL_RANK, and LOCAL_RANK picks its GPU. In the image: `docker run --gpus all --rm gapm`.
#   docker/run-kge.sh [kge args...]        e.g. --epochs=3 --gapm.workers=2 (see kge --help)
#   env: BUILD_DIR  the build folder (the repository's build/)
#        NODES      processes (default: the visible GPUs: CUDA_VISIBLE_DEVICES if set, else
#                   nvidia-smi -L); set it to run without a GPU (on the CPU store)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
kge=$build/samples/kge/kge
launcher=$build/tools/gapm-run
for program in "$kge" "$launcher"; do
  [ -x "$program" ] || { echo "run-kge: $program not found: build gapm first (or set BUILD_DIR)" >&2; exit 2; }
done

visible_gpus() {
  if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    tr ',' '\n' <<<"$CUDA_VISIBLE_DEVICES" | grep -c . || true
  elif command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true
  else
    echo 0
  fi
}

nodes=${NODES:-$(visible_gpus)}
if ! [ "$nodes" -ge 1 ] 2>/dev/null; then
  echo "run-kge: no GPU visible (start the container with --gpus all), or set NODES=N to run N nodes anyway" >&2
  exit 1
fi
echo "run-kge: $nodes node(s) on this host${NODES:+ (NODES)}" >&2
exec "$launcher" -n "$nodes" -- "$kge" "$@"
