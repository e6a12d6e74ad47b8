#!/bin/sh
# writecaching.sh BUILD_DIR [RECORDS] [RATE]: the end-to-end latency cost of
# log.write.caching=false (consumers see only synced records, issue 19).
# One ZooKeeper and one broker on loopback, log dir under $TMPDIR (whatever
# disk that is: say which with the figures); quire-perf e2e with acks=1
# and acks=all, write caching off (topic wc-off) and on (topic wc-on, the
# topic override write.caching=true). Everything it starts is stopped by
# PID; everything it makes is removed.
set -eu
build=$(cd "${1:?usage: writecaching.sh BUILD_DIR [RECORDS] [RATE]}" && pwd)
n=${2:-20000}
rate=${3:-2000}
here=$(cd "$(dirname "$0")" && pwd)
zk=$here/../tests/harness/zk.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qr-wc-XXXXXX")
bpid=
cleanup() {
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    "$zk" stop "$tmp/zk" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
port=$("$zk" free-port)
"$zk" start "$tmp/zk" "$port" >/dev/null
connect=127.0.0.1:$port/wc
cat >"$tmp/server.properties" <<PROPS
broker.id=0
listeners=PLAINTEXT://127.0.0.1:0
log.dirs=$tmp/logs
zookeeper.connect=$connect
num.partitions=1
PROPS
"$build/broker/quire-broker" -c "$tmp/server.properties" \
    -p "$tmp/port" 2>"$tmp/broker.log" &
bpid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$tmp/port" ] || { echo "broker did not start" >&2; exit 1; }
addr=$(cat "$tmp/port")
"$build/tools/quire-topics" --zookeeper "$connect" --create --topic wc-off \
    --partitions 1 >/dev/null
"$build/tools/quire-topics" --zookeeper "$connect" --create --topic wc-on \
    --partitions 1 --config write.caching=true >/dev/null
sleep 1
df -T "$tmp" | tail -1 | awk '{print "log dir on " $2 " (" $1 ")"}'
for acks in 1 all; do
    for t in wc-off wc-on; do
        printf '%s acks=%s: ' "$t" "$acks"
        "$build/tools/quire-perf" e2e --topic "$t" --bootstrap-server "$addr" \
            --num-records "$n" --throughput "$rate" --acks "$acks" \
            --record-size 100 2>/dev/null | tail -1
    done
done
