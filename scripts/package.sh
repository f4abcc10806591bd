#!/usr/bin/env bash
# Builds the Debian package forwarder_VERSION_amd64.deb: the release binary with the Swift runtime
# linked in (--static-swift-stdlib: it starts on a machine without the toolchain), its manual page,
# completion, unit and example configuration (dist/installed-files.sh, the list scripts/install.sh
# installs from too), the docs, and the control data from dist/debian. Run
# `scripts/package.sh --help` for usage; docs/install.md says what the package holds and why.
set -euo pipefail
umask 022

PROG="package.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The static build has its own SwiftPM scratch directory: .build keeps the dynamically linked
# build that the tests and `swift run` use, and neither relinks the other's binary.
STATIC="$REPO/.build/static"
BIN="$STATIC/release/forwarder"
COMMIT_FILE="$REPO/Sources/Forwarder/PackagedBuildCommit.swift"

usage() {
    cat <<EOF
usage: $PROG [--output DIR] [--no-build] [--rebuild N]
       $PROG --binary-only
       $PROG --help

Builds 'swift build -c release --product forwarder --static-swift-stdlib' (in .build/static,
with the git commit for 'forwarder --version'), checks with ldd that the binary needs only
libraries from Debian packages, and writes DIR/forwarder_VERSION_amd64.deb. VERSION is the one
'forwarder --version' prints (forwarderVersion in Sources/Forwarder); Depends is computed by
dpkg-shlibdeps. The last line of output is the package's path.

  --output DIR   where the package goes (default: .build/debian)
  --no-build     package the existing .build/static/release/forwarder
  --rebuild N    version VERSION+bN: Debian's version for a rebuild of the same release
                 (scripts/test-package.sh upgrades from VERSION to one)
  --binary-only  build and check the binary, print its path, make no package (bench/compare.sh
                 measures this binary)
  -h, --help     this text

Needs swift (unless --no-build), dpkg-dev (dpkg-shlibdeps, dpkg-gencontrol), binutils (strip).
Check the result with lintian (scripts/test-package.sh does, then installs it in a fresh root).
Exit status: 0 ok, 1 failure, 2 bad usage.
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "run '$PROG --help' for usage" >&2; exit 2; }
say() { echo "$PROG: $*" >&2; }

OUT="$REPO/.build/debian"
build=yes
binary_only=no
rebuild=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --output) [ $# -ge 2 ] || usage_error "--output needs a directory"; OUT="$2"; shift ;;
        --no-build) build=no ;;
        --binary-only) binary_only=yes ;;
        --rebuild)
            [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage_error "--rebuild needs a number from 1"
            rebuild="$2"; shift ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
    shift
done
for tool in dpkg-deb dpkg-shlibdeps dpkg-gencontrol strip gzip ldd; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y dpkg-dev binutils (or scripts/install-deps.sh)"
done

work="$(mktemp -d)"
cleanup() { rm -rf -- "$work" "$COMMIT_FILE"; }
trap cleanup EXIT

# ---------------------------------------------------------------------------- the binary
# The commit goes into the binary through a file only this build compiles (BuildCommit.swift says
# how); ".dirty" when tracked files differ from it.
commit=unknown-commit
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    commit="$(git -C "$REPO" rev-parse --short=12 HEAD)"
    [ -z "$(git -C "$REPO" status --porcelain --untracked-files=no)" ] || commit="$commit.dirty"
fi
if [ "$build" = yes ]; then
    command -v swift >/dev/null || die "swift not found in PATH (or package an existing build with --no-build)"
    printf '// Written by scripts/package.sh for its build only (see BuildCommit.swift).\n#if FORWARDER_PACKAGED_COMMIT\nlet buildCommit = "%s"\n#endif\n' \
        "$commit" >"$COMMIT_FILE"
    say "building: swift build -c release --product forwarder --static-swift-stdlib (commit $commit)"
    (cd "$REPO" && swift build -c release --product forwarder --static-swift-stdlib --scratch-path "$STATIC" \
        -Xswiftc -DFORWARDER_PACKAGED_COMMIT >&2) || die "the build failed"
    rm -f -- "$COMMIT_FILE"
fi
[ -x "$BIN" ] || die "no binary at $BIN (run without --no-build)"

# Every library the binary loads, directly or not, must come from a Debian package: nothing from
# the toolchain (/opt/swift), nothing unresolved.
libs=()
while read -r name arrow path _; do
    case "$name" in linux-vdso.so.*) continue ;; esac
    [ "$arrow" = "=>" ] || path="$name"           # "/lib64/ld-linux-x86-64.so.2 (0x...)"
    [ "$path" != "not" ] || die "ldd $BIN: $name not found"
    # dpkg knows a library by the path its package ships, /lib or /usr/lib (merged /usr).
    owner="$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null)" \
        || die "ldd $BIN: $path belongs to no Debian package (a toolchain library? the build must link the Swift runtime statically)"
    libs+=("${owner%%:*}")
done < <(ldd "$BIN")
say "ldd: every library from Debian: $(printf '%s\n' "${libs[@]}" | sort -u | tr '\n' ' ')"
if [ "$binary_only" = yes ]; then
    echo "$BIN"
    exit 0
fi

version_line="$("$BIN" --version)" || die "$BIN --version failed"
version="${version_line#forwarder }"
version="${version%%+*}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the version from '$version_line'"
deb_version="$version${rebuild:++b$rebuild}"

# ---------------------------------------------------------------------------- the tree
# dpkg-gencontrol and dpkg-shlibdeps expect a source tree: debian/control, debian/changelog, and
# the package's files under debian/forwarder.
tree="$work/debian"
root="$tree/forwarder"
mkdir -p "$root/DEBIAN"
cp -- "$REPO/dist/debian/control" "$tree/control"

# shellcheck source=../dist/installed-files.sh
source "$REPO/dist/installed-files.sh"
while IFS=$'\t' read -r src target mode how; do
    mkdir -p -- "$root$(dirname "$target")"
    prepare_installed_file "$how" "$src" "$root$target" /usr/sbin || die "cannot make $target from $src ($how)"
    chmod "$mode" -- "$root$target"
done < <(installed_files "$BIN" /usr /lib/systemd/system /etc/forwarder/example.conf)
# Debian ships binaries without symbols (policy 10.1); the Swift metadata sections stay.
strip --strip-unneeded --remove-section=.comment -- "$root/usr/sbin/forwarder"

# The docs; policy 12.3: compressed when over 4 KiB.
doc="$root/usr/share/doc/forwarder"
mkdir -p -- "$doc"
cp -- "$REPO/dist/debian/copyright" "$doc/copyright"
for f in README.md docs/usage.md docs/nat.md docs/install.md; do
    if [ "$(stat -c %s "$REPO/$f")" -gt 4096 ]; then
        gzip -9 -n -c -- "$REPO/$f" >"$doc/$(basename "$f").gz"
    else
        cp -- "$REPO/$f" "$doc/"
    fi
done
# The changelog (a native package's: changelog.gz) says which commit this is. The time stamp is
# the commit's, so that the same commit gives the same package (SOURCE_DATE_EPOCH for dpkg-deb).
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}"
maintainer="$(sed -n 's/^Maintainer: //p' "$tree/control")"
{
    echo "forwarder ($deb_version) unstable; urgency=medium"
    echo
    echo "  * forwarder $version, built from commit $commit${rebuild:+ (rebuild $rebuild)}."
    echo
    echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} >"$tree/changelog"
gzip -9 -n -c -- "$tree/changelog" >"$doc/changelog.gz"

# ---------------------------------------------------------------------------- the control data
find "$root/etc" -type f -printf '/etc/%P\n' | sort >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 -- "$REPO/dist/debian/$script" "$root/DEBIAN/$script"
done
(cd "$work" && dpkg-shlibdeps -Tdebian/forwarder.substvars debian/forwarder/usr/sbin/forwarder) \
    || die "dpkg-shlibdeps failed"
(cd "$work" && dpkg-gencontrol -pforwarder -v"$deb_version" -Tdebian/forwarder.substvars -Pdebian/forwarder) \
    || die "dpkg-gencontrol failed"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    >"$root/DEBIAN/md5sums"

mkdir -p -- "$OUT"
deb="$(cd "$OUT" && pwd)/forwarder_${deb_version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2 || die "dpkg-deb failed"
say "$(sed -n 's/^Depends: /Depends: /p' "$root/DEBIAN/control")"
echo "$deb"
