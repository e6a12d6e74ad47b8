#!/usr/bin/env bash
# unit-verify.sh: deploy/systemd/quire-broker.service as this build made it
# passes `systemd-analyze verify` without a single complaint (its manual
# pages found, the broker executable there), and runs the broker as its own
# user, restarted on failure, with a raised descriptor limit, logging to
# the journal, ready by sd_notify when built with libsystemd.
set -u
unit=$top_builddir/deploy/systemd/quire-broker.service
command -v systemd-analyze >/dev/null ||
    { echo "systemd-analyze missing: apt-get install systemd"; exit 99; }
[ -r "$unit" ] || { echo "no $unit (make all makes it)"; exit 99; }
d=$(mktemp -d) || exit 99
trap 'rm -rf "$d"' EXIT
fail=0

# the unit with ExecStart at the built broker (the installed path does not
# exist before make install), and manual pages where man finds them
mkdir -p "$d/man/man5" "$d/man/man8" "$d/unit" || exit 99
ln -s "$top_srcdir/man/quire-broker.8" "$d/man/man8/"
ln -s "$top_srcdir/man/quire-broker.properties.5" "$d/man/man5/"
sed "s|^ExecStart=$QR_SBINDIR/quire-broker |ExecStart=$top_builddir/broker/quire-broker |" \
    "$unit" >"$d/unit/quire-broker.service"
grep -q "^ExecStart=$top_builddir/broker/quire-broker --config $QR_SYSCONFDIR/quire/server.properties$" \
    "$d/unit/quire-broker.service" || { echo "FAIL ExecStart: $(grep ExecStart "$unit")"; fail=1; }
out=$(MANPATH=$d/man systemd-analyze verify "$d/unit/quire-broker.service" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "FAIL systemd-analyze verify: exit $rc: $out"
    fail=1
else
    echo "ok   systemd-analyze verify: no complaint"
fi
for want in "Type=$QR_SYSTEMD_TYPE" User=quire Group=quire Restart=on-failure \
    LimitNOFILE=100000 StandardOutput=journal StandardError=journal \
    StateDirectory=quire WantedBy=multi-user.target; do
    if grep -qx "$want" "$unit"; then
        echo "ok   $want"
    else
        echo "FAIL no line $want in $unit"
        fail=1
    fi
done
exit $fail
