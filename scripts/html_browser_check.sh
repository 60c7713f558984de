#!/usr/bin/env bash
# The HTML report in a real browser: renders the report of examples/1kxun.pcap and of a HAR
# whose host names, URLs and headers carry markup (scripts/browser/hostile.har), and the diff
# page between the two (phonehome diff --format html), loads them in
# Debian's headless Chromium through playwright-core (scripts/browser/check.mjs), and fails on
# any console error, any network request other than the file itself, any script that ran
# (window.__pwned set, a dialog, a script or img element), or markup not shown as text.
#
#   scripts/html_browser_check.sh                 # screenshot to $TMPDIR/phonehome-report.png
#   scripts/html_browser_check.sh --update-docs   # screenshot to docs/report.png
#
# Needs /usr/bin/chromium (apt-get install chromium) and node with npm; the phonehome binary
# is taken from $PHONEHOME, else ${CARGO_TARGET_DIR:-target}/debug/phonehome (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

shot="${TMPDIR:-/tmp}/phonehome-report.png"
if [ "${1:-}" = "--update-docs" ]; then
  shot=docs/report.png
fi

bin="${PHONEHOME:-${CARGO_TARGET_DIR:-target}/debug/phonehome}"
if [ ! -x "$bin" ]; then
  cargo build -p phonehome
fi
if [ ! -d scripts/browser/node_modules/playwright-core ]; then
  (cd scripts/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$bin" analyze --format html -o "$out/1kxun.html" \
  --id android_id=b9e28776354d259e --id advertising_id/GAID=5ac6a0ff-8d18-47bc-a902-2812cf0c251e \
  examples/1kxun.pcap
"$bin" analyze --format html -o "$out/hostile-har.html" --id imei=356938035643809 scripts/browser/hostile.har
# The diff page: the hostile HAR before, the example capture after (its host names are in the
# destinations and identifiers that disappeared).
"$bin" diff --format html -o "$out/diff.html" --id imei=356938035643809 scripts/browser/hostile.har examples/1kxun.pcap

node scripts/browser/check.mjs --screenshot "$shot" \
  --expect-text '<script>alert(1)</script>' \
  --expect-text '"><img src=x onerror="window.__pwned=1">' \
  --expect-text 'X-\u{202e}evil' \
  "$out/1kxun.html" "$out/hostile-har.html" "$out/diff.html"
