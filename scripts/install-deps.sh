#!/usr/bin/env bash
# Installs the Debian packages gapm needs to build, test and run its samples. Idempotent:
# only missing packages are installed. The CUDA toolkit (optional) is not a Debian package
# here: it is expected at /usr/local/cuda when present.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config ccache   # toolchain
  libzmq3-dev cppzmq-dev libsodium-dev      # ZeroMQ transport; HMAC of the job token
  zlib1g-dev                                # CRC-32 of snapshot files
  googletest libgtest-dev libgmock-dev      # tests
  libbenchmark-dev                          # benchmarks
  wordnet-base                              # the real data of the KGE sample
  gnuplot-nox python3                       # bench/e2e: the chart; the JSON check of its test
  python3-dev pybind11-dev                  # the Python package gapm (python/) ...
  libtorch-dev python3-torch                # ... on PyTorch's C++ API and Python module
  python3-pytest python3-numpy              # its tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "gapm: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
