"""--user/--group: once its sockets and files are open the forwarder runs as the user with no
capabilities in any set and no_new_privs (read from /proc/PID/status, every thread), and still
forwards both ways byte for byte, rewrites its metrics file, writes its drop capture and stops
with its summary on SIGINT. An unknown user or group is a usage error; a drop the process may
not make is exit 1 with the reason and the fix."""

import os
import shutil
import signal
import tempfile
import time

import pytest

from harness import forwarder_path, release_guards, run, run_forwarder_once, xdp_attached
from netns_io import Capture, Markers, build_frame, compare_exactly_once, send_frames

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SIZES = [60, 64, 128, 512, 1000, 1200]
SNAPLEN = 1200


def proc_status(pid, tid=None):
    path = f"/proc/{pid}/status" if tid is None else f"/proc/{pid}/task/{tid}/status"
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def assert_dropped(pid, uid, gid):
    """Every thread of pid: uid/gid in all four fields, no groups, every capability set empty."""
    tids = os.listdir(f"/proc/{pid}/task")
    assert len(tids) >= 2, f"expected worker threads, found {tids}"
    for tid in [None] + tids:
        st = proc_status(pid, tid)
        who = f"pid {pid}" + (f" tid {tid}" if tid else "")
        assert st["Uid"].split() == [str(uid)] * 4, f"{who} Uid: {st['Uid']}"
        assert st["Gid"].split() == [str(gid)] * 4, f"{who} Gid: {st['Gid']}"
        assert st["Groups"] == "", f"{who} Groups: {st['Groups']!r}"
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"):
            assert int(st[cap], 16) == 0, f"{who} {cap}: {st[cap]}"
        assert st["NoNewPrivs"] == "1", f"{who} NoNewPrivs: {st['NoNewPrivs']}"


def one_line_error(res, code):
    assert res.returncode == code, f"exit {res.returncode}, expected {code}\nstderr: {res.stderr}"
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{res.stderr}"
    assert lines[0].startswith("forwarder: "), lines[0]
    return lines[0]


@pytest.fixture
def nobody_dir():
    """A directory user nobody owns (the metrics file's), removed afterwards."""
    d = tempfile.mkdtemp(prefix="fwd-priv-")
    os.chown(d, 65534, 65534)
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_drops_to_nobody_and_forwards_both_ways(testbed, forwarder, nobody_dir):
    tb = testbed
    metrics = os.path.join(nobody_dir, "fwd.prom")
    capture = os.path.join(nobody_dir, "drops.pcapng")
    markers = Markers()
    sent = {"a": {}, "b": {}}
    for src, dst in (("a", "b"), ("b", "a")):
        _, _, src_mac = tb.host(src)
        _, _, dst_mac = tb.host(dst)
        for size in SIZES:
            m = markers.next()
            sent[src][m] = build_frame(dst_mac, src_mac, size, m)
    # One frame longer than --snaplen: dropped as oversize, into the capture opened before the drop.
    _, _, a_mac = tb.host("a")
    _, _, b_mac = tb.host("b")
    big = build_frame(b_mac, a_mac, SNAPLEN + 200, markers.next())

    cap_a = Capture(tb.ns_a, tb.a0).start()
    cap_b = Capture(tb.ns_b, tb.b0).start()
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--json", "--quiet", "--user", "nobody",
                       "--snaplen", SNAPLEN, "--metrics-file", metrics, "--metrics-interval", "0.2",
                       "--capture-drops", capture)
        assert fw.running(), fw.stderr_so_far()
        assert_dropped(fw.proc.pid, 65534, 65534)
        send_frames(tb.ns_a, tb.a0, list(sent["a"].values()) + [big])
        send_frames(tb.ns_b, tb.b0, list(sent["b"].values()))
        cap_b.wait_for(markers.ours, len(sent["a"]), timeout=5)
        cap_a.wait_for(markers.ours, len(sent["b"]), timeout=5)
        time.sleep(0.5)  # a few metrics rewrites as nobody
        rewritten = os.stat(metrics)
        assert_dropped(fw.proc.pid, 65534, 65534)
        res = fw.stop(signal.SIGINT)
    finally:
        at_a = cap_a.stop()
        at_b = cap_b.stop()

    assert res.returncode == 0, f"exit {res.returncode} after SIGINT: {res.stderr}"
    assert res.json is not None, f"no summary on SIGINT: {res.stdout!r} {res.stderr}"
    if "stopped_by" in res.json:
        assert res.json["stopped_by"] == "SIGINT", res.json["stopped_by"]
    for src, at in (("a", at_b), ("b", at_a)):
        problems = compare_exactly_once(markers, sent[src], [f for f in at if f != big])
        assert not problems, f"from {src}: " + "\n  ".join(problems)
    assert not [f for f in at_b if f == big], "the oversize frame was forwarded"
    io = res.direction("in->out")
    assert io["drops_by_reason"].get("oversize", 0) >= 1, io["drops_by_reason"]

    # The metrics file: written once as root before the drop, then rewritten (temp file +
    # rename) by nobody, every interval and once more at the end.
    assert rewritten.st_uid == 65534, "the metrics file was not rewritten after the drop"
    assert os.stat(metrics).st_uid == 65534
    with open(metrics) as f:
        text = f.read()
    assert "forwarder_up 0" in text, text[-400:]
    # The capture: opened before the drop, written after it.
    assert res.json["capture"]["written"] >= 1, res.json["capture"]
    assert os.path.getsize(capture) > 200


def test_xdp_as_nobody_forwards_and_leaves_no_program(testbed, forwarder, nobody_dir):
    """--io xdp --user nobody: the sockets and the program are set up as root, the rest runs as
    nobody (XDP_STATISTICS in the summary, the metrics rewrites, the socket close); the release
    guard, started before the drop, detaches the programs after the SIGTERM."""
    tb = testbed
    metrics = os.path.join(nobody_dir, "fwd.prom")
    fw = forwarder(tb.in_if, tb.out_if, "--io", "xdp", "--json", "--quiet", "--user", "nobody",
                   "--metrics-file", metrics, "--metrics-interval", "0.2")
    assert fw.running(), fw.stderr_so_far()
    assert xdp_attached(tb.in_if) and xdp_attached(tb.out_if), fw.stderr_so_far()
    assert_dropped(fw.proc.pid, 65534, 65534)
    for side, peer in (("a", tb.ip_b), ("b", tb.ip_a)):
        r = tb.exec(side, ["ping", "-n", "-c", "5", "-i", "0.1", "-W", "1", peer], check=False)
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, \
            f"ping from {side} through the forwarder as nobody over xdp:\n{r.stdout}{r.stderr}"
    assert_dropped(fw.proc.pid, 65534, 65534)
    res = fw.stop(signal.SIGTERM)
    assert res.returncode == 0, f"exit {res.returncode} after SIGTERM: {res.stderr}"
    assert res.stderr == "", f"warnings at the stop: {res.stderr}"
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if), "an XDP program is left attached"
    assert release_guards(fw.proc.pid) == [], "the release guard outlived the forwarder"
    for name in ("in->out", "out->in"):
        assert res.direction(name)["tx_frames"] >= 10, res.direction(name)
    kernel = res.json["pcap"]  # the kernel counters, per interface: XDP_STATISTICS over xdp
    for name in (tb.in_if, tb.out_if):
        assert kernel[name].get("received", 0) >= 10, f"no XDP_STATISTICS as nobody: {kernel}"
    assert os.stat(metrics).st_uid == 65534, "the metrics file was not rewritten after the drop"


def test_group_replaces_the_primary_group(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--quiet", "--user", "nobody", "--group", "daemon")
    assert fw.running(), fw.stderr_so_far()
    assert_dropped(fw.proc.pid, 65534, 1)
    res = fw.stop(signal.SIGINT)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("args,name", [(["--user", "no-such-user-fwd"], "no-such-user-fwd"),
                                       (["--user", "nobody", "--group", "no-such-group-fwd"],
                                        "no-such-group-fwd")])
def test_unknown_user_or_group_is_a_usage_error(testbed, args, name):
    tb = testbed
    msg = one_line_error(run_forwarder_once([tb.in_if, tb.out_if] + args), 2)
    assert name in msg, msg


def test_drop_without_privilege_says_why_and_the_fix(testbed):
    """As nobody with cap_net_raw,cap_net_admin on a copy of the binary (what the install script
    sets) the ports open, but --user needs CAP_SETUID/CAP_SETGID: exit 1, the reason, the fix."""
    tb = testbed
    d = tempfile.mkdtemp(prefix="fwd-priv-caps-")
    try:
        os.chmod(d, 0o755)
        binary = os.path.join(d, "forwarder")
        shutil.copy2(forwarder_path(), binary)
        os.chmod(binary, 0o755)
        run(["setcap", "cap_net_raw,cap_net_admin+ep", binary])
        assert "cap_net_raw" in run(["getcap", binary]).stdout
        # Without --user the capabilities are enough to run (the ports open).
        ok = run(NOBODY + [binary, tb.in_if, tb.out_if, "--duration", "0.3", "--quiet"], check=False)
        assert ok.returncode == 0, f"as nobody with file capabilities: {ok.stderr}"
        r = run(NOBODY + [binary, tb.in_if, tb.out_if, "--duration", "0.3", "--user", "daemon"],
                check=False)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1, f"exit {r.returncode}: {r.stderr}"
    assert len(lines) == 1 and lines[0].startswith("forwarder: "), r.stderr
    msg = lines[0]
    assert "daemon" in msg and "Operation not permitted" in msg, msg
    assert "run as root" in msg and "CAP_SETUID" in msg, f"no fix given: {msg}"


def test_metrics_directory_the_user_cannot_write_is_an_error_at_the_start(testbed):
    tb = testbed
    d = tempfile.mkdtemp(prefix="fwd-priv-root-")  # 0700, root's
    try:
        metrics = os.path.join(d, "fwd.prom")
        # --quiet: over xdp (FORWARDER_IO=xdp) the start line would come before the error.
        res = run_forwarder_once([tb.in_if, tb.out_if, "--duration", "2", "--user", "nobody",
                                  "--metrics-file", metrics, "--quiet"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    msg = one_line_error(res, 1)
    assert "--metrics-file" in msg and "nobody" in msg and "writable" in msg, msg
