#!/usr/bin/env bash
# ctest e2e_bench_tiny: bench/e2e/run_e2e.sh in a tiny configuration (2 nodes, 200 clocks,
# every technique mode, network model off and on) runs, and writes an e2e.json that parses
# and holds one run per (network, mode). A smoke test of the benchmark, not a measurement.
#   tests/check_e2e_bench.sh SOURCE_DIR BUILD_DIR OUT_DIR
set -euo pipefail
source_dir=$1
build_dir=$2
out=$3
rm -rf "$out"
BUILD_DIR="$build_dir" NODES=2 OUT="$out" bash "$source_dir/bench/e2e/run_e2e.sh" \
  --keys=2000 --row=8 --clocks=200 --batch=16 --ahead=10 --gapm.workers=1
python3 - "$out/e2e.json" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
cells = sorted((r["network"], r["techniques"]) for r in runs)
expected = sorted((n, t) for n in ("off", "on") for t in ("none", "replication_only", "relocation_only", "all"))
assert cells == expected, f"runs {cells}, expected {expected}"
for r in runs:
    assert r["keys_per_s"] > 0 and r["clocks"] == 400, r
    assert r["modelled"] == (r["network"] == "on"), r
    assert (r["net_latency_us"] > 0) == r["modelled"], r
    if r["network"] == "on":
        assert r["model_delay_us"] >= 25, r  # no frame released before its modelled latency
    if r["techniques"] == "none":
        assert r["replicas_created"] == 0 and r["relocations"] == 0, r
print(f"e2e.json: {len(runs)} runs, one per (network, mode)")
PY
