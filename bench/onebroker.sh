# bench/onebroker.sh: one private ZooKeeper and one broker on loopback,
# for the benchmarks that want no more (idempotence.sh, writecaching.sh,
# loadbench.sh). Sourced, not run:
#
#   build=...   the build directory (broker/quire-broker is run from it)
#   tmp=...     a directory of the caller's, removed at exit
#   chroot=...  the ZooKeeper chroot, "/name"
#   props=...   more server.properties lines (may be empty)
#   here=...    this directory
#   . "$here/onebroker.sh"
#
# Sets connect (zookeeper.connect with the chroot), addr (the broker's
# host:port) and bpid; the broker logs to $tmp/broker.log and keeps its
# log dir in $tmp/logs. An EXIT trap stops the broker and ZooKeeper by PID
# and removes $tmp.
zksh=$here/../tests/harness/zk.sh
bpid=
cleanup() {
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    "$zksh" stop "$tmp/zk" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
port=$("$zksh" free-port)
"$zksh" start "$tmp/zk" "$port" >/dev/null
connect=127.0.0.1:$port$chroot
cat >"$tmp/server.properties" <<PROPS
broker.id=0
listeners=PLAINTEXT://127.0.0.1:0
log.dirs=$tmp/logs
zookeeper.connect=$connect
$props
PROPS
"$build/broker/quire-broker" -c "$tmp/server.properties" \
    -p "$tmp/port" 2>"$tmp/broker.log" &
bpid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$tmp/port" ] || { echo "broker did not start" >&2; exit 1; }
addr=$(cat "$tmp/port")
