#!/usr/bin/env bash
# Compile time of three common translation units, now and at the commit where
# the compile-time work started (3b86e37), measured in the same run:
#
#   umbrella_header  a file that only includes <laminar/laminar.hpp>
#   trading_example  examples/11_trading_pipeline.cpp (connect, ASOF join, window)
#   dag_example      examples/12_dag_join.cpp (a graph: sources, a join node, a merge)
#
#   bash benchmarks/compile_time.sh
#
# Prints, for each, `bench compile_s_<name> <seconds> s` and, when the
# baseline commit can be read from git, `bench compile_s_<name>_ratio <x> x`
# (now / then: 0.5 = half the time), plus the compiler's peak memory
# (`compile_mb_<name>`) where GNU time is installed. Each figure is the best
# of LAMINAR_COMPILE_RUNS (3) compiles of `$CXX -std=c++20 -O2 -c` with the
# project's include path and cereal's; old and new alternate run by run, so
# a burst of load from a neighbour hits both. Seconds are the compiler's CPU
# time (user + system): the wall time on an idle core, and much less
# sensitive than wall time to other work on the machine.
#
# CXX picks the compiler (g++ by default), CEREAL_INCLUDE_DIR cereal's headers
# if they are not on the default path, LAMINAR_COMPILE_BASELINE another
# baseline commit.
set -euo pipefail
shopt -s inherit_errexit

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cxx="${CXX:-g++}"
runs="${LAMINAR_COMPILE_RUNS:-3}"
baseline="${LAMINAR_COMPILE_BASELINE:-3b86e37}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

flags=(-std=c++20 -O2)
[[ -n "${CEREAL_INCLUDE_DIR:-}" ]] && flags+=("-I$CEREAL_INCLUDE_DIR")
# Without libnuma's header the runtime is built without it, as CMake would.
if ! printf '#include <numa.h>\n' | "$cxx" -x c++ -E - >/dev/null 2>&1; then
  flags+=(-DLAMINAR_NO_NUMA)
fi

# The TUs of a tree: its umbrella, and its two examples.
files=(umbrella_header:umbrella.cpp trading_example:examples/11_trading_pipeline.cpp
  dag_example:examples/12_dag_join.cpp)
prepare() {  # prepare DIR: writes DIR/umbrella.cpp
  printf '#include <laminar/laminar.hpp>\n' >"$1/umbrella.cpp"
}

mkdir -p "$work/now"
prepare "$work/now"
ln -s "$root/examples" "$work/now/examples"
now_include="$root/include"

have_baseline=0
if git -C "$root" rev-parse --verify --quiet "${baseline}^{commit}" >/dev/null 2>&1; then
  mkdir -p "$work/then"
  git -C "$root" archive "$baseline" include examples/11_trading_pipeline.cpp examples/12_dag_join.cpp |
    tar -x -C "$work/then"
  prepare "$work/then"
  have_baseline=1
else
  echo "compile_time.sh: commit $baseline is not in this checkout (or git is missing): no ratio lines" >&2
fi

gnu_time=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%M' true >/dev/null 2>&1; then gnu_time=/usr/bin/time; fi

# compile TREE INCLUDE SOURCE: prints "cpu_seconds peak_kb" (peak_kb 0 without GNU time).
compile() {
  local out="$work/out.o" src="$1/$3"
  if [[ -n "$gnu_time" ]]; then
    "$gnu_time" -o "$work/time.txt" -f '%U %S %M' "$cxx" "${flags[@]}" "-I$2" -c "$src" -o "$out"
    awk '{ printf "%.3f %d\n", $1 + $2, $3 }' "$work/time.txt"
  else
    local TIMEFORMAT='%U %S'
    { time "$cxx" "${flags[@]}" "-I$2" -c "$src" -o "$out" 2>"$work/cc.err"; } 2>"$work/time.txt" ||
      { cat "$work/cc.err" >&2; return 1; }
    awk '{ printf "%.3f 0\n", $1 + $2 }' "$work/time.txt"
  fi
}

best() {  # best "s kb" "s kb" ...: the least seconds, and the largest peak memory
  printf '%s\n' "$@" | awk 'NR == 1 || $1 < s { s = $1 } $2 > m { m = $2 } END { printf "%.3f %d\n", s, m }'
}

for entry in "${files[@]}"; do
  name="${entry%%:*}"
  src="${entry#*:}"
  now_runs=()
  then_runs=()
  for ((i = 0; i < runs; ++i)); do
    now_runs+=("$(compile "$work/now" "$now_include" "$src")")
    if ((have_baseline)); then then_runs+=("$(compile "$work/then" "$work/then/include" "$src")"); fi
  done
  read -r now_s now_kb <<<"$(best "${now_runs[@]}")"
  echo "bench compile_s_$name $now_s s"
  if ((have_baseline)); then
    read -r then_s then_kb <<<"$(best "${then_runs[@]}")"
    echo "bench compile_s_${name}_ratio $(awk -v a="$now_s" -v b="$then_s" 'BEGIN { printf "%.3f", a / b }') x"
    echo "# $name at $baseline: $then_s s" >&2
  fi
  if [[ -n "$gnu_time" ]]; then
    echo "bench compile_mb_$name $((now_kb / 1024)) MB"
    if ((have_baseline)); then echo "# $name at $baseline: $((then_kb / 1024)) MB" >&2; fi
  fi
done
