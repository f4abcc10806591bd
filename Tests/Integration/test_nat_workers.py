"""--workers N with --vlan-nat: each worker owns a disjoint share of the external ports (blocks
of 64, worker = (port >> 6) % N) and ICMP identifiers; frames that land on the wrong worker are
handed to their owner.

One NAT testbed for the module (nat_support.nat_testbed: host A inside on VLAN_IN, host B outside
on VLAN_OUT), with 7 more inside addresses on A (several inside hosts) and B's ICMP error rate
limit off (its errors all go to the one outside address). Each test restarts the forwarder with
its --workers options; every run ends with SIGTERM, exit 0, the totals equal to the sums over
the workers and every head back in the pool (harness.check_worker_summary).
"""

import contextlib
import re
import secrets
import selectors
import socket
import time
from collections import Counter

import pytest

from harness import check_worker_summary, forwarder_io, queues_for
from nat_support import (FWD_PORT, FWD_TARGET_PORT, GW_INSIDE, GW_OUTSIDE, HOST_A, HOST_B,
                         INSIDE_NET, TcpServer, UdpEcho, check_nat_prerequisites, iperf3,
                         nat_testbed, ns_socket, tcp_request, udp_exchange)

INSIDE_HOSTS = [HOST_A] + [INSIDE_NET + str(i) for i in range(11, 18)]   # 8 inside hosts
ECHO_PORTS = (7, 9)              # two UDP echo servers in B: two destinations per inside endpoint
UDP_FWD_PORT = 7007              # --forward udp:7007=HOST_A:7 where a test adds it


@pytest.fixture(scope="module")
def beds():
    """beds(workers) -> the NAT testbed for that many workers, made on first use and kept for
    the module, with harness.queues_for(workers) queues per veth: over pcap one serves all."""
    problems = check_nat_prerequisites()
    if problems:
        pytest.fail("NAT testbed prerequisites missing:\n  " + "\n  ".join(problems), pytrace=False)
    made = {}
    with contextlib.ExitStack() as stack:
        def get(workers):
            queues = queues_for(workers)
            if queues not in made:
                b = stack.enter_context(nat_testbed(queues=queues))
                for h in INSIDE_HOSTS[1:]:
                    b.exec("a", ["ip", "addr", "add", f"{h}/24", "dev", b.tb.a0])
                b.exec("b", ["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"])
                made[queues] = b
            return made[queues]
        yield get


def start(bed, *args):
    """(Re)start the module's forwarder: nat_support.FORWARDER_ARGS + args."""
    if bed.fw is not None and bed.fw.running():
        bed.stop_forwarder()
    bed.extra_args = [str(a) for a in args]
    return bed.start_forwarder()


def finish(bed, workers):
    """SIGTERM: exit 0, the per-worker summary consistent, every head back. Returns the Result."""
    assert bed.fw.running(), f"the forwarder died: {bed.stop_forwarder().stderr[-2000:]}"
    res = bed.stop_forwarder()
    assert res.returncode == 0, f"exit {res.returncode} after SIGTERM: {res.stderr[-2000:]}"
    assert res.json is not None and res.json.get("mode") == "vlan-nat", res.stdout[-2000:]
    check_worker_summary(res.json, workers)
    return res


def warm_up(bed, hosts, echo_port=ECHO_PORTS[0]):
    """One UDP exchange per inside host (bounded retries), so that A's kernel knows the
    gateway's MAC and the gateway knows each host's before the bursts."""
    tb = bed.tb
    for h in hosts:
        for attempt in range(3):
            try:
                udp_exchange(tb.ns_a, HOST_B, echo_port, b"warm-up " + h.encode(), timeout=1.5,
                             bind=(h, 0))
                break
            except AssertionError:
                if attempt == 2:
                    raise


class UdpFlows:
    """len(hosts) x ports UDP sockets in A, bound to (host, port): the inside endpoints."""

    def __init__(self, bed, hosts, ports):
        self.bed = bed
        self.endpoints = [(h, p) for h in hosts for p in ports]
        self.socks = []
        self.sel = selectors.DefaultSelector()
        try:
            for i, ep in enumerate(self.endpoints):
                s = ns_socket(bed.tb.ns_a, type_=socket.SOCK_DGRAM)
                self.socks.append(s)
                s.bind(ep)
                s.setblocking(False)
                self.sel.register(s, selectors.EVENT_READ, i)
        except BaseException:
            self.close()
            raise

    def close(self):
        self.sel.close()
        for s in self.socks:
            s.close()

    def round(self, token, tag, dport, size=48, timeout=3.0):
        """Every endpoint sends one datagram to B:dport (paced), and waits for its echo.
        Returns a list of problems."""
        expect = {}
        for i, s in enumerate(self.socks):
            payload = b"%s %s f%d " % (token, tag, i)
            payload += bytes(i & 0xFF for _ in range(max(0, size - len(payload))))
            s.sendto(payload, (HOST_B, dport))
            expect[i] = payload
            if i % 16 == 15:
                time.sleep(0.001)
        problems = []
        deadline = time.monotonic() + timeout
        while expect and time.monotonic() < deadline:
            for key, _ in self.sel.select(timeout=0.05):
                i = key.data
                while True:
                    try:
                        data, peer = self.socks[i].recvfrom(65535)
                    except BlockingIOError:
                        break
                    if expect.get(i) == data and peer == (HOST_B, dport):
                        del expect[i]
                    elif not data.startswith(token + b" "):
                        problems.append(f"endpoint {self.endpoints[i]}: stray datagram from {peer}: {data[:40]!r}")
                    elif data.split()[1] != tag:
                        continue   # a late echo of an earlier round
                    else:
                        problems.append(f"endpoint {self.endpoints[i]}: got {data[:40]!r} from {peer}, "
                                        f"expected its own datagram from {(HOST_B, dport)}")
        if expect:
            problems.append(f"{len(expect)} of {len(self.socks)} endpoints got no echo from B:{dport} "
                            f"({tag.decode()}) within {timeout}s: "
                            + ", ".join(f"{self.endpoints[i]}" for i in list(expect)[:12]))
        return problems


def udp_flow_run(bed, hosts, ports, rounds=2, size=48):
    """Through the running forwarder: every endpoint (host, port) exchanges `rounds` datagrams
    with each of B's echo servers. Asserts every echo came back and that the mapping is
    endpoint independent: B saw each endpoint from one external (GW_OUTSIDE, port), the same
    for both servers and every round, and no two endpoints share one. Returns {endpoint:
    external port}."""
    tb = bed.tb
    echos = [UdpEcho(tb.ns_b, HOST_B, p) for p in ECHO_PORTS]
    try:
        warm_up(bed, hosts)
        flows = UdpFlows(bed, hosts, ports)
        token = b"T" + secrets.token_hex(4).encode()
        problems = []
        try:
            for r in range(rounds):
                for dport in ECHO_PORTS:
                    problems += flows.round(token, b"r%dd%d" % (r, dport), dport, size=size)
        finally:
            flows.close()
    finally:
        for e in echos:
            e.close()
    n = len(flows.endpoints)
    assert not problems, f"{n} UDP flows from {len(hosts)} inside hosts, {len(problems)} problem(s):\n  " \
        + "\n  ".join(problems[:20])
    seen = {}
    for e in echos:
        for data, peer in e.datagrams:
            m = re.match(rb"(\S+) \S+ f(\d+) ", data)
            if m and m.group(1) == token:
                seen.setdefault(int(m.group(2)), set()).add(peer)
    mapping, bad = {}, []
    for i, ep in enumerate(flows.endpoints):
        peers = seen.get(i, set())
        if len(peers) != 1 or next(iter(peers))[0] != GW_OUTSIDE:
            bad.append(f"{ep} seen by B as {sorted(peers)}")
        else:
            mapping[ep] = next(iter(peers))[1]
    assert not bad, ("mapping not endpoint independent (one external port per inside endpoint, "
                     f"whatever the destination): {len(bad)} of {n}:\n  " + "\n  ".join(bad[:20]))
    shared = [p for p, c in Counter(mapping.values()).items() if c > 1]
    assert not shared, f"external ports shared by several inside endpoints: {shared[:20]}"
    return mapping


def check_port_shares(ws, mapping, workers):
    """The external ports of the UDP flows (still active sessions) belong to the workers'
    shares: worker w owns the blocks (port >> 6) % N == w and holds at least that many
    sessions; with N > 1 the flows used more than one share."""
    owners = Counter((p >> 6) % workers for p in mapping.values())
    for w in range(workers):
        assert ws[w]["nat_sessions"] >= owners.get(w, 0), \
            (f"worker {w} holds {ws[w]['nat_sessions']} sessions, but {owners.get(w, 0)} UDP flows have "
             f"an external port of its share: {dict(owners)}")
    if workers > 1:
        assert len(owners) > 1, f"all {len(mapping)} flows mapped into one worker's ports: {dict(owners)}"
        busy = [w["worker"] for w in ws if w["nat_sessions"]]
        assert len(busy) > 1, f"sessions only on workers {busy}: {[w['nat_sessions'] for w in ws]}"


# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2, 3])
def test_many_udp_flows_and_parallel_tcp(beds, workers, record_property):
    """320 UDP flows (8 inside hosts x 40 ports) to two outside servers, and iperf3 -P 8."""
    bed = beds(workers)
    start(bed, "--workers", workers)
    ports = [10000 + 7 * k for k in range(40)]
    mapping = udp_flow_run(bed, INSIDE_HOSTS, ports)
    report, _ = iperf3(bed, 5211 + workers, ["-P", "8"], seconds=3)
    res = finish(bed, workers)

    streams = report["end"]["streams"]
    assert len(streams) == 8, f"iperf3 -P 8 reported {len(streams)} streams"
    slow = [s["receiver"] for s in streams if not s["receiver"]["bytes"] > 0]
    assert not slow, f"streams with nothing received: {slow}"
    mbps = report["end"]["sum_received"]["bits_per_second"] / 1e6
    record_property(f"nat_workers{workers}_iperf3_p8_mbps", round(mbps, 1))
    print(f"\n--vlan-nat --workers {workers}: {len(mapping)} UDP flows ok; iperf3 -P 8 {mbps:.0f} Mbit/s")
    assert mbps > 0

    j = res.json
    ws = j["workers"]
    nat = j["nat"]
    assert nat["udp"]["active"] >= len(mapping), nat["udp"]
    assert nat["tcp"]["created"] >= 9, nat["tcp"]          # 8 streams + the control connection
    check_port_shares(ws, mapping, workers)
    if workers > 1:
        busy = [w["worker"] for w in ws if w["rx_frames"] > 0]
        assert len(busy) > 1, f"all traffic on workers {busy}: {[w['rx_frames'] for w in ws]}"


@pytest.mark.parametrize("remote_frees", ["return-home", "adopt"])
def test_hand_off_without_steering(beds, remote_frees):
    """--nat-steering none: plain hash fanout, so replies often land on a worker that does
    not own their port and are handed off; flows stay correct, every hand-off accounted for.
    Over AF_XDP the veth's queue choice is the plain hash (there is no steering), and a handed
    off frame travels as a copy out of the UMEM."""
    bed = beds(2)
    steering = [] if forwarder_io() == "xdp" else ["--nat-steering", "none"]
    start(bed, "--workers", 2, *steering, "--remote-frees", remote_frees)
    web = TcpServer(bed.tb.ns_b, HOST_B, 5000, b"from B " * 200)
    try:
        mapping = udp_flow_run(bed, INSIDE_HOSTS[:4], [11000 + 5 * k for k in range(32)])
        for i in range(8):
            got = tcp_request(bed.tb.ns_a, HOST_B, 5000, b"GET /%d HTTP/1.0\r\n\r\n" % i,
                              bind=(INSIDE_HOSTS[i % 4], 0))
            assert got == b"from B " * 200, f"TCP request {i} through the NAT got {len(got)} bytes"
    finally:
        web.close()
    r = bed.ping("a", HOST_B, count=10, interval=0.02)
    assert r.returncode == 0 and re.search(r"\b0% packet loss", r.stdout), r.stdout + r.stderr
    res = finish(bed, 2)
    ws = res.json["workers"]
    sent = sum(w["hand_offs_sent"] for w in ws)
    print(f"\n--nat-steering none --remote-frees {remote_frees}: hand-offs "
          + ", ".join(f"w{w['worker']} sent {w['hand_offs_sent']} received {w['hand_offs_received']} "
                      f"dropped {w['hand_off_drops']} remote frees {w['remote_frees']} "
                      f"returns {w['remote_returns']}" for w in ws))
    assert sent > 0, f"no frame handed off with --nat-steering none: {ws}"
    assert sent == sum(w["hand_offs_received"] for w in ws), ws
    if res.json["io"] == "xdp":
        # A frame handed off leaves its UMEM as a copy, and its owner sends that copy: nearly
        # every hand-off is a copied TX frame (not the ARP copies the owners only learn from).
        copied = sum(i["tx_copied"] for i in res.json["xdp"]["interfaces"].values())
        print(f"xdp: {copied} frames sent as copies, {sent} hand-offs")
        assert copied >= 0.9 * sent, (copied, sent, res.json["xdp"])
        assert "frame accounting" not in res.stderr, res.stderr[-2000:]
    check_port_shares(ws, mapping, 2)


def test_port_forwards(beds):
    """--forward tcp:8080=A:80 (the testbed's) and udp:7007=A:7 with 2 workers: reachable from
    outside, many times, each from another source port (spread over the workers' hashes)."""
    bed = beds(2)
    tb = bed.tb
    start(bed, "--workers", 2, "--forward", f"udp:{UDP_FWD_PORT}={HOST_A}:7")
    srv = TcpServer(tb.ns_a, HOST_A, FWD_TARGET_PORT, lambda req: b"HTTP/1.0 200 OK\r\n\r\n" + req[:64])
    echo = UdpEcho(tb.ns_a, HOST_A, 7)
    sports = [40000 + 131 * i for i in range(12)]
    try:
        for sport in sports:
            req = b"GET /%d-%s HTTP/1.0\r\n\r\n" % (sport, secrets.token_hex(4).encode())
            resp = tcp_request(tb.ns_b, GW_OUTSIDE, FWD_PORT, req, bind=(HOST_B, sport))
            assert resp == b"HTTP/1.0 200 OK\r\n\r\n" + req[:64], \
                f"B:{sport} -> {GW_OUTSIDE}:{FWD_PORT} got {resp!r}"
        for sport in sports:
            payload = b"udp forward %d " % sport + secrets.token_bytes(8)
            reply, peer = udp_exchange(tb.ns_b, GW_OUTSIDE, UDP_FWD_PORT, payload, bind=(HOST_B, sport))
            assert reply == payload and peer == (GW_OUTSIDE, UDP_FWD_PORT), (sport, reply, peer)
    finally:
        srv.close()
        echo.close()
    # A forward translates the destination only: the inside servers saw B's own ports.
    assert sorted(p for p in srv.peers) == sorted((HOST_B, s) for s in sports), srv.peers
    assert sorted(set(echo.peers)) == sorted((HOST_B, s) for s in sports), echo.peers
    res = finish(bed, 2)
    assert res.json["nat"]["translated_in"] >= 4 * len(sports), res.json["nat"]


def test_icmp_errors_and_fragments(beds):
    """With 2 workers: port unreachable from B for 16 flows reaches each inside socket
    translated (ECONNREFUSED on a connected socket: the embedded addresses and ports are back
    to the inside ones, checksum good); TTL 1 gets time exceeded from the gateway; ping -s 3000
    from 4 inside hosts and 4000-byte UDP both ways (out to B's echo, in through a UDP forward)
    are fragmented and reassembled."""
    bed = beds(2)
    tb = bed.tb
    start(bed, "--workers", 2, "--forward", f"udp:{UDP_FWD_PORT}={HOST_A}:7")
    hosts = INSIDE_HOSTS[:4]
    warm_up_echo = UdpEcho(tb.ns_b, HOST_B, ECHO_PORTS[0])
    try:
        warm_up(bed, hosts)
    finally:
        warm_up_echo.close()

    outcomes = {}
    for i in range(16):
        ep = (hosts[i % 4], 12000 + 3 * i)
        s = ns_socket(tb.ns_a, type_=socket.SOCK_DGRAM)
        try:
            s.bind(ep)
            s.connect((HOST_B, 33990 + i % 4))       # nothing listens there
            s.settimeout(3)
            s.send(b"closed port %d" % i)
            try:
                s.recv(100)
                outcomes[ep] = "data"
            except ConnectionRefusedError:
                outcomes[ep] = "refused"
            except socket.timeout:
                outcomes[ep] = "timeout"
        finally:
            s.close()
    bad = {ep: o for ep, o in outcomes.items() if o != "refused"}
    assert not bad, f"UDP to a closed port of B: expected ECONNREFUSED (port unreachable translated " \
                    f"back), got {bad}"

    for h in hosts[:2]:
        r = bed.exec("a", ["ping", "-n", "-c", "1", "-W", "2", "-t", "1", "-I", h, HOST_B], check=False)
        assert re.search(rf"From {re.escape(GW_INSIDE)} icmp_seq=1 Time to live exceeded", r.stdout), \
            f"ping -t 1 from {h}: expected time exceeded from {GW_INSIDE}:\n{r.stdout}{r.stderr}"

    for h in hosts:
        r = bed.exec("a", ["ping", "-n", "-c", "4", "-i", "0.1", "-W", "2", "-s", "3000", "-I", h, HOST_B],
                     check=False)
        assert r.returncode == 0 and re.search(r"\b0% packet loss", r.stdout), \
            f"ping -s 3000 from {h} through the NAT:\n{r.stdout}{r.stderr}"
        assert len(re.findall(rf"3008 bytes from {re.escape(HOST_B)}", r.stdout)) == 4, r.stdout

    big = UdpEcho(tb.ns_b, HOST_B, ECHO_PORTS[0])
    inside = UdpEcho(tb.ns_a, HOST_A, 7)
    try:
        for i in range(8):
            payload = b"big out %d " % i + secrets.token_bytes(4000)
            reply, peer = udp_exchange(tb.ns_a, HOST_B, ECHO_PORTS[0], payload, timeout=3,
                                       bind=(hosts[i % 4], 13000 + 11 * i))
            assert reply == payload and peer == (HOST_B, ECHO_PORTS[0]), (i, len(reply), peer)
        for i in range(8):
            payload = b"big in %d " % i + secrets.token_bytes(4000)
            reply, peer = udp_exchange(tb.ns_b, GW_OUTSIDE, UDP_FWD_PORT, payload, timeout=3,
                                       bind=(HOST_B, 45000 + 97 * i))
            assert reply == payload and peer == (GW_OUTSIDE, UDP_FWD_PORT), (i, len(reply), peer)
    finally:
        big.close()
        inside.close()
    res = finish(bed, 2)
    nat = res.json["nat"]
    # 4 pings x 4 hosts and 16 UDP datagrams, each 3 fragments, both ways.
    assert nat["fragments_translated"] >= 2 * (16 + 16), nat
    assert nat["icmp_errors_translated"] >= 16, nat
    assert nat["icmp_errors_sent"] >= 2, nat
    assert nat["drops"]["fragment"] == 0, nat["drops"]
