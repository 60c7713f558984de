#!/usr/bin/env python3
"""Writes expected.tsv: what tshark decrypts in each test capture, per TCP stream and direction.

For every capture below, `tshark -z follow,tls,raw,N` for each TCP stream N (with the key log,
or the capture's own Decryption Secrets Blocks), then per direction the number of decrypted
application bytes and their SHA-256. tshark prints node 0's data flush left and node 1's after a
tab; node 0 is whoever sent the first decrypted record (the server, in TLS 1.3 captures), so
its port (the "Node 0:" line) says which side is which. Run from this directory:
./tshark_expected.py
"""
import hashlib
import subprocess

CAPTURES = [
    ("snet__TLS1_3_TLS_AES_128_GCM_SHA256.pcap", "snet__TLS1_3_TLS_AES_128_GCM_SHA256.txt"),
    ("snet__TLS1_3_TLS_CHACHA20_POLY1305_SHA256.pcap", "snet__TLS1_3_TLS_CHACHA20_POLY1305_SHA256.txt"),
    ("snet__tls1.3_curl_google.pcap", "snet__log.txt"),
    ("snet__tls1.3_keyupdates_aes256.pcap", "snet__log.txt"),
    ("snet__tls1.3_session_resumption.pcap", "snet__log.txt"),
    ("snet__tls1_2.pcap", "snet__tls1_2.keylog"),
    ("snet__tls1_2_dhe_rsa.pcap", "snet__tls1_2_dhe_rsa.keylog"),
    ("snet__tls_ECDHE-RSA-CHACHA20-POLY1305.pcap", "snet__keylog_ECDHE-RSA-CHACHA20-POLY1305.txt"),
    ("illustrated-tls12__capture.pcap", "illustrated-tls12__keylog.txt"),
    ("illustrated-tls13__capture.pcap", "illustrated-tls13__keylog.txt"),
    ("zeek__tls-1.2-stream-keylog.pcap", "zeek__tls-1.2-stream-keylog.keylog"),
    ("zeek__tls12-decryption.pcap", "zeek__tls12-decryption.keylog"),
    ("ja4__http2-with-cookies.first150.pcapng", None),
    ("loopback.pcap", "loopback.keylog"),
]


def tshark(args):
    return subprocess.run(["tshark", *args], capture_output=True, text=True, check=True).stdout


def main():
    rows = ["capture\tclient_port\tdirection\tbytes\tsha256"]
    for cap, keylog in CAPTURES:
        opt = ["-o", f"tls.keylog_file:{keylog}"] if keylog else []
        # Client port of each stream: the sender of the first SYN (or ClientHello).
        ports = {}
        out = tshark(["-r", cap, "-n", "-Y", "tls.handshake.type==1", "-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport"])
        for line in out.splitlines():
            stream, port = line.split("\t")
            ports.setdefault(int(stream), int(port))
        for stream, port in sorted(ports.items()):
            data = {0: bytearray(), 1: bytearray()}
            out = tshark(["-r", cap, "-n", *opt, "-q", "-z", f"follow,tls,raw,{stream}"])
            body = out.split("=" * 60, 2)[1] if "=" * 60 in out else ""
            node0_is_client = True
            for line in body.splitlines():
                if line.startswith("Node 0:"):
                    node0_is_client = line.rsplit(":", 1)[1].strip() == str(port)
                if line.startswith(("Follow:", "Filter:", "Node ", "=")) or not line.strip():
                    continue
                node1 = line.startswith("\t")
                data[0 if node1 != node0_is_client else 1] += bytes.fromhex(line.strip())
            for side, name in ((0, "to_server"), (1, "to_client")):
                rows.append(f"{cap}\t{port}\t{name}\t{len(data[side])}\t{hashlib.sha256(data[side]).hexdigest()}")
    with open("expected.tsv", "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
