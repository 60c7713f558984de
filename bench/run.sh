#!/usr/bin/env bash
# Issue 7's benchmark: the release binary against the tools people use, one core each
# (`taskset -c 0`), on the large benchmark capture held in the page cache.
#
#   phonehome analyze --threads 1 --format ndjson --profile examples/profile.toml (20 values)
#   phonehome analyze --format ndjson --profile ...   (default threads: one per core, unpinned)
#   ndpiReader -q -i CAPTURE                           (when installed: libndpi-bin)
#   suricata -r CAPTURE --runmode single               (when installed: bookworm-backports)
#   tshark -r SLICE -T fields ...                      (when installed; on the first
#                                                       $TSHARK_PACKETS packets: it is slow)
#
# Prints seconds, MB/s, packets/s, peak memory, and each tool's ratio to phonehome's
# single-core run. Every run ROUNDS times (default 3); the fastest is reported (the machine
# is shared: the minimum is the least disturbed run).
#
# usage: bench/run.sh [CAPTURE] [ROUNDS]   (default target/bench/big.pcap, built with
#        ../shared/bench/make-big-capture.sh when missing; needs wireshark-common and tcpreplay)
set -euo pipefail
cd "$(dirname "$0")/.."
CAP=${1:-target/bench/big.pcap}
ROUNDS=${2:-3}
TSHARK_PACKETS=${TSHARK_PACKETS:-300000}
if [ ! -f "$CAP" ]; then
  mkdir -p "$(dirname "$CAP")"
  bash ../shared/bench/make-big-capture.sh "$CAP"
fi
CAP=$(realpath "$CAP") # the tools run in a scratch directory
cargo build --release -q -p phonehome
BIN=${CARGO_TARGET_DIR:-target}/release/phonehome
PROFILE=examples/profile.toml
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
count_packets() { capinfos -c -M "$1" 2>/dev/null | awk -F': *' '/Number of packets/{print $2}' | tr -d ' ,'; }
BYTES=$(stat -c %s "$CAP")
PKTS=$(count_packets "$CAP")
cat "$CAP" > /dev/null # into the page cache

BASE=""
# measure NAME BYTES PACKETS PIN COMMAND...: the fastest of ROUNDS successful runs. A run
# that fails (exit status not 0) is reported and never counted: it would be the fastest.
measure() {
  local name=$1 bytes=$2 pkts=$3 pin=$4
  shift 4
  local best="" kib=0 pinning=()
  [ "$pin" = pin ] && pinning=(taskset -c 0)
  for _ in $(seq "$ROUNDS"); do
    rm -rf "$TMP/out" && mkdir -p "$TMP/out"
    local start end status=0
    start=$(date +%s.%N)
    (cd "$TMP/out" && /usr/bin/time -f '%M' -o "$TMP/mem" "${pinning[@]}" "$@" > /dev/null 2> "$TMP/err") || status=$?
    end=$(date +%s.%N)
    if [ "$status" != 0 ]; then
      echo "$name: failed (exit $status): $(grep -v '^Command exited' "$TMP/err" | tail -1)" >&2
      continue
    fi
    local secs
    secs=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc -l)" = 1 ]; then
      best=$secs
      kib=$(tail -1 "$TMP/mem")
    fi
  done
  if [ -z "$best" ]; then
    echo "$name: no successful run" >&2
    [ -n "$BASE" ] || exit 1 # without phonehome's figure there is nothing to compare with
    return 0
  fi
  local mbs
  mbs=$(echo "$bytes / $best / 1000000" | bc -l)
  [ -z "$BASE" ] && BASE=$mbs
  printf '%-44s %7.2f s %8.1f MB/s %11.0f pkts/s %7.1f MiB peak %6.2fx\n' "$name" "$best" "$mbs" \
    "$(echo "${pkts:-0} / $best" | bc -l)" "$(echo "$kib / 1024" | bc -l)" "$(echo "$mbs / $BASE" | bc -l)"
}

echo "capture: $CAP, $BYTES bytes, ${PKTS:-?} packets; fastest of $ROUNDS runs; ratio = MB/s / phonehome's (1 core)"
measure "phonehome, 1 core, 20 declared values" "$BYTES" "$PKTS" pin \
  "$PWD/$BIN" analyze --threads 1 --format ndjson --profile "$PWD/$PROFILE" "$CAP"
measure "phonehome, all $(nproc) cores, 20 declared values" "$BYTES" "$PKTS" nopin \
  "$PWD/$BIN" analyze --format ndjson --profile "$PWD/$PROFILE" "$CAP"
if command -v ndpiReader > /dev/null; then
  measure "ndpiReader -q -i" "$BYTES" "$PKTS" pin ndpiReader -q -i "$CAP"
fi
if command -v suricata > /dev/null; then
  # Default rules and configuration of the package, logs into a scratch directory.
  measure "suricata -r --runmode single" "$BYTES" "$PKTS" pin suricata -r "$CAP" --runmode single -l .
fi
if command -v tshark > /dev/null && command -v editcap > /dev/null; then
  editcap -r "$CAP" "$TMP/slice.pcap" "1-$TSHARK_PACKETS" 2> /dev/null
  SBYTES=$(stat -c %s "$TMP/slice.pcap")
  SPKTS=$(count_packets "$TMP/slice.pcap")
  measure "tshark -T fields (first $SPKTS packets)" "$SBYTES" "$SPKTS" pin \
    tshark -n -r "$TMP/slice.pcap" -T fields -e frame.number -e ip.src -e ip.dst -e dns.qry.name \
    -e tls.handshake.extensions_server_name -e http.host
fi
