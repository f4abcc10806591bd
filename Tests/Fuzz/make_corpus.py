#!/usr/bin/python3
"""Converts the test fixtures' pcap files into fuzz inputs (scripts/fuzz.sh --seeds runs it).

Each fixture case (cases.json) becomes one input in the ForwarderFuzz format: for every packet
step, a record `control | length (2 bytes, big-endian) | frame`, control bit 0 the side the
step receives it on (0 = in, 1 = out), bits 1-7 the clock advance since the previous step in
units of 50 ms (from the steps' t_ms, at most 127). The NAT fixtures seed `nat`, the VLAN
fixtures `vlan`, both `l2`.
"""
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SOURCES = {
    "nat": "Tests/Nat44Tests/Fixtures/nat",
    "vlan": "Tests/VlanTranslationTests/Fixtures/vlan",
}


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit(f"{path}: not a classic pcap file")
    frames, at = [], 24
    while at + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        at += 16
        frames.append(data[at:at + incl])
        at += incl
    return frames


def record(side, advance, frame):
    control = (min(advance, 127) << 1) | (0 if side == "in" else 1)
    return bytes([control]) + struct.pack(">H", len(frame)) + frame


def inputs(kind):
    base = os.path.join(ROOT, SOURCES[kind])
    cases = json.load(open(os.path.join(base, "cases.json")))["cases"]
    for case in cases:
        frames = read_pcap(os.path.join(base, case["pcap"]))
        out, last_ms, pending = b"", 0.0, 0.0
        for step in case["steps"]:
            t = float(step.get("t_ms", last_ms))
            if step.get("kind", "packet") == "tick":
                pending += max(t - last_ms, 0) if t >= last_ms else t
                last_ms = t
                continue
            advance = int((pending + max(t - last_ms, 0)) / 50)
            pending, last_ms = 0.0, t
            out += record(step["side"], advance, frames[step["frame"]])
        yield case["name"], out


def main():
    dest = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests/Fuzz/corpus")
    count = 0
    for kind in SOURCES:
        for name, data in inputs(kind):
            for mode in (kind, "l2"):
                d = os.path.join(dest, mode)
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, f"{kind}_{name}" if mode == "l2" else name), "wb") as f:
                    f.write(data)
                count += 1
    print(f"make_corpus: {count} seed inputs in {dest}")


if __name__ == "__main__":
    main()
