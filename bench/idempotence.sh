#!/bin/sh
# idempotence.sh BUILD_DIR [RECORDS] [ROUNDS]: the throughput cost of
# enable.idempotence (issue 22; Kafka's own cost is a few percent, the
# target here is at most 5%). One ZooKeeper and one broker on loopback, log
# dir under $TMPDIR (say which disk with the figures); quire-perf produce
# with acks=all (which idempotence needs), 100-byte records, on and off in
# alternating rounds on two topics of 4 partitions, so both see the same
# machine; prints each round and the median records/s of each, and the
# ratio. Everything it starts is stopped by PID; everything it makes is
# removed.
set -eu
build=$(cd "${1:?usage: idempotence.sh BUILD_DIR [RECORDS] [ROUNDS]}" && pwd)
n=${2:-300000}
rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qr-idem-XXXXXX")
chroot=/idem
props=
. "$here/onebroker.sh"
for t in idem-on idem-off; do
    "$build/tools/quire-topics" --zookeeper "$connect" --create --topic "$t" \
        --partitions 4 >/dev/null
done
sleep 1
df -T "$tmp" | tail -1 | awk '{print "log dir on " $2 " (" $1 ")"}'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$n records of 100 bytes per run, acks=all, $rounds rounds"
cpu() { # CPU ticks (user + system) of the broker so far
    awk '{print $14 + $15}' "/proc/$bpid/stat"
}
run() { # topic true|false -> "records/s broker-ticks"
    c0=$(cpu)
    rate=$("$build/tools/quire-perf" produce --topic "$1" \
        --bootstrap-server "$addr" --num-records "$n" --record-size 100 \
        --acks all --csv --producer-property "enable.idempotence=$2" \
        2>/dev/null | tail -1 | cut -d, -f5)
    echo "$rate $(($(cpu) - c0))"
}
on=""
off=""
ratios=""
ton=0
toff=0
r=0
while [ $r -lt "$rounds" ]; do
    if [ $((r % 2)) -eq 0 ]; then
        a=$(run idem-on true); b=$(run idem-off false)
    else
        b=$(run idem-off false); a=$(run idem-on true)
    fi
    set -- $a $b
    echo "round $((r + 1)): on $1 rec/s (broker $2 ticks), off $3 rec/s (broker $4 ticks)," \
        "load average $(cut -d' ' -f1 /proc/loadavg)"
    on="$on $1"
    off="$off $3"
    ratios="$ratios $(echo "$1 $3" | awk '{printf "%.4f", $1/$2}')"
    ton=$((ton + $2))
    toff=$((toff + $4))
    r=$((r + 1))
done
median() { printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "median: on $(median "$on") rec/s, off $(median "$off") rec/s;" \
    "median of the rounds' on/off ratios $(median "$ratios")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "broker CPU over all rounds: on $ton ticks, off $toff ticks" \
    "(on/off $(echo "$ton $toff" | awk '{printf "%.3f", $1/$2}'))"
grep -c "IDEMP" "$tmp/broker.log" | awk '{print "broker IDEMP log lines: " $1}'
