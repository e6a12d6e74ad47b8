#!/bin/sh
# catchup.sh BUILD_DIR [MIB]: how fast a follower catches up (issue 16's
# benchmark: a follower MIB behind, default 1024, should catch up at at
# least 0.5x the rate quire-perf consume reads the same log, in the same
# run). Never asserted: it prints the figures.
#
# One ZooKeeper and two brokers on loopback, log dirs under $TMPDIR (say
# which disk with the figures). Topic `catchup`, one partition, replicas
# [1,2] written to ZooKeeper (Kafka's layout) with zkCli.sh. Broker 2 is
# stopped; MIB MiB of 1000-byte records go to broker 1 (quire-perf
# produce, acks=1); quire-perf consume reads them all back from broker 1;
# then broker 2 starts and the time until its log holds every byte of
# broker 1's is measured (from its start: registration and recovery
# included). CATCHUP_PROPS: more server.properties lines for both brokers
# (e.g. log.write.caching=true). Everything it starts is stopped by PID; everything it makes
# is removed.
set -eu
build=$(cd "${1:?usage: catchup.sh BUILD_DIR [MIB]}" && pwd)
mib=${2:-1024}
here=$(cd "$(dirname "$0")" && pwd)
zk=$here/../tests/harness/zk.sh
zkcli=${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qr-catchup-XXXXXX")
b1=
b2=
stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() {
    stop_pid "$b2" || true
    stop_pid "$b1" || true
    "$zk" stop "$tmp/zk" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
# bytes of the partition's segment files on broker $1 (their sizes: reading
# them would copy up to the whole log every poll, beside the follower)
log_bytes() {
    find "$tmp/logs$1/catchup-0" -name '*.log' -printf '%s\n' 2>/dev/null |
        awk '{ s += $1 } END { print s + 0 }'
}
start_broker() {
    rm -f "$tmp/port$1"
    cat >"$tmp/server$1.properties" <<PROPS
broker.id=$1
listeners=PLAINTEXT://127.0.0.1:0
log.dirs=$tmp/logs$1
zookeeper.connect=$connect
auto.create.topics.enable=false
${CATCHUP_PROPS:-}
PROPS
    "$build/broker/quire-broker" -c "$tmp/server$1.properties" \
        -p "$tmp/port$1" 2>>"$tmp/broker$1.log" &
    eval "b$1=\$!"
    i=0
    while [ ! -s "$tmp/port$1" ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$tmp/port$1" ] || { echo "broker $1 did not start" >&2; exit 1; }
}

port=$("$zk" free-port)
"$zk" start "$tmp/zk" "$port" >/dev/null
connect=127.0.0.1:$port/catchup
start_broker 1
start_broker 2
"$zkcli" -server "127.0.0.1:$port" create /catchup/brokers/topics/catchup \
    '{"version":1,"partitions":{"0":[1,2]}}' >/dev/null 2>&1
addr=$(cat "$tmp/port1")
i=0
until grep -q 'leading catchup-0' "$tmp/broker1.log" || [ $i -ge 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
stop_pid "$b2"
b2=
records=$((mib * 1048576 / 1000))
df -T "$tmp" | tail -1 | awk '{print "log dirs on " $2 " (" $1 ")"}'
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "produce $records records of 1000 bytes to broker 1 (broker 2 stopped):"
"$build/tools/quire-perf" produce --topic catchup --bootstrap-server "$addr" \
    --num-records "$records" --record-size 1000 --acks 1 2>/dev/null | tail -1
total=$(log_bytes 1)
echo "consume them from broker 1:"
"$build/tools/quire-perf" consume --topic catchup --bootstrap-server "$addr" \
    --num-records "$records" --record-size 1000 --csv 2>/dev/null >"$tmp/consume.csv"
cat "$tmp/consume.csv"
t0=$(now_ms)
start_broker 2
echo "broker 2 registered after $(($(now_ms) - t0)) ms"
while [ "$(log_bytes 2)" -lt "$total" ]; do
    sleep 0.05
    if [ $(($(now_ms) - t0)) -gt 600000 ]; then
        echo "broker 2 did not catch up in 10 minutes" >&2
        exit 1
    fi
done
t1=$(now_ms)
ms=$((t1 - t0))
[ "$ms" -gt 0 ] || ms=1
awk -v b="$total" -v ms="$ms" 'BEGIN {
    printf "follower catch-up: %d bytes in %d ms = %.1f MiB/s\n",
        b, ms, b / 1048576 / (ms / 1000) }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
