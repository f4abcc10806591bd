"""Byte-exact transparent forwarding, both ways, of frames from 60 bytes to the MTU:
untagged, 802.1Q and 802.1ad+802.1Q, to unicast, broadcast and multicast destinations.
Every frame arrives exactly once at the far host; none comes back to the sender (no loop);
the forwarder's JSON counters equal what the far host received.

Frames are sent from inside one host's namespace with a raw AF_PACKET socket and captured in
the other host's namespace. The kernel moves the outer VLAN tag of a received frame into
metadata even with rxvlan offload off (checked: a raw socket on the veth sees the frame
untagged, with the tag in PACKET_AUXDATA), so the capture puts it back as libpcap does.
"""

import time

import pytest

from netns_io import Capture, Markers, build_frame, compare_exactly_once, send_frames

SIZES = [60, 61, 64, 128, 512, 1000, 1500, 1513, 1514]
ETHERTYPE = 0x88B5  # IEEE local experimental: no host stack answers it

ENCAPS = {
    "untagged": [],
    "dot1q": [(0x8100, (5 << 13) | 100)],                        # PCP 5, VID 100
    "dot1q-prio": [(0x8100, 5 << 13)],                            # priority tag: VID 0, PCP 5
    "qinq": [(0x88A8, (3 << 13) | 1000), (0x8100, 4094)],         # S-tag 1000 (PCP 3), C-tag 4094
}
# An 802.1Q frame may carry a full 1500-byte payload: 1518 bytes (veth and AF_PACKET allow
# exactly one tag beyond the MTU).
EXTRA_SIZES = {"dot1q": [1518]}


def destinations(tb, dst_side):
    _, _, peer_mac = tb.host(dst_side)
    return {
        "unicast-peer": peer_mac,
        "unicast-unknown": bytes.fromhex("02000000770a"),
        "broadcast": b"\xff" * 6,
        "multicast-v4": bytes.fromhex("01005e0000fb"),
        "multicast-v6": bytes.fromhex("333300000001"),
    }


@pytest.mark.parametrize("encap", list(ENCAPS))
@pytest.mark.parametrize("direction", ["a->b", "b->a"])
def test_byte_exact_exactly_once(testbed, forwarder, direction, encap):
    tb = testbed
    src_side, dst_side = ("a", "b") if direction == "a->b" else ("b", "a")
    src_ns, src_if, src_mac = tb.host(src_side)
    dst_ns, dst_if, _ = tb.host(dst_side)
    fwd_name, back_name = ("in->out", "out->in") if src_side == "a" else ("out->in", "in->out")

    markers = Markers()
    sent = {}
    for dst_name, dst in destinations(tb, dst_side).items():
        for size in SIZES + EXTRA_SIZES.get(encap, []):
            m = markers.next()
            sent[m] = build_frame(dst, src_mac, size, m, vlans=ENCAPS[encap], ethertype=ETHERTYPE)

    # Capture on both hosts for the forwarder's whole life, so that its counters can be
    # compared with everything the hosts received, not only our frames.
    cap_dst = Capture(dst_ns, dst_if).start()
    cap_src = Capture(src_ns, src_if).start()
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--json", "--quiet")
        send_frames(src_ns, src_if, list(sent.values()))
        cap_dst.wait_for(markers.ours, len(sent), timeout=5)
        time.sleep(0.3)  # room for duplicates or a loop to show
        res = fw.stop()
        time.sleep(0.1)
    finally:
        at_dst = cap_dst.stop()
        at_src = cap_src.stop()

    assert res.returncode == 0, f"forwarder exit {res.returncode}: {res.stderr}"
    problems = compare_exactly_once(markers, sent, at_dst)
    assert not problems, (f"{direction} {encap}: {len(problems)} problem(s) of {len(sent)} frames:\n  "
                          + "\n  ".join(problems[:40]))

    looped = [f for f in at_src if markers.ours(f)]
    assert not looped, f"{len(looped)} of our frames came back to the sender {src_if} (loop)"
    mine_out = [f for f, _ in cap_src.outgoing if markers.ours(f)]
    assert len(mine_out) == len(sent), \
        f"sender capture saw {len(mine_out)} of {len(sent)} frames leave {src_if}"

    fwd = res.direction(fwd_name)
    back = res.direction(back_name)
    assert fwd["tx_frames"] == len(at_dst), (
        f"{fwd_name} tx_frames {fwd['tx_frames']} != {len(at_dst)} frames received by {dst_if} "
        f"({len(sent)} ours)")
    assert fwd["rx_frames"] == fwd["tx_frames"], fwd
    assert fwd["tx_bytes"] == sum(len(f) for f in at_dst), fwd
    assert fwd["drops"] == 0, fwd["drops_by_reason"]
    assert back["tx_frames"] == len(at_src), (
        f"{back_name} tx_frames {back['tx_frames']} != {len(at_src)} frames received by {src_if}")
    assert back["drops"] == 0, back["drops_by_reason"]


def test_oversize_dropped_and_counted(testbed, forwarder):
    """A frame bigger than OUT's MTU plus its link header (here host A and IN have MTU 2000,
    OUT 1500) is dropped under 'oversize' with a warning, the others pass; an 802.1Q frame of
    1518 bytes is not oversize."""
    from harness import run
    tb = testbed
    _, _, src_mac = tb.host("a")
    _, _, dst_mac = tb.host("b")
    markers = Markers()
    cases = [(1514, []), (1515, []), (1800, []), (2014, []),
             (1518, ENCAPS["dot1q"]), (1519, ENCAPS["dot1q"])]
    sent, big = {}, {}
    for size, vlans in cases:
        m = markers.next()
        f = build_frame(dst_mac, src_mac, size, m, vlans=vlans)
        (big if size - 14 - 4 * len(vlans) > 1500 else sent)[m] = f
    run(["ip", "netns", "exec", tb.ns_a, "ip", "link", "set", tb.a0, "mtu", "2000"])
    run(["ip", "link", "set", tb.in_if, "mtu", "2000"])
    cap = Capture(tb.ns_b, tb.b0).start()
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--json")
        send_frames(tb.ns_a, tb.a0, list(big.values()) + list(sent.values()))
        cap.wait_for(markers.ours, len(sent), timeout=3)
        time.sleep(0.2)
        res = fw.stop()
    finally:
        at_b = cap.stop()
        run(["ip", "link", "set", tb.in_if, "mtu", "1500"])
        run(["ip", "netns", "exec", tb.ns_a, "ip", "link", "set", tb.a0, "mtu", "1500"])
    assert res.returncode == 0, res.stderr
    problems = compare_exactly_once(markers, sent, [f for f in at_b if markers.of(f) not in big])
    assert not problems, "\n".join(problems)
    leaked = [len(f) for f in at_b if markers.of(f) in big]
    assert not leaked, f"oversize frames of {leaked} bytes reached B"
    d = res.direction("in->out")
    assert d["drops_by_reason"]["oversize"] == len(big), d
    assert d["drops"] == len(big), d
    warn = [l for l in res.stderr.splitlines() if "warning" in l and "oversize" in l]
    assert len(warn) == 1, f"expected one rate-limited oversize warning:\n{res.stderr}"
    assert tb.in_if in warn[0] and tb.out_if in warn[0] and "MTU" in warn[0], warn[0]
