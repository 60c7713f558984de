#!/usr/bin/env python3
"""Encrypted TLS application data (tls.app_data: records of content type 23, TLS 1.3's
encrypted handshake included) of every corpus capture that has some, concatenated into
OUT (binary). Run from /work/main; needs tshark. Usage: extract_tls.py OUT MAX_BYTES"""
import os, subprocess, sys
CORPUS = "/work/shared/corpus"
out, cap_total = sys.argv[1], int(sys.argv[2])
PER_CAPTURE = 4 << 20
caps = []
for root, _, files in os.walk(CORPUS):
    for f in files:
        if f.endswith((".pcap", ".pcapng", ".cap", ".pcap.gz")):
            caps.append(os.path.join(root, f))
caps.sort()
total = 0
with open(out, "wb") as o:
    for c in caps:
        r = subprocess.run(["tshark", "-n", "-r", c, "-Y", "tls.app_data", "-T", "fields", "-e", "tls.app_data"],
                           capture_output=True, text=True)
        n = 0
        for line in r.stdout.splitlines():
            for rec in line.split(","):
                rec = rec.strip().replace(":", "")
                if not rec:
                    continue
                b = bytes.fromhex(rec)
                b = b[: PER_CAPTURE - n]
                o.write(b)
                n += len(b)
                if n >= PER_CAPTURE:
                    break
            if n >= PER_CAPTURE:
                break
        if n:
            print(os.path.relpath(c, CORPUS), n, flush=True)
        total += n
        if total >= cap_total:
            break
print("total", total)
