"""--config FILE: a bad line is a usage error (exit 2) naming the file and the line, before any
interface is touched; a missing file is exit 2 naming it; --log-format json makes usage errors
JSON objects; a good file forwards, with the command line overriding it."""

import json
import time

from harness import run_forwarder_once
from netns_io import Capture, Markers, build_frame, compare_exactly_once, send_frames

ETHERTYPE = 0x88B5


def one_line(res, code):
    assert res.returncode == code, f"{res.args}: exit {res.returncode}, expected {code}\nstderr: {res.stderr}"
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, f"{res.args}: expected one line on stderr:\n{res.stderr}"
    assert res.stdout == "", res.stdout
    return lines[0]


def test_bad_line_names_file_and_line(tmp_path):
    conf = tmp_path / "a.conf"
    # The interfaces do not exist: the usage error must come first.
    conf.write_text("# gateway\nin = nosuch0\nout = nosuch1\n\nburst = x   # bad\n")
    line = one_line(run_forwarder_once(["--config", str(conf)]), 2)
    assert line == f"forwarder: {conf}:5: --burst: 'x' is not a whole number", line


def test_config_inside_config_and_unknown_option(tmp_path):
    conf = tmp_path / "b.conf"
    conf.write_text("in = nosuch0\nout = nosuch1\nconfig = /etc/other.conf\n")
    line = one_line(run_forwarder_once(["--config", str(conf)]), 2)
    assert line.startswith(f"forwarder: {conf}:3: "), line
    conf.write_text("in = nosuch0\nbogus = 1\n")
    line = one_line(run_forwarder_once(["--config", str(conf)]), 2)
    assert line.startswith(f"forwarder: {conf}:2: unknown option 'bogus'"), line


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.conf"
    line = one_line(run_forwarder_once(["--config", str(missing)]), 2)
    assert line.startswith(f"forwarder: {missing}: cannot read"), line


def test_json_usage_error(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("in = nosuch0\nout = nosuch1\nburst = 0\n")
    line = one_line(run_forwarder_once(["--log-format", "json", "--config", str(conf)]), 2)
    obj = json.loads(line)
    assert obj["severity"] == "error", obj
    assert obj["message"].startswith(f"{conf}:3: --burst:"), obj
    assert "interface" not in obj or obj["interface"] is None, obj


def test_runtime_error_as_json_names_the_interface():
    line = one_line(run_forwarder_once(["--log-format=json", "--in", "nosuch0", "--out", "nosuch1"]), 1)
    obj = json.loads(line)
    assert obj["severity"] == "error" and "nosuch0" in obj["message"], obj
    assert obj["interface"] == "nosuch0", obj


def test_good_config_forwards(testbed, forwarder, tmp_path):
    tb = testbed
    conf = tmp_path / "fw.conf"
    # burst from the file is replaced on the command line; json and quiet come from the file.
    conf.write_text(f"in = {tb.in_if}\nout = {tb.out_if}\njson = yes\nquiet\nburst = x\n"
                    "filter = not ip6 and not arp   # a value with spaces\n")
    _, _, dst_mac = tb.host("b")
    _, a_if, src_mac = tb.host("a")
    markers = Markers()
    sent = {}
    for size in [60, 200, 1514]:
        m = markers.next()
        sent[m] = build_frame(dst_mac, src_mac, size, m, ethertype=ETHERTYPE)
    cap = Capture(tb.ns_b, tb.b0).start()
    try:
        fw = forwarder("--config", str(conf), "--burst", "8")
        send_frames(tb.ns_a, tb.a0, list(sent.values()))
        cap.wait_for(markers.ours, len(sent), timeout=5)
        time.sleep(0.2)
        res = fw.stop()
    finally:
        at_b = cap.stop()
    assert res.returncode == 0, res.stderr
    assert res.stderr == "", res.stderr  # quiet from the file
    summary = json.loads(res.stdout)  # json = yes from the file (the harness parses only --json)
    assert summary["burst"] == 8, summary
    problems = compare_exactly_once(markers, sent, [f for f in at_b if markers.ours(f)])
    assert not problems, "\n".join(problems)
