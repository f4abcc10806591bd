"""Every error case: one line on stderr naming the interface (or option) and the fix, nothing on
stdout, and the documented exit code (1 runtime, 2 usage); --help and --version exit 0."""

import os
import re
import secrets
import shutil
import tempfile

import pytest

from harness import Result, forwarder_path, run, run_forwarder_once

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def one_line_error(res, code):
    assert res.returncode == code, (f"{res.args}: exit {res.returncode}, expected {code}\n"
                                    f"stderr: {res.stderr}")
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, f"{res.args}: expected one line on stderr, got {len(lines)}:\n{res.stderr}"
    assert res.stdout == "", f"{res.args}: unexpected stdout: {res.stdout!r}"
    assert lines[0].startswith("forwarder: "), lines[0]
    return lines[0]


def test_no_such_interface(testbed):
    tb = testbed
    bogus = "nosuch" + secrets.token_hex(3)
    for args, name in [([bogus, tb.out_if], bogus), ([tb.in_if, bogus], bogus)]:
        msg = one_line_error(run_forwarder_once(args + ["--duration", "1"]), 1)
        assert name in msg and "no such interface" in msg, msg
        # It lists the interfaces that exist.
        listed = msg.split(":", 2)[-1]
        for existing in ["lo", tb.in_if, tb.out_if]:
            assert re.search(rf"\b{re.escape(existing)}\b", listed), f"{existing} not listed: {msg}"


def test_in_equal_to_out(testbed):
    tb = testbed
    msg = one_line_error(run_forwarder_once([tb.in_if, tb.in_if, "--duration", "1"]), 2)
    assert tb.in_if in msg and "different" in msg, msg


def test_interface_down(testbed):
    tb = testbed
    run(["ip", "link", "set", tb.in_if, "down"])
    try:
        msg = one_line_error(run_forwarder_once([tb.in_if, tb.out_if, "--duration", "1"]), 1)
    finally:
        run(["ip", "link", "set", tb.in_if, "up"])
    assert tb.in_if in msg and "down" in msg, msg
    assert f"ip link set {tb.in_if} up" in msg, f"the fix is not given: {msg}"


@pytest.mark.parametrize("expr", ["udp port", "ip proto nosuch", "tcp and (", "ether host 1:2:3"])
def test_bad_filter_expression(testbed, expr):
    tb = testbed
    msg = one_line_error(run_forwarder_once([tb.in_if, tb.out_if, "--filter", expr,
                                             "--duration", "1"]), 2)
    assert "--filter" in msg and expr in msg, msg
    # pcap's own message: what libpcap says for the same expression (through tcpdump -d)
    td = run(["tcpdump", "-d", expr], check=False)
    pcap_msg = [l for l in td.stderr.splitlines() if l.startswith("tcpdump: ")]
    assert td.returncode != 0 and pcap_msg, f"tcpdump accepted {expr!r}: {td.stderr}"
    pcap_msg = pcap_msg[-1].removeprefix("tcpdump: ")
    pcap_msg = pcap_msg.removeprefix("can't parse filter expression: ")
    assert pcap_msg in msg, f"libpcap's message {pcap_msg!r} missing from: {msg}"


@pytest.mark.parametrize("opt,value", [("--burst", "x"), ("--burst", "0"), ("--burst", "12abc"),
                                       ("--snaplen", "-5"), ("--duration", "soon"),
                                       ("--stats", ""), ("--buffer-size", "1e99"),
                                       ("--alloc", "bogus")])
def test_bad_value(testbed, opt, value):
    tb = testbed
    msg = one_line_error(run_forwarder_once([tb.in_if, tb.out_if, opt, value]), 2)
    assert opt in msg, msg
    if value:
        assert value in msg, msg


def test_missing_value(testbed):
    tb = testbed
    msg = one_line_error(run_forwarder_once([tb.in_if, tb.out_if, "--burst"]), 2)
    assert "--burst" in msg, msg


def test_unknown_option(testbed):
    tb = testbed
    msg = one_line_error(run_forwarder_once([tb.in_if, tb.out_if, "--bogus-option"]), 2)
    assert "--bogus-option" in msg and "--help" in msg, msg


def test_missing_interfaces():
    msg = one_line_error(run_forwarder_once([]), 2)
    assert "IN OUT" in msg, msg


def _binary_for_nobody(tmpdir):
    """The forwarder binary, copied where user nobody can execute it if it cannot already."""
    fw = forwarder_path()
    ok = run(NOBODY + ["test", "-x", fw], check=False).returncode == 0
    if ok:
        return fw
    os.chmod(tmpdir, 0o755)
    copy = os.path.join(tmpdir, "forwarder")
    shutil.copy2(fw, copy)
    os.chmod(copy, 0o755)
    return copy


def test_not_root(testbed):
    tb = testbed
    assert shutil.which("setpriv"), "setpriv missing: apt-get install -y util-linux"
    tmpdir = tempfile.mkdtemp(prefix="fwd-nobody-")
    try:
        binary = _binary_for_nobody(tmpdir)
        fw_args = [tb.in_if, tb.out_if, "--duration", "1"]
        r = run(NOBODY + [binary] + fw_args, timeout=15, check=False)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    assert r.returncode != 126 and "Permission denied" not in r.stderr[:40], \
        f"could not execute {binary} as nobody: {r.stderr}"
    msg = one_line_error(Result(r.returncode, r.stdout, r.stderr, None, fw_args), 1)
    assert tb.in_if in msg, msg
    assert "permission" in msg.lower() and "CAP_NET_RAW" in msg, msg
    assert "sudo" in msg or "setcap" in msg, f"no fix given: {msg}"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag):
    res = run_forwarder_once([flag])
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: forwarder IN OUT"), res.stdout[:200]
    for opt in ["--one-way", "--filter", "--alloc", "--burst", "--duration", "--stats", "--json",
                "--quiet", "--version"]:
        assert opt in res.stdout, f"{opt} not in --help"
    assert res.stderr == ""


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    res = run_forwarder_once([flag])
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"forwarder \d+\.\d+\.\d+\S*\n", res.stdout), repr(res.stdout)
