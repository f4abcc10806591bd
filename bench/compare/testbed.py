"""The topologies of the comparison, built with scripts/testbed.sh (the one topology script that
the tests, the demo and the benchmarks share), and the counters read off them.

    ns P+a: generator, CPU0 --veth--> P+a1 [device under test, CPU1] P+b1 --veth--> ns P+b: sink

Kinds (the addresses and VLANs are scripts/testbed.plan's):
  l2      the plan's L2 hosts, untagged
  l2vlan  the same hosts on the plan's VLANs: tags pushed and popped by tc BPF
  nat     the plan's NAT hosts on its VLANs, host A behind the gateway's inside address
  knat    as nat but untagged (no 802.1Q module here, so the kernel router has no VLAN
          subinterfaces), and a router namespace P+r takes P+a1 and P+b1: the kernel is the NAT
  real    the user's own interfaces (--in/--out): nothing is built, only counted
The sinks are testbed.sh's (--sink-drop ab): they drop the generator's UDP and TCP (destination
ports below 5000) in nftables netdev ingress, before the host's IP stack, and let ARP, ICMP and
iperf3 (port 5201) through.
"""
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTBED = os.path.join(REPO, "scripts", "testbed.sh")
sys.path.insert(0, os.path.join(REPO, "scripts"))
import testbed_plan as plan  # noqa: E402

# testbed.sh's plan options per kind: (hosts, vlans).
KIND_PLAN = {"l2": ("l2", False), "l2vlan": ("l2", True), "nat": ("nat", True), "knat": ("nat", False)}


class SetupError(Exception):
    pass


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and r.returncode != 0:
        raise SetupError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()[:400]}")
    return r


def netns(ns, *cmd):
    return (["ip", "netns", "exec", ns] if ns else []) + list(cmd)


class Testbed:
    """One topology at a time; `use(kind)` rebuilds only when the kind changes (and always for
    knat, so that conntrack starts as empty as the forwarder's session table)."""

    def __init__(self, prefix, real=None):
        self.p = prefix
        self.kind = None
        self.real = real          # dict(in, out, gen_dev, gen_ns, count_dev, count_ns, dst_mac)
        self.router = False
        self.mac_a = self.mac_b = None

    # -- names --------------------------------------------------------------------------
    @property
    def dut_in(self):
        return self.real["in"] if self.real else self.p + "a1"

    @property
    def dut_out(self):
        return self.real["out"] if self.real else self.p + "b1"

    @property
    def dut_ns(self):
        """The namespace holding the DUT's interfaces (the router's, for knat)."""
        return self.p + "r" if self.router else None

    def host_ns(self, side):
        if self.real:
            return self.real["gen_ns"] if side == "a" else self.real["count_ns"]
        return self.p + side

    def host_dev(self, side):
        if self.real:
            return self.real["gen_dev"] if side == "a" else self.real["count_dev"]
        return self.p + side + "0"

    # -- building -----------------------------------------------------------------------
    def use(self, kind):
        if self.real:
            if kind != "l2":
                raise SetupError("needs the built-in testbed (only L2 scenarios run on --in/--out)")
            self.kind = "real"
            return
        if self.kind == kind and kind != "knat":
            return
        self.down()
        r = run([TESTBED, "up", self.p, *plan.testbed_args(*KIND_PLAN[kind]), "--sink-drop", "ab"], check=False)
        if r.returncode != 0:
            run([TESTBED, "down", self.p], check=False)
            raise SetupError(f"testbed up ({kind}) failed: {r.stderr.strip()[-600:]}")
        self.kind = kind
        if kind == "knat":
            self._router_up()
        self.mac_a = run([TESTBED, "mac", self.p, "a"]).stdout.strip()
        self.mac_b = run([TESTBED, "mac", self.p, "b"]).stdout.strip()

    def _router_up(self):
        r, a1, b1 = self.p + "r", self.p + "a1", self.p + "b1"
        run(["ip", "netns", "add", r])
        self.router = True
        for c in (["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
                  ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]):
            run(netns(r, *c))
        run(["ip", "link", "set", a1, "netns", r])
        run(["ip", "link", "set", b1, "netns", r])
        for c in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{plan.NAT_GW_INSIDE}/{plan.PREFIX_LEN}", "dev", a1],
                  ["ip", "addr", "add", f"{plan.NAT_GW_OUTSIDE}/{plan.PREFIX_LEN}", "dev", b1], ["ip", "link", "set", a1, "up"],
                  ["ip", "link", "set", b1, "up"], ["sysctl", "-qw", "net.ipv4.ip_forward=1"]):
            run(netns(r, *c))
        rules = ("table ip nat {\n chain postrouting {\n  type nat hook postrouting priority srcnat;\n"
                 f"  oifname \"{b1}\" masquerade\n }}\n}}\n")
        run(netns(r, "nft", "-f", "-"), input=rules)

    def down(self):
        if self.router:
            run(["ip", "netns", "del", self.p + "r"], check=False)
            self.router = False
        if self.kind and self.kind != "real":
            run([TESTBED, "down", self.p], check=False)
        self.kind = None

    # -- kernel devices -----------------------------------------------------------------
    def bridge_up(self):
        br = self.p + "br"
        run(["ip", "link", "add", br, "type", "bridge"])
        run(["sysctl", "-qw", f"net.ipv6.conf.{br}.disable_ipv6=1"])
        run(["ip", "link", "set", self.dut_in, "master", br])
        run(["ip", "link", "set", self.dut_out, "master", br])
        run(["ip", "link", "set", br, "up"])
        return lambda: run(["ip", "link", "del", br], check=False)

    def redirect_up(self):
        a, b = self.dut_in, self.dut_out
        for x, y in ((a, b), (b, a)):
            run(["tc", "qdisc", "add", "dev", x, "clsact"])
            # u32 matching every frame: this kernel has no matchall classifier
            run(["tc", "filter", "add", "dev", x, "ingress", "protocol", "all", "prio", "1", "u32", "match", "u32", "0", "0",
                 "action", "mirred", "egress", "redirect", "dev", y])

        def undo():
            for x in (a, b):
                run(["tc", "qdisc", "del", "dev", x, "clsact"], check=False)
        return undo

    def rps_up(self):
        """The router's receive processing of the DUT input on CPU1 instead of the generator's CPU0."""
        path = f"/sys/class/net/{self.dut_in}/queues/rx-0/rps_cpus"
        run(netns(self.dut_ns, "sh", "-c", f"echo 2 > {path}"))
        return lambda: run(netns(self.dut_ns, "sh", "-c", f"echo 0 > {path}"), check=False)

    # -- counters -----------------------------------------------------------------------
    def _stat(self, ns, dev, name):
        return int(run(netns(ns, "cat", f"/sys/class/net/{dev}/statistics/{name}")).stdout)

    def counters(self):
        """rx packets/bytes of both hosts (delivered) and of both DUT inputs (offered)."""
        c = {}
        for side in "ab":
            c[f"host_{side}_rx"] = self._stat(self.host_ns(side), self.host_dev(side), "rx_packets")
            c[f"host_{side}_bytes"] = self._stat(self.host_ns(side), self.host_dev(side), "rx_bytes")
        c["in_rx"] = self._stat(self.dut_ns, self.dut_in, "rx_packets")
        c["out_rx"] = self._stat(self.dut_ns, self.dut_out, "rx_packets")
        return c

    def host_mac(self, side):
        if self.real:
            raise SetupError("needs the built-in testbed (both ways on --in/--out)")
        return self.mac_a if side == "a" else self.mac_b

    def dst_mac(self, side):
        """The destination MAC of frames generated on `side`: the gateway's for NAT, else the
        other host's."""
        if self.real:
            return self.real["dst_mac"]
        if self.kind in ("nat", "knat"):
            dev = self.dut_in if side == "a" else self.dut_out
            return run(netns(self.dut_ns, "cat", f"/sys/class/net/{dev}/address")).stdout.strip()
        return self.mac_b if side == "a" else self.mac_a

    def host_addr(self, side):
        hosts = KIND_PLAN[self.kind][0] if self.kind in KIND_PLAN else "l2"   # real: the L2 plan's
        return plan.HOSTS[hosts][0 if side == "a" else 1]

    def host_vlan(self, side):
        """The VLAN host `side` speaks, or None (untagged)."""
        if self.kind not in KIND_PLAN or not KIND_PLAN[self.kind][1]:
            return None
        return plan.VLAN_A if side == "a" else plan.VLAN_B

    def ping_ok(self, tries=3):
        dst = self.host_addr("b")
        for _ in range(tries):
            if run(netns(self.host_ns("a"), "ping", "-n", "-q", "-c", "1", "-W", "1", dst), check=False).returncode == 0:
                return True
        return False


def wmem_raise(value=4194304):
    """trafgen aborts when its send buffer fills: raise net.core.wmem_default (global) for the
    run; the returned function puts the old value back if the value is still ours."""
    old = int(open("/proc/sys/net/core/wmem_default").read())
    if old >= value:
        return lambda: None
    with open("/proc/sys/net/core/wmem_default", "w") as f:
        f.write(str(value))

    def restore():
        if int(open("/proc/sys/net/core/wmem_default").read()) == value:
            with open("/proc/sys/net/core/wmem_default", "w") as f:
                f.write(str(old))
    return restore


class CpuCap:
    """The device under test confined to `percent` of one core: cgroup v1 cpu.cfs_quota_us where
    the cpu controller is mounted on its own (these machines), else cgroup v2 cpu.max."""

    def __init__(self, name, percent):
        self.percent = percent
        v1 = "/sys/fs/cgroup/cpu"
        if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
            self.path = os.path.join(v1, name)
            os.makedirs(self.path, exist_ok=True)
            open(os.path.join(self.path, "cpu.cfs_period_us"), "w").write("100000")
            open(os.path.join(self.path, "cpu.cfs_quota_us"), "w").write(str(int(1000 * percent)))
        else:
            root = "/sys/fs/cgroup"
            if "cpu" not in open(os.path.join(root, "cgroup.controllers")).read().split():
                raise SetupError("no cgroup cpu controller (neither v1 cpu nor v2 cpu.max)")
            self.path = os.path.join(root, name)
            os.makedirs(self.path, exist_ok=True)
            open(os.path.join(self.path, "cpu.max"), "w").write(f"{int(1000 * percent)} 100000")

    def prefix(self):
        """A command prefix that joins the cgroup before exec'ing the device."""
        return ["sh", "-c", f'echo $$ > {self.path}/cgroup.procs && exec "$@"', "cap"]

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)
