#!/usr/bin/env bash
# The suite under sanitizers (CI runs it after the normal suite): every test under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the concurrency-heavy tests (cluster,
# protocol, fuzzing, multi-process scenarios, workers, the device store on the emulated device,
# whose streams are threads) under ThreadSanitizer; the multi-process suite on the emulated
# device (EmulatedDevice.*) under ASan only (under TSan it would take an hour). Any report fails
# the run. Tests that are slow under sanitizers run smaller here instead of being skipped
# (TEST_FUZZ_SECONDS, TEST_FAULT_ITERATIONS, TEST_SOAK_SECONDS, TEST_SCENARIO_OPS). The Python
# package stays out (the sanitizer runtimes would have to be preloaded into the interpreter),
# as do the benchmarks and the install check (its consumer project is built without them), and
# Timing.* (they compare durations, which the sanitizers distort; the normal suite runs them).
#   scripts/run-sanitizers.sh [asan|tsan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(asan tsan)

export TEST_FUZZ_SECONDS=1 TEST_FAULT_ITERATIONS=2 TEST_SOAK_SECONDS=24 TEST_SCENARIO_OPS=30000
# -O1 -g1: a third of -O2 -g's compile time under the sanitizers, and stacks still have lines.
common=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" -DGAPM_ENABLE_CUDA=OFF -DGAPM_BUILD_PYTHON=OFF
        -DGAPM_BUILD_BENCHMARKS=OFF -DGAPM_WARNINGS_AS_ERRORS=ON)

for kind in "${kinds[@]}"; do
  case $kind in
    asan)
      echo "== ASan + UBSan: the whole suite"
      BUILD_DIR=build-asan bash scripts/build.sh "${common[@]}" -DGAPM_SANITIZE=address,undefined
      (cd build-asan &&
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure --timeout 900 -j "$(nproc)" -E 'install_consumer|^Timing\.')
      ;;
    tsan)
      echo "== TSan: the concurrency-heavy tests"
      BUILD_DIR=build-tsan bash scripts/build.sh "${common[@]}" -DGAPM_SANITIZE=thread -DGAPM_BUILD_SAMPLES=OFF
      (cd build-tsan &&
        TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/../tests/tsan.supp" \
        ctest --output-on-failure --timeout 900 -j "$(nproc)" -E '^EmulatedDevice\.' \
          -R 'Cluster|Rendezvous|Protocol|WireFuzz|MultiNode|Techniques|Schemes|ReadYourWrites|OptimizerSteps|Checkpoint|SingleNode|Liveness|FaultInjection|Soak|StreamOrder|DeviceStore|DeviceNode|EmulatedRuntime|DeviceBuffers|RowPlane|DataPlane')
      ;;
    *) echo "usage: $0 [asan|tsan]..." >&2; exit 2 ;;
  esac
done
