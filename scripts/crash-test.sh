#!/usr/bin/env bash
# Kills a checkpointing graph with SIGKILL, N times, and checks that what it
# committed equals an uninterrupted run's output byte for byte.
#
#   bash scripts/crash-test.sh [N] [TRADES]
#
# N kills (default 30) over as many rounds as it takes: a round starts the
# child (tests/checkpoint/crash_child.cpp) on a fresh work directory and
# kills it again and again, each start recovering from the checkpoints the
# last one left, until one run reaches the end of the input; then the
# committed part files are compared with the reference run's. A kill lands
# at a random moment (most), before a given checkpoint file is written
# (mid-checkpoint), or before a given part commit (mid-commit).
# CRASH_CHILD names the child binary (default: build/release/tests/crash_child).
# CRASH_FEED=logged pushes the trades through a logged_feed (write-ahead
# log) from a thread of the child instead of reading them from the file.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kills_wanted="${1:-30}"
trades="${2:-60000}"
child="${CRASH_CHILD:-$root/build/release/tests/crash_child}"
if [ ! -x "$child" ]; then
  echo "crash-test: $child is not built (cmake --build --preset release --target crash_child)" >&2
  exit 2
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/laminar-crash.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$child" generate "$work/input" "$trades"
# The reference: one run, never killed, with the same throttle.
throttle=20000  # ns per trade: a run lasts ~1.2 s, so random kills land mid-run
feed_args=()
[ "${CRASH_FEED:-}" = logged ] && feed_args=(--feed=logged)
"$child" run "$work/input" "$work/reference" --throttle-ns="$throttle" "${feed_args[@]}"
cat "$work"/reference/out/part-* > "$work/expected"
expected_lines=$(wc -l < "$work/expected")

kills=0 rounds=0 mid_checkpoint=0 mid_commit=0 random_kills=0
start=$(date +%s)
while [ "$kills" -lt "$kills_wanted" ]; do
  rounds=$((rounds + 1))
  run="$work/run$rounds"
  mkdir -p "$run"
  runs=0
  while :; do
    runs=$((runs + 1))
    if [ "$runs" -gt 200 ]; then
      echo "crash-test: round $rounds did not finish in 200 runs" >&2
      exit 1
    fi
    mode=$((RANDOM % 10))
    args=(--throttle-ns="$throttle" "${feed_args[@]}")
    if [ "$kills" -ge "$kills_wanted" ]; then
      mode=-1  # enough kills: let it finish
    elif [ "$mode" -eq 0 ]; then
      args+=(--kill-at-file=$((1 + RANDOM % 40)))
    elif [ "$mode" -eq 1 ]; then
      args+=(--kill-at-commit=$((1 + RANDOM % 20)))
    fi
    # In the background even when it kills itself: waiting on a background
    # job keeps bash from reporting each kill.
    set +e
    "$child" run "$work/input" "$run" "${args[@]}" &
    pid=$!
    if [ "$mode" -ge 2 ]; then
      sleep "0.$(printf '%03d' $((20 + RANDOM % 600)))"
      kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
      break
    elif [ "$rc" -eq 137 ]; then
      kills=$((kills + 1))
      case "$mode" in
        0) mid_checkpoint=$((mid_checkpoint + 1)) ;;
        1) mid_commit=$((mid_commit + 1)) ;;
        *) random_kills=$((random_kills + 1)) ;;
      esac
    else
      echo "crash-test: the child failed with exit code $rc in round $rounds" >&2
      exit 1
    fi
  done
  cat "$run"/out/part-* > "$run/got"
  if ! cmp -s "$work/expected" "$run/got"; then
    got_lines=$(wc -l < "$run/got")
    lost=$(sort "$work/expected" | comm -23 - <(sort "$run/got") | wc -l)
    dup=$(sort "$run/got" | uniq -d | wc -l)
    echo "crash-test: round $rounds: committed output differs from the uninterrupted run's" \
      "($got_lines lines, expected $expected_lines; $lost lost, $dup duplicated)" >&2
    exit 1
  fi
  if ls -A "$run/out" | grep -q '^\.part-'; then
    echo "crash-test: round $rounds left uncommitted part files behind" >&2
    exit 1
  fi
done
source_kind="trades read from a file"
[ "${#feed_args[@]}" -gt 0 ] && source_kind="trades pushed through a logged feed"
echo "crash-test ($source_kind): $kills kills ($random_kills at random moments, $mid_checkpoint during a checkpoint write," \
  "$mid_commit during a commit) over $rounds rounds in $(($(date +%s) - start)) s:" \
  "committed output equals the uninterrupted run's ($expected_lines rows), 0 lost, 0 duplicated"
