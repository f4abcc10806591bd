"""The control socket (`--control`, `forwarder ctl`) of a VLAN NAT gateway between two
namespaces: the sessions it lists are the flows the hosts made, a filtered flush removes one
host's flows only and the next frame makes a new mapping, the summary and the neighbours are
there, and a second forwarder on the same socket is refused (exit 1).

  ns A HOST_A (VLAN_IN) -- ${P}a1 [forwarder --vlan-nat --control SOCK] ${P}b1 -- ns B HOST_B
"""

import json
import os
import subprocess
import tempfile

import pytest

from harness import Forwarder, forwarder_path
from nat_support import (GW_OUTSIDE, HOST_A, HOST_B, TcpServer, UdpEcho, check_nat_prerequisites,
                         nat_testbed, tcp_request, udp_exchange)

UDP_FLOWS = 20
TCP_FLOWS = 3
UDP_PORT, TCP_PORT = 7001, 7002


@pytest.fixture(scope="module")
def bed():
    problems = check_nat_prerequisites()
    if problems:
        pytest.fail("NAT testbed prerequisites missing:\n  " + "\n  ".join(problems), pytrace=False)
    with tempfile.TemporaryDirectory(prefix="fwd-control-") as d:
        sock = os.path.join(d, "gw.sock")
        with nat_testbed(extra_args=["--control", sock]) as b:
            b.sock = sock
            yield b


def ctl(*args, check=True):
    r = subprocess.run([forwarder_path(), "ctl", *args], capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, f"forwarder ctl {' '.join(args)}: exit {r.returncode}\n{r.stderr}"
    return r


def sessions(bed, *filters):
    r = ctl("--control", bed.sock, "sessions", "--json", *filters)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def make_flows(bed, udp_ports, tcp_ports):
    echo = UdpEcho(bed.ns("b"), HOST_B, UDP_PORT)
    server = TcpServer(bed.ns("b"), HOST_B, TCP_PORT, b"ok\n")
    try:
        for p in udp_ports:
            reply, _ = udp_exchange(bed.ns("a"), HOST_B, UDP_PORT, b"ping %d" % p, bind=(HOST_A, p))
            assert reply == b"ping %d" % p
        for p in tcp_ports:
            assert tcp_request(bed.ns("a"), HOST_B, TCP_PORT, b"GET\r\n\r\n", bind=(HOST_A, p)) == b"ok\n"
    finally:
        echo.close()
        server.close()


def test_sessions_are_the_flows_the_hosts_made(bed):
    udp_ports = list(range(21000, 21000 + UDP_FLOWS))
    tcp_ports = list(range(22000, 22000 + TCP_FLOWS))
    make_flows(bed, udp_ports, tcp_ports)
    listed = sessions(bed, "--inside", HOST_A)
    udp = {s["inside"] for s in listed if s["protocol"] == "udp"}
    tcp = [s for s in listed if s["protocol"] == "tcp"]
    assert udp >= {f"{HOST_A}:{p}" for p in udp_ports}, listed
    for p in tcp_ports:
        mine = [s for s in tcp if s["inside"] == f"{HOST_A}:{p}"]
        assert len(mine) == 1, (p, tcp)
        assert mine[0]["state"] in ("closing", "closed", "established"), mine[0]
    for s in listed:
        assert s["outside"].startswith(GW_OUTSIDE + ":"), s
        assert 0 < s["expires_in"] <= 7440 and s["worker"] == 0, s
    # The filters select exactly.
    one = sessions(bed, "--inside", f"{HOST_A}:{udp_ports[3]}", "--protocol", "udp")
    assert [s["inside"] for s in one] == [f"{HOST_A}:{udp_ports[3]}"], one
    port = int(one[0]["outside"].split(":")[1])
    by_port = sessions(bed, "--outside-port", str(port), "--protocol", "udp")
    assert [s["inside"] for s in by_port] == [f"{HOST_A}:{udp_ports[3]}"], by_port
    # The text form: one line per session and a count.
    text = ctl("--control", bed.sock, "sessions", "--inside", f"{HOST_A}:{udp_ports[3]}").stdout.splitlines()
    assert text[-1] == "1 session" and text[0].startswith(f"udp  {HOST_A}:{udp_ports[3]}  ->  {GW_OUTSIDE}:"), text


def test_filtered_delete_then_the_next_frame_maps_again(bed):
    udp_ports = list(range(23000, 23005))
    make_flows(bed, udp_ports, [])
    victim = f"{HOST_A}:{udp_ports[0]}"
    before = sessions(bed, "--inside", HOST_A, "--protocol", "udp")
    assert victim in {s["inside"] for s in before}
    r = ctl("--control", bed.sock, "sessions", "delete", "--inside", victim, "--json")
    assert json.loads(r.stdout) == {"removed": 1}, r.stdout
    after = sessions(bed, "--inside", HOST_A, "--protocol", "udp")
    assert {s["inside"] for s in after} == {s["inside"] for s in before} - {victim}
    make_flows(bed, udp_ports[:1], [])
    assert [s["inside"] for s in sessions(bed, "--inside", victim)] == [victim]


def test_flush_empties_the_table_and_status_counts_it(bed):
    make_flows(bed, [24000, 24001], [])
    n = len(sessions(bed))
    assert n >= 2
    r = ctl("--control", bed.sock, "sessions", "flush", "--json")
    assert json.loads(r.stdout) == {"removed": n}
    assert sessions(bed) == []
    status = json.loads(ctl("--control", bed.sock, "status", "--json").stdout)
    assert status["stopped_by"] == "running", status
    nat = status["nat"]
    flushed = sum(nat[p]["flushed"] for p in ("tcp", "udp", "icmp"))
    assert flushed >= n and nat["sessions_active"] == 0, nat
    text = ctl("--control", bed.sock, "status").stdout
    assert "vlan-nat" in text or "nat" in text, text


def test_neighbours_and_forwards(bed):
    make_flows(bed, [25000], [])
    lines = [json.loads(l) for l in ctl("--control", bed.sock, "neighbours", "--json").stdout.splitlines()]
    by_address = {(n["address"], n["side"]): n for n in lines}
    assert (HOST_B, "outside") in by_address, lines
    assert by_address[(HOST_B, "outside")]["state"] == "reachable"
    assert (HOST_A, "inside") in by_address, lines
    forwards = [json.loads(l) for l in ctl("--control", bed.sock, "forwards", "--json").stdout.splitlines()]
    assert forwards == [{"protocol": "tcp", "outside_port": 8080, "inside": f"{HOST_A}:80"}], forwards


def test_a_second_forwarder_on_the_same_socket_is_refused(bed):
    second = Forwarder([bed.tb.in_if, bed.tb.out_if, "--control", bed.sock, "--duration", "5"]).start(wait_ready=False)
    res = second.wait(timeout=15)
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "another forwarder is running and serving this control socket" in res.stderr, res.stderr
    # The first one still answers.
    assert ctl("--control", bed.sock, "status", "--json").returncode == 0


def test_ctl_errors_name_the_socket_and_the_fix(bed):
    missing = bed.sock + ".missing"
    r = ctl("--control", missing, "status", check=False)
    assert r.returncode == 1 and missing in r.stderr and "is the forwarder running" in r.stderr, r.stderr
    r = ctl("--control", bed.sock, "frobnicate", check=False)
    assert r.returncode == 2 and "unknown command" in r.stderr, r.stderr
    r = ctl("--control", bed.sock, "sessions", "delete", check=False)
    assert r.returncode == 2 and "needs --inside" in r.stderr, r.stderr
    r = ctl("--control", bed.sock, "reload", check=False)
    assert r.returncode == 1 and "not implemented yet" in r.stderr, r.stderr
    r = ctl("--help")
    assert r.stdout.startswith("usage: forwarder ctl"), r.stdout


def test_the_standard_socket_is_found_by_name(bed):
    """Without --control: /run/forwarder/NAME.sock, found by `ctl --name NAME`; an L2 forwarder
    has no NAT commands."""
    name = f"{bed.prefix}-l2"
    path = f"/run/forwarder/{name}.sock"
    l2 = Forwarder([bed.tb.in_if, bed.tb.out_if, "--name", name, "--duration", "20", "--json"])
    # The gateway holds the interfaces: stop it for this test, start it again afterwards.
    bed.stop_forwarder()
    try:
        l2.start()
        assert os.path.exists(path), l2.stderr_so_far()
        r = ctl("--name", name, "status", "--json")
        assert json.loads(r.stdout)["mode"] == "l2", r.stdout
        r = ctl("--name", name, "sessions", check=False)
        assert r.returncode == 1 and "not a NAT gateway" in r.stderr, r.stderr
        res = l2.stop()
        assert res.returncode == 0, res.stderr
        assert not os.path.exists(path), "the socket file is removed at the stop"
    finally:
        if l2.running():
            l2.stop()
        bed.start_forwarder()


def test_sighup_does_not_end_the_forwarder(bed):
    """SIGHUP used to end the process without a summary; now it is a warning and nothing else."""
    import signal
    import time
    bed.fw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "SIGHUP" not in bed.fw.stderr_so_far() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bed.fw.running(), bed.fw.stderr_so_far()
    assert "SIGHUP: reloading the configuration is not implemented yet" in bed.fw.stderr_so_far()
    assert ctl("--control", bed.sock, "status", "--json").returncode == 0
