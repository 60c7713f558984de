#!/usr/bin/env python3
"""Run phonehome over every capture of ../shared/corpus and compare with tshark's truth.

Checks, per capture:
  * exit code 0 or 2, no panic, under the time limit (default 5 s);
  * TCP and UDP flow counts within 10 % of tshark's `-z conv,tcp` / `-z conv,udp` counts
    (issue 2);
  * names (issue 3): the set of DNS query names, TLS SNIs, QUIC SNIs (IETF and Google) and
    HTTP/1.x (host, request target) pairs, against tshark's. Recall and precision are summed
    over all captures, per kind and in total. Captures with TLS keys (KEYLOGS.tsv) are read
    with their key log (`--keylog`, or the pcapng's own secrets), as tshark read them, so the
    HTTP/1.x requests tshark decrypted count too; HTTP/2 and HTTP/3 requests are not in the
    truth (tshark's `http.request` rows are HTTP/1.x only) and are left out of the comparison.
The run fails when any capture breaks the first rule, when fewer than --min-agreement of the
captures meet the second, or when names fall below --min-recall / --min-precision.
Differences are written to --report and --names-report (TSV) for docs/FLOWS.md and
docs/NAMES.md.

usage: corpus_sweep.py --corpus ../shared/corpus --binary target/release/phonehome
"""

import argparse
import base64
import concurrent.futures
import csv
import json
import os
import re
import subprocess
import sys
import time


def within(ours, theirs, tolerance):
    return abs(ours - theirs) <= tolerance * theirs if theirs else ours == 0


def run_one(binary, corpus, path, timeout, extra, keylog=None):
    start = time.monotonic()
    if keylog:
        extra = [*extra, "--keylog", os.path.join(corpus, keylog)]
    try:
        proc = subprocess.run(
            [binary, "analyze", "--format", "ndjson", *extra, os.path.join(corpus, path)],
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"path": path, "problem": f"timeout after {timeout}s"}
    elapsed = time.monotonic() - start
    stderr = proc.stderr.decode("utf-8", "replace")
    result = {"path": path, "rc": proc.returncode, "secs": elapsed, "stderr": stderr.strip()}
    if proc.returncode not in (0, 2):
        result["problem"] = f"exit code {proc.returncode}: {stderr[-300:]}"
        return result
    if "panicked" in stderr:
        result["problem"] = f"panic: {stderr[-300:]}"
        return result
    tcp = udp = 0
    names = set()
    leaks = {True: 0, False: 0}
    for line in proc.stdout.splitlines():
        event = json.loads(line)
        kind = event.get("event_type")
        if kind == "leak":
            leaks[event["leak"]["declared"]] += 1
        elif kind == "flow":
            if event.get("proto") == "TCP":
                tcp += 1
            elif event.get("proto") == "UDP":
                udp += 1
        elif kind == "dns":
            # tshark's `-Y dns` filter (truth/README.md) does not match its separate mdns and
            # llmnr protocols, so the truth has none of them; we report them, but cannot compare.
            if {event.get("src_port"), event.get("dest_port")} & {5353, 5355}:
                continue
            for q in event["dns"].get("queries", []):
                names.add(("dns", dns_name(text(q.get("rrname")), True)))
        elif kind == "tls":
            if event["tls"].get("sni") is not None:
                names.add(("tls", text(event["tls"]["sni"])))
        elif kind == "quic":
            if event["quic"].get("sni") is not None:
                names.add(("quic", text(event["quic"]["sni"])))
        elif kind == "http":
            h = event["http"]
            if h.get("url") is not None and h.get("version") not in ("2", "3"):
                names.add(("http", (host(text(h.get("hostname")) or ""), text(h["url"]))))
    result["tcp"], result["udp"] = tcp, udp
    result["names"] = names
    result["leaks"] = leaks
    return result


def text(value):
    """A WireText from the NDJSON: a string, or {"bytes": base64} for non-UTF-8 bytes."""
    if isinstance(value, dict):
        return base64.b64decode(value["bytes"]).decode("latin-1")
    return value


def host(value):
    """An HTTP host as both sides can be compared: lower case, without a port (our
    http.hostname drops it, as Suricata's does; tshark's http.host keeps what was sent)."""
    value = value.lower()
    m = re.fullmatch(r"(\[.*\]|[^:]*):\d*", value)
    return m.group(1) if m else value


def dns_name(name, ours):
    """A DNS name in a form both renderings reduce to: lower case, the root as ".", and every
    byte outside printable ASCII as "?". We escape such bytes as decimal \DDD and a backslash
    as \\ (RFC 1035's master-file form); tshark writes control bytes in octal or as \r, and
    other bytes raw, with U+FFFD where they are not UTF-8. Invalid UTF-8 runs make the "?"
    counts differ, so runs of "?" count as one."""
    if name.lower() == "<root>":
        return "."
    if ours:
        name = re.sub(r"\\(\d{3}|.)", lambda m: "?" if m.group(1).isdigit() else m.group(1), name)
    else:
        name = re.sub(r"\\([0-7]{3}|[abfnrtv])", "?", name)
    name = "".join(c if " " <= c < "\x7f" else "?" for c in name).lower()
    return re.sub(r"\?+", "?", name)


def truth_names(corpus, path):
    """tshark's names for one capture, in the same shape as run_one's."""
    names = set()
    try:
        f = open(os.path.join(corpus, "truth", path + ".tsv"), encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return names
    with f:
        for line in f:
            if line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 9:
                continue
            kind, value, extra = cols[0], cols[7], cols[8]
            if kind == "dns":
                # Several questions are joined by commas (tshark's own join inside the field).
                for name in re.split("[\x1f,]", value):
                    # "<name too long>", "<unknown extended label>"...: tshark's placeholders
                    # for names it could not read, not names anyone asked for.
                    if name and not (name.startswith("<") and name.lower() != "<root>"):
                        names.add(("dns", dns_name(name, False)))
            elif kind == "tls_sni":
                for name in value.split("\x1f"):
                    names.add(("tls", name))
            elif kind in ("quic_sni", "gquic_sni"):
                for name in value.split("\x1f"):
                    names.add(("quic", name))
            elif kind == "http_req":
                hosts = value.split("\x1f")
                requests = extra.split("\x1f")
                for i, request in enumerate(requests):
                    target = request.split(" ", 1)[1] if " " in request else ""
                    names.add(("http", (host(hosts[i]) if i < len(hosts) else "", target)))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="../shared/corpus")
    ap.add_argument("--binary", default="target/release/phonehome")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--min-agreement", type=float, default=0.95)
    ap.add_argument("--report", default=None, help="write per-capture differences here (TSV)")
    ap.add_argument("--min-recall", type=float, default=0.0)
    ap.add_argument("--min-precision", type=float, default=0.0)
    ap.add_argument("--names-report", default=None, help="write every name difference here (TSV)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument(
        "--absent-profile",
        default=None,
        help="a device profile whose values appear nowhere in the corpus: any declared leak fails",
    )
    args = ap.parse_args()
    # Values are shown so that names compare with tshark's (redaction would replace the
    # identifiers that URLs carry).
    extra = ["--show-values"]
    if args.absent_profile:
        extra += ["--profile", args.absent_profile]

    truth = {}
    with open(os.path.join(args.corpus, "truth", "SUMMARY.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            truth[row["capture"]] = (int(row["conv_tcp"] or 0), int(row["conv_udp"] or 0))
    with open(os.path.join(args.corpus, "MANIFEST.tsv")) as f:
        paths = [row["local_path"] for row in csv.DictReader(f, delimiter="\t")]

    # Key log files by capture; "(embedded pcapng DSB)" rows need none.
    with open(os.path.join(args.corpus, "KEYLOGS.tsv")) as f:
        keylogs = {
            row["capture"]: row["keylog"] for row in csv.DictReader(f, delimiter="\t") if not row["keylog"].startswith("(")
        }

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(
            pool.map(lambda p: run_one(args.binary, args.corpus, p, args.timeout, extra, keylogs.get(p)), paths)
        )

    broken = [r for r in results if "problem" in r]
    compared = [r for r in results if "problem" not in r and r["path"] in truth]
    agree, differ = [], []
    for r in compared:
        t_tcp, t_udp = truth[r["path"]]
        r["t_tcp"], r["t_udp"] = t_tcp, t_udp
        ok = within(r["tcp"], t_tcp, args.tolerance) and within(r["udp"], t_udp, args.tolerance)
        (agree if ok else differ).append(r)

    kinds = ("dns", "tls", "quic", "http")
    found = {k: 0 for k in kinds}
    theirs = {k: 0 for k in kinds}
    ours = {k: 0 for k in kinds}
    name_diffs = []
    for r in results:
        if "problem" in r:
            continue
        t = truth_names(args.corpus, r["path"])
        o = r["names"]
        for k, name in t:
            theirs[k] += 1
            if (k, name) in o:
                found[k] += 1
            else:
                name_diffs.append((r["path"], "missed", k, name))
        for k, name in o:
            ours[k] += 1
            if (k, name) not in t:
                name_diffs.append((r["path"], "extra", k, name))

    def ratio(a, b):
        return a / b if b else 1.0

    for k in kinds + ("all",):
        f_, t_, o_ = (sum(d.values()) if k == "all" else d[k] for d in (found, theirs, ours))
        print(f"names {k}: tshark {t_}, ours {o_}, both {f_}: recall {ratio(f_, t_):.2%}, precision {ratio(f_, o_):.2%}")
    recall = ratio(sum(found.values()), sum(theirs.values()))
    precision = ratio(sum(found.values()), sum(ours.values()))
    if args.names_report:
        with open(args.names_report, "w") as f:
            f.write("capture\tdifference\tkind\tname\n")
            for path, what, k, name in sorted(name_diffs, key=str):
                shown = " ".join(name) if isinstance(name, tuple) else name
                f.write(f"{path}\t{what}\t{k}\t{shown!r}\n")

    declared = sum(r["leaks"][True] for r in results if "leaks" in r)
    undeclared = sum(r["leaks"][False] for r in results if "leaks" in r)
    with_leaks = sum(1 for r in results if "leaks" in r and r["leaks"][False])
    print(f"leaks: declared {declared}, undeclared {undeclared} (in {with_leaks} captures)")
    if args.absent_profile and declared:
        for r in results:
            if "leaks" in r and r["leaks"][True]:
                print(f"  declared leak of an absent value: {r['path']}: {r['leaks'][True]}")
        broken.append({"path": "(leaks)", "problem": "declared values that appear nowhere were reported"})

    slowest = max((r.get("secs", 0) for r in results), default=0)
    exit2 = sum(1 for r in results if r.get("rc") == 2)
    rate = len(agree) / len(compared) if compared else 0
    print(f"captures: {len(results)}; exit 2 (nothing readable): {exit2}; slowest: {slowest:.2f}s")
    print(f"flow counts within {args.tolerance:.0%} of tshark: {len(agree)}/{len(compared)} = {rate:.1%}")
    for r in sorted(differ, key=lambda r: r["path"]):
        print(f"  differs: {r['path']}: tcp {r['tcp']} vs {r['t_tcp']}, udp {r['udp']} vs {r['t_udp']}")
    for r in broken:
        print(f"  BROKEN: {r['path']}: {r['problem']}")
    if args.report:
        with open(args.report, "w") as f:
            f.write("capture\ttcp\ttshark_tcp\tudp\ttshark_udp\n")
            for r in sorted(differ, key=lambda r: r["path"]):
                f.write(f"{r['path']}\t{r['tcp']}\t{r['t_tcp']}\t{r['udp']}\t{r['t_udp']}\n")
    if recall < args.min_recall or precision < args.min_precision:
        print(f"names below --min-recall {args.min_recall:.0%} / --min-precision {args.min_precision:.0%}")
        broken.append({"path": "(names)", "problem": "recall/precision"})
    if broken or rate < args.min_agreement:
        print("corpus sweep: FAILED")
        sys.exit(1)
    print(f"corpus sweep: {len(results)} passed, 0 failed")


if __name__ == "__main__":
    main()
