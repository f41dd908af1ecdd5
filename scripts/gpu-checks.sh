#!/usr/bin/env bash
# The checks that need a GPU, run from a bundle made by scripts/gpu-bundle.sh on a machine
# with a GPU: the device store against the CPU oracle and the worker API with device buffers,
# the CUDA runtime's manners (the caller's pending error and device left alone, the pool), the
# NCCL row plane (with two GPUs or more),
# multi-process scenarios with every node's rows on the GPU, the kernels against a
# device-to-device copy, replica churn, and the KGE main job on the GPU. Logs and results go
# to $OUT (default: out/ beside this script); the last lines are a summary. Exit status 1
# when a check failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
out=${OUT:-$here/out}
mkdir -p "$out"
bin=$here/bin
summary=()
check() {  # check NAME COMMAND...: runs it, logs to $out/NAME.log, notes the outcome
  local name=$1
  shift
  local start=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then
    if grep -q '^\[  SKIPPED \]' "$out/$name.log"; then  # a test that skipped says why; it did not pass
      summary+=("SKIP $name: $(grep -m1 -A1 'Skipped$' "$out/$name.log" | tail -n 1)")
    else
      summary+=("PASS $name ($((SECONDS - start)) s)")
    fi
  else summary+=("FAIL $name (exit $?, $((SECONDS - start)) s): see $name.log"); fi
}

if ! nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv >"$out/gpu.txt" 2>&1; then
  echo "gpu-checks: no GPU visible (nvidia-smi failed): nothing to check here" >&2
  exit 2
fi
check device_store "$bin/test_device_store_gpu"
check cuda_runtime "$bin/test_cuda_runtime"
# The NCCL row plane's conformance run: needs two GPUs or more (it skips on one, saying so).
check row_plane env GAPM_PLANE_CONFORMANCE_BINARY="$bin/plane_conformance" "$bin/test_row_plane_gpu"
# Two and three processes on the one GPU (no NCCL between them: rows travel over TCP; with a GPU
# per process the data plane is NCCL, and the start-up line in the logs says which).
for scenario in sum optimizer_steps read_your_writes; do
  check "scenario_${scenario}_2" env GAPM_STORE=cuda "$bin/gapm-run" -n 2 -- "$bin/multi_node_scenarios" "$scenario"
done
check scenario_hot_3 env GAPM_STORE=cuda SCENARIO_ITERATIONS=20000 \
  "$bin/gapm-run" -n 3 -- "$bin/multi_node_scenarios" hot
check scenario_random_3 env GAPM_STORE=cuda SCENARIO_OPS=20000 SCENARIO_SEED=$RANDOM \
  "$bin/gapm-run" -n 3 -- "$bin/multi_node_scenarios" random
check bench_kernels "$bin/bench_kernels" --benchmark_filter=gpu --benchmark_min_time=0.2
check bench_structure "$bin/bench_structure" --benchmark_min_time=0.2
check kge env GAPM_STORE=cuda "$bin/gapm-run" -n 2 -- "$bin/kge" --cache="$here/wordnet-kg" --epochs=4 \
  --expect-mrr=0.5

cat "$out/gpu.txt"
grep -E "ratio|/gpu/" "$out/bench_kernels.log" | tail -n 45
grep -E "churn/cuda" "$out/bench_structure.log"
grep -E "epoch|MRR" "$out/kge.log" | head -n 8
printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
! grep -q '^FAIL' "$out/summary.txt"
