#!/bin/bash
# kafkabench.sh: librdkafka through quire's Kafka listener beside libquire
# through quire's own protocol (issue 13's benchmark), same records, same
# broker, same run.
#
#   N=2000000 ROUNDS=3 QUIRE_BUILD_DIR=build bench/kafkabench.sh
#
# Starts ZooKeeper and one broker with both listeners
# (listeners=PLAINTEXT://...,KAFKA://...), then in each round, on fresh
# 4-partition topics and alternating which goes first:
#   quire-perf produce (acks=1, 100 B)  and  rdkperf produce (acks=1, 100 B)
#   quire-perf consume and rdkperf consume of the topic each wrote, and
#   rdkperf consume of the topic quire-perf wrote (cross-read)
# and prints records/s for each, the medians over the rounds, the two
# ratios librdkafka/libquire (the issue asks >= 0.5 both ways) and
# librdkafka's produce rate against the ~850,000 msg/s published for Kafka.
# Hold the bench lock: flock /tmp/quire-bench.lock bench/kafkabench.sh
set -eu
n=${N:-2000000}
rounds=${ROUNDS:-3}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${QUIRE_BUILD_DIR:-$here/../build}" && pwd)
zk=$here/../tests/harness/zk.sh
rdk=$build/bench/rdkperf
[ -x "$rdk" ] || { echo "no $rdk (configure did not find librdkafka-dev)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qr-kbench-XXXXXX")
bpid=
cleanup() {
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    "$zk" stop "$tmp/zk" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
zport=$("$zk" free-port)
"$zk" start "$tmp/zk" "$zport" >/dev/null
connect=127.0.0.1:$zport/kbench
qport=$("$zk" free-port)
kport=$("$zk" free-port)
cat >"$tmp/server.properties" <<PROPS
broker.id=0
listeners=PLAINTEXT://127.0.0.1:$qport,KAFKA://127.0.0.1:$kport
log.dirs=$tmp/logs
zookeeper.connect=$connect
PROPS
"$build/broker/quire-broker" -c "$tmp/server.properties" \
    -p "$tmp/port" 2>"$tmp/broker.log" &
bpid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$tmp/port" ] || { echo "broker did not start" >&2; cat "$tmp/broker.log" >&2; exit 1; }
qaddr=127.0.0.1:$qport
kaddr=127.0.0.1:$kport
mktopic() {
    "$build/tools/quire-topics" --zookeeper "$connect" --create --topic "$1" \
        --partitions 4 >/dev/null
}
qperf() { # produce|consume topic -> records/s
    "$build/tools/quire-perf" "$1" --topic "$2" --bootstrap-server "$qaddr" \
        --num-records "$n" --record-size 100 --acks 1 --csv 2>/dev/null |
        tail -1 | cut -d, -f5
}
rperf() { # produce|consume topic -> records/s
    "$rdk" "$1" "$kaddr" "$2" "$n" 2>>"$tmp/rdkperf.log" | awk '{print $3}'
}
echo "$n records of 100 bytes per run, acks=1, 4 partitions, $rounds rounds;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
qp="" rp="" qc="" rc="" xc=""
r=0
while [ $r -lt "$rounds" ]; do
    tq=q$r tr=r$r
    mktopic "$tq"; mktopic "$tr"; sleep 1
    if [ $((r % 2)) -eq 0 ]; then
        a=$(qperf produce "$tq"); b=$(rperf produce "$tr")
        c=$(qperf consume "$tq"); d=$(rperf consume "$tr"); x=$(rperf consume "$tq")
    else
        b=$(rperf produce "$tr"); a=$(qperf produce "$tq")
        x=$(rperf consume "$tq"); d=$(rperf consume "$tr"); c=$(qperf consume "$tq")
    fi
    echo "round $((r + 1)): produce libquire ${a:-?} rdkafka ${b:-?};" \
        "consume libquire ${c:-?} rdkafka ${d:-?} (rdkafka reading libquire's" \
        "topic ${x:-?}) msg/s; load $(cut -d' ' -f1 /proc/loadavg)"
    qp="$qp ${a:-0}" rp="$rp ${b:-0}" qc="$qc ${c:-0}" rc="$rc ${d:-0}" xc="$xc ${x:-0}"
    r=$((r + 1))
done
median() { printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
mqp=$(median "$qp") mrp=$(median "$rp") mqc=$(median "$qc") mrc=$(median "$rc") mxc=$(median "$xc")
echo "median produce: libquire $mqp, rdkafka $mrp msg/s;" \
    "ratio rdkafka/libquire $(echo "$mrp $mqp" | awk '{printf "%.2f", $1/$2}') (>= 0.5 asked)"
echo "median consume: libquire $mqc, rdkafka $mrc msg/s;" \
    "ratio rdkafka/libquire $(echo "$mrc $mqc" | awk '{printf "%.2f", $1/$2}') (>= 0.5 asked);" \
    "rdkafka reading libquire's topic $mxc ($(echo "$mxc $mqc" | awk '{printf "%.2f", $1/$2}'))"
echo "rdkafka produce against quire: $mrp msg/s," \
    "$(echo "$mrp" | awk '{printf "%.2f", $1/850000}') x the ~850,000 msg/s published against Kafka"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -s "$tmp/rdkperf.log" ] && { echo "rdkperf errors:"; sort "$tmp/rdkperf.log" | uniq -c | head -5; }
exit 0
