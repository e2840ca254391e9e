#!/usr/bin/env bash
# Builds and runs the demo: examples/01_quickstart.cpp (a trading pipeline
# over generated ticks), then examples/07_ohlc_bars.cpp (one-second OHLC
# bars per symbol, a late-trade side output and a cascaded roll-up), then
# examples/11_trading_pipeline.cpp (trades ASOF-joined with quotes, one-second
# bars, signals, and the per-event latency percentiles). Usage: bash scripts/demo.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/deps.sh"
laminar_require_packages make g++ cmake libcereal-dev libnuma-dev

build="$root/build/demo"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DLAMINAR_BUILD_TESTS=OFF -DLAMINAR_BUILD_BENCHMARKS=OFF -DLAMINAR_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" --target 01_quickstart 07_ohlc_bars 11_trading_pipeline -j "$(laminar_jobs)" >/dev/null
"$build/examples/01_quickstart"
echo
echo "==== one-second OHLC bars per symbol (examples/07_ohlc_bars) ===="
"$build/examples/07_ohlc_bars"
echo
echo "==== trades joined with quotes -> one-second bars -> signals, timed per event (examples/11_trading_pipeline) ===="
"$build/examples/11_trading_pipeline"
