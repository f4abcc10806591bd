"""Support for test_nat.py: the VLAN NAT testbed (host A inside on VLAN_IN, host B outside on
VLAN_OUT, the forwarder in --vlan-nat mode between them), small servers and clients living in
the hosts' namespaces, an independent Internet checksum check, and /proc/net/snmp counters.

Reuses harness.py (testbed_up/down, Forwarder, Testbed.exec) and netns_io.py (in_netns, Capture).
"""

import contextlib
import os
import secrets
import shutil
import socket
import struct
import subprocess
import threading
import time

from harness import Forwarder, testbed_down, testbed_plan, testbed_up
from netns_io import in_netns

# The topology: scripts/testbed.plan's NAT hosts and VLANs (the demo's and the benchmarks' too).
GW_INSIDE = testbed_plan.NAT_GW_INSIDE     # the forwarder's inside address
GW_OUTSIDE = testbed_plan.NAT_GW_OUTSIDE   # the forwarder's outside (masquerade) address
HOST_A = testbed_plan.NAT_HOST_A           # inside host
HOST_B = testbed_plan.NAT_HOST_B           # outside host
INSIDE_NET = testbed_plan.subnet_stem(HOST_A)
OUTSIDE_NET = testbed_plan.subnet_stem(HOST_B)
VLAN_IN, VLAN_OUT = testbed_plan.VLAN_A, testbed_plan.VLAN_B
FWD_PORT, FWD_TARGET_PORT = 8080, 80   # --forward tcp:8080=HOST_A:80

FORWARDER_ARGS = testbed_plan.nat_forwarder_args() + [
    "--forward", f"tcp:{FWD_PORT}={HOST_A}:{FWD_TARGET_PORT}", "--json"]

SNMP_ERROR_COUNTERS = [("Ip", "InHdrErrors"), ("Icmp", "InCsumErrors"), ("Tcp", "InCsumErrors"),
                       ("Udp", "InCsumErrors")]


def check_nat_prerequisites():
    """What the NAT testbed needs beyond conftest's prerequisites (a list of problems)."""
    problems = []
    clang = None
    for c in (os.environ.get("CLANG"), "/opt/swift/usr/bin/clang", "clang"):
        if c and shutil.which(c):
            clang = c
            break
    if clang is None:
        problems.append("clang not found (testbed.sh --vlan-in/--vlan-out build a tc BPF program): "
                        "install clang or set CLANG=/path/to/clang")
    if not os.path.isfile("/usr/include/bpf/bpf_helpers.h"):
        problems.append("bpf/bpf_helpers.h missing (testbed.sh --vlan-*): apt-get install -y libbpf-dev")
    for tool, pkg in [("tc", "iproute2"), ("ss", "iproute2")]:
        if shutil.which(tool) is None:
            problems.append(f"'{tool}' missing: apt-get install -y {pkg}")
    return problems


# ---------------------------------------------------------------------------------------------
# The testbed + forwarder

class NatBed:
    """One VLAN NAT testbed and the forwarder running on it (restartable)."""

    def __init__(self, prefix, extra_args=(), queues=1, testbed_args=()):
        self.prefix = prefix
        self.queues = queues       # TX/RX queues of every veth (testbed.sh --queues)
        self.testbed_args = list(testbed_args)   # more testbed.sh up options (e.g. --ipv6)
        self.extra_args = [str(a) for a in extra_args]   # appended to FORWARDER_ARGS
        self.tb = None
        self.fw = None
        self.results = []          # Results of forwarders stopped so far
        self.gw_mac_in = ""        # MAC of ${P}a1 (the gateway seen from A)
        self.gw_mac_out = ""       # MAC of ${P}b1 (the gateway seen from B)
        self.snmp_baseline = {}

    # -- life cycle
    def up(self):
        self.tb = testbed_up(self.prefix, "--queues", str(self.queues), *self.testbed_args, hosts="nat", vlans=True)
        self.gw_mac_in = open(f"/sys/class/net/{self.tb.in_if}/address").read().strip()
        self.gw_mac_out = open(f"/sys/class/net/{self.tb.out_if}/address").read().strip()
        self.snmp_baseline = {side: snmp(self.tb, side) for side in "ab"}
        return self

    def start_forwarder(self):
        assert self.fw is None or not self.fw.running(), "forwarder already running"
        self.fw = Forwarder([self.tb.in_if, self.tb.out_if] + FORWARDER_ARGS
                            + self.extra_args).start()
        if not self.fw.running():
            res = self.fw.stop()
            raise AssertionError(f"forwarder --vlan-nat exited at start (exit {res.returncode}): "
                                 f"{res.stderr}\nargs: {res.args}")
        return self.fw

    def stop_forwarder(self):
        """SIGTERM; returns its Result (exit code, stdout, stderr, parsed JSON)."""
        assert self.fw is not None, "no forwarder was started"
        res = self.fw.stop(timeout=10)
        self.results.append(res)
        return res

    def restart_forwarder(self):
        """Stop (returns that run's Result) and start a fresh forwarder (fresh counters)."""
        res = self.stop_forwarder()
        self.start_forwarder()
        return res

    def ensure_forwarder(self):
        """Before each test: a forwarder that died unexpectedly is a failure; one stopped on
        purpose (its Result collected) is started again."""
        if self.fw is not None and self.fw.running():
            return
        if self.fw is not None and self.fw.result is None:
            res = self.fw.stop()
            self.fw = None
            raise AssertionError(f"the forwarder died during an earlier test (exit {res.returncode}):\n"
                                 f"{res.stderr[-3000:]}")
        self.start_forwarder()

    def teardown(self):
        try:
            if self.fw is not None:
                if self.fw.running():
                    try:
                        self.fw.stop(timeout=5)
                    except AssertionError:
                        pass
                self.fw.kill()
        finally:
            testbed_down(self.prefix)

    # -- commands in the hosts
    def ns(self, side):
        return self.tb.ns_a if side == "a" else self.tb.ns_b

    def exec(self, side, cmd, timeout=30, check=True):
        return self.tb.exec(side, cmd, timeout=timeout, check=check)

    def ping(self, side, dst, count=5, interval=0.05, ttl=None, wait=1, timeout=30):
        cmd = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(wait)]
        if ttl is not None:
            cmd += ["-t", str(ttl)]
        return self.exec(side, cmd + [dst], timeout=timeout, check=False)


@contextlib.contextmanager
def nat_testbed(extra_args=(), queues=1):
    """A NatBed with the forwarder started (FORWARDER_ARGS + extra_args); always torn down
    (forwarder stopped or killed by its PID, namespaces and veths removed). `queues`: per veth,
    for AF_XDP with a worker per queue."""
    prefix = "nat" + secrets.token_hex(2)   # 7 characters: interface names stay <= 15
    bed = NatBed(prefix, extra_args, queues)
    try:
        bed.up()
        bed.start_forwarder()
        yield bed
    finally:
        bed.teardown()


@contextlib.contextmanager
def checked_nat_testbed(extra_args=()):
    """nat_testbed after check_nat_prerequisites (a missing prerequisite fails the test)."""
    import pytest
    problems = check_nat_prerequisites()
    if problems:
        pytest.fail("NAT testbed prerequisites missing:\n  " + "\n  ".join(problems), pytrace=False)
    with nat_testbed(extra_args) as bed:
        yield bed


# ---------------------------------------------------------------------------------------------
# Sockets and servers inside the namespaces (a socket keeps the namespace it was created in)

def ns_socket(netns, family=socket.AF_INET, type_=socket.SOCK_STREAM, proto=0):
    with in_netns(netns):
        return socket.socket(family, type_, proto)


class TcpServer:
    """A TCP server in `netns` on addr:port. Each connection: read the request (up to a blank
    line or 4 KB), answer `reply` (bytes, or a function of the request), close. Peers recorded."""

    def __init__(self, netns, addr, port, reply):
        self.peers = []
        self.requests = []
        self.error = None
        self._reply = reply
        self._stop = threading.Event()
        self._sock = ns_socket(netns)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((addr, port))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"tcp-server-{port}")
        self._thread.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                try:
                    conn, peer = self._sock.accept()
                except socket.timeout:
                    continue
                with conn:
                    conn.settimeout(3)
                    self.peers.append(peer)
                    data = b""
                    try:
                        while b"\r\n\r\n" not in data and len(data) < 4096:
                            chunk = conn.recv(4096)
                            if not chunk:
                                break
                            data += chunk
                    except socket.timeout:
                        pass
                    self.requests.append(data)
                    reply = self._reply(data) if callable(self._reply) else self._reply
                    conn.sendall(reply)
        except Exception as e:  # reported by close()
            self.error = e

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        if self.error:
            raise self.error


class UdpEcho:
    """A UDP echo server in `netns` on addr:port; peers recorded (and each datagram with its
    peer in `datagrams`)."""

    def __init__(self, netns, addr, port):
        self.peers = []
        self.datagrams = []
        self.error = None
        self._stop = threading.Event()
        self._sock = ns_socket(netns, type_=socket.SOCK_DGRAM)
        self._sock.bind((addr, port))
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"udp-echo-{port}")
        self._thread.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                try:
                    data, peer = self._sock.recvfrom(65535)
                except socket.timeout:
                    continue
                self.peers.append(peer)
                self.datagrams.append((data, peer))
                self._sock.sendto(data, peer)
        except Exception as e:
            self.error = e

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        if self.error:
            raise self.error


def tcp_request(netns, dst, port, request, timeout=5.0, bind=None):
    """Connect from `netns` to dst:port, send `request`, return everything read until EOF."""
    s = ns_socket(netns)
    out = b""
    try:
        s.settimeout(timeout)
        if bind:
            s.bind(bind)
        s.connect((dst, port))
        s.sendall(request)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    except OSError as e:
        raise AssertionError(f"TCP from ns {netns} to {dst}:{port}: {type(e).__name__}: {e} "
                             f"(after {len(out)} bytes received)") from None
    finally:
        s.close()


def udp_exchange(netns, dst, port, payload, timeout=2.0, bind=None):
    """One datagram from `netns` to dst:port; returns (reply, peer); no reply is an AssertionError."""
    s = ns_socket(netns, type_=socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        if bind:
            s.bind(bind)
        s.sendto(payload, (dst, port))
        return s.recvfrom(65535)
    except OSError as e:
        raise AssertionError(f"UDP from ns {netns} to {dst}:{port}, no reply: {type(e).__name__}: {e}") from None
    finally:
        s.close()


def wait_listening(bed, side, port, proto="t", timeout=5.0, proc=None):
    """Wait (bounded) until something listens on `port` in the host's namespace."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        ss = bed.exec(side, ["ss", f"-Hl{proto}n", f"sport = :{port}"], check=False, timeout=5)
        if f":{port}" in ss.stdout:
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------
# iperf3 (server in B with -1, client in A)

class Iperf3Server:
    def __init__(self, bed, port):
        self.bed = bed
        self.proc = bed.tb.popen("b", ["iperf3", "-s", "-1", "-B", HOST_B, "-p", str(port), "-J"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # `ip netns exec` execs iperf3: self.proc.pid is iperf3's PID.
        if not wait_listening(bed, "b", port, proc=self.proc):
            out, err = self.finish()
            raise AssertionError(f"iperf3 server did not start listening on {HOST_B}:{port}:\n{out}{err}")

    def finish(self, timeout=10):
        """Wait for the one-shot server to exit (kill its PID if it does not); (stdout, stderr)."""
        try:
            return self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.communicate(timeout=5)


def iperf3(bed, port, extra, seconds=3):
    """Run an iperf3 client A -> B (server started here, one-shot). Returns the client's JSON
    report (dict) and the server's output; failures carry both sides' output."""
    import json
    srv = Iperf3Server(bed, port)
    try:
        cli = bed.exec("a", ["iperf3", "-c", HOST_B, "-p", str(port), "-t", str(seconds), "-J",
                             "--connect-timeout", "3000"] + extra, timeout=seconds + 20, check=False)
    finally:
        srv_out, srv_err = srv.finish()
    try:
        report = json.loads(cli.stdout)
    except ValueError:
        report = None
    if cli.returncode != 0 or report is None or "error" in (report or {}):
        raise AssertionError(f"iperf3 client {' '.join(extra)} failed (exit {cli.returncode}):\n"
                             f"{cli.stdout[-2000:]}{cli.stderr}\nserver: {srv_out[-1000:]}{srv_err}")
    return report, srv_out


# ---------------------------------------------------------------------------------------------
# Counters

def snmp(tb, side):
    """/proc/net/snmp of the host's namespace as {"Udp": {"InCsumErrors": 0, ...}, ...}."""
    text = tb.exec(side, ["cat", "/proc/net/snmp"], timeout=10).stdout
    out = {}
    lines = text.splitlines()
    for names, values in zip(lines[0::2], lines[1::2]):
        proto, names = names.split(":", 1)
        _, values = values.split(":", 1)
        out[proto] = dict(zip(names.split(), (int(v) for v in values.split())))
    return out


def snmp_delta(before, after):
    return {p: {k: after[p][k] - before.get(p, {}).get(k, 0) for k in after[p]} for p in after}


# ---------------------------------------------------------------------------------------------
# Frames: parsing and an independent checksum check (not scapy's, not the forwarder's)

def inet_sum(data):
    """The 16-bit ones' complement sum of `data` (RFC 1071), not complemented."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip_payload(frame):
    """(ip_bytes, vlan_ids) of an Ethernet frame carrying IPv4 (tags skipped), or (None, vids)."""
    off, vids = 12, []
    while True:
        ethertype = struct.unpack_from("!H", frame, off)[0]
        if ethertype in (0x8100, 0x88A8):
            vids.append(struct.unpack_from("!H", frame, off + 2)[0] & 0x0FFF)
            off += 4
            continue
        break
    if ethertype != 0x0800:
        return None, vids
    return frame[off + 2:], vids


def checksum_problems(ip, embedded=False):
    """Problems with the checksums of the IPv4 packet `ip` (bytes, may carry Ethernet padding):
    IP header, and TCP/UDP (pseudo-header) or ICMP over the whole segment; for an ICMP error,
    the embedded packet's IP header too, and its L4 checksum when it is embedded whole."""
    problems = []
    if len(ip) < 20:
        return ["IPv4 header cut short"]
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from("!H", ip, 2)[0]
    proto = ip[9]
    src, dst = ip[12:16], ip[16:20]
    what = ("embedded " if embedded else "") + f"{socket.inet_ntoa(src)}->{socket.inet_ntoa(dst)} proto {proto}"
    if inet_sum(ip[:ihl]) != 0xFFFF:
        problems.append(f"{what}: bad IPv4 header checksum {ip[10:12].hex()}")
    frag = struct.unpack_from("!H", ip, 6)[0]
    if frag & 0x3FFF:              # a fragment: the L4 checksum covers the whole datagram
        return problems
    if len(ip) < total:
        if embedded:               # a truncated embedded packet: only its IP header can be checked
            return problems
        return problems + [f"{what}: total length {total} beyond the {len(ip)} bytes captured"]
    seg = ip[ihl:total]
    if proto in (6, 17):
        if proto == 17 and len(seg) >= 8 and seg[6:8] == b"\0\0":
            return problems        # UDP without a checksum
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
        if inet_sum(pseudo + seg) != 0xFFFF:
            problems.append(f"{what}: bad {'TCP' if proto == 6 else 'UDP'} checksum")
    elif proto == 1:
        if inet_sum(seg) != 0xFFFF:
            problems.append(f"{what}: bad ICMP checksum (type {seg[0]} code {seg[1]})")
        if seg[0] in (3, 11, 12) and len(seg) >= 8 + 20 and not embedded:
            problems += checksum_problems(seg[8:], embedded=True)
    return problems


def scapy_frame(frame):
    from scapy.layers.l2 import Ether
    return Ether(frame)
