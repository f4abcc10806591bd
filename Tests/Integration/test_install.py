"""scripts/install.sh into a throwaway root (DESTDIR, PREFIX=/usr/local), the installed files,
and scripts/install.sh --uninstall leaving that root exactly as it was.

The installed binary forwards frames as user nobody through its file capabilities, and with
the credentials the unit gives it (a non-root uid, ambient CAP_NET_RAW/CAP_NET_ADMIN, that
bounding set, no new privileges; emulated with setpriv, systemd is not PID 1 here), both under
prctl(PR_SET_MDWE), the kernel's MemoryDenyWriteExecute, which the unit sets; the installed
unit passes `systemd-analyze verify`; the manual page renders and man finds it; the completion
completes. The throwaway root is a fresh directory in the temporary directory when that file
system keeps file capabilities (not nosuid, extended attributes), else under the repository's
.build; either way made reachable by nobody, and removed at the end, also on failure.
"""

import os
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from harness import REPO, run
from netns_io import Capture, Markers, build_frame, compare_exactly_once, send_frames

INSTALL = os.path.join(REPO, "scripts", "install.sh")
PREFIX = "/usr/local"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
# Exec the rest of the command line with W+X memory refused (PR_SET_MDWE = 65,
# PR_MDWE_REFUSE_EXEC_GAIN = 1; kept across execve), as MemoryDenyWriteExecute=yes does.
MDWE = ["/usr/bin/python3", "-c",
        "import ctypes, os, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.prctl(65, 1, 0, 0, 0) != 0:\n"
        "    sys.exit('PR_SET_MDWE: ' + os.strerror(ctypes.get_errno()))\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n"]

FILES = {  # path under PREFIX-rooted target -> mode
    "/usr/local/sbin/forwarder": 0o755,
    "/usr/local/share/man/man8/forwarder.8.gz": 0o644,
    "/usr/local/share/bash-completion/completions/forwarder": 0o644,
    "/usr/local/lib/systemd/system/forwarder@.service": 0o644,
    "/usr/local/share/doc/forwarder/forwarder.conf.example": 0o644,
    "/usr/local/share/forwarder/install-manifest": 0o644,
}
# Already in the throwaway root before the installation: the uninstallation must keep them
# (an existing, empty sbin; a man tree with another page).
PREEXISTING_DIRS = ["usr/local/sbin", "usr/local/share/man/man1"]
PREEXISTING_FILES = {"usr/local/share/man/man1/other.1": ".TH OTHER 1\n"}


def _keeps_file_caps(base):
    """A throwaway directory under `base` where setcap sticks, exec honours it (not nosuid),
    and nobody can reach it; None if `base` is no such place."""
    if not os.path.isdir(base) or os.statvfs(base).f_flag & os.ST_NOSUID:
        return None
    d = tempfile.mkdtemp(prefix="fwd-install-", dir=base)
    os.chmod(d, 0o755)
    probe = os.path.join(d, "probe")
    shutil.copy("/bin/true", probe)
    os.chmod(probe, 0o755)
    ok = (run(["setcap", "cap_net_raw+ep", probe], check=False).returncode == 0
          and "cap_net_raw" in run(["getcap", probe], check=False).stdout
          and run(NOBODY + [probe], check=False).returncode == 0)
    os.unlink(probe)
    if not ok:
        os.rmdir(d)
        return None
    return d


def _snapshot(root):
    """Every path under root with its type, mode and (files) contents."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), data)
    return out


@pytest.fixture(scope="module")
def throwaway():
    base = None
    tmp_base = tempfile.gettempdir()
    work = None
    for candidate in [tmp_base, os.path.join(REPO, ".build")]:
        work = _keeps_file_caps(candidate)
        if work:
            base = candidate
            break
    assert work, (f"neither {tmp_base} nor {REPO}/.build keeps file capabilities for user nobody "
                  "(nosuid, no extended attributes, or not reachable)")
    try:
        destdir = os.path.join(work, "root")
        for d in PREEXISTING_DIRS:
            os.makedirs(os.path.join(destdir, d), mode=0o755)
        for rel, text in PREEXISTING_FILES.items():
            with open(os.path.join(destdir, rel), "w") as f:
                f.write(text)
        for dirpath, dirnames, _ in os.walk(work):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        yield {"work": work, "destdir": destdir, "base": base, "before": _snapshot(work),
               "installed": False}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _install(destdir, *args, check=True):
    env = dict(os.environ, PREFIX=PREFIX, DESTDIR=destdir)
    return run([INSTALL, *args], timeout=900, check=check, env=env)


@pytest.fixture(scope="module")
def installed(throwaway):
    """scripts/install.sh with PREFIX=/usr/local DESTDIR=<throwaway root>; uninstalled again
    at the end of the module if test_uninstall did not do it."""
    r = _install(throwaway["destdir"])
    throwaway["installed"] = True
    throwaway["install_output"] = r.stdout + r.stderr
    try:
        yield throwaway
    finally:
        if throwaway["installed"]:
            _install(throwaway["destdir"], "--uninstall", check=False)


def at(tw, path):
    return tw["destdir"] + path


def test_usage():
    r = run([INSTALL, "--help"])
    assert "usage:" in r.stdout and "--uninstall" in r.stdout and "PREFIX" in r.stdout, r.stdout
    r = run([INSTALL, "--bogus"], check=False)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "--bogus" in r.stderr, r.stderr
    r = run([INSTALL], check=False, env=dict(os.environ, PREFIX="relative/path"))
    assert r.returncode == 2 and "PREFIX" in r.stderr, (r.returncode, r.stderr)


def test_every_file_installed(installed):
    tw = installed
    for path, mode in FILES.items():
        p = at(tw, path)
        assert os.path.isfile(p), f"{p} missing; install output:\n{tw['install_output']}"
        assert stat.S_IMODE(os.stat(p).st_mode) == mode, f"{p}: mode {oct(os.stat(p).st_mode)}"
    with open(at(tw, "/usr/local/share/forwarder/install-manifest")) as f:
        listed = {line.split(" ", 1)[1] for line in f.read().splitlines() if line.startswith("f ")}
    assert listed == set(FILES) - {"/usr/local/share/forwarder/install-manifest"}, listed
    with open(os.path.join(REPO, "docs", "forwarder.conf.example"), "rb") as f:
        with open(at(tw, "/usr/local/share/doc/forwarder/forwarder.conf.example"), "rb") as g:
            assert f.read() == g.read()


def test_help_and_version(installed):
    r = run([at(installed, "/usr/local/sbin/forwarder"), "--help"])
    assert r.stdout.startswith("usage: forwarder IN OUT"), r.stdout[:200]
    r = run([at(installed, "/usr/local/sbin/forwarder"), "--version"])
    assert r.stdout.startswith("forwarder "), r.stdout


def test_manual_page(installed):
    page = at(installed, "/usr/local/share/man/man8/forwarder.8.gz")
    env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80", LC_ALL="C.UTF-8")
    r = run(["man", "-l", page], env=env)
    assert "FORWARDER(8)" in r.stdout and "forwarder" in r.stdout.lower(), r.stdout[:500]
    assert r.stderr.strip() == "", r.stderr
    # And man finds it by name in the installed tree.
    env["MANPATH"] = at(installed, "/usr/local/share/man")
    r = run(["man", "-w", "8", "forwarder"], env=env)
    assert r.stdout.strip() == page, r.stdout


def test_capabilities(installed):
    r = run(["getcap", at(installed, "/usr/local/sbin/forwarder")])
    assert r.stdout.strip(), "getcap: the installed binary has no file capabilities"
    caps = r.stdout.split()[-1]  # "cap_net_admin,cap_net_raw=ep" (getcap's own order)
    names, _, flags = caps.partition("=")
    assert set(names.split(",")) == {"cap_net_raw", "cap_net_admin"} and flags == "ep", r.stdout


# What the unit gives the process (DynamicUser, AmbientCapabilities, CapabilityBoundingSet,
# NoNewPrivileges), without systemd: a non-root uid of the dynamic range, the two capabilities
# ambient, nothing else in the bounding set, no new privileges.
UNIT_CREDENTIALS = ["setpriv", "--reuid=61234", "--regid=61234", "--clear-groups",
                    "--inh-caps=-all,+net_raw,+net_admin", "--ambient-caps=-all,+net_raw,+net_admin",
                    "--bounding-set=-all,+net_raw,+net_admin", "--no-new-privs"]


def test_forwards_as_nobody(installed, testbed, forwarder):
    """The installed binary, run as nobody (no root, only its file capabilities) with W+X
    memory refused, forwards frames both ways, byte for byte, exactly once."""
    _forward_both_ways(installed, testbed, forwarder, NOBODY + MDWE, "65534")


def test_forwards_with_the_units_credentials(installed, testbed, forwarder):
    _forward_both_ways(installed, testbed, forwarder, UNIT_CREDENTIALS + MDWE, "61234")


def _forward_both_ways(installed, testbed, forwarder, prefix_cmd, uid):
    tb = testbed
    binary = at(installed, "/usr/local/sbin/forwarder")
    r = run(prefix_cmd[:4] + ["test", "-x", binary], check=False)
    assert r.returncode == 0, f"{prefix_cmd[:4]} cannot execute {binary}"
    markers = Markers()
    sent = {"a": {}, "b": {}}
    for src, dst in [("a", "b"), ("b", "a")]:
        _, _, src_mac = tb.host(src)
        _, _, dst_mac = tb.host(dst)
        for size in [60, 512, 1514]:
            m = markers.next()
            sent[src][m] = build_frame(dst_mac, src_mac, size, m)
    cap_a = Capture(tb.ns_a, tb.a0).start()
    cap_b = Capture(tb.ns_b, tb.b0).start()
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--json", "--quiet", binary=binary,
                       prefix_cmd=prefix_cmd)
        assert fw.running(), f"the installed forwarder exited as uid {uid}: {fw.stderr_so_far()}"
        with open(f"/proc/{fw.proc.pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        assert status["Uid"].split()[:2] == [uid, uid], status["Uid"]
        eff = int(status["CapEff"], 16)
        assert eff == (1 << 13) | (1 << 12), f"CapEff {status['CapEff']}: expected NET_RAW|NET_ADMIN"
        send_frames(tb.ns_a, tb.a0, list(sent["a"].values()))
        send_frames(tb.ns_b, tb.b0, list(sent["b"].values()))
        cap_b.wait_for(markers.ours, len(sent["a"]), timeout=5)
        cap_a.wait_for(markers.ours, len(sent["b"]), timeout=5)
        time.sleep(0.2)
        res = fw.stop()
    finally:
        at_a = cap_a.stop()
        at_b = cap_b.stop()
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}"
    problems = (compare_exactly_once(markers, sent["a"], [f for f in at_b if markers.of(f) in sent["a"]])
                + compare_exactly_once(markers, sent["b"], [f for f in at_a if markers.of(f) in sent["b"]]))
    assert not problems, "\n".join(problems)
    assert res.direction("in->out")["tx_frames"] >= len(sent["a"]), res.json
    assert res.direction("out->in")["tx_frames"] >= len(sent["b"]), res.json


def test_unit_verifies(installed):
    unit = at(installed, "/usr/local/lib/systemd/system/forwarder@.service")
    with open(unit) as f:
        text = f.read()
    lines = [l.strip() for l in text.splitlines()]
    assert ("ExecStart=/usr/local/sbin/forwarder --config /etc/forwarder/%i.conf --name %i "
            "--control /run/forwarder/%i/control.sock") in lines, text
    for directive in ["DynamicUser=yes", "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
                      "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN", "NoNewPrivileges=yes",
                      "ProtectSystem=strict", "Restart=on-failure", "StandardError=journal",
                      "MemoryDenyWriteExecute=yes", "RuntimeDirectory=forwarder/%i",
                      "RestrictAddressFamilies=AF_PACKET AF_INET AF_UNIX AF_NETLINK"]:
        assert directive in lines, f"{directive} not in the unit"
    assert "@" not in text.split("ExecStart=", 1)[1].split()[0], "placeholder left in ExecStart"
    # systemd-analyze verify wants the ExecStart binary where the unit says: verify a copy whose
    # only difference is the binary's path inside DESTDIR. MANPATH lets it find man:forwarder(8)
    # in the installed tree. Any warning (an unknown directive, a bad value) fails the test.
    vdir = tempfile.mkdtemp(prefix="fwd-verify-")
    try:
        copy = os.path.join(vdir, "forwarder@.service")
        with open(copy, "w") as f:
            f.write(text.replace("ExecStart=/usr/local/sbin/forwarder",
                                 "ExecStart=" + at(installed, "/usr/local/sbin/forwarder")))
        env = dict(os.environ, MANPATH=at(installed, "/usr/local/share/man"), SYSTEMD_LOG_LEVEL="notice")
        for name in ["forwarder@.service", "forwarder@lan.service"]:
            if name != "forwarder@.service":
                os.symlink(copy, os.path.join(vdir, name))
            r = run(["systemd-analyze", "verify", os.path.join(vdir, name)], check=False, env=env)
            assert r.returncode == 0 and r.stderr.strip() == "" and r.stdout.strip() == "", \
                f"systemd-analyze verify {name}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    finally:
        shutil.rmtree(vdir, ignore_errors=True)


BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def _complete_with(tw, words, framework):
    """COMPREPLY of the installed completion when the last of `words` is being completed, as
    bash calls it: COMP_WORDS split at '=' too (COMP_WORDBREAKS), COMP_LINE as typed. With
    `framework`, bash-completion's own functions (_init_completion) are loaded first."""
    comp = at(tw, "/usr/local/share/bash-completion/completions/forwarder")
    binary = at(tw, "/usr/local/sbin/forwarder")
    line = " ".join([binary] + list(words))
    comp_words = [binary]
    for w in words:
        if "=" in w and w.startswith("--"):
            name, _, value = w.partition("=")
            comp_words += [name, "="] + ([value] if value else [])
        else:
            comp_words.append(w)
    quote = lambda w: "'" + w.replace("'", "'\\''") + "'"
    script = (("source " + BASH_COMPLETION + "; " if framework else "")
              + f"source {quote(comp)}; COMP_WORDS=({' '.join(quote(w) for w in comp_words)}); "
              f"COMP_CWORD={len(comp_words) - 1}; COMP_LINE={quote(line)}; "
              "COMP_POINT=${#COMP_LINE}; _forwarder; printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = run(["bash", "--norc", "--noprofile", "-c", script])
    return [l for l in r.stdout.splitlines() if l]


@pytest.mark.parametrize("framework", [False, True], ids=["plain-bash", "bash-completion"])
def test_completion(installed, testbed, framework):
    assert os.path.isfile(BASH_COMPLETION), \
        f"{BASH_COMPLETION} missing: apt-get install -y bash-completion (or scripts/install-deps.sh)"
    tw = installed

    def _complete(words):
        return _complete_with(tw, words, framework)

    helptext = run([at(tw, "/usr/local/sbin/forwarder"), "--help"]).stdout
    got = _complete(["--"])
    for opt in ["--alloc", "--cache-preset", "--log-format", "--metrics-file", "--capture-drops",
                "--vlan-nat", "--timeout-tcp-transitory", "--help"]:
        assert opt in got, f"{opt} not completed: {got}"
    assert all(o in helptext for o in got), f"completed options not in --help: {got}"
    assert _complete(["--al"]) == ["--alloc"]
    assert sorted(_complete(["--alloc", ""])) == ["cache", "plain"]
    assert sorted(_complete(["--cache-preset", ""])) == ["kernel-2021", "kernel-2025"]
    assert sorted(_complete(["--log-format", ""])) == ["json", "text"]
    assert sorted(_complete(["--log-format="])) == ["json", "text"]
    assert _complete(["--alloc=pl"]) == ["plain"]
    # Interfaces for IN and OUT (positional, and --in/--out), none after both are given.
    first = _complete([testbed.prefix])
    assert sorted(first) == sorted([testbed.in_if, testbed.out_if]), first
    second = _complete(["--stats", "1", testbed.in_if, testbed.prefix])
    assert sorted(second) == sorted([testbed.in_if, testbed.out_if]), second
    assert _complete([testbed.in_if, testbed.out_if, testbed.prefix]) == []
    third = _complete(["--stats=1", "--json", testbed.in_if, "--alloc", "plain", testbed.prefix])
    assert sorted(third) == sorted([testbed.in_if, testbed.out_if]), third
    assert _complete(["--stats=1", testbed.in_if, testbed.out_if, testbed.prefix]) == []
    assert sorted(_complete(["--in", testbed.prefix])) == sorted([testbed.in_if, testbed.out_if])
    assert "lo" in _complete(["--out", ""])
    # File names for --config, --metrics-file, --capture-drops.
    example_dir = at(tw, "/usr/local/share/doc/forwarder/")
    for opt in ["--config", "--metrics-file", "--capture-drops"]:
        got = _complete([opt, example_dir + "forwarder.conf.ex"])
        assert got == [example_dir + "forwarder.conf.example"], (opt, got)


def test_reinstall(installed):
    """Installing again over an installation gives the same manifest (the directories the first
    one created stay recorded, so that --uninstall still removes them)."""
    manifest = at(installed, "/usr/local/share/forwarder/install-manifest")
    with open(manifest) as f:
        first = f.read()
    _install(installed["destdir"], "--no-build")
    with open(manifest) as f:
        assert f.read() == first
    assert "cap_net_raw" in run(["getcap", at(installed, "/usr/local/sbin/forwarder")]).stdout


def test_missing_source_file_fails_clearly():
    """A checkout without docs/man/forwarder.8 (or the example configuration): exit 1 naming
    the file, nothing installed."""
    work = tempfile.mkdtemp(prefix="fwd-partial-")
    try:
        repo = os.path.join(work, "repo")
        os.makedirs(os.path.join(repo, "scripts"))
        shutil.copy(INSTALL, os.path.join(repo, "scripts"))
        shutil.copytree(os.path.join(REPO, "dist"), os.path.join(repo, "dist"))
        os.makedirs(os.path.join(repo, "docs"))
        shutil.copy(os.path.join(REPO, "docs", "forwarder.conf.example"), os.path.join(repo, "docs"))
        destdir = os.path.join(work, "root")
        r = run([os.path.join(repo, "scripts", "install.sh"), "--no-build"], check=False,
                env=dict(os.environ, PREFIX=PREFIX, DESTDIR=destdir))
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert "docs/man/forwarder.8" in r.stderr and "missing" in r.stderr, r.stderr
        assert not os.path.exists(destdir), "something was installed"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_uninstall_restores_the_root(installed):
    tw = installed
    r = _install(tw["destdir"], "--uninstall")
    tw["installed"] = False
    after = _snapshot(tw["work"])
    before = tw["before"]
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert not (added or removed or changed), (
        f"after --uninstall: left {added}, removed {removed}, changed {changed}\n{r.stdout}")
    # A second --uninstall has no manifest: a clear failure, exit 1.
    r = _install(tw["destdir"], "--uninstall", check=False)
    assert r.returncode == 1 and "manifest" in r.stderr, (r.returncode, r.stderr)
