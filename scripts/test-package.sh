#!/usr/bin/env bash
# The Debian package on a machine without Swift: builds it (scripts/package.sh), lints it, and
# installs it with apt-get into a fresh Debian 12 root made by debootstrap (cached), where it checks
# the binary, the manual, the completion and the unit, forwards frames byte-exact between two
# namespaced hosts as an unprivileged user through the file capabilities, upgrades keeping a changed
# conffile, and purges leaving no file. Run `scripts/test-package.sh --help` for usage.
set -euo pipefail
umask 022
export LC_ALL=C   # one collation for sort and comm

PROG="test-package.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${FORWARDER_TEST_ROOT_CACHE:-/var/cache/forwarder-test-root}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
# man-db for `man forwarder`, systemd for `systemd-analyze verify`; nothing else beyond minbase.
INCLUDE=man-db,systemd
LOCK=/tmp/forwarder-netns.lock

usage() {
    cat <<EOF
usage: $PROG [--no-build]
       $PROG --help

  1. scripts/package.sh: forwarder_VERSION_amd64.deb, and from the same binary the rebuild
     VERSION+b1 to upgrade to; lintian must report no error.
  2. A Debian 12 root: debootstrap --variant=minbase --include=$INCLUDE $SUITE from $MIRROR,
     made once and kept in $CACHE (\$FORWARDER_TEST_ROOT_CACHE); each run works on a throwaway
     overlay of it, so every run starts from the same fresh root. No Swift in it.
  3. In it (chroot, /proc /sys /dev mounted and unmounted again on every exit): apt-get install
     ./forwarder_VERSION_amd64.deb, which must pull only Debian's packages; ldd, --version, the
     file capabilities, man forwarder, the completion, systemd-analyze verify of the unit; a
     forwarding run as user nobody between two namespaced hosts (scripts/testbed.sh; under
     $LOCK, taken for that part only, or inherited from a caller that holds it); the
     upgrade keeping a changed conffile; remove, then purge leaving no file of the package;
     and a file system without extended attributes: installed, with postinst's warning.

  --no-build   package the existing .build/static/release/forwarder (scripts/package.sh --no-build)
  -h, --help   this text

Needs root, network access to the mirror, debootstrap, lintian, dpkg-dev, iproute2, python3.
Exit status: 0 every check passed, 1 a check failed, 2 bad usage.
EOF
}

die() { echo "$PROG: FAILED: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "run '$PROG --help' for usage" >&2; exit 2; }
say() { echo "$PROG: $*"; }
ok() { echo "$PROG: ok [$(( $(date +%s) - start )) s]: $*"; }

no_build=no
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --no-build) no_build=yes ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
    shift
done
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts, namespaces): run it with sudo"
for tool in debootstrap lintian dpkg-deb dpkg-shlibdeps ip flock; do
    command -v "$tool" >/dev/null || die "$tool not found: scripts/install-deps.sh installs it"
done

# ---------------------------------------------------------------------------- clean-up
run_dir="$(mktemp -d /var/tmp/forwarder-test-package.XXXXXX)"
root="$run_dir/root"
mounts=()          # mount points, unmounted in reverse order
testbed_prefix=""
cleanup() {
    local i
    if [ -n "$testbed_prefix" ]; then "$REPO/scripts/testbed.sh" down "$testbed_prefix" >/dev/null 2>&1 || true; fi
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount -- "${mounts[i]}" 2>/dev/null || umount -l -- "${mounts[i]}" 2>/dev/null || true
    done
    rm -rf -- "$run_dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
start=$(date +%s)
mount_at() {  # mount_at TARGET MOUNT-ARGS...: mounted, and unmounted by cleanup
    local target="$1"; shift
    mount "$@" "$target" || die "mount $* $target"
    mounts+=("$target")
}
in_root() {
    chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/root \
        DEBIAN_FRONTEND=noninteractive "$@"
}

# ---------------------------------------------------------------------------- 1. the packages
debs="$run_dir/debs"
package_args=(--output "$debs")
[ "$no_build" = no ] || package_args+=(--no-build)
deb1="$("$REPO/scripts/package.sh" "${package_args[@]}" | tail -n 1)" || die "scripts/package.sh failed"
deb2="$("$REPO/scripts/package.sh" --output "$debs" --no-build --rebuild 1 | tail -n 1)" \
    || die "scripts/package.sh --rebuild 1 failed"
v1="$(dpkg-deb -f "$deb1" Version)"
v2="$(dpkg-deb -f "$deb2" Version)"
dpkg --compare-versions "$v2" gt "$v1" || die "the rebuild's version $v2 is not above $v1"
ok "built $(basename "$deb1") and $(basename "$deb2")"

say "lintian $(basename "$deb1"):"
lintian_rc=0
lintian_out="$(lintian --fail-on error "$deb1" 2>&1)" || lintian_rc=$?
lintian_out="$(grep -v '^running with root privileges' <<<"$lintian_out" || true)"
[ -z "$lintian_out" ] || sed 's/^/    /' <<<"$lintian_out"
[ "$lintian_rc" -eq 0 ] || die "lintian reports errors (exit $lintian_rc)"
ok "lintian: $(grep -c '^E:' <<<"$lintian_out" || true) errors, $(grep -c '^W:' <<<"$lintian_out" || true) warnings"

# ---------------------------------------------------------------------------- 2. the root
# The cached root is made once, by whoever gets there first (its own lock), and never changed
# afterwards: each run mounts an overlay whose writable layer is thrown away at the end.
stamp="$SUITE minbase $INCLUDE $MIRROR"
mkdir -p -- "$CACHE"
(
    flock 9
    if [ "$(cat "$CACHE/stamp" 2>/dev/null)" != "$stamp" ]; then
        say "debootstrap: a fresh $SUITE root into $CACHE (cached for the next runs)"
        t0=$(date +%s)
        rm -rf -- "$CACHE/root" "$CACHE/root.new" "$CACHE/stamp"
        debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$CACHE/root.new" "$MIRROR" \
            >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
        mv -- "$CACHE/root.new" "$CACHE/root"
        echo "$stamp" >"$CACHE/stamp"
        say "debootstrap took $(( $(date +%s) - t0 )) s"
    else
        say "the root from the cache: $CACHE/root"
    fi
) 9>"$CACHE/lock" || die "debootstrap failed (log: $CACHE/debootstrap.log)"

mkdir -p -- "$run_dir/upper" "$run_dir/work" "$root"
mount_at "$root" -t overlay overlay -o "lowerdir=$CACHE/root,upperdir=$run_dir/upper,workdir=$run_dir/work"
mount_at "$root/proc" -t proc proc
mount_at "$root/sys" --bind /sys
mount_at "$root/dev" --bind /dev
cp -- /etc/resolv.conf "$root/etc/resolv.conf"

[ ! -e "$root/opt/swift" ] && ! in_root sh -c 'command -v swift' >/dev/null \
    && [ -z "$(find "$root" -xdev -name 'libswift*' -print -quit)" ] || die "the root has Swift in it"
ok "a $SUITE root without Swift"

# Every path in the root but the ones that change by themselves (package lists and caches,
# logs, dpkg's and apt's own records).
snapshot() {
    (cd "$root" && find . -xdev \( -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache \
        -o -path ./var/log -o -path ./tmp -o -path ./run -o -path ./etc/ld.so.cache \) -prune -o -print) | sort
}

# ---------------------------------------------------------------------------- 3. install
cp -- "$deb1" "$deb2" "$root/tmp/"
in_root apt-get update -qq >/dev/null || die "apt-get update in the root"
in_root dpkg-query -W -f '${Package}\n' | sort >"$run_dir/packages-before"
in_root apt-get install -y -q "/tmp/$(basename "$deb1")" >"$run_dir/apt.log" 2>&1 \
    || { cat "$run_dir/apt.log"; die "apt-get install ./$(basename "$deb1")"; }
in_root dpkg-query -W -f '${Package}\n' | sort >"$run_dir/packages-after"
pulled=($(comm -13 "$run_dir/packages-before" "$run_dir/packages-after" | grep -vx forwarder))
for p in "${pulled[@]}"; do
    v="$(in_root dpkg-query -W -f '${Version}' "$p")"
    in_root apt-cache madison "$p" | grep -qF "$v | $MIRROR $SUITE/main" \
        || die "$p $v did not come from $MIRROR $SUITE/main"
done
ok "apt-get install ./$(basename "$deb1"): ${#pulled[@]} packages from $MIRROR as well: ${pulled[*]}"
dpkg-deb -f "$deb1" Depends | sed "s/^/$PROG:     Depends: /"

! in_root ldd /usr/sbin/forwarder | grep -q "not found" || die "ldd: $(in_root ldd /usr/sbin/forwarder)"
! in_root ldd /usr/sbin/forwarder | grep -qi swift || die "the installed binary loads a Swift library"
version_line="$(in_root setpriv --reuid=65534 --regid=65534 --clear-groups /usr/sbin/forwarder --version)"
[[ "$version_line" =~ ^forwarder\ ${v1//./\\.}\+[0-9a-z.-]+$ ]] || die "--version: '$version_line' (package $v1)"
ok "forwarder --version as nobody: $version_line"
caps="$(in_root getcap /usr/sbin/forwarder)"
[[ "$caps" == *"cap_net_admin,cap_net_raw=ep"* ]] || die "getcap: '$caps'"
ok "file capabilities: $caps"
[ "$(in_root cat /etc/forwarder/example.conf)" = "$(cat "$REPO/docs/forwarder.conf.example")" ] \
    || die "/etc/forwarder/example.conf differs from docs/forwarder.conf.example"
[ "$(in_root dpkg-query --control-show forwarder conffiles | awk '{print $1}')" = /etc/forwarder/example.conf ] \
    || die "/etc/forwarder/example.conf is not the package's conffile"
ok "/etc/forwarder/example.conf: the example configuration, a conffile"

man_out="$(in_root env MANPAGER=cat PAGER=cat MANWIDTH=80 man forwarder 2>"$run_dir/man.err")" || die "man forwarder"
[ ! -s "$run_dir/man.err" ] || die "man forwarder: $(cat "$run_dir/man.err")"
grep -q "FORWARDER(8)" <<<"$man_out" || die "man forwarder: no FORWARDER(8) header"
ok "man forwarder: $(wc -l <<<"$man_out") lines"

completed="$(in_root bash --norc --noprofile -c 'source /usr/share/bash-completion/completions/forwarder
    COMP_WORDS=(forwarder --cache-p); COMP_CWORD=1; COMP_LINE="forwarder --cache-p"; COMP_POINT=${#COMP_LINE}
    _forwarder; echo "${COMPREPLY[*]}"')"
[ "$completed" = "--cache-preset" ] || die "bash completion of '--cache-p': '$completed'"
ok "bash completion: --cache-p -> $completed"

# systemd-analyze verify of the unit and of an instance (a link named as one); any output fails.
in_root mkdir -p /tmp/verify
in_root ln -sf /lib/systemd/system/forwarder@.service /tmp/verify/forwarder@lan.service
for unit in /lib/systemd/system/forwarder@.service /tmp/verify/forwarder@lan.service; do
    out="$(in_root env SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$unit" 2>&1)" \
        && [ -z "$out" ] || die "systemd-analyze verify $unit: $out"
done
ok "systemd-analyze verify forwarder@.service, forwarder@lan.service: no complaint"

# ---------------------------------------------------------------------------- forwarding
# The netns lock, briefly. A caller already holding it (flock LOCK scripts/test.sh) passed its
# descriptor down: that one is taken again at once instead of waiting for ourselves.
forwarding_run() {
    testbed_prefix="pkg$((RANDOM % 10000))"
    /usr/bin/python3 - "$REPO" "$root" "$testbed_prefix" <<'PY'
import os, sys, time
repo, root, prefix = sys.argv[1:4]
sys.path.insert(0, os.path.join(repo, "Tests", "Integration"))
from harness import Forwarder, testbed_down, testbed_up
from netns_io import Capture, Markers, build_frame, compare_exactly_once, send_frames

# As user nobody inside the root: the installed binary with no privilege but its file capabilities.
NOBODY = ["chroot", root, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
tb = testbed_up(prefix)
fw = None
try:
    markers, sent = Markers(), {"a": {}, "b": {}}
    for src, dst in [("a", "b"), ("b", "a")]:
        for size in [60, 61, 128, 512, 1500, 1514]:
            m = markers.next()
            sent[src][m] = build_frame(tb.host(dst)[2], tb.host(src)[2], size, m)
    cap_a, cap_b = Capture(tb.ns_a, tb.a0).start(), Capture(tb.ns_b, tb.b0).start()
    try:
        fw = Forwarder([tb.in_if, tb.out_if, "--json", "--quiet"], binary="/usr/sbin/forwarder",
                       prefix_cmd=NOBODY).start()
        assert fw.running(), f"the packaged forwarder exited: {fw.stderr_so_far()}"
        status = dict(l.split(":", 1) for l in open(f"/proc/{fw.proc.pid}/status") if ":" in l)
        assert status["Uid"].split()[:2] == ["65534", "65534"], status["Uid"]
        assert int(status["CapEff"], 16) == (1 << 13) | (1 << 12), f"CapEff {status['CapEff'].strip()}"
        send_frames(tb.ns_a, tb.a0, list(sent["a"].values()))
        send_frames(tb.ns_b, tb.b0, list(sent["b"].values()))
        cap_b.wait_for(markers.ours, len(sent["a"]), timeout=5)
        cap_a.wait_for(markers.ours, len(sent["b"]), timeout=5)
        time.sleep(0.2)
        res = fw.stop()
    finally:
        at_a, at_b = cap_a.stop(), cap_b.stop()
        if fw is not None and fw.running():
            fw.kill()
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}"
    problems = (compare_exactly_once(markers, sent["a"], [f for f in at_b if markers.of(f) in sent["a"]])
                + compare_exactly_once(markers, sent["b"], [f for f in at_a if markers.of(f) in sent["b"]]))
    assert not problems, "\n".join(problems)
    print(f"{len(sent['a'])} frames a->b and {len(sent['b'])} b->a, 60 to 1514 bytes, byte-exact, once each; "
          f"process uid 65534, CapEff {status['CapEff'].strip()}")
finally:
    testbed_down(prefix)
PY
}
netns_locked() {
    local fd rc=0
    for fd in /proc/$$/fd/*; do
        if [ "$(readlink "$fd")" = "$LOCK" ]; then flock "${fd##*/}"; "$@"; return; fi
    done
    exec {fd}>"$LOCK"
    flock "$fd"
    "$@" || rc=$?
    exec {fd}>&-
    return $rc
}
say "forwarding (waiting for $LOCK)"
netns_locked forwarding_run >"$run_dir/forwarding.log" 2>&1 || { cat "$run_dir/forwarding.log"; die "the forwarding run"; }
testbed_prefix=""
ok "forwarding as nobody: $(tail -n 1 "$run_dir/forwarding.log")"

# ---------------------------------------------------------------------------- upgrade
in_root dpkg-query -L forwarder | sort >"$run_dir/files"
echo "# changed by $PROG" >>"$root/etc/forwarder/example.conf"
changed="$(md5sum <"$root/etc/forwarder/example.conf")"
in_root apt-get install -y -q "/tmp/$(basename "$deb2")" >"$run_dir/apt2.log" 2>&1 \
    || { cat "$run_dir/apt2.log"; die "apt-get install ./$(basename "$deb2") (the upgrade)"; }
[ "$(in_root dpkg-query -W -f '${Version}' forwarder)" = "$v2" ] || die "not upgraded to $v2"
[ "$(md5sum <"$root/etc/forwarder/example.conf")" = "$changed" ] || die "the upgrade replaced the changed conffile"
[[ "$(in_root getcap /usr/sbin/forwarder)" == *"cap_net_admin,cap_net_raw=ep"* ]] || die "no file capabilities after the upgrade"
ok "upgrade $v1 -> $v2: the changed /etc/forwarder/example.conf kept, capabilities set again"

# ---------------------------------------------------------------------------- remove, purge
# What systemd and the administrator would have made: an instance's state (DynamicUser=yes keeps
# it under /var/lib/private, linked from /var/lib/forwarder) and its enablement link.
instance_leftovers() {
    in_root mkdir -p /var/lib/private/forwarder/lan /etc/systemd/system/multi-user.target.wants
    in_root chmod 0700 /var/lib/private
    in_root touch /var/lib/private/forwarder/lan/gw.prom
    in_root ln -sfn private/forwarder /var/lib/forwarder
    in_root ln -sf /lib/systemd/system/forwarder@.service /etc/systemd/system/multi-user.target.wants/forwarder@lan.service
}
instance_leftovers
in_root dpkg --remove forwarder >"$run_dir/remove.log" 2>&1 || { cat "$run_dir/remove.log"; die "dpkg --remove"; }
[ ! -e "$root/usr/sbin/forwarder" ] || die "dpkg --remove left /usr/sbin/forwarder"
[ -f "$root/etc/forwarder/example.conf" ] && [ -f "$root/var/lib/private/forwarder/lan/gw.prom" ] \
    || die "dpkg --remove took the conffile or the state (only purge may)"
ok "dpkg --remove: the binary gone; the conffile and the instances' state kept"
in_root dpkg --purge forwarder >"$run_dir/purge.log" 2>&1 || { cat "$run_dir/purge.log"; die "dpkg --purge"; }
left=()
while read -r f; do
    # A directory another package owns too (/usr/sbin, /etc) stays, rightly.
    [ "$f" != /. ] && { [ -e "$root$f" ] || [ -L "$root$f" ]; } || continue
    [ -d "$root$f" ] && in_root dpkg-query -S "$f" >/dev/null 2>&1 || left+=("$f")
done <"$run_dir/files"
for f in /etc/forwarder /var/lib/forwarder /var/lib/private/forwarder \
         /etc/systemd/system/multi-user.target.wants/forwarder@lan.service; do
    if [ -e "$root$f" ] || [ -L "$root$f" ]; then left+=("$f"); fi
done
[ ${#left[@]} -eq 0 ] || die "after dpkg --purge: ${left[*]}"
ok "dpkg --purge: none of the package's $(wc -l <"$run_dir/files") paths left, the state and the enablement link gone"

# And nothing else, exactly: with its dependencies in place, installing the package and purging
# it again leaves the root as it was, path for path (nothing made by postinst stays behind).
snapshot >"$run_dir/base"
in_root dpkg -i "/tmp/$(basename "$deb1")" >"$run_dir/install3.log" 2>&1 || { cat "$run_dir/install3.log"; die "dpkg -i again"; }
snapshot >"$run_dir/installed"
# (dpkg names a file by the path in the package, /lib/...; the root's /lib is a link to usr/lib.)
sed -E 's#^/(lib|bin|sbin)(/|$)#/usr/\1\2#' "$run_dir/files" | sort >"$run_dir/files-merged"
extra="$(comm -13 "$run_dir/base" "$run_dir/installed" | sed 's/^\.//' | comm -23 - "$run_dir/files-merged")"
[ -z "$extra" ] || die "dpkg -i made paths that are not the package's: $extra"
instance_leftovers
in_root dpkg --purge forwarder >"$run_dir/purge3.log" 2>&1 || { cat "$run_dir/purge3.log"; die "dpkg --purge again"; }
snapshot >"$run_dir/end"
diff -u "$run_dir/base" "$run_dir/end" >"$run_dir/end.diff" || { cat "$run_dir/end.diff"; die "install + purge changed the root"; }
ok "dpkg -i then dpkg --purge: the root path for path as before ($(wc -l <"$run_dir/base") paths)"

# ---------------------------------------------------------------------------- no file capabilities
# /usr/sbin on a file system that cannot hold them (ramfs has no extended attributes): the
# installation still succeeds, and postinst says what that means.
cp -a -- "$root/usr/sbin" "$run_dir/sbin"
mount_at "$root/usr/sbin" -t ramfs ramfs
cp -a -- "$run_dir/sbin/." "$root/usr/sbin/"
in_root dpkg -i "/tmp/$(basename "$deb1")" >"$run_dir/nocaps.log" 2>&1 || { cat "$run_dir/nocaps.log"; die "dpkg -i on a file system without extended attributes"; }
grep -q "warning: cannot give /usr/sbin/forwarder its file capabilities" "$run_dir/nocaps.log" \
    || { cat "$run_dir/nocaps.log"; die "no warning from postinst when setcap fails"; }
ok "without extended attributes: installed, and postinst says: $(grep -m1 'setcap:' "$run_dir/nocaps.log" | sed 's/^ *//')"
in_root dpkg --purge forwarder >/dev/null 2>&1 || die "dpkg --purge (the second installation)"

say "passed in $(( $(date +%s) - start )) s"
