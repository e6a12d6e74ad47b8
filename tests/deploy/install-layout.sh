#!/usr/bin/env bash
# install-layout.sh: `make install DESTDIR=...` puts the broker in sbindir,
# the tools in bindir, libquire with quire.h, err.h and quire.pc, every
# manual page, and the example server.properties in $(sysconfdir)/quire/;
# the installed broker runs (--version).
set -u
d=$(mktemp -d) || exit 99
trap 'rm -rf "$d"' EXIT
fail=0
make -s -C "$top_builddir" install DESTDIR="$d" >"$d.log" 2>&1 ||
    { cat "$d.log"; rm -f "$d.log"; exit 99; }
rm -f "$d.log"
want=(
    "$QR_SBINDIR/quire-broker"
    "$QR_BINDIR/quire-topics" "$QR_BINDIR/quire-console-producer"
    "$QR_BINDIR/quire-console-consumer" "$QR_BINDIR/quire-consumer-groups"
    "$QR_BINDIR/quire-perf" "$QR_BINDIR/quire-dump-log"
    "$QR_BINDIR/quire-load"
    "$QR_LIBDIR/libquire.so" "$QR_LIBDIR/pkgconfig/quire.pc"
    "$QR_INCLUDEDIR/quire/quire.h" "$QR_INCLUDEDIR/quire/err.h"
    "$QR_SYSCONFDIR/quire/server.properties"
    "$QR_MANDIR/man8/quire-broker.8" "$QR_MANDIR/man5/quire-broker.properties.5"
    "$QR_MANDIR/man3/quire.3"
)
for m in "$top_srcdir"/man/quire-*.1; do
    want+=("$QR_MANDIR/man1/$(basename "$m")")
done
for f in "${want[@]}"; do
    if [ -e "$d$f" ]; then
        echo "ok   $f"
    else
        echo "FAIL missing $f"
        fail=1
    fi
done
for f in "$QR_SBINDIR/quire-broker" "$QR_BINDIR/quire-topics"; do
    [ -x "$d$f" ] || { echo "FAIL $f not executable"; fail=1; }
done
[ -e "$d$QR_BINDIR/quire-broker" ] && { echo "FAIL quire-broker in bindir"; fail=1; }
cmp -s "$d$QR_SYSCONFDIR/quire/server.properties" "$top_srcdir/deploy/server.properties" ||
    { echo "FAIL server.properties is not deploy/server.properties"; fail=1; }
v=$("$d$QR_SBINDIR/quire-broker" --version 2>&1) &&
    echo "ok   installed quire-broker --version: $v" ||
    { echo "FAIL installed quire-broker --version: $v"; fail=1; }
exit $fail
