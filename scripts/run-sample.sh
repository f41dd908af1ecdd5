#!/usr/bin/env bash
# The main job: installs the Debian packages (WordNet among them), builds gapm and trains
# ComplEx knowledge-graph embeddings on WordNet 3.0 on ${NODES:-2} local nodes x 2 workers under
# gapm-run (about 5 minutes on 2 cores): one line per epoch, then the filtered MRR and Hits@k,
# then each node's counters. Extra arguments go to the sample (see samples/kge/kge.cpp, --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${BUILD_DIR:-build}
echo "gapm: building into $build (first build: a few minutes)"
BUILD_DIR=$build bash scripts/build.sh >/dev/null
exec "$build/tools/gapm-run" -n "${NODES:-2}" -- "$build/samples/kge/kge" "$@"
