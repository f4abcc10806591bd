"""--capture-drops FILE: frames dropped for known reasons (oversize, an unmapped VLAN, NAT's
no_session and not_ipv4) are written to a pcapng file, read back with tshark, whose comment
names the reason and the direction, on the interface they came in on, byte for byte as
received; --capture-limit holds, and the JSON summary counts what was written and skipped."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from harness import run, testbed_plan
from netns_io import Markers, build_frame, send_frames
from test_metrics import check_against_summary, parse


def tshark_fields(path):
    """[(comment, interface name, frame length, epoch seconds)] in file order."""
    assert shutil.which("tshark"), "tshark missing: apt-get install -y tshark (scripts/install-deps.sh)"
    r = subprocess.run(["tshark", "-r", path, "-T", "fields", "-E", "separator=|", "-e", "frame.comment",
                        "-e", "frame.interface_name", "-e", "frame.len", "-e", "frame.time_epoch"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"tshark could not read {path}: {r.stderr}"
    rows = []
    for line in r.stdout.splitlines():
        comment, ifname, length, epoch = line.split("|")
        rows.append((comment, ifname, int(length), float(epoch)))
    return rows


def frames_in(path):
    """The frames' bytes, in file order (scapy's pcapng reader, independent of tshark)."""
    from scapy.utils import rdpcap
    return [bytes(p) for p in rdpcap(path)]


def capture_path(tag):
    return os.path.join(tempfile.mkdtemp(prefix="fwd-capture-"), tag + ".pcapng")


def test_oversize_frames_captured_up_to_the_limit(testbed, forwarder):
    tb = testbed
    _, _, src = tb.host("a")
    _, _, dst = tb.host("b")
    markers = Markers()
    big = [build_frame(dst, src, 1600 + 50 * i, markers.next()) for i in range(5)]
    good = [build_frame(dst, src, 1000, markers.next()) for _ in range(20)]
    path = capture_path("oversize")
    run(["ip", "netns", "exec", tb.ns_a, "ip", "link", "set", tb.a0, "mtu", "2000"])
    run(["ip", "link", "set", tb.in_if, "mtu", "2000"])
    t0 = time.time()
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--json", "--capture-drops", path, "--capture-limit", "3")
        send_frames(tb.ns_a, tb.a0, good[:10] + big + good[10:])
        time.sleep(0.5)
        res = fw.stop()
    finally:
        run(["ip", "link", "set", tb.in_if, "mtu", "1500"])
        run(["ip", "netns", "exec", tb.ns_a, "ip", "link", "set", tb.a0, "mtu", "1500"])
    t1 = time.time()
    assert res.returncode == 0, res.stderr
    d = res.direction("in->out")
    assert d["drops_by_reason"]["oversize"] == 5 and d["drops"] == 5, d
    assert res.json["capture"] == {"file": path, "written": 3, "skipped": 2, "limit": 3}, res.json["capture"]
    rows = tshark_fields(path)
    assert [r[0] for r in rows] == ["oversize in->out"] * 3, rows
    assert all(r[1] == tb.in_if for r in rows), rows
    assert [r[2] for r in rows] == [len(f) for f in big[:3]], rows
    assert all(t0 - 1 <= r[3] <= t1 + 1 for r in rows), (t0, t1, rows)
    assert frames_in(path) == big[:3], "the captured frames are the dropped frames, byte for byte"


def test_unmapped_vlan_captured_both_ways(testbed, forwarder):
    tb = testbed
    _, _, mac_a = tb.host("a")
    _, _, mac_b = tb.host("b")
    markers = Markers()
    from_a = [build_frame(mac_b, mac_a, 200, markers.next(), vlans=[(0x8100, 300)]) for _ in range(4)]
    from_b = [build_frame(mac_a, mac_b, 300, markers.next(), vlans=[(0x8100, 400)]) for _ in range(3)]
    mapped = [build_frame(mac_b, mac_a, 200, markers.next(), vlans=[(0x8100, 100)]) for _ in range(5)]
    path = capture_path("vlan")
    fw = forwarder(tb.in_if, tb.out_if, "--json", "--vlan-map", "100:200", "--capture-drops", path)
    send_frames(tb.ns_a, tb.a0, from_a + mapped)
    time.sleep(0.2)
    send_frames(tb.ns_b, tb.b0, from_b)
    time.sleep(0.5)
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    assert res.direction("in->out")["drops_by_reason"]["vlan_unmapped"] == len(from_a)
    assert res.direction("out->in")["drops_by_reason"]["vlan_unmapped"] == len(from_b)
    assert res.json["capture"]["written"] == len(from_a) + len(from_b), res.json["capture"]
    assert res.json["capture"]["skipped"] == 0
    rows = tshark_fields(path)
    frames = frames_in(path)
    got = {markers.of(f): (r[0], r[1]) for f, r in zip(frames, rows)}
    for f in from_a:
        assert got.get(markers.of(f)) == ("vlan_unmapped in->out", tb.in_if), (got, rows)
    for f in from_b:
        assert got.get(markers.of(f)) == ("vlan_unmapped out->in", tb.out_if), (got, rows)
    assert len(rows) == len(from_a) + len(from_b), rows
    assert sorted(frames) == sorted(from_a + from_b), "captured byte for byte, the tag put back"


def test_nat_drops_named_by_their_nat_reason(testbed, forwarder):
    """NAT on the plain testbed (untagged): an unsolicited inbound UDP packet is
    `nat:no_session out->in`, a non-IP frame from the inside `nat:not_ipv4 in->out`. The metrics
    file of the same run equals its JSON summary, NAT counters included."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    tb = testbed
    _, _, mac_a = tb.host("a")
    _, _, mac_b = tb.host("b")
    out_mac = open(f"/sys/class/net/{tb.out_if}/address").read().strip()
    in_mac = bytes.fromhex(open(f"/sys/class/net/{tb.in_if}/address").read().strip().replace(":", ""))
    markers = Markers()
    inbound = []
    for i in range(4):
        m = markers.next()
        inbound.append(bytes(Ether(src=tb.mac_b, dst=out_mac) / IP(src="10.78.0.2", dst="10.78.0.1")
                             / UDP(sport=5000 + i, dport=9999) / (m + bytes(20))))
    not_ip = [build_frame(in_mac, mac_a, 100, markers.next()) for _ in range(3)]
    path = capture_path("nat")
    metrics = os.path.join(os.path.dirname(path), "nat.prom")
    fw = forwarder(tb.in_if, tb.out_if, "--json", "--vlan-nat", "--inside", f"{testbed_plan.subnet_stem(tb.ip_a)}254/{testbed_plan.PREFIX_LEN}",
                   "--outside", "10.78.0.1/24", "--capture-drops", path, "--metrics-file", metrics)
    send_frames(tb.ns_b, tb.b0, inbound)
    send_frames(tb.ns_a, tb.a0, not_ip)
    time.sleep(0.5)
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    n = res.json["nat"]
    assert n["drops"]["no_session"] >= len(inbound), n["drops"]
    assert n["drops"]["not_ipv4"] >= len(not_ip), n["drops"]
    rows = tshark_fields(path)
    frames = frames_in(path)
    assert len(rows) == len(frames) == res.json["capture"]["written"], (rows, res.json["capture"])
    got = {markers.of(f): (r[0], r[1]) for f, r in zip(frames, rows) if markers.of(f) is not None}
    for f in inbound:
        assert got.get(markers.of(f)) == ("nat:no_session out->in", tb.out_if), rows
    for f in not_ip:
        assert got.get(markers.of(f)) == ("nat:not_ipv4 in->out", tb.in_if), rows
    assert all(r[0].startswith("nat:") for r in rows), rows
    with open(metrics) as fh:
        samples, types = parse(fh.read())
    check_against_summary(samples, types, res.json, tb)


def test_capture_file_unwritable_is_an_error(testbed):
    from harness import run_forwarder_once
    res = run_forwarder_once([testbed.in_if, testbed.out_if, "--capture-drops", "/nonexistent-dir/d.pcapng",
                              "--duration", "1"])
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "--capture-drops" in res.stderr and "/nonexistent-dir" in res.stderr, res.stderr
