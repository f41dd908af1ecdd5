#!/usr/bin/env bash
# Configures and builds gapm into ${BUILD_DIR:-build}. Extra arguments go to cmake.
#   GAPM_ENABLE_CUDA defaults to AUTO (the CUDA build when nvcc is found).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
export PATH="$PATH:/usr/local/cuda/bin"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache "$@"
cmake --build "$build_dir" --parallel "$(nproc)"
