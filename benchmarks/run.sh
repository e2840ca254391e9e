#!/usr/bin/env bash
# Builds the benchmarks (Release, in build/bench) and runs every benchmark
# whose name contains FILTER, or all of them:
#
#   bash benchmarks/run.sh [FILTER]
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

# Tests and examples stay off: the benchmarks need neither (nor doctest).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DLAMINAR_BUILD_BENCHMARKS=ON -DLAMINAR_BUILD_TESTS=OFF -DLAMINAR_BUILD_EXAMPLES=OFF >&2
cmake --build "$build" --parallel >&2

# Every executable the benchmarks directory builds is a benchmark.
mapfile -t benches < <(find "$build/benchmarks" -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort)
ran=0
for name in "${benches[@]}"; do
  [[ -z "$filter" || "$name" == *"$filter"* ]] || continue
  echo "# $name" >&2
  "$build/benchmarks/$name"
  ran=$((ran + 1))
done
if ((ran == 0)); then
  echo "run.sh: no benchmark matches '${filter}' (have: ${benches[*]:-none})" >&2
  exit 1
fi
