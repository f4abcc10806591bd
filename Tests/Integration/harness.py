"""Helpers for the integration tests: the testbed, the forwarder process, commands with
bounded timeouts. Fixtures live in conftest.py."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from netns_io import mac_bytes

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTBED = os.path.join(REPO, "scripts", "testbed.sh")
sys.path.insert(0, os.path.join(REPO, "scripts"))
import testbed_plan  # noqa: E402  (scripts/testbed.plan: the addresses and VLANs)
DEFAULT_FORWARDER = os.path.join(REPO, ".build", "release", "forwarder")


def forwarder_path():
    return os.environ.get("FORWARDER") or DEFAULT_FORWARDER


def forwarder_io():
    """FORWARDER_IO=pcap|xdp (default pcap): the I/O every forwarder the harness starts uses, so
    that the same tests run over libpcap and over AF_XDP (scripts/test.sh runs both)."""
    io = os.environ.get("FORWARDER_IO") or "pcap"
    assert io in ("pcap", "xdp", "auto"), f"FORWARDER_IO={io!r}: use pcap, xdp or auto"
    return io


def with_io(args):
    """args with `--io FORWARDER_IO` added, unless they choose their own --io or are not a run."""
    args = [str(a) for a in args]
    io = forwarder_io()
    if io == "pcap" or any(a == "--io" or a.startswith("--io=") for a in args):
        return args
    if any(a in ("--help", "-h", "--version", "-V") for a in args):
        return args
    # In front: an option at the end that lacks its value (a test of that error) must stay last.
    return ["--io", io] + args


def queues_for(workers):
    """Queues per veth for a run of `workers` workers: over AF_XDP each worker reads one RX queue
    and the frames of a queue no worker reads stay in the kernel, so one per worker; over pcap 1."""
    return workers if forwarder_io() == "xdp" else 1


def xdp_attached(name):
    """Whether an XDP program is attached to interface `name` (this namespace)."""
    r = subprocess.run(["ip", "-d", "link", "show", "dev", name], capture_output=True, text=True, timeout=10)
    return r.returncode == 0 and "prog/xdp" in r.stdout


def release_guards(owner_pid):
    """PIDs of the processes running as the XDP release guard of forwarder `owner_pid` (their
    command line: the binary, --xdp-release-guard, the owner's pid, ...)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if len(args) > 2 and args[1] == b"--xdp-release-guard" and args[2] == str(owner_pid).encode():
            found.append(int(entry))
    return found


def check_prerequisites():
    problems = []
    if os.geteuid() != 0:
        problems.append("the integration tests need root (network namespaces, veth, raw sockets)")
    fw = forwarder_path()
    if not (os.path.isfile(fw) and os.access(fw, os.X_OK)):
        problems.append(f"forwarder binary not found at {fw}: run "
                        "'swift build -c release --product forwarder' or set FORWARDER=/path")
    for tool, pkg in [("ip", "iproute2"), ("ethtool", "ethtool"), ("ping", "iputils-ping"),
                      ("iperf3", "iperf3"), ("setpriv", "util-linux")]:
        if shutil.which(tool) is None:
            problems.append(f"'{tool}' missing: apt-get install -y {pkg} (or scripts/install-deps.sh)")
    try:
        import scapy.layers.l2  # noqa: F401
    except ImportError:
        problems.append("scapy missing: run the tests with /usr/bin/python3 (Debian's python3-scapy: "
                        "apt-get install -y python3-scapy)")
    if not os.path.isfile(TESTBED):
        problems.append(f"{TESTBED} missing")
    return problems


def run(cmd, timeout=30, check=True, **kw):
    """subprocess.run with a bound, text output, and the command's output in any failure."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"timed out after {timeout}s: {' '.join(cmd)}\n"
                             f"stdout: {e.stdout}\nstderr: {e.stderr}") from None
    if check and r.returncode != 0:
        raise AssertionError(f"failed (exit {r.returncode}): {' '.join(cmd)}\n"
                             f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


@dataclass
class Testbed:
    __test__ = False  # not a pytest test class
    prefix: str

    @property
    def ns_a(self): return self.prefix + "a"
    @property
    def ns_b(self): return self.prefix + "b"
    @property
    def a0(self): return self.prefix + "a0"
    @property
    def b0(self): return self.prefix + "b0"
    @property
    def in_if(self): return self.prefix + "a1"
    @property
    def out_if(self): return self.prefix + "b1"

    ip_a: str = testbed_plan.L2_HOST_A
    ip_b: str = testbed_plan.L2_HOST_B
    mac_a: str = ""
    mac_b: str = ""

    def host(self, side):
        """(namespace, interface, mac bytes) of host 'a' or 'b'."""
        if side == "a":
            return self.ns_a, self.a0, mac_bytes(self.mac_a)
        return self.ns_b, self.b0, mac_bytes(self.mac_b)

    def exec(self, side, cmd, **kw):
        ns = self.ns_a if side == "a" else self.ns_b
        return run(["ip", "netns", "exec", ns] + list(cmd), **kw)

    def popen(self, side, cmd, **kw):
        ns = self.ns_a if side == "a" else self.ns_b
        return subprocess.Popen(["ip", "netns", "exec", ns] + list(cmd), **kw)


def testbed_up(prefix, *args, hosts="l2", vlans=False):
    """scripts/testbed.sh up with the plan's `hosts` ("l2" or "nat") addresses, on the plan's
    VLANs when `vlans`, and testbed.sh's other options `args`."""
    run([TESTBED, "up", prefix, *testbed_plan.testbed_args(hosts, vlans), *args], timeout=60)
    tb = Testbed(prefix, *testbed_plan.HOSTS[hosts])
    tb.mac_a = run([TESTBED, "mac", prefix, "a"]).stdout.strip()
    tb.mac_b = run([TESTBED, "mac", prefix, "b"]).stdout.strip()
    return tb


def testbed_down(prefix):
    run([TESTBED, "down", prefix], timeout=60, check=False)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    json: dict = None
    args: list = field(default_factory=list)

    def direction(self, name):
        assert self.json is not None, f"no JSON summary; stdout: {self.stdout!r}\nstderr: {self.stderr}"
        for d in self.json["directions"]:
            if d["name"] == name:
                return d
        raise AssertionError(f"no direction {name!r} in {self.json['directions']}")


class Forwarder:
    """One forwarder process. start() waits until it is ready; stop() sends SIGTERM and
    returns a Result (with the parsed JSON when --json was given)."""

    def __init__(self, args, binary=None, ready_timeout=5.0, prefix_cmd=()):
        self.binary = binary or forwarder_path()
        self.args = [str(a) for a in args]   # as given: IN and OUT first
        self.argv = with_io(args)              # what runs
        self.ready_timeout = ready_timeout
        self.prefix_cmd = list(prefix_cmd)
        self.proc = None
        self._out = tempfile.TemporaryFile(mode="w+")
        self._err = tempfile.TemporaryFile(mode="w+")
        self.result = None

    def start(self, wait_ready=True):
        self.proc = subprocess.Popen(self.prefix_cmd + [self.binary] + self.argv,
                                     stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        if wait_ready:
            self._wait_ready()
        return self

    def _packet_socket_ifindexes(self):
        """ifindexes of the AF_PACKET sockets this process holds (from /proc/net/packet)."""
        inodes = set()
        try:
            for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{self.proc.pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            return set()
        found = set()
        with open("/proc/net/packet") as f:
            next(f)
            for line in f:
                cols = line.split()
                # sk RefCnt Type Proto Iface R Rmem User Inode
                if len(cols) >= 9 and cols[8] in inodes:
                    found.add(int(cols[4]))
        return found

    def _wait_ready(self):
        """Ready = both interfaces have a packet socket of ours; then a short grace period for
        the ring, the filter and the worker threads."""
        want = set()
        for name in self.args[:2]:
            try:
                want.add(int(open(f"/sys/class/net/{name}/ifindex").read()))
            except OSError:
                pass
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return  # exited (an error case, or --duration); stop() reports it
            if want and want <= self._packet_socket_ifindexes():
                break
            if want and "xdp" in self.argv and all(xdp_attached(n) for n in self.args[:2]):
                break
            time.sleep(0.02)
        else:
            if not want:
                time.sleep(0.5)
            else:
                raise AssertionError(f"forwarder not ready after {self.ready_timeout}s: "
                                     f"{self.stderr_so_far()}")
        time.sleep(0.3)

    def stderr_so_far(self):
        self._err.seek(0)
        return self._err.read()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=10.0):
        """Wait for it to exit by itself; returns the Result."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"forwarder still running after {timeout}s; killed")
        return self._collect()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.result is not None:
            return self.result
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"forwarder did not exit within {timeout}s of {sig.name}; "
                                     f"killed. stderr: {self.stderr_so_far()}")
        return self._collect()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # this PID only
            self.proc.wait(timeout=10)

    def _collect(self):
        self._out.seek(0)
        self._err.seek(0)
        out, err = self._out.read(), self._err.read()
        parsed = None
        if "--json" in self.args and out.strip():
            try:
                parsed = json.loads(out)
            except ValueError as e:
                raise AssertionError(f"--json output is not one JSON object ({e}): {out!r}") from None
        self.result = Result(self.proc.returncode, out, err, parsed, self.argv)
        self._out.close()
        self._err.close()
        return self.result


def run_forwarder_once(args, timeout=15, prefix_cmd=()):
    """Run the forwarder to completion (error cases, --help, --duration); returns a Result."""
    fw = Forwarder(list(args), prefix_cmd=prefix_cmd)
    fw.start(wait_ready=False)
    return fw.wait(timeout=timeout)


def rss_kib(pid):
    """VmRSS of `pid` in KiB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Samples VmRSS of one PID every `interval` s on a thread: start(), stop() -> [KiB]."""

    def __init__(self, pid, interval=0.2):
        import threading
        self.pid = pid
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"rss-{pid}")

    def _run(self):
        while not self._stop.is_set():
            v = rss_kib(self.pid)
            if v is not None:
                self.samples.append(v)
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        v = rss_kib(self.pid)
        if v is not None:
            self.samples.append(v)
        return self.samples


WORKER_KEYS = ("worker", "cpu", "rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "drops",
               "hand_offs_sent", "hand_offs_received", "hand_off_drops", "remote_frees",
               "remote_returns", "nat_sessions")


def check_worker_summary(j, workers):
    """The JSON summary of a run with --workers `workers`: one `workers` entry per worker with
    every key, the totals (directions, cache, nat) equal to the sums over the workers, every
    hand-off accounted for (every frame put on a lane was taken off it: sent = received; the
    drops are frames that never went on a lane), and every head back in the pool
    (cache.in_use 0, gets = puts, as test_faults asserts). Returns the `workers` list."""
    assert j is not None, "no JSON summary"
    ws = j.get("workers")
    assert isinstance(ws, list), f"no 'workers' array in the JSON summary: {sorted(j)}"
    assert len(ws) == workers, f"--workers {workers} but {len(ws)} entries in 'workers': {ws}"
    assert [w.get("worker") for w in ws] == list(range(workers)), [w.get("worker") for w in ws]
    for w in ws:
        missing = [k for k in WORKER_KEYS if k not in w]
        assert not missing, f"worker {w.get('worker')}: keys {missing} missing: {w}"
        assert w["cpu"] is None or isinstance(w["cpu"], int), w
    for key in ("rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "drops"):
        per_worker = sum(w[key] for w in ws)
        total = sum(d[key] for d in j["directions"])
        assert per_worker == total, \
            f"sum of the workers' {key} {per_worker} != the directions' {total}: {ws} {j['directions']}"
    sent = sum(w["hand_offs_sent"] for w in ws)
    received = sum(w["hand_offs_received"] for w in ws)
    dropped = sum(w["hand_off_drops"] for w in ws)
    assert sent == received, f"hand-offs: {sent} sent != {received} received ({dropped} dropped): {ws}"
    c = j.get("cache")
    if c is not None:
        assert c["in_use"] == 0, f"heads not back in the pool at exit: {c}"
        assert c["gets"] == c["puts"], c
        for key in ("remote_frees", "remote_returns"):
            assert sum(w[key] for w in ws) == c[key], \
                f"sum of the workers' {key} != cache.{key}: {[w[key] for w in ws]} vs {c[key]}; cache: {c}"
    if "allocator" in j:
        assert j["allocator"]["gets"] == j["allocator"]["puts"], j["allocator"]
    if j.get("nat") is not None:
        assert all(isinstance(w["nat_sessions"], int) for w in ws), ws
        assert sum(w["nat_sessions"] for w in ws) == j["nat"]["sessions_active"], \
            (f"sum of the workers' nat_sessions {[w['nat_sessions'] for w in ws]} != "
             f"nat.sessions_active {j['nat']['sessions_active']}")
    else:
        assert all(w["nat_sessions"] is None for w in ws), ws
    return ws
