#!/usr/bin/env python3
"""Makes fixtures/captures/loopback__tls-http.pcap and its key log.

A local HTTPS server (Python's ssl, HTTP/1.1 by hand and HTTP/2 with the `h2` package) and
curl as the client (its SSLKEYLOGFILE), TLS 1.2 and 1.3 each with HTTP/1.1 and HTTP/2,
captured with dumpcap on the loopback interface. Every request carries the device's declared
identifiers (tests/data in crates/cli/tests/decryption.rs lists them) where trackers put
them: the query string, headers, a cookie and a gzip-compressed JSON body; the server
answers with a gzip-compressed JSON body that echoes one identifier back.

Needs: python3 with `h2` (pip install h2), curl with HTTP/2, openssl, dumpcap; run as a
user allowed to capture on lo. Usage: scripts/make_tls_loopback.py OUTDIR

With `--bench MB` it makes instead the decryption benchmark capture of BENCHMARKS.md
(loopback__tls-bench.pcap and .keylog): one TLS 1.3 (AES-256-GCM) HTTP/1.1 download of MB
megabytes of incompressible data, plus the four requests carrying the identifiers.
"""

import gzip
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import h2.config
import h2.connection
import h2.events

IMEI = "356938035643809"
ANDROID_ID = "9774d56d682e549c"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
EMAIL = "jane.doe@example.com"
PHONE = "+6591112222"
MAC = "a4:5e:60:c2:19:3b"

PORT = 47443


def response_body():
    return gzip.compress(json.dumps({"ok": True, "account": EMAIL}).encode(), mtime=0)


BENCH_BYTES = 0


def serve_http1(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        body += conn.recv(65536)
    if BENCH_BYTES and head.startswith(b"GET /download"):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % BENCH_BYTES)
        block = os.urandom(1 << 20)
        for _ in range(BENCH_BYTES >> 20):
            conn.sendall(block)
        return
    payload = response_body()
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload)
        + payload
    )


def serve_h2(conn):
    h2c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    h2c.initiate_connection()
    conn.sendall(h2c.data_to_send())
    done = False
    while not done:
        data = conn.recv(65536)
        if not data:
            break
        for event in h2c.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                h2c.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                payload = response_body()
                h2c.send_headers(
                    event.stream_id,
                    [
                        (":status", "200"),
                        ("content-type", "application/json"),
                        ("content-encoding", "gzip"),
                        ("content-length", str(len(payload))),
                    ],
                )
                h2c.send_data(event.stream_id, payload, end_stream=True)
            elif isinstance(event, h2.events.ConnectionTerminated):
                done = True
        conn.sendall(h2c.data_to_send())


def server(ctx, ready, stop):
    with socket.create_server(("127.0.0.1", PORT)) as sock:
        sock.settimeout(0.5)
        ready.set()
        while not stop.is_set():
            try:
                raw, _ = sock.accept()
                raw.settimeout(None)
            except socket.timeout:
                continue
            with ctx.wrap_socket(raw, server_side=True) as conn:
                try:
                    if conn.selected_alpn_protocol() == "h2":
                        serve_h2(conn)
                    else:
                        serve_http1(conn)
                except (ssl.SSLError, ConnectionError):
                    pass


def main():
    global BENCH_BYTES
    args = sys.argv[1:]
    if "--bench" in args:
        i = args.index("--bench")
        BENCH_BYTES = int(args[i + 1]) << 20
        del args[i : i + 2]
    out = args[0] if args else "."
    name = "loopback__tls-bench" if BENCH_BYTES else "loopback__tls-http"
    pcap = os.path.join(out, name + ".pcap")
    keylog = os.path.join(out, name + ".keylog")
    for f in (pcap, keylog):
        if os.path.exists(f):
            os.remove(f)
    tmp = tempfile.mkdtemp()
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=tracker.phonehome.test"],
        check=True, capture_output=True,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    ready, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=server, args=(ctx, ready, stop), daemon=True)
    t.start()
    ready.wait()
    dump = subprocess.Popen(["dumpcap", "-q", "-P", "-B", "256", "-i", "lo", "-f", f"tcp port {PORT}", "-w", pcap],
                            stderr=subprocess.DEVNULL)
    # Whatever fails below, the capture process stops and the private key goes.
    try:
        time.sleep(2)
        body = os.path.join(tmp, "body.json.gz")
        with open(body, "wb") as f:
            f.write(gzip.compress(json.dumps({"email": EMAIL, "msisdn": PHONE, "wifi_mac": MAC}).encode(), mtime=0))
        env = dict(os.environ, SSLKEYLOGFILE=keylog)
        if BENCH_BYTES:
            subprocess.run(
                ["curl", "-sk", "--http1.1", "--tlsv1.3", "--tls13-ciphers", "TLS_AES_256_GCM_SHA384", "--limit-rate", "40M", "-o", "/dev/null",
                 f"https://tracker.phonehome.test:{PORT}/download",
                 "--resolve", f"tracker.phonehome.test:{PORT}:127.0.0.1"],
                check=True, env=env,
            )
        for tls in ("1.2", "1.3"):
            for http in ("--http1.1", "--http2"):
                name = f"tls{tls.replace('.', '')}-{'h2' if http == '--http2' else 'http1'}"
                subprocess.run(
                    ["curl", "-sk", http, f"--tlsv{tls}", "--tls-max", tls, "-o", "/dev/null",
                     "-H", f"X-Android-Id: {ANDROID_ID}", "-H", f"Cookie: gaid={GAID}; session=1",
                     "-H", "Content-Type: application/json", "-H", "Content-Encoding: gzip",
                     "--data-binary", f"@{body}",
                     f"https://tracker.phonehome.test:{PORT}/v1/{name}?imei={IMEI}&os=android",
                     "--resolve", f"tracker.phonehome.test:{PORT}:127.0.0.1"],
                    check=True, env=env,
                )
        time.sleep(1)
    finally:
        dump.terminate()
        dump.wait()
        stop.set()
        t.join()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
