"""The devices under test: how each one is started on a topology, and what it can do.

Every userspace device runs on CPU1 (taskset), the generator on CPU0. The forwarder's plain
allocator runs on glibc and, by LD_PRELOAD, on Debian's mimalloc, jemalloc and tcmalloc; its
cache never calls malloc per packet, so a preloaded malloc changes nothing for it.
"""
import os
import signal
import subprocess
import time

from testbed import SetupError, plan

MALLOCS = {
    "mimalloc": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
}
MALLOC_PACKAGES = {"mimalloc": "libmimalloc2.0", "jemalloc": "libjemalloc2", "tcmalloc": "libtcmalloc-minimal4"}
L2_KINDS = ("l2", "real")


class Device:
    """name: the row label; kinds: topologies it runs on; kernel: no process (its CPU is the
    kernel's softirq time on the generator's core, not measured per frame)."""

    def __init__(self, name, kinds, describe, kernel=False, malloc=None, alloc=None, io="pcap", preset=None,
                 workers=1, policy=None, steering=None, program=None, kinds_why=None, extra=()):
        self.name, self.kinds, self.describe, self.kernel = name, kinds, describe, kernel
        self.malloc, self.alloc, self.io, self.preset = malloc, alloc, io, preset
        self.workers, self.policy, self.steering, self.program = workers, policy, steering, program
        self.kinds_why = kinds_why or "does not do this job"
        self.extra = list(extra)     # more forwarder options (the kernel-path variants)

    @property
    def forwarder(self):
        return self.alloc is not None

    def missing(self):
        """Why the device cannot run on this machine (after the install step), or None."""
        if self.malloc and not os.path.exists(MALLOCS[self.malloc]):
            return f"{MALLOCS[self.malloc]} missing (apt-get install {MALLOC_PACKAGES[self.malloc]})"
        if self.program and not any(os.access(os.path.join(d, self.program), os.X_OK)
                                    for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/sbin"]):
            return f"{self.program} not found"
        return None


def fwd(name, describe, **kw):
    kinds = kw.pop("kinds", ("l2", "l2vlan", "nat", "real"))
    return Device(name, kinds, describe, **kw)


DEVICES = [
    fwd("fwd-cache", "forwarder --alloc cache (kernel-2021 preset: 64 heads, refill 16, flush 32)", alloc="cache"),
    fwd("fwd-cache-2025", "forwarder --alloc cache --cache-preset kernel-2025", alloc="cache", preset="kernel-2025"),
    fwd("fwd-plain", "forwarder --alloc plain on glibc malloc", alloc="plain"),
    fwd("fwd-plain-mimalloc", "forwarder --alloc plain, LD_PRELOAD mimalloc 2.0", alloc="plain", malloc="mimalloc"),
    fwd("fwd-plain-jemalloc", "forwarder --alloc plain, LD_PRELOAD jemalloc 5", alloc="plain", malloc="jemalloc"),
    fwd("fwd-plain-tcmalloc", "forwarder --alloc plain, LD_PRELOAD tcmalloc (gperftools minimal)", alloc="plain",
        malloc="tcmalloc"),
    fwd("fwd-xdp-cache", "forwarder --io xdp --alloc cache (AF_XDP, generic mode on veth)", alloc="cache", io="xdp"),
    fwd("fwd-xdp-plain", "forwarder --io xdp --alloc plain", alloc="plain", io="xdp"),
    fwd("fwd-busy", "forwarder --poll busy: never sleeps (sched_yield after an empty pass)", alloc="cache",
        extra=["--poll", "busy"]),
    fwd("fwd-adaptive", "forwarder --poll adaptive: polls 100 µs after the last frame, then sleeps", alloc="cache",
        extra=["--poll", "adaptive"]),
    fwd("fwd-xdp-busy", "forwarder --io xdp --poll busy (with the sockets' busy-poll options the kernel takes)",
        alloc="cache", io="xdp", extra=["--poll", "busy"]),
    fwd("fwd-xdp-adaptive", "forwarder --io xdp --poll adaptive", alloc="cache", io="xdp", extra=["--poll", "adaptive"]),
    fwd("fwd-filter", "forwarder --filter udp (the sockets' kernel filter)", alloc="cache", extra=["--filter", "udp"],
        kinds=("l2", "real")),
    fwd("fwd-xdp-filter", "forwarder --io xdp --filter udp (libpcap's program run in the port)", alloc="cache", io="xdp",
        extra=["--filter", "udp"], kinds=("l2", "real")),
    fwd("fwd-sendmmsg", "forwarder --tx-ring off: one sendmmsg per burst instead of the TX ring", alloc="cache",
        extra=["--tx-ring", "off"]),
    fwd("fwd-bypass", "forwarder --tx-ring off --qdisc-bypass on", alloc="cache", extra=["--tx-ring", "off", "--qdisc-bypass", "on"]),
    fwd("fwd-txring-bypass", "forwarder --qdisc-bypass on (with the default TX ring)", alloc="cache",
        extra=["--qdisc-bypass", "on"]),
    fwd("fwd-w2-home", "forwarder --workers 2 --cpus 1,0 --remote-frees return-home (NAT: --nat-steering none)",
        alloc="cache", workers=2, policy="return-home", steering="none"),
    fwd("fwd-w2-rollover", "forwarder --workers 2 --cpus 1,0 --fanout-rollover on", alloc="cache", workers=2,
        extra=["--fanout-rollover", "on"], kinds=("l2", "real")),
    fwd("fwd-w2-defrag", "forwarder --workers 2 --cpus 1,0 --fanout-defrag on", alloc="cache", workers=2,
        extra=["--fanout-defrag", "on"], kinds=("l2", "real")),
    fwd("fwd-w2-adopt", "forwarder --workers 2 --cpus 1,0 --remote-frees adopt (NAT: --nat-steering none)",
        alloc="cache", workers=2, policy="adopt", steering="none", kinds=("nat",)),
    fwd("fwd-w2-plain", "forwarder --workers 2 --cpus 1,0 --alloc plain (NAT: --nat-steering none)",
        alloc="plain", workers=2, steering="none", kinds=("nat",)),
    fwd("fwd-w2-steered", "forwarder --workers 2 --cpus 1,0 --nat-steering bpf (no hand-offs)",
        alloc="cache", workers=2, steering="bpf", kinds=("nat",)),
    Device("cfwd-inject", L2_KINDS, "C libpcap loop, pcap_inject per frame (bench/compare/cfwd.c)",
           kinds_why="L2 only (no VLAN or NAT)"),
    Device("cfwd-sendmmsg", L2_KINDS, "C libpcap loop, one sendmmsg per burst of 32 (bench/compare/cfwd.c)",
           kinds_why="L2 only (no VLAN or NAT)"),
    Device("tcpbridge", L2_KINDS, "tcpbridge (tcpreplay 4), libpcap", program="tcpbridge",
           kinds_why="no VLAN translation nor stateful NAT"),
    Device("netsniff-ng", L2_KINDS, "netsniff-ng --in/--out (TPACKET ring to ring), one process per direction "
           "(both ways: each filters on its sender's MAC)",
           program="netsniff-ng", kinds_why="L2 only"),
    Device("bridge", L2_KINDS, "the kernel bridge (in the kernel: runs on the sender's core)", kernel=True,
           kinds_why="no VLAN translation"),
    Device("tc-redirect", L2_KINDS, "tc u32 (match all) + mirred egress redirect, both ways (kernel)", kernel=True,
           kinds_why="no VLAN translation"),
    Device("kernel-nat", ("knat",), "the kernel as NAT router: ip_forward + nftables masquerade, untagged",
           kernel=True, program="nft", kinds_why="NAT only"),
    Device("kernel-nat-rps", ("knat",), "kernel-nat with RPS moving its receive processing to CPU1 (the DUT's core)",
           kernel=True, program="nft", kinds_why="NAT only"),
]
BY_NAME = {d.name: d for d in DEVICES}


class Running:
    def __init__(self, pids, procs, undo, json_path, log_path, stop_signal=signal.SIGTERM):
        self.pids, self.procs, self.undo, self.json_path, self.log_path = pids, procs, undo, json_path, log_path
        self.stop_signal = stop_signal

    def alive(self):
        return all(p.poll() is None for p in self.procs)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(self.stop_signal)
        deadline = time.time() + 4
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.undo:
            self.undo()


def forwarder_args(dev, kind, scenario, limit):
    a = []
    if kind == "l2vlan":
        a += ["--vlan-map", f"{plan.VLAN_A}:{plan.VLAN_B}"]
    elif kind == "nat":
        a += plan.nat_forwarder_args()
    if scenario.direction == "one" and kind in L2_KINDS:
        a.append("--one-way")
    a += ["--alloc", dev.alloc]
    if dev.preset:
        a += ["--cache-preset", dev.preset]
    if dev.io != "pcap":
        a += ["--io", dev.io]
    if scenario.burst:
        a += ["--burst", str(scenario.burst)]
    if dev.workers > 1:
        a += ["--workers", str(dev.workers), "--cpus", "1,0"]
        if dev.policy and dev.alloc == "cache":
            a += ["--remote-frees", dev.policy]
        if kind == "nat" and dev.steering:
            a += ["--nat-steering", dev.steering]
    return a + dev.extra + ["--json", "--quiet", "--duration", str(limit)]


def start(dev, bed, scenario, bins, tmp, limit, cap=None):
    """Starts `dev` on the testbed's current topology; returns a Running."""
    kind = bed.kind
    if kind not in dev.kinds:
        raise SetupError(dev.kinds_why)
    log = open(os.path.join(tmp, "dut.log"), "w")
    json_path = os.path.join(tmp, "dut.json")
    if os.path.exists(json_path):
        os.unlink(json_path)
    pin = ["taskset", "-c", "1"]
    pre = cap.prefix() if cap else []
    env = dict(os.environ)
    cmds, undo = [], None
    i, o = bed.dut_in, bed.dut_out
    if dev.forwarder:
        if dev.malloc:
            env["LD_PRELOAD"] = MALLOCS[dev.malloc]
        base = pre + ([] if dev.workers > 1 else pin) + [bins["forwarder"], i, o]
        cmds.append(base + forwarder_args(dev, kind, scenario, limit))
    elif dev.name.startswith("cfwd-"):
        mode = "--inject" if dev.name == "cfwd-inject" else "--sendmmsg"
        cmds.append(pre + pin + [bins["cfwd"], i, o, mode, "--duration", str(limit)]
                    + (["--one-way"] if scenario.direction == "one" else []))
    elif dev.name == "tcpbridge":
        cmds.append(pre + pin + ["tcpbridge", "-i", i, "-I", o] + (["-u"] if scenario.direction == "one" else []))
    elif dev.name == "netsniff-ng":
        # One process per direction. Each one's capture also sees what the other sends out of its
        # input, so both ways they would pass frames back and forth for ever: a filter on the
        # sending host's MAC (tcpbridge's loop guard) keeps each to its own direction.
        pairs = [(i, o, None)] if scenario.direction == "one" else [(i, o, bed.host_mac("a")), (o, i, bed.host_mac("b"))]
        for x, y, mac in pairs:
            # --no-sock-mem: leave the global socket memory sysctls alone; then the default ring
            # is too large for them, hence -S.
            cmds.append(pre + pin + ["netsniff-ng", "--in", x, "--out", y, "--silent", "--no-sock-mem",
                                     "--notouch-irq", "-S", "4MiB"] + (["--filter", f"ether src {mac}"] if mac else []))
    elif dev.name == "bridge":
        undo = bed.bridge_up()
    elif dev.name == "tc-redirect":
        undo = bed.redirect_up()
    elif dev.name == "kernel-nat-rps":
        undo = bed.rps_up()
    elif dev.name == "kernel-nat":
        pass   # the router namespace built with the knat topology is the device
    procs = []
    for n, c in enumerate(cmds):
        out = open(json_path, "w") if (dev.forwarder and n == 0) else log
        procs.append(subprocess.Popen(c, stdout=out, stderr=log, env=env, start_new_session=True))
    # netsniff-ng ends on SIGINT only (it ignores SIGTERM)
    r = Running([p.pid for p in procs], procs, undo, json_path if dev.forwarder else None, log.name,
                signal.SIGINT if dev.name == "netsniff-ng" else signal.SIGTERM)
    time.sleep(0.6 if procs else 0.2)
    if not r.alive():
        r.stop()
        raise SetupError(f"exited at start: {open(log.name).read().strip()[-400:]}")
    return r


def proc_cpu(pid):
    """(user, system) seconds of PID, all its threads."""
    s = open(f"/proc/{pid}/stat").read()
    f = s[s.rindex(")") + 2:].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(f[11]) / hz, int(f[12]) / hz


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None
