"""AF_XDP specifics (--io xdp), whatever FORWARDER_IO says: the XDP program is on both interfaces
while the forwarder runs and on neither after a normal stop, after a failed start, or after a
SIGKILL followed by a restart (which removes the leftover and says so); --io auto falls back to
pcap with one line saying why."""

import time

from harness import run_forwarder_once, xdp_attached


def test_program_attached_while_running_and_gone_after_stop(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--io", "xdp", "--json")
    assert xdp_attached(tb.in_if) and xdp_attached(tb.out_if), fw.stderr_so_far()
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    assert "io: xdp, " in res.stderr and " generic" in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)
    assert res.json is not None and res.json["directions"], res.stdout


def test_sigkill_leaves_the_program_and_the_next_start_removes_it(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--io", "xdp", "--quiet")
    assert xdp_attached(tb.in_if)
    fw.kill()
    time.sleep(0.2)
    assert xdp_attached(tb.in_if) and xdp_attached(tb.out_if), "libxdp's program outlives a SIGKILL"
    again = forwarder(tb.in_if, tb.out_if, "--io", "xdp")
    res = again.stop()
    assert res.returncode == 0, res.stderr
    assert f"{tb.in_if}: removed the XDP program" in res.stderr, res.stderr
    assert f"{tb.out_if}: removed the XDP program" in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)


def test_failed_start_leaves_nothing_attached(testbed):
    tb = testbed
    res = run_forwarder_once([tb.in_if, tb.out_if, "--io", "xdp", "--xdp-zero-copy"])
    assert res.returncode == 1, res.stderr
    assert "zero-copy" in res.stderr and "without --xdp-zero-copy" in res.stderr, res.stderr
    assert not xdp_attached(tb.in_if) and not xdp_attached(tb.out_if)
    res = run_forwarder_once([tb.in_if, tb.out_if, "--io", "xdp", "--xdp-queue", "5"])
    assert res.returncode == 1 and "queue 5 does not exist" in res.stderr, res.stderr
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
                              "--inside", "192.168.1.1/24", "--outside", "203.0.113.1/24"])
    assert res.returncode == 2 and "--vlan-nat with --io xdp runs one worker" in res.stderr, res.stderr
