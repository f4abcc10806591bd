#!/usr/bin/env bash
# Builds the forwarder (release) and installs it, its manual page, its bash completion, its
# systemd unit and the example configuration; records what it installed in a manifest so that
# `--uninstall` removes exactly that. Run `scripts/install.sh --help` for usage.
set -euo pipefail

PROG="install.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<EOF
usage: [PREFIX=/usr/local] [DESTDIR=] $PROG [--no-build]
       [PREFIX=/usr/local] [DESTDIR=] $PROG --uninstall
       $PROG --help

Builds 'swift build -c release --product forwarder' and installs (under \$DESTDIR\$PREFIX):
  sbin/forwarder                                  (setcap cap_net_raw,cap_net_admin+ep)
  share/man/man8/forwarder.8.gz                   (from docs/man/forwarder.8)
  share/bash-completion/completions/forwarder     (from dist/bash-completion/forwarder)
  lib/systemd/system/forwarder@.service           (from dist/systemd/forwarder@.service;
                                                   /etc/systemd/system unless PREFIX is
                                                   /usr/local or /usr, see below)
  share/doc/forwarder/forwarder.conf.example      (from docs/forwarder.conf.example)
  share/forwarder/install-manifest                (the list of what was installed)

  --no-build    install the existing .build/release/forwarder without building (e.g. built
                as yourself, installed with sudo, where swift may not be in root's PATH)
  --uninstall   remove exactly the files in the manifest, the manifest, and the directories
                the installation created if they are empty; nothing else
  -h, --help    this text

Environment: PREFIX (default /usr/local), DESTDIR (default empty: the live system; set it to
stage into a throwaway root), SYSTEMD_UNIT_DIR (override where the unit goes).
Needs root for setcap (libcap2-bin) and to write under /usr/local.
Exit status: 0 ok, 1 failure, 2 bad usage.
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "run '$PROG --help' for usage" >&2; exit 2; }
say() { echo "$PROG: $*"; }

mode=install
build=yes
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --uninstall) mode=uninstall ;;
        --no-build) build=no ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
    shift
done
[ "$mode" = uninstall ] && [ "$build" = no ] && usage_error "--no-build makes no sense with --uninstall"

PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
case "$PREFIX" in
    /*) ;;
    *) usage_error "PREFIX must be an absolute path (got '$PREFIX')" ;;
esac
case "$DESTDIR" in
    ""|/*) ;;
    *) usage_error "DESTDIR must be empty or an absolute path (got '$DESTDIR')" ;;
esac
PREFIX="${PREFIX%/}"; [ -n "$PREFIX" ] || PREFIX=/  # "/usr/local/" -> "/usr/local"
DESTDIR="${DESTDIR%/}"
[ "$PREFIX" = / ] && PREFIX=""

# Where systemd looks: its system unit search path (systemd-analyze unit-paths) contains
# /usr/local/lib/systemd/system and /usr/lib/systemd/system (= /lib/systemd/system on Debian's
# merged /usr), but no $PREFIX/lib/systemd/system for any other prefix (/opt/..., $HOME/...).
# So the unit goes to $PREFIX/lib/systemd/system for those two prefixes (the place for units
# that come with software, leaving /etc/systemd/system to the administrator's overrides), and to
# /etc/systemd/system otherwise, where systemd reads it whatever the prefix.
if [ -n "${SYSTEMD_UNIT_DIR:-}" ]; then
    UNIT_DIR="$SYSTEMD_UNIT_DIR"
elif [ "$PREFIX" = /usr/local ] || [ "$PREFIX" = /usr ]; then
    UNIT_DIR="$PREFIX/lib/systemd/system"
else
    UNIT_DIR="/etc/systemd/system"
fi

# What goes where: dist/installed-files.sh (the list the Debian package shares); these two
# places are this installation's own.
SBIN="$PREFIX/sbin/forwarder"
EXAMPLE="$PREFIX/share/doc/forwarder/forwarder.conf.example"
MANIFEST="$PREFIX/share/forwarder/install-manifest"

# ---------------------------------------------------------------------------- uninstall
# The manifest: one entry per line, "f PATH" for a file we installed, "d PATH" for a directory
# we created (paths as on the target system, without DESTDIR). The manifest is not listed in
# itself.
if [ "$mode" = uninstall ]; then
    [ -f "$DESTDIR$MANIFEST" ] || die "no manifest at $DESTDIR$MANIFEST: nothing installed with PREFIX=${PREFIX:-/}${DESTDIR:+ DESTDIR=$DESTDIR} (or installed by hand)"
    dirs=()
    while read -r kind path; do
        [ -n "$kind" ] || continue
        case "$path" in /*) ;; *) die "bad manifest line '$kind $path' in $DESTDIR$MANIFEST" ;; esac
        case "$kind" in
            f)
                if [ -e "$DESTDIR$path" ] || [ -L "$DESTDIR$path" ]; then
                    rm -f -- "$DESTDIR$path" || die "cannot remove $DESTDIR$path"
                    say "removed $DESTDIR$path"
                else
                    say "already gone: $DESTDIR$path"
                fi ;;
            d) dirs+=("$path") ;;
            *) die "bad manifest line '$kind $path' in $DESTDIR$MANIFEST" ;;
        esac
    done <"$DESTDIR$MANIFEST"
    rm -f -- "$DESTDIR$MANIFEST" || die "cannot remove $DESTDIR$MANIFEST"
    say "removed $DESTDIR$MANIFEST"
    # Deepest first; only the empty ones (something else may have been put there since).
    if [ ${#dirs[@]} -gt 0 ]; then
        while read -r d; do
            [ -d "$DESTDIR$d" ] || continue
            if rmdir -- "$DESTDIR$d" 2>/dev/null; then
                say "removed directory $DESTDIR$d"
            else
                say "kept $DESTDIR$d (not empty)"
            fi
        done < <(printf '%s\n' "${dirs[@]}" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
    fi
    if command -v systemctl >/dev/null && [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
    fi
    say "uninstalled"
    exit 0
fi

# ---------------------------------------------------------------------------- install
# Everything is checked before anything is written.
LIST="$REPO/dist/installed-files.sh"
[ -f "$LIST" ] || die "$LIST is missing: it lists the installation (check out the complete repository)"
# shellcheck source=../dist/installed-files.sh
source "$LIST"
# Every source but the binary's (built below).
while IFS=$'\t' read -r src target _; do
    [ "$target" = "$SBIN" ] || [ -f "$src" ] \
        || die "$src is missing: it is part of the installation (check out the complete repository)"
done < <(installed_files "(built)" "$PREFIX" "$UNIT_DIR" "$EXAMPLE")
command -v setcap >/dev/null || die "setcap not found: apt-get install -y libcap2-bin (or scripts/install-deps.sh)"
command -v gzip >/dev/null || die "gzip not found: apt-get install -y gzip"
[ "$(id -u)" -eq 0 ] || die "needs root (setcap, and writing under ${DESTDIR:-}${PREFIX:-/}): run it with sudo"

cd "$REPO"
if [ "$build" = yes ]; then
    command -v swift >/dev/null || die "swift not found in PATH (sudo resets PATH: run 'sudo env PATH=\"\$PATH\" scripts/install.sh', or build first with 'swift build -c release --product forwarder' and run 'sudo scripts/install.sh --no-build')"
    say "building: swift build -c release --product forwarder"
    swift build -c release --product forwarder || die "the build failed"
    BIN_SRC="$(swift build -c release --show-bin-path)/forwarder"
else
    BIN_SRC="$REPO/.build/release/forwarder"
fi
[ -x "$BIN_SRC" ] || die "no built binary at $BIN_SRC (run 'swift build -c release --product forwarder')"

# The previous installation's manifest (a re-install): its directories stay ours.
declare -A created=()
if [ -f "$DESTDIR$MANIFEST" ]; then
    while read -r kind path; do
        [ "$kind" = d ] && [ -d "$DESTDIR$path" ] && created["$path"]=1
    done <"$DESTDIR$MANIFEST"
fi

# mkdir -p that remembers which directories it created (target paths, without DESTDIR).
make_dir() {
    local d="$1" missing=() p
    p="$d"
    while [ -n "$p" ] && [ "$p" != / ] && [ ! -d "$DESTDIR$p" ]; do
        missing+=("$p")
        p="$(dirname "$p")"
    done
    # DESTDIR itself is not ours to record (its parent may not exist either): create it first.
    if [ -n "$DESTDIR" ] && [ ! -d "$DESTDIR" ]; then
        mkdir -p -- "$DESTDIR" || die "cannot create $DESTDIR"
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        mkdir -p -m 0755 -- "$DESTDIR$d" || die "cannot create $DESTDIR$d"
        for p in "${missing[@]}"; do
            chmod 0755 -- "$DESTDIR$p"
            created["$p"]=1
        done
    fi
}

files=()
put() {  # put SRC TARGET MODE
    make_dir "$(dirname "$2")"
    install -m "$3" -- "$1" "$DESTDIR$2" || die "cannot install $DESTDIR$2"
    files+=("$2")
    say "installed $DESTDIR$2"
}

tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT

# The unit and the completion name the binary by its real path (as on the target system,
# without DESTDIR).
while IFS=$'\t' read -r src target mode how; do
    prepare_installed_file "$how" "$src" "$tmp/file" "$PREFIX/sbin" || die "cannot make $target from $src ($how)"
    put "$tmp/file" "$target" "$mode"
done < <(installed_files "$BIN_SRC" "$PREFIX" "$UNIT_DIR" "$EXAMPLE")
setcap cap_net_raw,cap_net_admin+ep "$DESTDIR$SBIN" \
    || die "setcap cap_net_raw,cap_net_admin+ep $DESTDIR$SBIN failed (the file system must keep file capabilities: extended attributes, not nosuid)"
say "set cap_net_raw,cap_net_admin+ep on $DESTDIR$SBIN"

# The manifest last, so that its presence means a complete installation.
make_dir "$(dirname "$MANIFEST")"
{
    for f in "${files[@]}"; do echo "f $f"; done
    for d in "${!created[@]}"; do echo "d $d"; done | sort
} >"$tmp/manifest"
install -m 0644 -- "$tmp/manifest" "$DESTDIR$MANIFEST" || die "cannot write $DESTDIR$MANIFEST"
say "wrote the manifest $DESTDIR$MANIFEST"

if command -v systemctl >/dev/null && [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
say "done. Configure /etc/forwarder/NAME.conf (example: $EXAMPLE), then: systemctl enable --now forwarder@NAME"
