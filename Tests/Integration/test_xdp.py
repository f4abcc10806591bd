"""AF_XDP specifics (--io xdp), whatever FORWARDER_IO says: the XDP program is on both interfaces
while the forwarder runs and on neither after a normal stop, after a failed start, after a
SIGINT to the whole process group, or within a moment of a SIGKILL (the release guard, a child
started before any socket, detaches it and is reaped at a normal stop); when the guard was
killed too, the next start removes the leftover and says so; --io auto falls back to pcap with
one line saying why."""

import os
import shutil
import signal
import tempfile
import time

from harness import Forwarder, release_guards, run_forwarder_once, xdp_attached


def wait_detached(names, timeout=3.0):
    """True once no XDP program is attached to any of `names`, polling up to `timeout` s."""
    deadline = time.monotonic() + timeout
    while any(xdp_attached(n) for n in names):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def assert_one_guard(fw):
    guards = release_guards(fw.proc.pid)
    assert len(guards) == 1, f"release guards of pid {fw.proc.pid}: {guards}"
    with open(f"/proc/{guards[0]}/status") as f:
        ppid = [line.split()[1] for line in f if line.startswith("PPid:")][0]
    assert int(ppid) == fw.proc.pid, f"the guard's parent is {ppid}, not the forwarder {fw.proc.pid}"
    # Least privilege: CAP_NET_ADMIN (12), CAP_SYS_ADMIN (21) and CAP_BPF (39) only, set at its
    # start (polled: it may still be starting), no new privileges.
    want = (1 << 12) | (1 << 21) | (1 << 39)
    deadline = time.monotonic() + 2
    while True:
        with open(f"/proc/{guards[0]}/status") as f:
            st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        caps = {k: int(st[k], 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")}
        if caps["CapEff"] == want or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert caps == {"CapEff": want, "CapPrm": want, "CapBnd": want, "CapInh": 0, "CapAmb": 0}, \
        {k: hex(v) for k, v in caps.items()}
    assert st["NoNewPrivs"].strip() == "1", st["NoNewPrivs"]
    return guards[0]


def test_program_attached_while_running_and_gone_after_stop(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--io", "xdp", "--json")
    assert xdp_attached(tb.in_if) and xdp_attached(tb.out_if), fw.stderr_so_far()
    assert_one_guard(fw)
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    assert "io: xdp, " in res.stderr and " generic" in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)
    assert release_guards(fw.proc.pid) == [], "the release guard outlived the forwarder: not reaped"
    assert res.json is not None and res.json["directions"], res.stdout


def test_sigkill_the_guard_detaches_at_once_and_a_restart_finds_nothing(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--io", "xdp", "--quiet")
    assert xdp_attached(tb.in_if) and xdp_attached(tb.out_if), fw.stderr_so_far()
    guard = assert_one_guard(fw)
    fw.kill()
    assert wait_detached([tb.in_if, tb.out_if]), "the XDP program is still attached 3 s after the SIGKILL"
    deadline = time.monotonic() + 3
    while os.path.exists(f"/proc/{guard}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{guard}"), "the release guard is still running 3 s after its owner died"
    again = forwarder(tb.in_if, tb.out_if, "--io", "xdp")
    assert xdp_attached(tb.in_if) and xdp_attached(tb.out_if), again.stderr_so_far()
    res = again.stop()
    assert res.returncode == 0, res.stderr
    assert "removed the XDP program" not in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)


def test_guard_killed_too_leaves_the_program_and_the_next_start_removes_it(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--io", "xdp", "--quiet")
    guard = assert_one_guard(fw)
    os.kill(guard, signal.SIGKILL)  # our forwarder's child, by its pid
    fw.kill()
    time.sleep(0.5)
    assert xdp_attached(tb.in_if) and xdp_attached(tb.out_if), "libxdp's program outlives a SIGKILL"
    again = forwarder(tb.in_if, tb.out_if, "--io", "xdp")
    res = again.stop()
    assert res.returncode == 0, res.stderr
    assert f"{tb.in_if}: removed the XDP program" in res.stderr, res.stderr
    assert f"{tb.out_if}: removed the XDP program" in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)


def test_sigint_to_the_process_group_leaves_nothing_attached(testbed, forwarder):
    """Ctrl-C signals the whole group: the forwarder and its guard. The guard ignores it and
    detaches once the forwarder has stopped."""
    tb = testbed
    # setsid (not a group leader here, so no fork): the forwarder leads a group of its own.
    fw = forwarder(tb.in_if, tb.out_if, "--io", "xdp", "--json", prefix_cmd=["setsid"])
    assert xdp_attached(tb.in_if) and xdp_attached(tb.out_if), fw.stderr_so_far()
    guard = assert_one_guard(fw)
    assert os.getpgid(guard) == fw.proc.pid, "the guard is not in the forwarder's process group"
    os.killpg(fw.proc.pid, signal.SIGINT)
    res = fw.wait(timeout=10)
    assert res.returncode == 0, res.stderr
    assert res.json is not None and res.json.get("stopped_by", "SIGINT") == "SIGINT", res.stdout
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)
    assert release_guards(fw.proc.pid) == [], "the release guard outlived the forwarder"


def run_once_leaving_no_guard(args):
    """Runs the forwarder to its end (a failed start) and checks that its guard went with it."""
    fw = Forwarder(list(args))
    fw.start(wait_ready=False)
    res = fw.wait(timeout=15)
    assert release_guards(fw.proc.pid) == [], f"the release guard outlived the failed start: {res.stderr}"
    return res


def test_failed_start_leaves_nothing_attached(testbed):
    tb = testbed
    res = run_once_leaving_no_guard([tb.in_if, tb.out_if, "--io", "xdp", "--xdp-zero-copy"])
    assert res.returncode == 1, res.stderr
    assert "zero-copy" in res.stderr and "without --xdp-zero-copy" in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)
    res = run_once_leaving_no_guard([tb.in_if, tb.out_if, "--io", "xdp", "--xdp-queue", "5"])
    assert res.returncode == 1 and "queue 5 does not exist" in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)


def test_failed_start_after_the_drop_leaves_nothing_attached(testbed):
    """The sockets are open and the capabilities gone when --user finds the metrics directory
    unwritable: exit 1 with that one error, and the guard detaches what was attached."""
    tb = testbed
    d = tempfile.mkdtemp(prefix="fwd-xdp-root-")  # 0700, root's
    try:
        res = run_once_leaving_no_guard([tb.in_if, tb.out_if, "--io", "xdp", "--user", "nobody",
                                         "--metrics-file", os.path.join(d, "fwd.prom"), "--quiet"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--metrics-file" in lines[0] and "nobody" in lines[0], res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)


def test_auto_says_why_it_uses_pcap(testbed):
    tb = testbed
    res = run_forwarder_once([tb.in_if, tb.out_if, "--io", "auto", "--buffer-size", "1048576", "--duration", "0.3"])
    assert res.returncode == 0, res.stderr
    assert "--io auto: using pcap: --buffer-size only applies with --io pcap" in res.stderr, res.stderr
    res = run_forwarder_once([tb.in_if, tb.out_if, "--io", "auto", "--duration", "0.3"])
    assert res.returncode == 0 and "io: xdp, " in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if)


def test_xdp_with_pcap_only_options_is_a_usage_error(testbed):
    tb = testbed
    res = run_forwarder_once([tb.in_if, tb.out_if, "--io", "xdp", "--workers", "2", "--vlan-nat",
                              "--inside", "192.168.1.1/24", "--outside", "203.0.113.1/24", "--nat-steering", "none"])
    assert res.returncode == 2 and "--nat-steering only applies with --io pcap" in res.stderr, res.stderr


def _as_nobody_with(caps):
    c = ",".join("+" + x for x in caps)
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", f"--inh-caps={c}", f"--ambient-caps={c}"]


def test_not_root_with_capabilities_leaves_nothing_attached(testbed):
    """As an ordinary user with capabilities (ambient, as a unit's AmbientCapabilities= gives
    them) no marker can be written under /run/forwarder, so the process remembers what it
    attached: without CAP_SYS_ADMIN libxdp fails after attaching its program, which is an error
    naming that capability, and the program goes again; with it the run forwards and its stop
    detaches both."""
    tb = testbed
    base = ["net_raw", "net_admin", "bpf", "ipc_lock"]
    res = run_forwarder_once([tb.in_if, tb.out_if, "--io", "xdp", "--duration", "1"], prefix_cmd=_as_nobody_with(base))
    assert res.returncode == 1, res.stderr
    assert "CAP_SYS_ADMIN" in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if), "a failed start left a program"
    res = run_forwarder_once([tb.in_if, tb.out_if, "--io", "xdp", "--duration", "1", "--json"],
                             prefix_cmd=_as_nobody_with(base + ["sys_admin"]))
    assert res.returncode == 0, res.stderr
    assert res.json["io"] == "xdp", res.json["io"]
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if), "a normal stop left a program"
