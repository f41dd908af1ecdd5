#!/usr/bin/env bash
# End-to-end comparison on the Zipf workload: the classic parameter server (static
# partitioning, intents ignored) against adaptive management, same run, same machine.
#   bench/run_e2e.sh [BUILD_DIR] [NODES] [extra bench_zipf args...]
set -euo pipefail
build=${1:-build}
nodes=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
run() { "$build/tools/gapm-run" -n "$nodes" -- "$build/bench/bench_zipf" --gapm.techniques="$1" "${@:2}"; }
classic=$(run none "$@" | tee /dev/stderr | awk '/node 0 techniques=/ {print $5}')
adaptive=$(run all "$@" | tee /dev/stderr | awk '/node 0 techniques=/ {print $5}')
awk -v c="$classic" -v a="$adaptive" 'BEGIN { printf "classic %.3f s, adaptive %.3f s: adaptive is %.2fx the classic throughput\n", c, a, c / a }'
