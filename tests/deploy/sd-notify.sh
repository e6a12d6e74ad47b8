#!/usr/bin/env bash
# sd-notify.sh: built with libsystemd, the broker sends READY=1 on
# $NOTIFY_SOCKET once it serves and is registered in ZooKeeper (its port
# file written), and STOPPING=1 on SIGTERM, as quire-broker.service
# (Type=notify) expects. A private ZooKeeper (tests/harness/with-zk) and a
# datagram socket of this test stand in for systemd. Skipped (77) when
# configure found no libsystemd (the unit is then Type=simple).
set -u
[ "${QR_SYSTEMD_TYPE:-}" = notify ] ||
    { echo "built without libsystemd: skipped"; exit 77; }
if [ -z "${QUIRE_TEST_ZK:-}" ]; then
    exec "$top_srcdir/tests/harness/with-zk" "$0" "$@"
fi
d=$(mktemp -d) || exit 99
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$d"' EXIT
printf '%s\n' broker.id=1 listeners=PLAINTEXT://127.0.0.1:0 \
    "zookeeper.connect=$QUIRE_TEST_ZK/sdnotify" "log.dirs=$d/log" >"$d/b.properties"

# the listener: every datagram, one per line, until STOPPING=1 or 60 s
/usr/bin/python3 - "$d/notify" "$d/got" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w") as out:
    try:
        while True:
            msg = s.recv(4096).decode()
            out.write(msg.replace("\n", " ") + "\n")
            out.flush()
            if "STOPPING=1" in msg:
                break
    except socket.timeout:
        pass
PY
lpid=$!
for _ in $(seq 1 100); do [ -S "$d/notify" ] && break; sleep 0.05; done
[ -S "$d/notify" ] || exit 99
NOTIFY_SOCKET=$d/notify "$top_builddir/broker/quire-broker" -c "$d/b.properties" \
    -p "$d/port" >"$d/broker.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do [ -s "$d/port" ] && break; sleep 0.1; done
[ -s "$d/port" ] || { cat "$d/broker.log"; exit 99; }
for _ in $(seq 1 100); do grep -q READY=1 "$d/got" 2>/dev/null && break; sleep 0.05; done
fail=0
if grep -q "^READY=1 STATUS=broker 1 serving on 127.0.0.1:" "$d/got"; then
    echo "ok   READY=1 once registered: $(head -n 1 "$d/got")"
else
    echo "FAIL no READY=1 after the port file: '$(cat "$d/got")'"
    fail=1
fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
wait "$lpid"
if grep -q '^STOPPING=1' "$d/got" && [ $rc -eq 0 ]; then
    echo "ok   STOPPING=1 on SIGTERM, exit 0"
else
    echo "FAIL after SIGTERM: exit $rc, messages '$(cat "$d/got")'"
    fail=1
fi
exit $fail
