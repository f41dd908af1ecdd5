#!/usr/bin/env bash
# MF on gapm in the setting of AdaPM's reference numbers: a synthetic 100,000 x 10,000
# matrix with 2 M training points (+10 % test points), Zipf(0.8) columns, rank 10, 2
# processes x 1 worker. DSGD under every technique mode and plain SGD (1,000-point look-ahead)
# under `all` and `none`; `none` (the classic parameter server: static partitioning, every
# non-home access remote) is the baseline measured in the same run, and `limit` (the same
# program on one process with one worker: every access local) the ceiling a worker can reach.
# Besides points/s each row shows the CPU a node used while training, in cores: the whole
# process, and in it gapm's sync threads, receive thread and transport (ZeroMQ I/O, heartbeats);
# the rest is the workers' (gapm's pull and push paths included). The data is generated once
# into a cache folder and reused.
#
#   bench/mf/run_mf.sh [BUILD_DIR]
#   env: DATA   cache folder (${TMPDIR:-/tmp}/gapm-mf-100k)   EPOCHS (3)   ZIPF (0.8)   SEED (1)
#        NODES  processes (2)   REPEAT  runs per mode, the median's line is reported (1;
#               the classic runs always once)
#        RUNS   which runs, ALGORITHM:TECHNIQUES words, TECHNIQUES=limit for the one-process run
#               ("dsgd:limit dsgd:all dsgd:relocation_only dsgd:replication_only dsgd:none
#                 plain:limit plain:all plain:none")
# The classic runs take minutes each (every second access is a network round trip).
set -euo pipefail
build=${1:-build}
data=${DATA:-${TMPDIR:-/tmp}/gapm-mf-100k}
epochs=${EPOCHS:-3}
zipf=${ZIPF:-0.8}
seed=${SEED:-1}
nodes=${NODES:-2}
repeat=${REPEAT:-1}
runs=${RUNS:-dsgd:limit dsgd:all dsgd:relocation_only dsgd:replication_only dsgd:none plain:limit plain:all plain:none}

generate_args="100000 10000 2000000 --zipf $zipf --test-fraction 0.1 --seed $seed"
if [ "$(cat "$data/generated-with" 2>/dev/null)" != "$generate_args" ] || [ ! -f "$data/train.mmc" ] || [ ! -f "$data/test.mmc" ]; then
  # shellcheck disable=SC2086  # the arguments are words
  "$build/samples/mf/mf-generate" $generate_args --out "$data"
  echo "$generate_args" > "$data/generated-with"
fi

results=$(mktemp)
log=$(mktemp)
tries=$(mktemp)
trap 'rm -f "$results" "$log" "$tries"' EXIT
for run in $runs; do
  algorithm=${run%%:*}
  techniques=${run#*:}
  nodes_here=$nodes
  gapm_techniques=$techniques
  if [ "$techniques" = limit ]; then
    nodes_here=1
    gapm_techniques=all
  fi
  : > "$tries"
  tries_here=$repeat
  [ "$techniques" = none ] && tries_here=1  # minutes per run; its noise is small against it
  for try in $(seq "$tries_here"); do
    echo "== $algorithm, techniques=$techniques (run $try of $tries_here)" >&2
    start=$SECONDS
    # Progress goes to stderr through the inherited descriptor (tee /dev/stderr would reopen,
    # and truncate, a log file that stderr is redirected to).
    "$build/tools/gapm-run" -n "$nodes_here" -- "$build/samples/mf/mf" --data "$data" --epochs "$epochs" \
      --algorithm="$algorithm" --gapm.techniques="$gapm_techniques" --gapm.print_stats=false 2>&1 | tee "$log" >&2
    echo "$(sed -n 's/^\[0\] RESULT //p' "$log") run=$techniques wall_s=$((SECONDS - start))" >> "$tries"
  done
  # The run with the median throughput stands for the mode.
  awk '{ for (i = 1; i <= NF; ++i) if ($i ~ /^points_per_s=/) { split($i, kv, "="); print kv[2], $0 } }' "$tries" |
    sort -n | awk -v n="$tries_here" 'NR == int((n + 1) / 2) { $1 = ""; sub(/^ /, ""); print }' >> "$results"
done

echo
echo "MF, $nodes processes x 1 worker (limit: 1 x 1), 100000 x 10000, 2 M points, Zipf $zipf, rank 10, $epochs epochs, median of $repeat runs, classic 1 ($(nproc) cores, $(date -u +%Y-%m-%d))"
awk '
  { delete f; for (i = 1; i <= NF; ++i) { split($i, kv, "="); f[kv[1]] = kv[2] }
    n++; mode[n] = f["mode"]; run[n] = f["run"]; pps[n] = f["points_per_s"]; per_worker[n] = f["points_per_s"] / f["workers"]
    train[n] = f["train_loss"]; test[n] = f["test_loss"]; mb[n] = f["bytes_sent"] / 1e6; local[n] = f["local_pct"]
    cores[n] = f["cores"]; sync[n] = f["sync_cores"]; receive[n] = f["receive_cores"]; transport[n] = f["transport_cores"]
    wall[n] = f["wall_s"]
    if (f["run"] == "none") classic[f["mode"]] = f["points_per_s"]
    if (f["run"] == "limit") limit[f["mode"]] = per_worker[n] }
  END {
    printf "| %-5s | %-16s | %10s | %11s | %9s | %10s | %9s | %9s | %7s | %5s | %5s | %7s | %9s | %6s |\n", "algo", "techniques", "points/s", "per worker x limit", "x classic", "train loss", "test loss", "MB sent", "% local", "cores", "sync", "receive", "transport", "wall s"
    printf "|-------|------------------|-----------:|-------------------:|----------:|-----------:|----------:|----------:|--------:|------:|------:|--------:|----------:|-------:|\n"
    for (i = 1; i <= n; ++i) {
      ratio = classic[mode[i]] > 0 ? sprintf("%.1f", pps[i] / classic[mode[i]]) : "-"
      to_limit = limit[mode[i]] > 0 ? sprintf("%.2f", per_worker[i] / limit[mode[i]]) : "-"
      printf "| %-5s | %-16s | %10.0f | %18s | %9s | %10s | %9s | %9.1f | %7s | %5.2f | %5.3f | %7.3f | %9.3f | %6s |\n", mode[i], run[i], pps[i], to_limit, ratio, train[i], test[i], mb[i], local[i], cores[i], sync[i], receive[i], transport[i], wall[i]
    }
  }' "$results"
echo "points/s, MB sent and % local pulls: training phases only, all nodes; losses after the last epoch;"
echo "cores: CPU per node while training (the process; gapm's sync, receive and transport threads in it)."
