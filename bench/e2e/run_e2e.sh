#!/usr/bin/env bash
# End-to-end benchmark: the synthetic Zipf workload (bench/bench_zipf) on NODES local
# processes, in every technique mode — classic (`none`: static partitioning, every non-home
# access remote; the baseline), `replication_only`, `relocation_only` and `all` — each without
# and with the benchmark-only network model (every message delayed by NET_LATENCY_US after a
# per-peer link of NET_BANDWIDTH_GBPS). Prints a table, writes OUT/e2e.json, OUT/e2e.png (if
# gnuplot is installed) and OUT/e2e.log (every process's output).
#
#   bench/e2e/run_e2e.sh [bench_zipf args...]       e.g. --keys=100000 --row=16 --batch=16 --ahead=100
#                                                        --skew=1.1 --duration=5 --gapm.workers=1
#   env: BUILD_DIR (build)   NODES (4)   OUT (e2e-out)   REPEAT (1: runs per cell; the median
#        throughput's run stands for it)   MODES ("none replication_only relocation_only all")
#        NET ("off on")   NET_LATENCY_US (25)   NET_BANDWIDTH_GBPS (10)
#
# Throughput is keys pulled (and pushed) per second by all nodes together, over the timed part
# of the run. Numbers with network=on are MODELLED: loopback plus the model's delays.
set -euo pipefail
build=${BUILD_DIR:-build}
nodes=${NODES:-4}
out=${OUT:-e2e-out}
repeat=${REPEAT:-1}
modes=${MODES:-none replication_only relocation_only all}
nets=${NET:-off on}
latency=${NET_LATENCY_US:-25}
bandwidth=${NET_BANDWIDTH_GBPS:-10}

for tool in "$build/tools/gapm-run" "$build/bench/bench_zipf"; do
  [ -x "$tool" ] || { echo "run_e2e: $tool not found (build first, or set BUILD_DIR)" >&2; exit 2; }
done
mkdir -p "$out"
log="$out/e2e.log"
rows="$out/e2e.rows"  # one aggregated line per run
: > "$log"
: > "$rows"
tries=$(mktemp)
trap 'rm -f "$tries"' EXIT

# Sums the nodes' RESULT lines (and network-model lines) of one run into one line of key=value.
aggregate() {
  awk -v net="$1" -v wall="$2" -v load="$3" '
    function field(name,   i, kv) { for (i = 1; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == name) return kv[2] } return "" }
    / RESULT / {
      n++
      techniques = field("techniques"); workers = field("workers"); keys = field("keys"); row = field("row")
      batch = field("batch"); ahead = field("ahead"); skew = field("skew")
      lat = field("net_latency_us"); bw = field("net_bandwidth_gbps")
      kps += field("keys_per_s"); clocks += field("clocks"); if (field("seconds") > secs) secs = field("seconds")
      pl += field("pulls_local"); pr += field("pulls_remote"); bytes += field("bytes_sent"); msgs += field("messages_sent")
      reps += field("replicas_created"); rel += field("relocations"); rounds += field("sync_rounds")
      waited += field("waited_clocks"); wait_s += field("wait_s")
    }
    / network model \(/ {
      # "... N frames, B bytes, modelled delay mean X us, released late by mean Y us (max Z us), ..."
      f = 0; d = 0; l = 0
      for (i = 2; i <= NF; ++i) {
        if ($i == "frames,") f = $(i - 1)
        if ($i == "delay" && $(i + 1) == "mean") d = $(i + 2)
        if ($i == "late" && $(i + 1) == "by") l = $(i + 3)
      }
      wframes += f; wdelay += f * d; wlate += f * l
    }
    END {
      if (n == 0) exit 1
      printf "network=%s techniques=%s nodes=%d workers=%s keys=%s row=%s batch=%s ahead=%s skew=%s", net, techniques, n, workers, keys, row, batch, ahead, skew
      printf " net_latency_us=%s net_bandwidth_gbps=%s keys_per_s=%.0f seconds=%.3f wall_s=%s clocks=%d", lat, bw, kps, secs, wall, clocks
      printf " local_pct=%.2f pulls_remote=%d bytes_sent=%d messages_sent=%d replicas_created=%d relocations=%d sync_rounds=%d", (pl + pr > 0 ? 100 * pl / (pl + pr) : 100), pr, bytes, msgs, reps, rel, rounds
      printf " messages_per_clock=%.2f waited_clocks_pct=%.2f wait_time_pct=%.1f", (clocks > 0 ? msgs / clocks : 0),
        (clocks > 0 ? 100 * waited / clocks : 0), (secs > 0 ? 100 * wait_s / (secs * workers * n) : 0)
      printf " model_delay_us=%.2f model_late_us=%.2f load_before=%s\n", (wframes > 0 ? wdelay / wframes : 0), (wframes > 0 ? wlate / wframes : 0), load
    }'
}

for net in $nets; do
  net_args=()
  [ "$net" = on ] && net_args=(--gapm.net.latency_us="$latency" --gapm.net.bandwidth_gbps="$bandwidth")
  for techniques in $modes; do
    : > "$tries"
    for try in $(seq "$repeat"); do
      echo "== network=$net techniques=$techniques (run $try of $repeat)" | tee -a "$log" >&2
      load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)  # the machine may be shared: say how busy it was
      start=$(date +%s.%N)
      output=$("$build/tools/gapm-run" -n "$nodes" -- "$build/bench/bench_zipf" --gapm.techniques="$techniques" \
                 --gapm.print_stats=false "${net_args[@]}" "$@" 2>&1) || {
        echo "$output" >> "$log"
        echo "run_e2e: the run failed (network=$net techniques=$techniques); see $log" >&2
        exit 1
      }
      echo "$output" >> "$log"
      wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
      echo "$output" | aggregate "$net" "$wall" "$load" >> "$tries" || {
        echo "run_e2e: no RESULT lines (network=$net techniques=$techniques); see $log" >&2
        exit 1
      }
    done
    # The run with the median throughput stands for the cell.
    awk '{ for (i = 1; i <= NF; ++i) if ($i ~ /^keys_per_s=/) { split($i, kv, "="); print kv[2], $0 } }' "$tries" |
      sort -n | awk -v n="$repeat" 'NR == int((n + 1) / 2) { $1 = ""; sub(/^ /, ""); print }' >> "$rows"
  done
done

# The table, and e2e.json; the ratio is against the classic run with the same network setting.
awk -v out="$out" -v repeat="$repeat" -v latency="$latency" -v bandwidth="$bandwidth" -v host="$(uname -srm)" -v cores="$(nproc)" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -v args="$*" '
  function field(name,   i, kv) { for (i = 1; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == name) return kv[2] } return "" }
  function js(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
  {
    n++; line[n] = $0
    net[n] = field("network"); tech[n] = field("techniques"); kps[n] = field("keys_per_s")
    if (tech[n] == "none") classic[net[n]] = kps[n]
  }
  END {
    $0 = line[1]
    printf "\nEnd to end, Zipf workload: %s nodes x %s workers, %s keys x %s floats, batch %s, intent %s clocks ahead, skew %s; %s cores, %s\n",
      field("nodes"), field("workers"), field("keys"), field("row"), field("batch"), field("ahead"), field("skew"), cores, date
    printf "network on = MODELLED: loopback + %s us latency + %s Gbit/s per peer link (benchmark-only network model)\n\n", latency, bandwidth
    printf "| network | techniques       |     keys/s | x classic | %% local pulls | %% clocks waiting | MB sent | msgs/clock | replicas | relocations | late us | load |\n"
    printf "|---------|------------------|-----------:|----------:|--------------:|-----------------:|--------:|-----------:|---------:|------------:|--------:|-----:|\n"
    json = "{\n  \"benchmark\": \"bench_zipf\",\n  \"date\": " js(date) ",\n  \"host\": " js(host) ",\n  \"cores\": " cores ",\n  \"repeat\": " repeat ",\n  \"args\": " js(args) ",\n  \"runs\": ["
    for (i = 1; i <= n; ++i) {
      $0 = line[i]
      ratio = classic[net[i]] > 0 ? kps[i] / classic[net[i]] : 0
      printf "| %-7s | %-16s | %10.0f | %9.2f | %13.1f | %16s | %7.1f | %10.2f | %8d | %11d | %7.1f | %4.1f |\n", net[i], tech[i], kps[i], ratio,
        field("local_pct"), sprintf("%.1f (%.0f%% t)", field("waited_clocks_pct"), field("wait_time_pct")), field("bytes_sent") / 1e6, field("messages_per_clock"), field("replicas_created"), field("relocations"), field("model_late_us"), field("load_before")
      json = json (i > 1 ? "," : "") "\n    {"
      for (f = 1; f <= NF; ++f) {
        split($f, kv, "=")
        value = kv[2]
        json = json (f > 1 ? ", " : "") js(kv[1]) ": " (value ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/ ? value : js(value))
      }
      json = json ", \"modelled\": " (net[i] == "on" ? "true" : "false") ", \"ratio_vs_classic\": " sprintf("%.4f", ratio) "}"
    }
    json = json "\n  ]\n}\n"
    printf "%s", json > (out "/e2e.json")
    printf "\nkeys/s: all nodes together; x classic: against techniques=none with the same network setting;\n"
    printf "%% clocks waiting: clocks whose pull waited for another node (and the share of the workers'\'' time spent so);\n"
    printf "late us: mean delay of the model'\''s release thread beyond the modelled one (scheduling on this machine);\n"
    printf "load: the 1-minute load average before the run (the machine may be shared).\n"
  }' "$rows"

# The chart: throughput per mode, network model off and on.
if command -v gnuplot >/dev/null 2>&1; then
  plot_data="$out/e2e.dat"
  awk '
    function field(name,   i, kv) { for (i = 1; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == name) return kv[2] } return "" }
    { t = field("techniques"); if (!(t in seen)) { seen[t] = 1; order[++n] = t }
      v[t, field("network")] = field("keys_per_s") / 1e6; if (t == "none") classic[field("network")] = field("keys_per_s") / 1e6 }
    function cell(t, net) { return ((t, net) in v) ? v[t, net] : "NaN" }
    function ratio(t, net) { return ((t, net) in v && classic[net] > 0) ? sprintf("%.1fx", v[t, net] / classic[net]) : "-" }
    END { for (i = 1; i <= n; ++i) printf "%s %s %s %s %s\n", order[i], cell(order[i], "off"), cell(order[i], "on"), ratio(order[i], "off"), ratio(order[i], "on") }' "$rows" > "$plot_data"
  title=$(awk 'NR == 1 { for (i = 1; i <= NF; ++i) { split($i, kv, "="); f[kv[1]] = kv[2] }
                 printf "gapm end to end: %s nodes x %s workers, %s keys x %s floats, batch %s, Zipf %s", f["nodes"], f["workers"], f["keys"], f["row"], f["batch"], f["skew"] }' "$rows")
  gnuplot <<EOF || echo "run_e2e: gnuplot failed; no chart" >&2
set terminal pngcairo size 1000,560 font "sans,11" noenhanced
set output "$out/e2e.png"
set title "$title"
set ylabel "throughput (million keys/s, all nodes)"
set xlabel "technique mode (none = classic parameter server; labels: M keys/s and ratio to classic)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set offsets 0, 0, graph 0.18, 0
set grid ytics
set yrange [0:*]
set datafile missing "NaN"
plot "$plot_data" using 2:xtic(1) title "loopback, no network model" linecolor rgb "#4c72b0", \
     "" using 3 title "network model: ${latency} us + ${bandwidth} Gbit/s per peer (modelled)" linecolor rgb "#dd8452", \
     "" using (\$0 - 0.17):(\$2):(sprintf("%.2f\\n%s", \$2, stringcolumn(4))) with labels offset 0,1.8 notitle, \
     "" using (\$0 + 0.17):(\$3):(sprintf("%.2f\\n%s", \$3, stringcolumn(5))) with labels offset 0,1.8 notitle
EOF
  rm -f "$plot_data"
else
  echo "run_e2e: gnuplot not installed (scripts/install-deps.sh installs gnuplot-nox); no chart" >&2
fi
rm -f "$rows"
echo "wrote $out/e2e.json$( [ -f "$out/e2e.png" ] && echo " and $out/e2e.png"), log in $log"
