# The files an installation of forwarder consists of and how each is made from the checkout: one
# list for scripts/install.sh (a checkout installed onto this machine) and scripts/package.sh (the
# Debian package), so that neither ships a file the other forgets or makes it differently.
# Sourced by bash; needs REPO (the checkout).

# installed_files BINARY PREFIX UNIT_DIR EXAMPLE: one tab-separated line per file,
#   SOURCE  TARGET  MODE  HOW
# TARGET as on the target system (no staging root); HOW for prepare_installed_file. The unit
# directory and the example configuration's place are the caller's: they differ between a
# /usr/local installation and the package (which keeps the example as a conffile in /etc).
installed_files() {
    local binary="$1" prefix="$2" unit_dir="$3" example="$4"
    printf '%s\t%s\t%s\t%s\n' \
        "$binary"                               "$prefix/sbin/forwarder"                              0755 copy \
        "$REPO/docs/man/forwarder.8"            "$prefix/share/man/man8/forwarder.8.gz"               0644 gzip \
        "$REPO/dist/bash-completion/forwarder"  "$prefix/share/bash-completion/completions/forwarder" 0644 sbindir \
        "$REPO/dist/systemd/forwarder@.service" "$unit_dir/forwarder@.service"                        0644 sbindir \
        "$REPO/docs/forwarder.conf.example"     "$example"                                            0644 copy
}

# prepare_installed_file HOW SOURCE OUT SBINDIR: OUT made from SOURCE. gzip: compressed without
# name or time stamp (the same bytes every build); sbindir: SBINDIR, the installed binary's
# directory, in place of @SBINDIR@, failing if any placeholder is left.
prepare_installed_file() {
    case "$1" in
        copy) cp -- "$2" "$3" ;;
        gzip) gzip -9 -n -c -- "$2" >"$3" ;;
        sbindir) sed "s|@SBINDIR@|$4|g" -- "$2" >"$3" && ! grep -q '@[A-Z]*@' "$3" ;;
        *) return 1 ;;
    esac
}
