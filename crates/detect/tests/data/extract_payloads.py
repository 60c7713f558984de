#!/usr/bin/env python3
"""Raw TCP/UDP payloads of selected corpus frames -> crates/detect/tests/data/payloads.tsv
(capture, frame, transport, payload as hex). Frames are picked by a display filter on content."""
import subprocess, os
CORPUS = "/work/shared/corpus"
PICK = [
    ("ndpi/pop3.pcap", 'tcp.payload contains "Phone:"'),
    ("ndpi/anyconnect-vpn.pcap", 'udp.payload contains "WAKEUP"'),
    ("ndpi/srvloc-v1.pcapng", 'udp.payload contains "x-hp-mac"'),
    ("ndpi/syslog.pcap", 'udp.payload contains "device_id"'),
    ("ndpi/upnp.pcap", 'udp.payload contains "uuid:"'),
    ("zeek/http__no-version.pcap", 'tcp.payload contains "email"'),
    ("ndpi/fuzz-2006-09-29-28586.pcap", 'tcp.payload contains "msisdn"'),
    ("ndpi/starcraft_battle.pcap", 'tcp.payload contains "@gmail.com"'),
    ("ndpi/xiaomi.pcap", 'tcp.port == 5222 and tcp.len > 100'),
    ("ja4/gre-sample.pcap", 'tcp.payload contains "openssh.com"'),
    ("zeek/http__zero-length-bodies-with-drops.pcap", 'tcp.payload contains "adid="'),
]
with open("crates/detect/tests/data/payloads.tsv", "w") as o:
    o.write("# Raw payloads copied from the corpus (../shared/corpus) with tshark 4.0:\n")
    o.write("#   tshark -n -r CAPTURE -Y FILTER -T fields -e frame.number -e tcp.payload -e udp.payload\n")
    o.write("# columns: capture, frame, transport, payload (hex). At most 6 frames per capture.\n")
    for cap, filt in PICK:
        r = subprocess.run(["tshark", "-n", "-r", os.path.join(CORPUS, cap), "-Y", filt, "-T", "fields",
                            "-e", "frame.number", "-e", "tcp.payload", "-e", "udp.payload"],
                           capture_output=True, text=True)
        n = 0
        for line in r.stdout.splitlines():
            f = line.split("\t") + ["", ""]
            frame, tcp, udp = f[0], f[1], f[2]
            data = (tcp or udp).replace(":", "")
            if not data:
                continue
            o.write(f"{cap}\t{frame}\t{'tcp' if tcp else 'udp'}\t{data}\n")
            n += 1
            if n >= 6:
                break
        print(cap, n)
