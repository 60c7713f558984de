#!/usr/bin/env python3
"""Extract HTTP requests (request line, headers, body) and selected raw payloads from corpus
captures into crates/detect/tests/data/. Run from /work/main; needs tshark."""
import subprocess, sys, os
CORPUS = "/work/shared/corpus"
OUT = "crates/detect/tests/data"

def tshark(cap, filt, fields):
    cmd = ["tshark", "-n", "-r", os.path.join(CORPUS, cap), "-Y", filt, "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=\x1f"]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="surrogateescape")
    return [l.split("\t") for l in r.stdout.splitlines() if l.strip()]

HTTP = [
    ("ndpi/1kxun.pcap", None),
    ("ja4/single-packets.pcap", None),
    ("ndpi/starcraft_battle.pcap", None),
    ("ndpi/xiaomi.pcap", None),
    ("ndpi/ocs.pcap", None),
    ("zeek/http__zero-length-bodies-with-drops.pcap", None),
    ("ndpi/fuzz-2006-09-29-28586.pcap", None),
    ("ndpi/instagram.pcap", 30),
    ("ndpi/android.pcap", 30),
]
with open(os.path.join(OUT, "http_requests.txt"), "w", encoding="utf-8", errors="surrogateescape") as o:
    o.write("# HTTP requests copied from the corpus (../shared/corpus) with tshark 4.0:\n")
    o.write("#   tshark -n -r CAPTURE -Y http.request -T fields -e frame.number -e http.request.method\n")
    o.write("#     -e http.request.uri -e http.request.version -e http.request.line -e http.file_data\n")
    o.write("# One request per '=== CAPTURE frame N' record: request line, header lines, blank line,\n")
    o.write("# body (tshark's http.file_data, text only). Regenerate: python3 crates/detect/tests/data/extract_http.py\n")
    for cap, limit in HTTP:
        rows = tshark(cap, "http.request", ["frame.number", "http.request.method", "http.request.uri",
                                             "http.request.version", "http.request.line", "http.file_data"])
        seen = set()
        n = 0
        for r in rows:
            r += [""] * (6 - len(r))
            frame, method, uri, ver, lines, body = r[:6]
            key = (method, uri.split("?")[0], lines.count("\x1f"))
            if cap == "ndpi/1kxun.pcap" and key in seen and "android_id" not in uri and "AndroidId" not in lines:
                continue
            seen.add(key)
            if limit is not None and n >= limit:
                break
            n += 1
            o.write(f"=== {cap} frame {frame}\n")
            o.write(f"{method} {uri} {ver.split(chr(0x1f))[0]}\n")
            for h in lines.split("\x1f"):
                h = h.replace("\\r\\n", "").strip()
                if h:
                    o.write(h + "\n")
            o.write("\n")
            b = body.split("\x1f")[0]
            if b and all(32 <= ord(c) < 127 or c in "\r\n\t" for c in b):
                o.write(b.replace("\r\n", "\n") + "\n")
