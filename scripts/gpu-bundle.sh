#!/usr/bin/env bash
# Packs the GPU checks for a machine that has a GPU and its driver but nothing else (no
# compiler, no packages, no network: the device tool's machines). Builds the CUDA build here
# for Hopper (sm_90; CUDA_ARCH=80 for an A100) and copies into build-gpu-bundle/ the binaries
# the checks run, the shared libraries they need beyond glibc and the driver, the WordNet
# split of the KGE sample, and scripts/gpu-checks.sh. Then, on the GPU machine:
#   build-gpu-bundle/gpu-checks.sh        (device tool: carry ["build-gpu-bundle"])
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-gpu}
bundle=build-gpu-bundle
BUILD_DIR=$build bash scripts/build.sh -DGAPM_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" \
  -DGAPM_BUILD_PYTHON=OFF >/dev/null

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
binaries=(tests/test_device_store_gpu tests/test_cuda_runtime tests/test_row_plane_gpu tests/plane_conformance
          tests/multi_node_scenarios bench/bench_kernels bench/bench_structure tools/gapm-run samples/kge/kge)
for b in "${binaries[@]}"; do cp "$build/$b" "$bundle/bin/"; done
# Shared libraries other than glibc's and the driver's (the GPU machine brings those).
for b in "${binaries[@]}"; do ldd "$build/$b"; done | awk '/=> \// {print $3}' | sort -u |
  grep -Ev '/(libc|libm|libdl|libpthread|librt|libresolv|libcuda|ld-linux[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$bundle/lib/"; done
# The KGE sample's data: its cached split (made from Debian's wordnet-base on first run).
cache=${XDG_CACHE_HOME:-$HOME/.cache}/gapm/wordnet-kg
[ -f "$cache/manifest.txt" ] || "$build/samples/kge/kge" --epochs=0 --eval-max=1 >/dev/null
cp -r "$cache" "$bundle/wordnet-kg"
cp scripts/gpu-checks.sh "$bundle/"
du -sh "$bundle"
