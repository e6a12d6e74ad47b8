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
# then broker 2 starts, and the time from its "following broker 1" log
# line (its own clock, milliseconds; start-up, recovery and registration
# before it are not counted) until its log holds every byte of broker 1's
# is measured. Both rates in MiB/s, then their ratio. The time until the
# leader puts broker 2 back in the ISR (its log line) is printed as well.
# CATCHUP_PROPS: more server.properties lines for both brokers (e.g.
# log.write.caching=true). CATCHUP_ATTACH: a command run in the background
# with broker 2's PID appended once it is started (e.g. "perf record -g -o
# /tmp/f.data -p", "strace -c -f -o /tmp/f.txt -p"). Everything it starts
# is stopped by PID; everything it makes is removed.
set -eu
build=$(cd "${1:?usage: catchup.sh BUILD_DIR [MIB]}" && pwd)
[ -x "$build/broker/quire-broker" ] || {
    echo "catchup.sh: no $build/broker/quire-broker" >&2
    exit 2
}
mib=${2:-1024}
here=$(cd "$(dirname "$0")" && pwd)
zk=$here/../tests/harness/zk.sh
zkcli=${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qr-catchup-XXXXXX")
b1=
b2=
att=
stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() {
    stop_pid "$b2" || true
    [ -z "$att" ] || { kill -INT "$att" 2>/dev/null; wait "$att" 2>/dev/null; } || true
    stop_pid "$b1" || true
    "$zk" stop "$tmp/zk" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
# bytes of the partition's segment files on broker $1 (their sizes: reading
# them would copy up to the whole log every poll, beside the follower)
log_bytes() {
    set -- "$tmp/logs$1/catchup-0/"*.log
    [ -e "$1" ] || { echo 0; return; }
    stat -c %s "$@" | awk '{ s += $1 } END { print s + 0 }'
}
# milliseconds since the epoch of the first line of log $1 matching $2
# (the broker's timestamps: 2026-12-04T12:00:00.123Z, UTC)
line_ms() {
    ts=$(grep -m1 -e "$2" "$1" | cut -d' ' -f1)
    [ -n "$ts" ] || return 1
    s=$(date -u -d "${ts%.*}" +%s) || return 1
    ms=${ts##*.}
    echo "$s ${ms%Z}" | awk '{ printf "%.0f\n", $1 * 1000 + $2 }'
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
    if [ "$1" = 2 ] && [ -n "$attach" ]; then
        $attach "$b2" >"$tmp/attach.out" 2>&1 &
        att=$!
    fi
    i=0
    while [ ! -s "$tmp/port$1" ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$tmp/port$1" ] || { echo "broker $1 did not start" >&2; exit 1; }
}

attach=
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
# quire-perf's seconds column; its MB are 10^6 bytes: the same bytes per
# second in MiB
consume=$(awk -F, 'NR == 2 { printf "%.1f", $6 * 1e6 / 1048576 }' "$tmp/consume.csv")
attach=${CATCHUP_ATTACH:-}
: >"$tmp/broker2.log"
start_broker 2
i=0
until grep -q 'catchup-0: following broker 1' "$tmp/broker2.log"; do
    sleep 0.01
    i=$((i + 1))
    [ $i -lt 6000 ] || { echo "broker 2 did not follow broker 1" >&2; exit 1; }
done
t0=$(line_ms "$tmp/broker2.log" 'catchup-0: following broker 1')
echo "broker 2 follows broker 1 from $t0 (epoch ms, its log)"
while [ "$(log_bytes 2)" -lt "$total" ]; do
    sleep 0.01
    if [ $(($(now_ms) - t0)) -gt 600000 ]; then
        echo "broker 2 did not catch up in 10 minutes" >&2
        exit 1
    fi
done
t1=$(now_ms)
ms=$((t1 - t0))
[ "$ms" -gt 0 ] || ms=1
i=0
until grep -q 'ISR \[1\] -> \[1,2\]' "$tmp/broker1.log" || [ $i -ge 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
isr=$(line_ms "$tmp/broker1.log" 'ISR \[1\] -> \[1,2\]') || isr=
# the machine's limit for what the follower must do and the consumer need
# not: put the same bytes into pages the page cache has not held yet (a
# new file on the same filesystem, 1 MiB writes, no sync, as the follower
# appends). On a VM that hands freed memory back to its host, first-touch
# pages cost far more than pages read again (the consumer's).
f0=$(now_ms)
dd if=/dev/zero of="$tmp/floor" bs=1048576 count="$(((total + 1048575) / 1048576))" \
    2>/dev/null
f1=$(now_ms)
rm -f "$tmp/floor"
fms=$((f1 - f0))
[ "$fms" -gt 0 ] || fms=1
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v b="$total" -v ms="$ms" -v c="$consume" -v isr="$isr" -v t0="$t0" \
    -v fms="$fms" 'BEGIN {
    r = b / 1048576 / (ms / 1000)
    printf "quire-perf consume: %.1f MiB/s\n", c
    printf "follower catch-up: %d bytes in %d ms = %.1f MiB/s", b, ms, r
    if (isr != "")
        printf " (back in the ISR after %d ms)", isr - t0
    printf "\n"
    printf "ratio catch-up / consume: %.2f\n", r / c
    f = b / 1048576 / (fms / 1000)
    printf "write floor (dd into a new file, same filesystem): %.1f MiB/s\n", f
    printf "ratio catch-up / write floor: %.2f\n", r / f }'
