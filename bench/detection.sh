#!/usr/bin/env bash
# What detection adds to dissection (issue 4): the release binary on one core, one thread,
# NDJSON to /dev/null, four configurations run interleaved ROUNDS times:
#   none        --declared-only, no profile: dissection alone (nothing is searched)
#   undeclared  the default: the undeclared detectors
#   declared50  --declared-only with bench/profile-50.toml (50 declared values)
#   full50      bench/profile-50.toml and the undeclared detectors
# Prints min and median user CPU seconds of each and the ratio of the minima to `none`.
# With --instructions, counts instructions with callgrind instead (one run each; exact, and
# unmoved by other jobs on the machine; use a slice: about 50x slower than a run).
#
# usage: bench/detection.sh [--instructions] [CAPTURE] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=time
if [ "${1:-}" = --instructions ]; then MODE=instructions; shift; fi
CAP=${1:-target/bench/big.pcap}
ROUNDS=${2:-5}
if [ ! -f "$CAP" ]; then
  mkdir -p "$(dirname "$CAP")"
  bash ../shared/bench/make-big-capture.sh "$CAP"
fi
cargo build --release -q -p phonehome
BIN=${CARGO_TARGET_DIR:-target}/release/phonehome
NAMES=(none undeclared declared50 full50)
ARGS=("--declared-only" "" "--declared-only --profile bench/profile-50.toml" "--profile bench/profile-50.toml")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

if [ "$MODE" = instructions ]; then
  command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
  for i in 0 1 2 3; do
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg" "$BIN" analyze --threads 1 --format ndjson \
      ${ARGS[$i]} "$CAP" > /dev/null 2> "$OUT/log"
    grep -E 'I\s+refs' "$OUT/log" | sed 's/.*refs: *//; s/,//g' > "$OUT/${NAMES[$i]}"
  done
  base=$(cat "$OUT/none")
  for n in "${NAMES[@]}"; do
    v=$(cat "$OUT/$n")
    awk -v n="$n" -v v="$v" -v b="$base" 'BEGIN { printf "%-11s %14.1f M instructions  %+6.1f %%\n", n, v / 1e6, (v / b - 1) * 100 }'
  done
  exit 0
fi

for _ in $(seq "$ROUNDS"); do
  for i in 0 1 2 3; do
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U' -o "$OUT/t" taskset -c 0 "$BIN" analyze --threads 1 --format ndjson ${ARGS[$i]} "$CAP" \
      > /dev/null 2> /dev/null
    cat "$OUT/t" >> "$OUT/${NAMES[$i]}"
  done
done
base=$(sort -n "$OUT/none" | head -1)
for n in "${NAMES[@]}"; do
  sort -n "$OUT/$n" | awk -v n="$n" -v b="$base" '{ v[NR] = $1 } END {
    printf "%-11s user CPU min %.2f s, median %.2f s  (min %+6.1f %% against none)\n", n, v[1], v[int((NR + 1) / 2)], (v[1] / b - 1) * 100 }'
done
