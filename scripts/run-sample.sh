#!/usr/bin/env bash
# Sets up and runs the main sample: installs the Debian packages, builds gapm and runs the
# quickstart (pull, push, intent and clocks on one node, with progress output).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build} bash scripts/build.sh >/dev/null
exec "${BUILD_DIR:-build}/samples/quickstart" "$@"
