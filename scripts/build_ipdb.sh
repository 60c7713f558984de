#!/usr/bin/env bash
# Regenerates the embedded IP tables (crates/attribute/data/ip/{country,asn}.ipdb) from the
# ip-location-db npm packages in ../shared/data/ip-location-db (or the directory given):
#   country: ip-location-db-geo-whois-asn-country-mmdb-V.tgz  (package/geo-whois-asn-country.mmdb)
#   asn:     ip-location-db-asn-V.tgz                         (package/asn-ipv4.csv, asn-ipv6.csv)
# Needs tar and cargo. The work is done by crates/attribute/examples/build_ipdb.rs,
# which also reads each written file back and checks every source range against it.
# Then run `cargo test -p phonehome-attribute` (tests/ip_sources.rs compares the tables with
# the sources on 100,000 addresses each) and update docs/ATTRIBUTION.md's figures.
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-../shared/data/ip-location-db}"
country_tgz=$(ls "$src"/ip-location-db-geo-whois-asn-country-mmdb-*.tgz | sort -V | tail -1)
asn_tgz=$(ls "$src"/ip-location-db-asn-*.tgz | grep -v -- '-mmdb-' | sort -V | tail -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/country" "$work/asn"
tar xzf "$country_tgz" -C "$work/country"
tar xzf "$asn_tgz" -C "$work/asn"
version() { sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$1/package/package.json"; }
cargo run --quiet --release -p phonehome-attribute --example build_ipdb -- \
  --country-mmdb "$work/country/package/geo-whois-asn-country.mmdb" \
  --country-version "$(version "$work/country")" \
  --asn-v4 "$work/asn/package/asn-ipv4.csv" \
  --asn-v6 "$work/asn/package/asn-ipv6.csv" \
  --asn-version "$(version "$work/asn")" \
  --out crates/attribute/data/ip
ls -l crates/attribute/data/ip
