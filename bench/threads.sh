#!/usr/bin/env bash
# Scaling of `--threads` on the big capture: the full analysis (NDJSON to /dev/null, the 20
# declared values of examples/profile.toml, undeclared detectors, attribution) with each
# thread count, runs interleaved, the load average printed next to every figure (wall time
# means little on a shared machine), and the outputs checked: byte-identical for every count
# above 1, the same events (sorted lines) as --threads 1.
#
# usage: bench/threads.sh [CAPTURE] [RUNS] [THREAD COUNTS...]
#        (default: target/bench/big.pcap, 3 runs, counts 1 and every one up to nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
CAP=${1:-target/bench/big.pcap}
RUNS=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
COUNTS=("$@")
if [ ${#COUNTS[@]} -eq 0 ]; then mapfile -t COUNTS < <(seq 1 "$(nproc)"); fi
if [ ! -f "$CAP" ]; then
  mkdir -p "$(dirname "$CAP")"
  bash ../shared/bench/make-big-capture.sh "$CAP"
fi
cargo build --release -q -p phonehome
BIN=$TARGET/release/phonehome
BYTES=$(stat -c %s "$CAP")
cat "$CAP" > /dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "capture: $CAP, $BYTES bytes; $(nproc) cores"
for run in $(seq 1 "$RUNS"); do
  for n in "${COUNTS[@]}"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/time" "$BIN" analyze --format ndjson --threads "$n" \
      --profile examples/profile.toml "$CAP" > "$OUT/out.$n" 2>/dev/null &
    pid=$!
    # CPU seconds per thread (utime + stime), sampled until the run ends.
    threads=""
    while sleep 0.2 && kill -0 "$pid" 2>/dev/null; do
      child=$(pgrep -P "$pid" | head -1 || true)
      [ -n "$child" ] || continue
      snap=$(for t in /proc/"$child"/task/*; do
        awk -v tck="$(getconf CLK_TCK)" '{printf "%.2f ", ($14 + $15) / tck}' "$t/stat" 2>/dev/null || true; done)
      [ -n "$snap" ] && threads=$snap
    done
    wait "$pid"
    read -r wall user sys kib < "$OUT/time"
    printf 'threads %2d run %d: %6.2f s wall %7.1f MB/s  %6.2f s user %5.2f s sys  %6.1f MiB peak  (load before: %s)  CPU s per thread: %s\n' \
      "$n" "$run" "$wall" "$(echo "$BYTES / $wall / 1000000" | bc -l)" "$user" "$sys" "$(echo "$kib / 1024" | bc -l)" "$load" "$threads"
  done
done
first=""
for n in "${COUNTS[@]}"; do
  if [ "$n" -gt 1 ]; then
    if [ -z "$first" ]; then first=$n; elif ! cmp -s "$OUT/out.$first" "$OUT/out.$n"; then
      echo "MISMATCH: --threads $n differs from --threads $first"; exit 1
    fi
  fi
done
if [ -n "$first" ] && [ -f "$OUT/out.1" ]; then
  if cmp -s <(sort "$OUT/out.1") <(sort "$OUT/out.$first"); then
    echo "outputs: identical for every count above 1; the same events as --threads 1"
  else
    echo "MISMATCH: --threads $first holds other events than --threads 1"; exit 1
  fi
fi
