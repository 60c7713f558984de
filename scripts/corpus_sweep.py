#!/usr/bin/env python3
"""Run phonehome over every capture of ../shared/corpus and compare with tshark's truth.

Checks, per capture (issue 2's "done when"):
  * exit code 0 or 2, no panic, under the time limit (default 5 s);
  * TCP and UDP flow counts within 10 % of tshark's `-z conv,tcp` / `-z conv,udp` counts.
The run fails when any capture breaks the first rule, or when fewer than --min-agreement of
the captures meet the second. Differences are written to --report (TSV) for docs/FLOWS.md.

usage: corpus_sweep.py --corpus ../shared/corpus --binary target/release/phonehome
"""

import argparse
import concurrent.futures
import csv
import json
import os
import subprocess
import sys
import time


def within(ours, theirs, tolerance):
    return abs(ours - theirs) <= tolerance * theirs if theirs else ours == 0


def run_one(binary, corpus, path, timeout):
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [binary, "analyze", "--format", "ndjson", os.path.join(corpus, path)],
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
    for line in proc.stdout.splitlines():
        event = json.loads(line)
        if event.get("event_type") == "flow":
            if event.get("proto") == "TCP":
                tcp += 1
            elif event.get("proto") == "UDP":
                udp += 1
    result["tcp"], result["udp"] = tcp, udp
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="../shared/corpus")
    ap.add_argument("--binary", default="target/release/phonehome")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--min-agreement", type=float, default=0.95)
    ap.add_argument("--report", default=None, help="write per-capture differences here (TSV)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    truth = {}
    with open(os.path.join(args.corpus, "truth", "SUMMARY.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            truth[row["capture"]] = (int(row["conv_tcp"] or 0), int(row["conv_udp"] or 0))
    with open(os.path.join(args.corpus, "MANIFEST.tsv")) as f:
        paths = [row["local_path"] for row in csv.DictReader(f, delimiter="\t")]

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda p: run_one(args.binary, args.corpus, p, args.timeout), paths))

    broken = [r for r in results if "problem" in r]
    compared = [r for r in results if "problem" not in r and r["path"] in truth]
    agree, differ = [], []
    for r in compared:
        t_tcp, t_udp = truth[r["path"]]
        r["t_tcp"], r["t_udp"] = t_tcp, t_udp
        ok = within(r["tcp"], t_tcp, args.tolerance) and within(r["udp"], t_udp, args.tolerance)
        (agree if ok else differ).append(r)

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
    if broken or rate < args.min_agreement:
        print("corpus sweep: FAILED")
        sys.exit(1)
    print(f"corpus sweep: {len(results)} passed, 0 failed")


if __name__ == "__main__":
    main()
