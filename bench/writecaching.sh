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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qr-wc-XXXXXX")
chroot=/wc
props=num.partitions=1
. "$here/onebroker.sh"
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
