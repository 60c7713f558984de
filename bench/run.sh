#!/usr/bin/env bash
# Times the release binary on the large benchmark capture, pinned to one core, and (when
# installed) ndpiReader and tshark on the same capture. Prints MB/s, packets/s and peak memory.
#
# usage: bench/run.sh [CAPTURE]   (default: target/bench/big.pcap, built with
#        ../shared/bench/make-big-capture.sh when missing; needs wireshark-common and tcpreplay)
set -euo pipefail
cd "$(dirname "$0")/.."
CAP=${1:-target/bench/big.pcap}
if [ ! -f "$CAP" ]; then
  mkdir -p "$(dirname "$CAP")"
  bash ../shared/bench/make-big-capture.sh "$CAP"
fi
cargo build --release -p phonehome >/dev/null
BYTES=$(stat -c %s "$CAP")
PKTS=$(capinfos -c -M "$CAP" 2>/dev/null | awk -F': *' '/Number of packets/{print $2}' | tr -d ' ,')
# Warm the page cache so every tool reads from memory.
cat "$CAP" > /dev/null

measure() { # name, command...
  local name=$1; shift
  local log; log=$(mktemp)
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$log" taskset -c 0 "$@" > /dev/null 2>&1 || true
  end=$(date +%s.%N)
  local secs; secs=$(echo "$end - $start" | bc -l)
  local kib; kib=$(tail -1 "$log")
  printf '%-28s %8.2f s %9.1f MB/s %12.0f pkts/s %8.1f MiB peak\n' "$name" "$secs" \
    "$(echo "$BYTES / $secs / 1000000" | bc -l)" "$(echo "${PKTS:-0} / $secs" | bc -l)" "$(echo "$kib / 1024" | bc -l)"
  rm -f "$log"
}

echo "capture: $CAP, $BYTES bytes, ${PKTS:-?} packets"
measure "phonehome (ndjson)" target/release/phonehome analyze --format ndjson "$CAP"
measure "phonehome (text)" target/release/phonehome analyze "$CAP"
if command -v ndpiReader >/dev/null; then
  measure "ndpiReader -q -i" ndpiReader -q -i "$CAP"
fi
