#!/usr/bin/env bash
# Installs the gapm build in $1 into a temporary prefix, builds tests/install as a separate
# project against it with find_package(gapm), and runs it on two nodes with the installed
# gapm-run. Exit 0 when both nodes print "consumer: ok"; on failure the step's log is shown.
set -uo pipefail
build=$1
source_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() {  # step NAME COMMAND...: runs it quietly, shows its output when it fails
  if ! "${@:2}" >"$work/log" 2>&1; then
    echo "check_install: $1 failed:"
    cat "$work/log"
    exit 1
  fi
}
step "installing gapm" cmake --install "$build" --prefix "$work/prefix"
step "configuring the consumer" cmake -S "$source_dir" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
step "building the consumer" cmake --build "$work/build"
step "running the consumer on two nodes" "$work/prefix/bin/gapm-run" -n 2 -- "$work/build/consumer"
cat "$work/log"
[ "$(grep -c 'consumer: ok' "$work/log")" -eq 2 ]
