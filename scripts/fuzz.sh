#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang++-16, with AddressSanitizer
# and UndefinedBehaviorSanitizer) into build/fuzz/, and runs each for
# SECONDS on a copy of its seed corpus (fuzz/corpus/<target>/: the repo's
# corpus is never written). Prints "fuzz <target> <execs> execs <seconds> s"
# per target (the seconds it ran: fewer at a finding), and exits non-zero if any target crashed or found a broken
# property (its reproducer is left in build/fuzz/artifacts/<target>/).
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]   (default 60 s, all targets)
# FUZZ_RUNS=N stops a target after N executions (SECONDS still bounds it):
# FUZZ_RUNS=10000000 bash scripts/fuzz.sh 14400 csv_decode
# FUZZ_TIMEOUT=S: an input running longer than S seconds of wall time is a
# finding (10 unless set; a long run beside other work, at low priority,
# wants more: a starved process is not a slow decoder).
# Extra compiler flags: FUZZ_CXXFLAGS. The seed corpus holds each input that
# once found a bug (regression-*): every run replays them first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/deps.sh"
laminar_require_packages clang-16 libclang-rt-16-dev libcereal-dev liburing-dev nlohmann-json3-dev libsimdjson-dev

all_targets=(csv_decode json_decode binary_decode debezium_decode snapshot_read checkpoint_read wal_read)
seconds="${1:-60}"
[ $# -gt 0 ] && shift
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
case "${FUZZ_RUNS:-0}" in
  ''|*[!0-9]*) echo "fuzz.sh: FUZZ_RUNS must be a whole number, not '$FUZZ_RUNS'" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "$root/fuzz/$t.cpp" ] || { echo "fuzz.sh: no target '$t' (targets: ${all_targets[*]})" >&2; exit 2; }
done

cd "$root"
out="$root/build/fuzz"
mkdir -p "$out"
# Scratch files of the checkpoint targets: in memory where there is
# /dev/shm (an fdatasync there costs nothing), under build/fuzz otherwise.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  scratch="$(mktemp -d /dev/shm/laminar-fuzz.XXXXXX)"
else
  scratch="$(mktemp -d "$out/tmp.XXXXXX")"
fi
trap 'rm -rf "$scratch"' EXIT
export LAMINAR_FUZZ_TMP="$scratch"
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in llvm-symbolizer-16 llvm-symbolizer; do
    if command -v "$s" >/dev/null; then export ASAN_SYMBOLIZER_PATH="$(command -v "$s")"; break; fi
  done
fi

cxxflags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude)
# shellcheck disable=SC2206  # FUZZ_CXXFLAGS is a list of flags
cxxflags+=(${FUZZ_CXXFLAGS:-})
libs=(-lsimdjson -luring -pthread)

failed=()
# The builds side by side (FUZZ_JOBS, the cores by default), then the runs
# one at a time.
echo "==== fuzz: build ${targets[*]}"
printf '%s\n' "${targets[@]}" |
  xargs -P "${FUZZ_JOBS:-$(laminar_jobs)}" -I '{}' clang++-16 "${cxxflags[@]}" "fuzz/{}.cpp" -o "$out/{}" "${libs[@]}"
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t"
  artifacts="$out/artifacts/$t"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  cp fuzz/corpus/"$t"/* "$corpus"/
  log="$out/$t.log"
  echo "==== fuzz: $t: run for $seconds s (log: build/fuzz/$t.log)"
  rc=0
  start=$SECONDS
  runs=()
  [ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$FUZZ_RUNS")
  "$out/$t" "${runs[@]}" -max_total_time="$seconds" -print_final_stats=1 -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  # The seconds it ran: fewer than asked when it stopped at a finding.
  echo "fuzz $t ${execs:-?} execs $((SECONDS - start)) s"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    echo "==== fuzz: $t FAILED (exit $rc): the end of its log:" >&2
    grep -v -E '^(#[0-9]+|INFO:|\s+"|"|stat::)' "$log" | tail -n 40 >&2 || true
    ls "$artifacts" >&2 || true
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "==== fuzz: failed: ${failed[*]} (reproducers in build/fuzz/artifacts/)" >&2
  exit 1
fi
if [ -n "${FUZZ_RUNS:-}" ]; then
  echo "==== fuzz: all targets ran ${FUZZ_RUNS} executions or ${seconds} s without a finding"
else
  echo "==== fuzz: all targets ran ${seconds} s without a finding"
fi
