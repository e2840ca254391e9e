#!/usr/bin/env bash
# Builds and runs the demo: examples/01_quickstart.cpp (a trading pipeline
# over generated ticks). Usage: bash scripts/demo.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/deps.sh"
laminar_require_packages make g++ cmake libcereal-dev libnuma-dev

build="$root/build/demo"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DLAMINAR_BUILD_TESTS=OFF -DLAMINAR_BUILD_BENCHMARKS=OFF -DLAMINAR_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" --target 01_quickstart -j "$(laminar_jobs)" >/dev/null
exec "$build/examples/01_quickstart"
