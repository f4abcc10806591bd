"""End to end: what issue 20 adds to the VLAN NAT gateway, each with the options it needs (one
testbed and forwarder per test: the options differ).

  ns A HOST_A (VLAN_IN) -- ${P}a1 [forwarder --vlan-nat ...] ${P}b1 -- ns B HOST_B (VLAN_OUT)

(nat_support.py's names for scripts/testbed.plan's NAT hosts, gateway and VLANs.) Real tools:
ping, curl, iperf3, tcpdump in the hosts' namespaces; every process bounded in time.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time

import pytest

from harness import run
from netns_io import Capture
from nat_support import (FWD_PORT, FWD_TARGET_PORT, GW_OUTSIDE, HOST_A, HOST_B, INSIDE_NET, NatBed,
                         TcpServer, UdpEcho, check_nat_prerequisites, ns_socket, tcp_request,
                         wait_listening)


@pytest.fixture(scope="module", autouse=True)
def prerequisites():
    problems = check_nat_prerequisites()
    if problems:
        pytest.fail("NAT testbed prerequisites missing:\n  " + "\n  ".join(problems), pytrace=False)


@contextlib.contextmanager
def gateway_bed(extra_args=(), before_start=None, testbed_args=()):
    """A NatBed with the forwarder started with `extra_args`; `before_start(bed)` runs on the
    testbed first (e.g. an MTU change the forwarder must read at start). Always torn down."""
    bed = NatBed("gw" + secrets.token_hex(2), extra_args, testbed_args=testbed_args)
    try:
        bed.up()
        if before_start:
            before_start(bed)
        bed.start_forwarder()
        yield bed
    finally:
        bed.teardown()


class Tcpdump:
    """tcpdump -v in a host's namespace on its interface, stopped (by its PID) with stop()."""

    def __init__(self, bed, side, bpf):
        ifname = bed.tb.a0 if side == "a" else bed.tb.b0
        self.proc = bed.tb.popen(side, ["tcpdump", "-i", ifname, "-nn", "-v", "-l", "-U", bpf],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.proc.poll() is None:
            if os.path.exists(f"/proc/{self.proc.pid}"):
                time.sleep(0.5)   # tcpdump prints "listening" on stderr once attached
                break
        assert self.proc.poll() is None, f"tcpdump exited: {self.proc.communicate()}"

    def stop(self):
        time.sleep(0.3)
        self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=5)
        return out


def syn_mss(tcpdump_text):
    """[(flags, mss)] of the SYN and SYN-ACK segments tcpdump -v printed."""
    return [(m.group(1), int(m.group(2)))
            for m in re.finditer(r"Flags \[(S\.?)\].*?options \[mss (\d+)", tcpdump_text)]


# ---------------------------------------------------------------------------------------------
# MSS clamping

NARROW_MTU = 1400


def narrow_outside(bed):
    """The forwarder's outside interface gets MTU 1400; host B keeps 1500, so B's 1500-byte
    segments would not fit (the veth drops them, no ICMP: PMTU discovery cannot help)."""
    run(["ip", "link", "set", "dev", bed.tb.out_if, "mtu", str(NARROW_MTU)])


def test_mss_clamp_auto_over_a_narrow_outside():
    with gateway_bed(["--mss-clamp", "auto"], before_start=narrow_outside) as bed:
        tb = bed.tb
        data_dir = tempfile.mkdtemp(prefix="gw-http-")
        payload = os.urandom(64 << 20)
        with open(os.path.join(data_dir, "blob"), "wb") as f:
            f.write(payload)
        want = hashlib.sha256(payload).hexdigest()
        dump = Tcpdump(bed, "b", "tcp[tcpflags] & tcp-syn != 0 or (vlan and tcp[tcpflags] & tcp-syn != 0)")
        http = tb.popen("b", ["/usr/bin/python3", "-m", "http.server", "-b", HOST_B, "-d", data_dir, "8000"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        web_a = TcpServer(tb.ns_a, HOST_A, FWD_TARGET_PORT, b"hello from A")
        try:
            assert wait_listening(bed, "b", 8000, proc=http), "http.server did not start"
            # A -> B: A's SYN (MSS 1460) is clamped; B's download then fits the narrow link.
            got = bed.exec("a", ["sh", "-c", f"curl -sS --max-time 60 http://{HOST_B}:8000/blob | sha256sum"],
                           timeout=90)
            assert got.stdout.split()[0] == want, f"sha256 of the download: {got.stdout} {got.stderr}"
            # B -> the forward -> A's server: A's SYN-ACK is clamped on its way out.
            assert tcp_request(tb.ns_b, GW_OUTSIDE, FWD_PORT, b"GET / HTTP/1.0\r\n\r\n") == b"hello from A"
        finally:
            web_a.close()
            http.terminate()
            http.wait(timeout=5)
            text = dump.stop()
            os.unlink(os.path.join(data_dir, "blob"))
            os.rmdir(data_dir)
        seen = syn_mss(text)
        # B sees: A's SYN (to 8000), then the SYN-ACK of A's server (from the forward's port).
        syns = [mss for flags, mss in seen if flags == "S"]
        syn_acks = [mss for flags, mss in seen if flags == "S."]
        assert 1360 in syns and 1360 in syn_acks, f"SYN/SYN-ACK MSS seen at B: {seen}\n{text[-2000:]}"
        res = bed.stop_forwarder()
        n = res.json["nat"]
        assert n["mss_clamped"] >= 3, n   # A's SYN to B, B's SYN to the forward, A's SYN-ACK
        assert n["drops"]["too_big"] == 0, n["drops"]


# ---------------------------------------------------------------------------------------------
# No route, said aloud

UNROUTED = "198.51.100.53"
IP_RECVERR = 11              # linux/in.h   # beyond the outside subnet; the testbed's forwarder has no --gateway


def test_no_route_answers_network_unreachable():
    with gateway_bed() as bed:
        r = bed.ping("a", UNROUTED, count=1, wait=2)
        assert "Destination Net Unreachable" in r.stdout, f"ping {UNROUTED}:\n{r.stdout}{r.stderr}"
        # A DNS query to an unreachable resolver fails at once (ENETUNREACH), not after its
        # timeout. Linux reports a network unreachable to a UDP socket only with IP_RECVERR (it
        # is a soft error otherwise, RFC 1122 4.1.3.3).
        s = ns_socket(bed.tb.ns_a, type_=socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
            s.settimeout(5)
            s.connect((UNROUTED, 53))
            started = time.monotonic()
            s.send(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01")
            with pytest.raises(OSError) as e:
                s.recv(512)
            waited = time.monotonic() - started
        finally:
            s.close()
        assert e.value.errno == errno.ENETUNREACH, e.value
        assert waited < 1.0, f"the lookup failed after {waited:.2f} s"
        res = bed.stop_forwarder()
        n = res.json["nat"]
        assert n["drops"]["no_route"] == 2 and n["icmp_errors_sent"] == 2, n


# ---------------------------------------------------------------------------------------------
# Per-host limits

SECOND_HOST = INSIDE_NET + "3"   # a second inside host: another address of host A's interface


def udp_flows(netns, src, count, first_port, timeout=1.0):
    """`count` UDP flows from src (ports first_port, +2, ...) to B's echo: per flow "reply",
    "refused" (an ICMP error: EHOSTUNREACH on the connected socket) or "silent"."""
    outcomes = []
    for i in range(count):
        s = ns_socket(netns, type_=socket.SOCK_DGRAM)
        try:
            s.bind((src, first_port + 2 * i))
            s.connect((HOST_B, 7))
            s.settimeout(timeout)
            s.send(b"flow %d" % i)
            try:
                outcomes.append("reply" if s.recv(100) == b"flow %d" % i else "garbled")
            except socket.timeout:
                outcomes.append("silent")
            except OSError as e:
                outcomes.append("refused" if e.errno == errno.EHOSTUNREACH else f"errno {e.errno}")
        finally:
            s.close()
    return outcomes


def test_max_sessions_per_host():
    with gateway_bed(["--max-sessions-per-host", "10"]) as bed:
        bed.exec("a", ["ip", "addr", "add", f"{SECOND_HOST}/24", "dev", bed.tb.a0])
        echo = UdpEcho(bed.tb.ns_b, HOST_B, 7)
        try:
            first = udp_flows(bed.tb.ns_a, HOST_A, 50, 20000)
            second = udp_flows(bed.tb.ns_a, SECOND_HOST, 8, 30000)
            # A TCP connection of the host at its limit is reset at once (the RST as from B).
            s = ns_socket(bed.tb.ns_a)
            try:
                s.settimeout(5)
                started = time.monotonic()
                with pytest.raises(ConnectionRefusedError):
                    s.connect((HOST_B, 5001))
                assert time.monotonic() - started < 1.0
            finally:
                s.close()
        finally:
            echo.close()
        assert first[:10] == ["reply"] * 10, first
        assert first[10] == "refused", f"the 11th flow: {first[10]}"
        assert first[10:] == ["refused"] * 40, first
        assert second == ["reply"] * 8, second
        res = bed.stop_forwarder()
        n = res.json["nat"]
        assert n["udp"]["created"] == 18 and n["drops"]["host_quota"] == 41, n   # 40 UDP flows, 1 SYN
        assert n["icmp_errors_sent"] == 40 and n["resets_sent"] == 1, n


# ---------------------------------------------------------------------------------------------
# IPv6

V6_A, V6_B = "2001:db8:20::a", "2001:db8:20::b"   # global addresses of one /64: the bridged link


def with_global_ipv6(bed):
    bed.exec("a", ["ip", "-6", "addr", "add", f"{V6_A}/64", "dev", bed.tb.a0, "nodad"])
    bed.exec("b", ["ip", "-6", "addr", "add", f"{V6_B}/64", "dev", bed.tb.b0, "nodad"])


def ipv6_frames_at_b(bed):
    """A Capture of the frames B's interface receives (stop() it), for IPv6 ones (0x86DD)."""
    return Capture(bed.tb.ns_b, bed.tb.b0).start()


def is_ipv6(frame):
    off = 12
    while frame[off:off + 2] in (b"\x81\x00", b"\x88\xa8"):
        off += 4
    return frame[off:off + 2] == b"\x86\xdd"


def test_ipv6_bridge_ping_and_iperf3():
    with gateway_bed(["--ipv6", "bridge"], before_start=with_global_ipv6, testbed_args=["--ipv6"]) as bed:
        r = bed.exec("a", ["ping", "-6", "-n", "-c", "5", "-i", "0.2", "-W", "2", V6_B], timeout=30, check=False)
        assert r.returncode == 0, f"ping -6 {V6_B} from A:\n{r.stdout}{r.stderr}"
        srv = bed.tb.popen("b", ["iperf3", "-s", "-1", "-B", V6_B, "-p", "5201", "-J"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert wait_listening(bed, "b", 5201, proc=srv), "iperf3 server did not start"
            cli = bed.exec("a", ["iperf3", "-6", "-c", V6_B, "-p", "5201", "-t", "2", "-J", "--connect-timeout", "3000"],
                           timeout=30, check=False)
        finally:
            try:
                srv.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.communicate(timeout=5)
        report = json.loads(cli.stdout)
        assert cli.returncode == 0 and "error" not in report, cli.stdout[-2000:]
        mbps = report["end"]["sum_received"]["bits_per_second"] / 1e6
        assert mbps > 10, f"iperf3 over IPv6: {mbps:.1f} Mbit/s"
        res = bed.stop_forwarder()
        n = res.json["nat"]
        assert n["ipv6_bridged"]["in_out"] > 0 and n["ipv6_bridged"]["out_in"] > 0, n["ipv6_bridged"]
        assert n["drops"]["not_ipv4"] == 0, n["drops"]


def test_ipv6_dropped_by_default():
    with gateway_bed(before_start=with_global_ipv6, testbed_args=["--ipv6"]) as bed:
        cap = ipv6_frames_at_b(bed)
        try:
            r = bed.exec("a", ["ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "1", V6_B], timeout=30, check=False)
        finally:
            frames = cap.stop()
        assert r.returncode != 0, f"ping -6 crossed without --ipv6 bridge:\n{r.stdout}"
        assert not [f for f in frames if is_ipv6(f)], "an IPv6 frame reached B without --ipv6 bridge"
        res = bed.stop_forwarder()
        n = res.json["nat"]
        assert n["drops"]["not_ipv4"] > 0 and n["ipv6_bridged"] == {"in_out": 0, "out_in": 0}, n
