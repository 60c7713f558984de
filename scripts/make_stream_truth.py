#!/usr/bin/env python3
"""Write tshark's reassembled TCP streams of a capture as a fixture for the reassembly tests.

For each TCP stream (tshark's tcp.stream index) prints one line:
  node0  node1  bytes_0to1  fnv1a64_0to1  bytes_1to0  fnv1a64_1to0
where node0 is the side tshark saw first. Bytes are what `tshark -z follow,tcp,raw` delivers:
each direction's payload in sequence order, retransmissions removed.

usage: make_stream_truth.py CAPTURE > fixtures/streams/NAME.tsv
"""
import subprocess
import sys

FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def fnv(data, h=FNV_OFFSET):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    cap = sys.argv[1]
    ids = subprocess.run(
        ["tshark", "-n", "-r", cap, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream"], capture_output=True, text=True
    ).stdout.split()
    n = max((int(i) for i in ids), default=-1) + 1
    args = ["tshark", "-n", "-q", "-r", cap]
    for i in range(n):
        args += ["-z", f"follow,tcp,raw,{i}"]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    print(f"# tshark follow,tcp,raw of {cap.split('/')[-1]}: node0\tnode1\tlen01\tfnv01\tlen10\tfnv10")
    for block in out.split("===================================================================\n"):
        if "Follow: tcp,raw" not in block:
            continue
        nodes, data = {}, {0: bytearray(), 1: bytearray()}
        for line in block.splitlines():
            if line.startswith("Node 0: ") or line.startswith("Node 1: "):
                nodes[int(line[5])] = line[8:].strip()
            elif line.startswith("\t"):
                data[1] += bytes.fromhex(line.strip())
            elif line and all(c in "0123456789abcdef" for c in line.strip()):
                data[0] += bytes.fromhex(line.strip())
        if len(nodes) == 2 and not nodes[0].startswith(":"):
            print(f"{nodes[0]}\t{nodes[1]}\t{len(data[0])}\t{fnv(data[0]):016x}\t{len(data[1])}\t{fnv(data[1]):016x}")


if __name__ == "__main__":
    main()
