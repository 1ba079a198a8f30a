#!/usr/bin/env bash
# Builds the core with CMake and runs its GoogleTest unit tests through ctest.
# --asan: the same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/cmake
args=(-DCMAKE_BUILD_TYPE=Release)
if [[ "${1:-}" == "--asan" ]]; then
  dir=build/cmake-asan
  args+=(-DBISMARCK_SANITIZE=ON)
fi
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target core_tests 2>&1 | grep -E 'error|warning' || true
test -x "$dir/core_tests"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
