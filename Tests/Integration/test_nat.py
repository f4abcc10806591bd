"""End to end: the forwarder as a VLAN NAT gateway between two namespaces (issue 4, section 3).

  ns A HOST_A (VLAN_IN) -- ${P}a1 [forwarder --vlan-nat] ${P}b1 -- ns B HOST_B (VLAN_OUT)
  forwarder: --inside GW_INSIDE/24 --inside-vlan VLAN_IN --outside GW_OUTSIDE/24
             --outside-vlan VLAN_OUT --forward tcp:8080=HOST_A:80 --json
  (nat_support.py's names for scripts/testbed.plan's NAT hosts, gateway and VLANs)

One testbed and one forwarder for the module (nat_support.nat_testbed), torn down even on failure.
Two tests restart the forwarder to read its JSON summary: the unsolicited-SYN test (fresh
counters, only that traffic) and the summary test, which runs last and stops it.
"""

import re
import secrets
import socket
import struct
import time

import pytest

from harness import forwarder_io
from netns_io import Capture, send_frames
from nat_support import (FWD_PORT, FWD_TARGET_PORT, GW_INSIDE, GW_OUTSIDE, HOST_A, HOST_B,
                         INSIDE_NET, SNMP_ERROR_COUNTERS, VLAN_IN, VLAN_OUT, TcpServer, UdpEcho,
                         check_nat_prerequisites, checksum_problems, ip_payload, iperf3,
                         nat_testbed, ns_socket, scapy_frame, snmp, snmp_delta, tcp_request,
                         udp_exchange)

TCP_MIN_MBPS = 50.0
UDP_RATE = 200e6
UDP_MIN_MBPS = 50.0
UDP_MAX_LOSS_PERCENT = 20.0


@pytest.fixture(scope="module")
def nat():
    problems = check_nat_prerequisites()
    if problems:
        pytest.fail("NAT testbed prerequisites missing:\n  " + "\n  ".join(problems), pytrace=False)
    with nat_testbed() as bed:
        yield bed


@pytest.fixture(autouse=True)
def forwarder_alive(nat):
    nat.ensure_forwarder()
    yield nat


def captures(*where):
    """Start a Capture per (netns, ifname); returns them (stop() each)."""
    return [Capture(ns, ifname).start() for ns, ifname in where]


def stop_all(caps):
    for c in caps:
        c.stop()


def parsed_incoming(cap):
    """[(frame, ip bytes or None, vlan ids)] of the frames `cap` received."""
    out = []
    for f in cap.incoming():
        ip, vids = ip_payload(f)
        out.append((f, ip, vids))
    return out


def ip_addrs(ip):
    return socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])


def l4(ip):
    ihl = (ip[0] & 0x0F) * 4
    return ip[9], ip[ihl:]


def embedded(ip):
    """For an ICMP error: (type, code, embedded IP bytes); else None."""
    proto, seg = l4(ip)
    if proto != 1 or len(seg) < 28 or seg[0] not in (3, 11, 12):
        return None
    return seg[0], seg[1], seg[8:]


# ---------------------------------------------------------------------------------------------

def test_ping_gateway_inside_address(nat):
    r = nat.ping("a", GW_INSIDE, count=5)
    assert r.returncode == 0 and re.search(r"\b0% packet loss", r.stdout), \
        f"ping {GW_INSIDE} (the gateway's inside address) from A:\n{r.stdout}{r.stderr}"
    assert len(re.findall(rf"bytes from {re.escape(GW_INSIDE)}:", r.stdout)) == 5, r.stdout


def test_ping_inside_to_outside(nat):
    r = nat.ping("a", HOST_B, count=10)
    assert r.returncode == 0 and re.search(r"\b0% packet loss", r.stdout), \
        f"ping {HOST_B} from A through the NAT:\n{r.stdout}{r.stderr}"
    # The replies come back from B's address, one hop away (TTL 64 - 1).
    assert len(re.findall(rf"bytes from {re.escape(HOST_B)}: icmp_seq=\d+ ttl=63", r.stdout)) == 10, r.stdout


def test_iperf3_tcp_inside_to_outside(nat, record_property):
    report, _ = iperf3(nat, 5201, [])
    received = report["end"]["sum_received"]["bits_per_second"]
    mbps = received / 1e6
    record_property("nat_iperf3_tcp_mbps", round(mbps, 1))
    print(f"\niperf3 TCP A->B through --vlan-nat: {mbps:.0f} Mbit/s "
          f"({report['end']['sum_sent'].get('retransmits')} retransmits)")
    assert received > 0 and report["end"]["sum_received"]["bytes"] > 0
    assert mbps >= TCP_MIN_MBPS, f"iperf3 TCP through the NAT: {mbps:.1f} Mbit/s < {TCP_MIN_MBPS}"
    assert mbps < 400_000, f"implausible iperf3 TCP rate {mbps:.0f} Mbit/s"


def test_iperf3_udp_inside_to_outside(nat, record_property):
    report, _ = iperf3(nat, 5202, ["-u", "-b", str(int(UDP_RATE)), "-l", "1400"])
    end = report["end"]
    # iperf3 3.12 client JSON: end.sum (sender side) and end.sum_received (receiver side, from
    # the server); older versions only have end.sum with the server's loss figures.
    recv = end.get("sum_received") or end["sum"]
    mbps = recv["bits_per_second"] / 1e6
    lost = end["sum"].get("lost_percent", recv.get("lost_percent", 0.0))
    record_property("nat_iperf3_udp_mbps", round(mbps, 1))
    print(f"\niperf3 UDP A->B -b {UDP_RATE / 1e6:.0f}M through --vlan-nat: {mbps:.0f} Mbit/s received, "
          f"{lost:.2f}% lost")
    assert recv["bytes"] > 0, f"no UDP byte reached B: {end}"
    assert mbps >= UDP_MIN_MBPS, f"iperf3 UDP through the NAT: {mbps:.1f} Mbit/s < {UDP_MIN_MBPS}"
    assert mbps <= UDP_RATE / 1e6 * 1.1, f"received more than offered: {mbps:.0f} Mbit/s"
    assert lost <= UDP_MAX_LOSS_PERCENT, f"iperf3 UDP lost {lost:.1f}% (> {UDP_MAX_LOSS_PERCENT}%)"


def test_outside_host_sees_only_the_outside_address(nat):
    tb = nat.tb
    echo = UdpEcho(tb.ns_b, HOST_B, 7)
    caps = captures((tb.ns_b, tb.b0), (None, tb.out_if), (tb.ns_a, tb.a0))
    try:
        r = nat.ping("a", HOST_B, count=5)
        replies = []
        for i in range(5):
            payload = b"nat-udp-%d-" % i + secrets.token_bytes(8)
            reply, peer = udp_exchange(tb.ns_a, HOST_B, 7, payload, bind=(HOST_A, 0))
            replies.append((payload, reply, peer))
        time.sleep(0.2)
    finally:
        stop_all(caps)
        echo.close()
    cap_b0, cap_b1, cap_a0 = caps
    assert r.returncode == 0, f"ping A->B during the capture failed:\n{r.stdout}{r.stderr}"
    for payload, reply, peer in replies:
        assert reply == payload and peer == (HOST_B, 7), (payload, reply, peer)
    assert echo.peers and all(p[0] == GW_OUTSIDE for p in echo.peers), \
        f"B's UDP server saw peers {echo.peers}, expected only {GW_OUTSIDE}"

    # What B received (the only sender on this link is the forwarder).
    problems, sources, n_icmp, n_udp = [], set(), 0, 0
    for f, ip, vids in parsed_incoming(cap_b0):
        desc = scapy_frame(f).summary()
        if vids != [VLAN_OUT]:
            problems.append(f"frame at {tb.b0} with VLAN tags {vids}, expected [{VLAN_OUT}]: {desc}")
        ethertype = struct.unpack_from("!H", f, 12 + 4 * len(vids))[0]
        if ethertype == 0x0806:
            spa = socket.inet_ntoa(f[12 + 4 * len(vids) + 2 + 14:][:4])
            if spa != GW_OUTSIDE:
                problems.append(f"ARP from sender address {spa}: {desc}")
            continue
        if ip is None:
            problems.append(f"non-IPv4, non-ARP frame sent to the outside: {desc}")
            continue
        src, dst = ip_addrs(ip)
        sources.add(src)
        if src != GW_OUTSIDE or INSIDE_NET in dst:
            problems.append(f"IPv4 {src} -> {dst} at B: {desc}")
        emb = embedded(ip)
        if emb and any(INSIDE_NET in a for a in ip_addrs(emb[2])):
            problems.append(f"ICMP error at B embeds an inside address {ip_addrs(emb[2])}: {desc}")
        problems += checksum_problems(ip)
        proto, seg = l4(ip)
        n_icmp += proto == 1 and seg[0] == 8
        n_udp += proto == 17 and struct.unpack_from("!H", seg, 2)[0] == 7
    assert not problems, "the outside host saw:\n  " + "\n  ".join(problems[:20])
    assert sources == {GW_OUTSIDE}, sources
    assert n_icmp >= 5 and n_udp >= 5, f"B received {n_icmp} echo requests and {n_udp} UDP datagrams"

    # On the wire out of the forwarder (its own TX, seen at ${P}b1): 802.1Q VLAN_OUT in the bytes.
    # Not over AF_XDP: its TX (copy mode, __dev_direct_xmit) skips the interface's packet taps,
    # so a capture on the forwarder's own interface sees nothing it sends; the frames at B
    # (above) are checked for VLAN_OUT either way.
    if forwarder_io() != "xdp":
        sent = [f for f, _ in cap_b1.outgoing]
        assert sent, f"nothing captured leaving {tb.out_if}"
        bad = [(ip_payload(f)[1], f[:18].hex()) for f in sent if ip_payload(f)[1] != [VLAN_OUT]]
        assert not bad, f"frames the forwarder sent on {tb.out_if} without VLAN {VLAN_OUT}: {bad[:5]}"

    # And the way back: what A received carries VLAN_IN, is addressed to A, checksums right.
    problems = []
    for f, ip, vids in parsed_incoming(cap_a0):
        if vids != [VLAN_IN]:
            problems.append(f"frame at {tb.a0} with VLAN tags {vids}: {scapy_frame(f).summary()}")
        if ip is not None:
            src, dst = ip_addrs(ip)
            if dst != HOST_A:
                problems.append(f"IPv4 {src} -> {dst} at A")
            problems += checksum_problems(ip)
    assert not problems, "the inside host saw:\n  " + "\n  ".join(problems[:20])


def test_port_forward_reachable_from_outside(nat):
    tb = nat.tb
    token = secrets.token_hex(16).encode()
    body = b"forwarded-" + token
    srv = TcpServer(tb.ns_a, HOST_A, FWD_TARGET_PORT,
                    b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    try:
        resp = tcp_request(tb.ns_b, GW_OUTSIDE, FWD_PORT,
                           b"GET /" + token + b" HTTP/1.0\r\nHost: " + GW_OUTSIDE.encode() + b"\r\n\r\n")
    finally:
        srv.close()
    assert resp.startswith(b"HTTP/1.0 200 OK") and resp.endswith(body), \
        f"B fetching http://{GW_OUTSIDE}:{FWD_PORT}/ got {resp!r}"
    assert len(srv.requests) == 1 and srv.requests[0].startswith(b"GET /" + token), srv.requests
    # A port forward translates the destination only: the inside server sees B itself.
    assert srv.peers[0][0] == HOST_B, f"the inside server saw the client as {srv.peers[0]}"


def test_unsolicited_inbound_syn_gets_no_answer(nat):
    tb = nat.tb
    nat.restart_forwarder()          # fresh counters: this run sees only the traffic below
    port = 9999                       # no --forward, no session
    caps = captures((tb.ns_b, tb.b0), (tb.ns_a, tb.a0))
    s = ns_socket(tb.ns_b)
    try:
        s.settimeout(2.5)             # the SYN and one retransmission (after 1 s)
        try:
            s.connect((GW_OUTSIDE, port))
            outcome = "connected"
        except socket.timeout:
            outcome = "timeout"
        except OSError as e:
            outcome = f"{type(e).__name__}: {e}"
        time.sleep(0.2)
    finally:
        s.close()
        stop_all(caps)
    res = nat.stop_forwarder()
    nat.start_forwarder()
    cap_b0, cap_a0 = caps
    assert outcome == "timeout", \
        f"connect from B to {GW_OUTSIDE}:{port} (no mapping): {outcome}, expected no answer at all"

    def is_syn_to_us(f):
        ip, _ = ip_payload(f)
        if ip is None or ip_addrs(ip)[1] != GW_OUTSIDE:
            return False
        proto, seg = l4(ip)
        return proto == 6 and struct.unpack_from("!H", seg, 2)[0] == port and seg[13] & 0x02
    syns = [f for f, _ in cap_b0.outgoing if is_syn_to_us(f)]
    assert syns, "no SYN from B captured"
    answers = []
    for f, ip, _ in parsed_incoming(cap_b0):
        if ip is None:
            continue
        proto, seg = l4(ip)
        if (proto == 6 and struct.unpack_from("!H", seg, 0)[0] == port) or proto == 1:
            answers.append(scapy_frame(f).summary())
    assert not answers, f"B got an answer to its unsolicited SYN: {answers}"
    leaked = []
    for f, ip, _ in parsed_incoming(cap_a0):
        if ip is not None and l4(ip)[0] == 6 and struct.unpack_from("!H", l4(ip)[1], 2)[0] == port:
            leaked.append(scapy_frame(f).summary())
    assert not leaked, f"the unsolicited SYN reached the inside host: {leaked}"

    assert res.returncode == 0, f"forwarder exit {res.returncode}: {res.stderr}"
    n = res.json["nat"]
    assert n["drops"]["no_session"] >= len(syns), \
        f"{len(syns)} SYNs sent, drops.no_session = {n['drops']['no_session']}: {n['drops']}"
    assert n["tcp"]["created"] == 0, f"a TCP session was created from outside: {n['tcp']}"
    assert n["translated_in"] == 0, n


def test_ttl_1_gets_time_exceeded(nat):
    tb = nat.tb
    r = nat.ping("a", HOST_B, count=1, ttl=1, wait=2)
    assert re.search(rf"From {re.escape(GW_INSIDE)} icmp_seq=1 Time to live exceeded", r.stdout), \
        f"ping -t 1 {HOST_B} from A: expected time exceeded from {GW_INSIDE}:\n{r.stdout}{r.stderr}"

    # A UDP datagram with TTL 1: the ICMP error from the gateway embeds it untranslated.
    sport, dport = 20000 + secrets.randbelow(5000), 33434
    payload = b"ttl1-" + secrets.token_bytes(8)
    caps = captures((tb.ns_a, tb.a0), (tb.ns_b, tb.b0))
    s = ns_socket(tb.ns_a, type_=socket.SOCK_DGRAM)
    try:
        s.bind((HOST_A, sport))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
        s.sendto(payload, (HOST_B, dport))

        def is_te(f):
            ip, _ = ip_payload(f)
            return ip is not None and l4(ip)[0] == 1 and l4(ip)[1][0] == 11
        got = caps[0].wait_for(is_te, 1, timeout=3)
        time.sleep(0.1)
    finally:
        s.close()
        stop_all(caps)
    cap_a0, cap_b0 = caps
    assert got, f"no ICMP time exceeded at A for a TTL-1 UDP datagram; A received: " \
                f"{[scapy_frame(f).summary() for f in cap_a0.incoming()]}"
    ip, vids = ip_payload(got[0])
    assert vids == [VLAN_IN], vids
    assert ip_addrs(ip) == (GW_INSIDE, HOST_A), ip_addrs(ip)
    t, code, inner = embedded(ip)
    assert (t, code) == (11, 0)
    assert ip_addrs(inner) == (HOST_A, HOST_B), f"embedded {ip_addrs(inner)}"
    _, iseg = l4(inner)
    assert struct.unpack_from("!HH", iseg, 0) == (sport, dport)
    assert checksum_problems(ip) == [], checksum_problems(ip)
    reached = [f for f, ip2, _ in parsed_incoming(cap_b0) if ip2 is not None and payload in ip2]
    assert not reached, "the TTL-1 datagram was forwarded to B"


def test_icmp_port_unreachable_reaches_inside_translated(nat):
    tb = nat.tb
    sport = 20000 + secrets.randbelow(5000)   # below the ephemeral range: free, so preserved
    dport = 33999                              # nothing listens in B
    payload = b"unreach-" + secrets.token_bytes(12)
    caps = captures((tb.ns_a, tb.a0), (tb.ns_b, tb.b0))
    s = ns_socket(tb.ns_a, type_=socket.SOCK_DGRAM)
    try:
        s.bind((HOST_A, sport))
        s.connect((HOST_B, dport))
        s.settimeout(3)
        s.send(payload)
        try:
            s.recv(1000)
            outcome = "data"
        except ConnectionRefusedError:
            outcome = "refused"
        except socket.timeout:
            outcome = "timeout"

        def is_unreach(f):
            ip, _ = ip_payload(f)
            return ip is not None and l4(ip)[0] == 1 and l4(ip)[1][:2] == b"\x03\x03"
        at_a = caps[0].wait_for(is_unreach, 1, timeout=2)
        time.sleep(0.1)
    finally:
        s.close()
        stop_all(caps)
    cap_a0, cap_b0 = caps

    # At B: the datagram came from the outside address with the port preserved; B's kernel
    # answered port unreachable to the outside address.
    at_b = [ip for f, ip, _ in parsed_incoming(cap_b0) if ip is not None and payload in ip]
    assert at_b, "the UDP datagram never reached B"
    assert ip_addrs(at_b[0]) == (GW_OUTSIDE, HOST_B), ip_addrs(at_b[0])
    mapped = struct.unpack_from("!H", l4(at_b[0])[1], 0)[0]
    assert mapped == sport, f"source port {sport} not preserved (mapped to {mapped})"
    errs_b = [ip_payload(f)[0] for f, _ in cap_b0.outgoing
              if ip_payload(f)[0] is not None and embedded(ip_payload(f)[0])]
    assert errs_b, "B's kernel sent no ICMP error (is something listening on the port?)"

    assert at_a, f"no ICMP port unreachable reached A (socket: {outcome}); A received: " \
                 f"{[scapy_frame(f).summary() for f in cap_a0.incoming()]}"
    ip, vids = ip_payload(at_a[0])
    assert vids == [VLAN_IN], vids
    assert ip_addrs(ip) == (HOST_B, HOST_A), f"outer {ip_addrs(ip)}, expected {HOST_B} -> {HOST_A}"
    t, code, inner = embedded(ip)
    assert (t, code) == (3, 3)
    assert ip_addrs(inner) == (HOST_A, HOST_B), \
        f"embedded packet {ip_addrs(inner)}, expected {HOST_A} -> {HOST_B} (translated back)"
    proto, iseg = l4(inner)
    assert proto == 17 and struct.unpack_from("!HH", iseg, 0) == (sport, dport), \
        f"embedded UDP ports {struct.unpack_from('!HH', iseg, 0)}, expected {(sport, dport)}"
    assert payload in iseg
    problems = checksum_problems(ip)
    assert not problems, "ICMP error as A received it: " + "; ".join(problems)
    assert outcome == "refused", f"A's connected UDP socket: {outcome}, expected ECONNREFUSED"


def traffic_mix(nat):
    """A little of everything through the NAT (ICMP, UDP, TCP both ways, errors); asserts it worked."""
    tb = nat.tb
    echo = UdpEcho(tb.ns_b, HOST_B, 7)
    web_b = TcpServer(tb.ns_b, HOST_B, 5000, b"hello from B" * 100)
    web_a = TcpServer(tb.ns_a, HOST_A, FWD_TARGET_PORT, b"hello from A" * 100)
    try:
        for dst in (GW_INSIDE, HOST_B):
            r = nat.ping("a", dst, count=3)
            assert r.returncode == 0, f"ping {dst} from A:\n{r.stdout}{r.stderr}"
        for i in range(3):
            reply, _ = udp_exchange(tb.ns_a, HOST_B, 7, b"mix %d" % i)
            assert reply == b"mix %d" % i
        for _ in range(2):
            assert tcp_request(tb.ns_a, HOST_B, 5000, b"GET / HTTP/1.0\r\n\r\n") == b"hello from B" * 100
        assert tcp_request(tb.ns_b, GW_OUTSIDE, FWD_PORT, b"GET / HTTP/1.0\r\n\r\n") == b"hello from A" * 100
        s = ns_socket(tb.ns_a, type_=socket.SOCK_DGRAM)
        try:
            s.settimeout(2)
            s.connect((HOST_B, 33998))
            s.send(b"closed port")
            try:
                s.recv(100)
                outcome = "data"
            except ConnectionRefusedError:
                outcome = "refused"
            except socket.timeout:
                outcome = "timeout"
            assert outcome == "refused", f"UDP A->B closed port: {outcome}, expected ECONNREFUSED"
        finally:
            s.close()
        r = nat.ping("a", HOST_B, count=1, ttl=1, wait=2)
        assert "Time to live exceeded" in r.stdout, r.stdout
    finally:
        echo.close()
        web_b.close()
        web_a.close()
    assert all(p[0] == GW_OUTSIDE for p in echo.peers + web_b.peers), (echo.peers, web_b.peers)


def test_no_bad_checksums_at_either_host(nat):
    tb = nat.tb
    traffic_mix(nat)
    time.sleep(0.1)
    delta = {side: snmp_delta(nat.snmp_baseline[side], snmp(tb, side)) for side in "ab"}
    bad = [f"host {side}: {p} {k} +{delta[side][p][k]}" for side in "ab"
           for p, k in SNMP_ERROR_COUNTERS if delta[side][p][k] != 0]
    assert not bad, "checksum/header errors counted by the hosts' kernels:\n  " + "\n  ".join(bad)
    for side in "ab":
        d = delta[side]
        assert d["Udp"]["InDatagrams"] > 0 and d["Tcp"]["InSegs"] > 0 and d["Icmp"]["InMsgs"] > 0, \
            f"host {side} received too little to judge: {d['Udp']}, {d['Tcp']}, {d['Icmp']}"

    # The counters are live: B's kernel verifies checksums of frames from the forwarder's link
    # (no offload marks them good). One frame per protocol with a wrong checksum, sent on ${P}b1.
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Dot1Q, Ether
    base = Ether(src=nat.gw_mac_out, dst=tb.mac_b) / Dot1Q(vlan=VLAN_OUT) / IP(src=GW_OUTSIDE, dst=HOST_B)
    frames = [bytes(base / UDP(sport=1111, dport=7, chksum=0x1234) / b"bad udp checksum"),
              bytes(base / TCP(sport=1111, dport=5000, flags="S", chksum=0x1234)),
              bytes(base / ICMP(type=8, chksum=0x1234) / b"bad icmp checksum")]
    before = snmp(tb, "b")
    send_frames(None, tb.out_if, frames)
    time.sleep(0.3)
    d = snmp_delta(before, snmp(tb, "b"))
    assert (d["Udp"]["InCsumErrors"], d["Tcp"]["InCsumErrors"], d["Icmp"]["InCsumErrors"]) == (1, 1, 1), \
        ("B's kernel did not count deliberately bad checksums, so zero errors above prove nothing: "
         f"Udp {d['Udp']['InCsumErrors']}, Tcp {d['Tcp']['InCsumErrors']}, Icmp {d['Icmp']['InCsumErrors']}")
    nat.snmp_baseline["b"] = snmp(tb, "b")


def test_json_summary_after_sigterm(nat):
    """Runs last: stops the module's forwarder."""
    traffic_mix(nat)
    res = nat.stop_forwarder()
    assert res.returncode == 0, f"exit {res.returncode} after SIGTERM: {res.stderr}"
    j = res.json
    assert j is not None, f"no JSON summary on stdout: {res.stdout!r}"
    assert j.get("mode") == "vlan-nat", j.get("mode")
    if "stopped_by" in j:
        assert j["stopped_by"] == "SIGTERM"
    n = j.get("nat")
    assert isinstance(n, dict), f"'nat' in the JSON summary: {n!r}"
    assert n["translated_out"] > 0 and n["translated_in"] > 0, n
    for proto in ("tcp", "udp", "icmp"):
        assert n[proto]["created"] > 0, f"no {proto} session created: {n[proto]}"
    assert n["echo_replies_sent"] >= 3, n            # pings of the gateway
    assert n["icmp_errors_sent"] >= 1, n             # the TTL-1 ping
    assert n["icmp_errors_translated"] >= 1, n       # the port unreachable
    assert n["drops"]["ttl_exceeded"] >= 1, n["drops"]
    assert n["arp"]["requests_answered"] > 0 or n["arp"]["received"] > 0, n["arp"]
    for reason in ("bad_checksum", "malformed", "wrong_vlan", "table_full", "ports_exhausted",
                   "arp_queue_full", "arp_failed", "output_full", "no_headroom", "no_buffer"):
        assert n["drops"][reason] == 0, f"drops.{reason} = {n['drops'][reason]}: {n['drops']}"
    assert n["drops_total"] == sum(n["drops"].values()), n
    for name in ("in->out", "out->in"):
        d = res.direction(name)
        assert d["tx_frames"] > 0, d
    nat_drops = sum(res.direction(x)["drops_by_reason"]["nat"] for x in ("in->out", "out->in"))
    assert nat_drops == n["drops_total"], \
        f"directions count {nat_drops} NAT drops, nat.drops_total is {n['drops_total']}"
