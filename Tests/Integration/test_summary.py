"""The summary on SIGTERM/SIGINT: its counters equal what the far ends received (the hosts'
veth rx counters and captures), nothing dropped, no head leaked; the text summary names both
directions; --quiet prints nothing; --duration stops by itself."""

import re
import signal
import time

import pytest

from harness import forwarder_io
from netns_io import Capture, Markers, build_frame, compare_exactly_once, ns_counter, send_frames

N = 500


def _udp_frames(tb, markers, n):
    """n UDP frames A->B of varied size (60..1514 bytes), marker in the payload."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    sent = {}
    for i in range(n):
        m = markers.next()
        pkt = (Ether(src=tb.mac_a, dst=tb.mac_b) / IP(src=tb.ip_a, dst=tb.ip_b)
               / UDP(sport=40000 + i % 100, dport=9000) / (m + bytes(i * 3 % 1460)))
        f = bytes(pkt)
        f = f + bytes(max(0, 60 - len(f)))
        sent[m] = f
    return sent


@pytest.mark.parametrize("alloc", ["cache", "plain"])
def test_json_counters_equal_far_end(testbed, forwarder, alloc):
    tb = testbed
    markers = Markers()
    sent = _udp_frames(tb, markers, N)
    b_rx0 = ns_counter(tb.ns_b, tb.b0, "rx_packets")
    a_rx0 = ns_counter(tb.ns_a, tb.a0, "rx_packets")
    cap_b = Capture(tb.ns_b, tb.b0).start()
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--json", "--alloc", alloc)
        send_frames(tb.ns_a, tb.a0, list(sent.values()))
        cap_b.wait_for(markers.ours, N, timeout=5)
        time.sleep(0.2)
        res = fw.stop(signal.SIGTERM)
        time.sleep(0.1)
    finally:
        at_b = cap_b.stop()
    b_rx = ns_counter(tb.ns_b, tb.b0, "rx_packets") - b_rx0
    a_rx = ns_counter(tb.ns_a, tb.a0, "rx_packets") - a_rx0

    assert res.returncode == 0, f"exit {res.returncode} after SIGTERM: {res.stderr}"
    assert res.json is not None, f"no JSON on stdout: {res.stdout!r}"
    j = res.json
    for key in ("directions", "alloc", "cache", "pcap"):
        assert key in j, f"key {key!r} missing from the JSON summary: {sorted(j)}"
    assert j["alloc"] == alloc
    if "stopped_by" in j:
        assert j["stopped_by"] == "SIGTERM", j["stopped_by"]
    assert [d["name"] for d in j["directions"]] == ["in->out", "out->in"]

    problems = compare_exactly_once(markers, sent, at_b)
    assert not problems, f"{len(problems)} of {N} frames:\n  " + "\n  ".join(problems[:20])

    io, oi = res.direction("in->out"), res.direction("out->in")
    # B received exactly what the forwarder says it sent in->out (our N frames plus the
    # hosts' own replies, e.g. ARP), and A what it sent out->in.
    assert io["tx_frames"] == b_rx, f"in->out tx_frames {io['tx_frames']} != {tb.b0} rx_packets delta {b_rx}"
    assert io["tx_frames"] == len(at_b), f"in->out tx_frames {io['tx_frames']} != {len(at_b)} captured at B"
    assert io["tx_bytes"] == sum(len(f) for f in at_b)
    assert oi["tx_frames"] == a_rx, f"out->in tx_frames {oi['tx_frames']} != {tb.a0} rx_packets delta {a_rx}"
    assert io["rx_frames"] >= N
    for d in (io, oi):
        assert d["drops"] == 0, f"{d['name']} drops: {d['drops_by_reason']}"
        assert sum(d["drops_by_reason"].values()) == d["drops"], d
        assert d["rx_frames"] == d["tx_frames"] + d["drops"], d
    for ifname in (tb.in_if, tb.out_if):
        assert ifname in j["pcap"], j["pcap"]
        assert j["pcap"][ifname]["dropped"] == 0, j["pcap"]
    if forwarder_io() != "auto":
        assert j["io"] == forwarder_io(), (j["io"], forwarder_io())
    if j["io"] == "xdp":
        x = j["xdp"]["interfaces"]
        # The sockets' own counts agree with the directions', and L2 sends every frame by its
        # UMEM address: nothing copied, every received frame sent or given back.
        assert x[tb.in_if]["rx_frames"] == io["rx_frames"] and x[tb.out_if]["tx_frames"] == io["tx_frames"], x
        assert x[tb.out_if]["rx_frames"] == oi["rx_frames"] and x[tb.in_if]["tx_frames"] == oi["tx_frames"], x
        for ifname in (tb.in_if, tb.out_if):
            assert x[ifname]["tx_copied"] == 0 and x[ifname]["rx_dropped"] == 0, x
    else:
        assert j["xdp"] is None, j["xdp"]
    # Every packet head went back: no leak.
    if "allocator" in j:
        assert j["allocator"]["gets"] == j["allocator"]["puts"], j["allocator"]
    if alloc == "cache":
        assert j["cache"] is not None and j["cache"]["gets"] >= N, j["cache"]
        if "in_use" in j["cache"]:
            assert j["cache"]["in_use"] == 0, j["cache"]


def _text_count(stderr, name, what):
    m = re.search(rf"{re.escape(name)}\b.*?\b{what} (\d+) frames", stderr)
    assert m, f"no '{what} N frames' for {name} in the summary:\n{stderr}"
    return int(m.group(1))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_text_summary(testbed, forwarder, sig):
    tb = testbed
    markers = Markers()
    frames = [build_frame(b"\xff" * 6, bytes.fromhex(tb.mac_a.replace(":", "")), 100 + i,
                          markers.next()) for i in range(20)]
    b_rx0 = ns_counter(tb.ns_b, tb.b0, "rx_packets")
    fw = forwarder(tb.in_if, tb.out_if)
    send_frames(tb.ns_a, tb.a0, frames)
    time.sleep(0.3)
    res = fw.stop(sig)
    b_rx = ns_counter(tb.ns_b, tb.b0, "rx_packets") - b_rx0
    assert res.returncode == 0, f"exit {res.returncode} after {sig.name}: {res.stderr}"
    assert res.stdout == "", f"text summary must go to stderr; stdout: {res.stdout!r}"
    err = res.stderr
    assert sig.name in err, f"summary does not say it stopped on {sig.name}:\n{err}"
    assert "in->out" in err and "out->in" in err, err
    assert tb.in_if in err and tb.out_if in err, err
    assert _text_count(err, "in->out", "tx") == b_rx >= 20, err
    assert _text_count(err, "in->out", "rx") == b_rx, err


def test_quiet_prints_nothing(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--quiet")
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == "", (res.stdout, res.stderr)


def test_duration_stops_by_itself(testbed, forwarder):
    tb = testbed
    t0 = time.monotonic()
    fw = forwarder(tb.in_if, tb.out_if, "--duration", "1", "--json", "--quiet", wait_ready=False)
    res = fw.wait(timeout=10)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert 0.9 <= elapsed < 5, f"--duration 1 took {elapsed:.2f}s"
    assert res.json is not None and len(res.json["directions"]) == 2
    if "stopped_by" in res.json:
        assert res.json["stopped_by"] != "SIGTERM", res.json["stopped_by"]


def test_stats_lines(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--duration", "1.2", "--stats", "0.3", wait_ready=False)
    res = fw.wait(timeout=10)
    assert res.returncode == 0, res.stderr
    lines = [l for l in res.stderr.splitlines() if "pps" in l]
    assert len(lines) >= 3, f"expected a stats line every 0.3 s:\n{res.stderr}"
    assert all("in->out" in l and "out->in" in l for l in lines), lines
