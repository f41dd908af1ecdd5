#!/usr/bin/env bash
# Memory per node against the values it holds (issue 11: per-node RSS <= 1.3x the bytes of the
# values it holds, plus a fixed amount). Runs bench_zipf on KEYS keys x ROW floats for each
# node count in NODES (one worker per node, a short run: the memory is what is measured) and
# prints, per node count, each node's values, peak RSS (VmHWM) and their ratio, the worst node
# last. The run with 1 node is the reference: the same rows with nothing distributed.
#
#   bench/memory/run_memory.sh [BUILD_DIR]
#   env: KEYS (10000000)   ROW (16)   NODES ("1 2 4")   CLOCKS (200)
# 100 M keys x 16 floats need about 7 GB of memory in all.
set -euo pipefail
build=${1:-build}
keys=${KEYS:-10000000}
row=${ROW:-16}
clocks=${CLOCKS:-200}
node_counts=${NODES:-1 2 4}

printf '%-6s %-6s %12s %14s %8s\n' nodes node values_mb peak_rss_mb ratio
for n in $node_counts; do
  out=$("$build/tools/gapm-run" -n "$n" -- "$build/bench/bench_zipf" --keys="$keys" --row="$row" --clocks="$clocks" \
          --gapm.workers=1 2>&1) || { echo "$out" >&2; exit 1; }
  echo "$out" | grep 'RESULT' | sed -E 's/.* node=([0-9]+) .* values_mb=([0-9.]+) peak_rss_mb=([0-9.]+).*/\1 \2 \3/' |
    sort -n | awk -v n="$n" '{ r = $3 / $2; printf "%-6s %-6s %12.1f %14.1f %8.2f\n", n, $1, $2, $3, r; if (r > worst) worst = r }
                          END { printf "%-6s %-6s %12s %14s %8.2f  <- worst\n", n, "all", "", "", worst }'
done
