#!/usr/bin/env bash
# Sets up and runs the main sample: installs the Debian packages, builds gapm and runs the
# quickstart (pull, push, intent and clocks) on ${NODES:-3} local nodes under gapm-run, with
# progress output and each node's counters at the end. Extra arguments go to the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${BUILD_DIR:-build}
BUILD_DIR=$build bash scripts/build.sh >/dev/null
exec "$build/tools/gapm-run" -n "${NODES:-3}" -- "$build/samples/quickstart" "$@"
