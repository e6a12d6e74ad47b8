#!/usr/bin/env bash
# bench/connections.sh: one active producer and consumer beside IDLE idle
# connections (issue 14 item 5), on one broker, loopback only.
#   1. the pair alone: quire-perf produce (N records, unthrottled: the
#      throughput) and e2e (a producer at RATE msg/s and a consumer: the
#      send-to-poll latency);
#   2. IDLE connections opened to the broker and held open, silent (from
#      127.0.0.2.. 127.0.0.9 in turn, so no source address runs out of
#      ports), then the same e2e run beside them;
#   3. the pair alone again (the order effect).
# Printed: each run's rate and p50/p99/p99.9 with the load average, the
# ratios (with idle / alone, alone being the median of 1 and 3), and the
# broker's RSS before and with the idle connections: RSS per idle
# connection. Every connection is closed and every process stopped by PID
# at the end; the idle holder exits on its own after HOLD_S seconds too.
#
# Environment: QUIRE_BUILD_DIR [build-dev], IDLE [10000], N [500000],
# RATE [100000], HOLD_S [600], OUT [/tmp/quire-connections-<uid>]
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUIRE_BUILD_DIR:-$top/build-dev}
IDLE=${IDLE:-10000}
N=${N:-500000}
RATE=${RATE:-100000}
HOLD_S=${HOLD_S:-600}
OUT=${OUT:-${TMPDIR:-/tmp}/quire-connections-$(id -u)}
zksh=$top/tests/harness/zk.sh
py=/usr/bin/python3

die() { printf 'connections: %s\n' "$*" >&2; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

for bin in broker/quire-broker tools/quire-perf tools/quire-topics; do
    [ -x "$build/$bin" ] || die "no $build/$bin (set QUIRE_BUILD_DIR)"
done
[ -x "$py" ] || die "needs $py"
rm -rf "$OUT" && mkdir -p "$OUT/broker" || die "cannot create $OUT"
# the broker and the holder each need IDLE descriptors and more
# (each process its own: the broker IDLE + its files, the holder IDLE)
want=$((IDLE + 4096))
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$want" ] ||
    die "RLIMIT_NOFILE's hard limit $(ulimit -Hn) is below $want"
ulimit -n "$want" || die "cannot raise RLIMIT_NOFILE to $want"

zk_port=$("$zksh" free-port) || die "no free port"
"$zksh" start "$OUT/zk" "$zk_port" >"$OUT/zk.log" 2>&1 ||
    die "ZooKeeper did not start (see $OUT/zk.log)"
bpid= hpid=
cleanup() {
    [ -n "$hpid" ] && kill -TERM "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
    [ -n "$bpid" ] && kill -TERM "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    "$zksh" stop "$OUT/zk" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 1' INT TERM
connect=127.0.0.1:$zk_port/quire-connections
# max.connections.per.ip: the idle ones come from 8 addresses
cat >"$OUT/broker/server.properties" <<PROPS
broker.id=1
listeners=PLAINTEXT://127.0.0.1:0
zookeeper.connect=$connect
log.dirs=$OUT/broker/data
max.connections.per.ip=$((IDLE / 8 + 100))
max.connections=$((IDLE + 1000))
PROPS
"$build/broker/quire-broker" -c "$OUT/broker/server.properties" \
    -p "$OUT/broker/port" >"$OUT/broker/broker.log" 2>&1 &
bpid=$!
for _ in $(seq 1 300); do
    [ -s "$OUT/broker/port" ] && break
    kill -0 "$bpid" 2>/dev/null || die "the broker exited (see $OUT/broker/broker.log)"
    sleep 0.1
done
[ -s "$OUT/broker/port" ] || die "the broker did not start"
bootstrap=$(cat "$OUT/broker/port")
"$build/tools/quire-topics" --zookeeper "$connect" --create --topic conn \
    --partitions 1 --replication-factor 1 >/dev/null || die "cannot create the topic"

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$bpid/status"; }
conns() { ls "/proc/$bpid/fd" | wc -l; }
declare -A rate crate p50 p99 p999
# phase LABEL: the pair's throughput (produce N unthrottled, then consume
# them) and its latency (e2e, N records at RATE msg/s)
phase() {
    "$build/tools/quire-perf" produce --topic conn --num-records "$N" \
        --acks 1 --producer-property batch.size=262144 \
        --producer-property linger.ms=5 --bootstrap-server "$bootstrap" \
        --csv >"$OUT/$1-produce.csv" 2>"$OUT/$1-produce.log" ||
        echo "connections: produce $1 failed (see $OUT/$1-produce.log)"
    rate[$1]=$(sed -n 2p "$OUT/$1-produce.csv" | cut -d, -f5)
    "$build/tools/quire-perf" e2e --topic conn --num-records "$N" \
        --throughput "$RATE" --acks 1 --producer-property linger.ms=0 \
        --bootstrap-server "$bootstrap" --csv >"$OUT/$1.csv" 2>"$OUT/$1.log" ||
        echo "connections: e2e $1 failed (see $OUT/$1.log)"
    IFS=, read -r _ _ _ _ _ _ p50[$1] p99[$1] p999[$1] _ < <(sed -n 2p "$OUT/$1.csv")
    printf '%-8s produce %10.0f msg/s; e2e at %d msg/s: p50 %7s  p99 %7s  p99.9 %7s ms  (load %s)\n' \
        "$1" "${rate[$1]:-0}" "$RATE" "${p50[$1]:-}" "${p99[$1]:-}" "${p999[$1]:-}" "$(load)"
}

phase alone1
rss0=$(rss) fd0=$(conns)
host=${bootstrap%:*} port=${bootstrap##*:}
"$py" - "$host" "$port" "$IDLE" "$HOLD_S" "$OUT/holder.ready" <<'PY' >"$OUT/holder.log" 2>&1 &
import resource, signal, socket, sys, time
host, port, n, hold, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
socks, deadline = [], time.time() + 120
for i in range(n):
    if time.time() > deadline:
        sys.exit("only %d connections in 120 s" % len(socks))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.%d" % (2 + i % 8), 0))   # loopback sources only
    s.connect((host, port))
    socks.append(s)
open(ready, "w").write("%d\n" % len(socks))
end = time.time() + hold
while time.time() < end:
    time.sleep(1)
PY
hpid=$!
for _ in $(seq 1 1300); do
    [ -s "$OUT/holder.ready" ] && break
    kill -0 "$hpid" 2>/dev/null || die "the idle holder exited: $(cat "$OUT/holder.log")"
    sleep 0.1
done
[ -s "$OUT/holder.ready" ] || die "the idle connections did not open"
sleep 2
rss1=$(rss) fd1=$(conns)
echo "idle: $(cat "$OUT/holder.ready") connections open; broker fds $fd0 -> $fd1, RSS $rss0 -> $rss1 KiB (load $(load))"
phase idle
kill -TERM "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
hpid=
sleep 2
phase alone2

echo
echo "connections, one broker, N=$N records of 100 B, acks=1, e2e at $RATE msg/s; $(date -u '+%Y-%m-%d %H:%M UTC')"
awk -v r1="${rate[alone1]:-0}" -v r2="${rate[alone2]:-0}" -v ri="${rate[idle]:-0}" \
    -v q1="${p99[alone1]:-0}" -v q2="${p99[alone2]:-0}" -v qi="${p99[idle]:-0}" \
    -v rss0="$rss0" -v rss1="$rss1" -v idle="$IDLE" 'BEGIN {
    ra = (r1 + r2) / 2; qa = (q1 + q2) / 2
    printf "produce throughput with %d idle / alone (mean of before and after): %.2f (target >= 0.8)\n", idle, (ra > 0 ? ri / ra : 0)
    printf "p99 with idle / alone: %.2f (target <= 2)\n", (qa > 0 ? qi / qa : 0)
    printf "broker RSS per idle connection: %.1f KiB\n", (rss1 - rss0) / idle
}'
echo "files: $OUT"
