#!/usr/bin/env bash
# Instructions executed by the release binary on a capture, counted by callgrind: unlike wall
# time the count does not move when other jobs share the machine, so a change of a few per
# cent shows. Prints the total and the functions that execute most.
#
# usage: bench/instructions.sh CAPTURE [ANALYZE FLAGS...]
#   e.g. bench/instructions.sh target/bench/p100k.pcap --threads 1
#        (p100k.pcap: the first 100,000 packets of the big capture,
#         `editcap -F pcap -r target/bench/big.pcap target/bench/p100k.pcap 1-100000`)
# Threads run one at a time under valgrind: with --threads N the count is the sum over them.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
  echo "valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
fi
CAP=${1:?usage: bench/instructions.sh CAPTURE [ANALYZE FLAGS...]}
shift
cargo build --release -q -p phonehome
BIN=${CARGO_TARGET_DIR:-target}/release/phonehome
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$OUT/cg" "$BIN" analyze --format ndjson "$@" "$CAP" \
  > /dev/null 2> "$OUT/log"
grep -E 'I\s+refs' "$OUT/log" | sed 's/^==[0-9]*== //'
callgrind_annotate "$OUT/cg" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '3,17p' | cut -c1-150
