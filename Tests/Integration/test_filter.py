"""--filter: a pcap filter applied on both inputs. Matching frames pass (byte-exact, once),
everything else (other ports, TCP on the same port, ICMP, ARP) stays behind; real ping works
only when the filter lets ARP and ICMP through. The same over AF_XDP (FORWARDER_IO=xdp), where
libpcap's program runs in the port and the rejected frames are counted as `filtered`."""

import time

from harness import testbed_plan
from netns_io import Capture, Markers, compare_exactly_once, send_frames

PER_KIND = 10


def _mix(tb, src_side, markers):
    """(passing, blocked): {marker: frame} for the filter 'udp port 9999', from src_side."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP, Ether
    if src_side == "a":
        src_mac, dst_mac, src_ip, dst_ip = tb.mac_a, tb.mac_b, tb.ip_a, tb.ip_b
    else:
        src_mac, dst_mac, src_ip, dst_ip = tb.mac_b, tb.mac_a, tb.ip_b, tb.ip_a
    eth = Ether(src=src_mac, dst=dst_mac)
    kinds_pass = [
        lambda m: eth / IP(src=src_ip, dst=dst_ip) / UDP(sport=40000, dport=9999) / m,
        lambda m: eth / IP(src=src_ip, dst=dst_ip) / UDP(sport=9999, dport=40001) / m,
        lambda m: Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / IP(src=src_ip, dst=testbed_plan.subnet_stem(tb.ip_a) + "255")
        / UDP(sport=40002, dport=9999) / (m + b"\0" * 900),
    ]
    kinds_block = [
        lambda m: eth / IP(src=src_ip, dst=dst_ip) / UDP(sport=40000, dport=9998) / m,
        lambda m: eth / IP(src=src_ip, dst=dst_ip) / TCP(sport=40000, dport=9999) / m,
        lambda m: eth / IP(src=src_ip, dst=dst_ip) / ICMP() / m,
        # ARP carries the marker in the trailer (after the 28-byte ARP body)
        lambda m: Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=src_mac, psrc=src_ip, pdst=dst_ip) / m,
        lambda m: Ether(src=src_mac, dst=dst_mac, type=0x88B5) / m / (b"\0" * 40),
    ]
    passing, blocked = {}, {}
    for _ in range(PER_KIND):
        for k in kinds_pass:
            m = markers.next()
            passing[m] = bytes(k(m))
        for k in kinds_block:
            m = markers.next()
            blocked[m] = bytes(k(m))
    return passing, blocked


def test_udp_port_filter_both_ways(testbed, forwarder):
    tb = testbed
    markers = Markers()
    pass_ab, block_ab = _mix(tb, "a", markers)
    pass_ba, block_ba = _mix(tb, "b", markers)

    cap_b = Capture(tb.ns_b, tb.b0).start()
    cap_a = Capture(tb.ns_a, tb.a0).start()
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--filter", "udp port 9999", "--json", "--quiet")
        # interleave passing and blocked frames
        send_frames(tb.ns_a, tb.a0, [f for pair in zip(block_ab.values(), pass_ab.values()) for f in pair]
                    + list(block_ab.values())[len(pass_ab):])
        send_frames(tb.ns_b, tb.b0, [f for pair in zip(block_ba.values(), pass_ba.values()) for f in pair]
                    + list(block_ba.values())[len(pass_ba):])
        cap_b.wait_for(markers.ours, len(pass_ab), timeout=3)
        cap_a.wait_for(markers.ours, len(pass_ba), timeout=3)
        time.sleep(0.3)
        res = fw.stop()
    finally:
        at_b = cap_b.stop()
        at_a = cap_a.stop()

    assert res.returncode == 0, res.stderr
    assert len(block_ab) + len(pass_ab) == (3 + 5) * PER_KIND
    p = compare_exactly_once(markers, pass_ab, [f for f in at_b if markers.of(f) in pass_ab])
    assert not p, "A->B frames matching the filter:\n  " + "\n  ".join(p)
    p = compare_exactly_once(markers, pass_ba, [f for f in at_a if markers.of(f) in pass_ba])
    assert not p, "B->A frames matching the filter:\n  " + "\n  ".join(p)
    from scapy.layers.l2 import Ether
    leaked_b = [Ether(f).summary() for f in at_b if markers.of(f) in block_ab]
    leaked_a = [Ether(f).summary() for f in at_a if markers.of(f) in block_ba]
    assert not leaked_b, f"{len(leaked_b)} frames not matching 'udp port 9999' reached B: {leaked_b[:5]}"
    assert not leaked_a, f"{len(leaked_a)} frames not matching 'udp port 9999' reached A: {leaked_a[:5]}"
    # The filter runs in the kernel (pcap) or in the port (xdp): the pipeline only ever sees the
    # matching frames.
    d = res.direction("in->out")
    assert d["rx_frames"] == d["tx_frames"] == len(pass_ab), d
    d = res.direction("out->in")
    assert d["rx_frames"] == d["tx_frames"] == len(pass_ba), d
    if res.json["io"] == "xdp":
        # Over AF_XDP every frame reaches the socket; the rejected ones are counted and given back.
        x = res.json["xdp"]["interfaces"]
        for name, passed, blocked in ((tb.in_if, pass_ab, block_ab), (tb.out_if, pass_ba, block_ba)):
            assert x[name]["filtered"] >= len(blocked), x[name]
            assert x[name]["rx_frames"] - x[name]["filtered"] == len(passed), x[name]


def test_filter_ping_needs_arp_and_icmp(testbed, forwarder):
    tb = testbed
    # Start from an empty ARP cache so that ping has to resolve through the forwarder.
    tb.exec("a", ["ip", "neigh", "flush", "dev", tb.a0], check=False)
    tb.exec("b", ["ip", "neigh", "flush", "dev", tb.b0], check=False)
    fw = forwarder(tb.in_if, tb.out_if, "--filter", "udp port 9999", "--json", "--quiet")
    r = tb.exec("a", ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", tb.ip_b], timeout=15, check=False)
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    assert r.returncode != 0 and " 0 received" in r.stdout, \
        f"ping passed a forwarder filtering 'udp port 9999':\n{r.stdout}"
    assert res.direction("in->out")["rx_frames"] == 0, res.json["directions"]

    fw = forwarder(tb.in_if, tb.out_if, "--filter", "arp or icmp", "--json", "--quiet")
    r = tb.exec("a", ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", tb.ip_b], timeout=15, check=False)
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    assert r.returncode == 0 and " 0% packet loss" in r.stdout, \
        f"ping failed through a forwarder filtering 'arp or icmp':\n{r.stdout}{r.stderr}"
    assert res.direction("in->out")["tx_frames"] >= 3
