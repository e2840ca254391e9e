#!/usr/bin/env bash
# Builds the benchmarks (Release, in build/bench) and runs every benchmark
# whose name contains FILTER, or all of them:
#
#   bash benchmarks/run.sh [FILTER]
#
# compile_time (compile_time.sh: how long the umbrella header and two
# examples take to compile, against a baseline commit) is one of them; it
# builds nothing, so `run.sh compile` runs it alone without a build.
#
# The bench lines go to stdout and everything else (the build, diagnostics)
# to stderr, so `benchmarks/run.sh > results.txt` keeps just the figures.
# LAMINAR_BENCH_BUILD_DIR overrides the build directory, e.g. to keep a
# build per compiler: CXX=clang++-16 LAMINAR_BENCH_BUILD_DIR=build/bench-clang.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LAMINAR_BENCH_BUILD_DIR:-$root/build/bench}"
case "$build" in
  /*) ;;
  *) build="$root/$build" ;;
esac
filter="${1:-}"
matches() { [[ -z "$filter" || "$1" == *"$filter"* ]]; }

# Each benchmark executable is named after its source: build only when one
# of them is asked for.
mapfile -t sources < <(find "$root/benchmarks" -maxdepth 1 -name '*.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
wanted=0
for name in "${sources[@]}"; do matches "$name" && wanted=1; done

ran=0
if ((wanted)); then
  # Tests and examples stay off: the benchmarks need neither (nor doctest).
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DLAMINAR_BUILD_BENCHMARKS=ON -DLAMINAR_BUILD_TESTS=OFF -DLAMINAR_BUILD_EXAMPLES=OFF >&2
  cmake --build "$build" --parallel >&2

  # Every executable the benchmarks directory builds is a benchmark.
  mapfile -t benches < <(find "$build/benchmarks" -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort)
  for name in "${benches[@]}"; do
    matches "$name" || continue
    echo "# $name" >&2
    "$build/benchmarks/$name"
    ran=$((ran + 1))
  done
fi
if matches compile_time; then
  echo "# compile_time" >&2
  bash "$root/benchmarks/compile_time.sh"
  ran=$((ran + 1))
fi
if ((ran == 0)); then
  echo "run.sh: no benchmark matches '${filter}' (have: ${sources[*]:-none} compile_time)" >&2
  exit 1
fi
