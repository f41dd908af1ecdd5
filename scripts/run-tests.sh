#!/usr/bin/env bash
# Sets up and runs the whole test suite: installs the Debian packages, builds the CPU build
# with warnings as errors, and runs every test with ctest. GPU tests, built only in the CUDA
# build, skip with a reason when no device is visible.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build-tests} bash scripts/build.sh -DGAPM_ENABLE_CUDA=${GAPM_ENABLE_CUDA:-OFF} \
  -DGAPM_WARNINGS_AS_ERRORS=ON "$@"
cd "${BUILD_DIR:-build-tests}"
ctest --output-on-failure --timeout 300 -j "$(nproc)"
