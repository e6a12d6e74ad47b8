#!/usr/bin/env bash
# bench/partitions.sh: one broker with 4, 1,000 and 10,000 partitions
# (issue 14 item 4). For each count P, in one run:
#   - a topic of P partitions; the time until the broker leads all of them;
#   - produce N records of 100 B, acks=1, round robin over the P
#     partitions (every partition gets N/P), then consume them;
#   - the broker's resources after the topic is created and after the
#     runs: RSS, open files, mmaps (/proc/<pid>/status, fd, maps);
# then, with every topic still there (4 + 1,000 + 10,000 partitions):
#   - the time a clean stop (SIGTERM) takes, from the signal to the
#     broker's exit (every partition closed and synced, the checkpoints
#     and clean-shutdown marker written);
#   - restart after a clean stop (SIGTERM) and after kill -9: the time
#     from exec to the log loaded, to listening, and to leading every
#     partition again; RSS at rest after each.
# The rate ratio (P partitions over 4) is the figure; absolute rates on a
# shared machine are not. Load averages are printed beside every figure.
#
# Environment: QUIRE_BUILD_DIR (an optimised build) [build-dev],
# N [2000000], COUNTS ["4 1000 10000"], OUT [/tmp/quire-partitions-<uid>],
# QUIRE_PRODUCER_PROPS ["batch.size=16384 linger.ms=5
# buffer.memory=268435456"]: the same for every P; 16 KiB batches (Kafka's
# default) so that 10,000 open batches fit buffer.memory; QT_ZK_HEAP [1g]
# (the harness ZooKeeper's heap); WAIT_S [300]. After kill -9 it waits for
# the dead broker's ZooKeeper session to expire before starting it again
# (18 s; not counted in the start-up time).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUIRE_BUILD_DIR:-$top/build-dev}
N=${N:-2000000}
COUNTS=${COUNTS:-4 1000 10000}
OUT=${OUT:-${TMPDIR:-/tmp}/quire-partitions-$(id -u)}
PPROPS=${QUIRE_PRODUCER_PROPS:-batch.size=16384 linger.ms=5 buffer.memory=268435456}
zksh=$top/tests/harness/zk.sh
# 10,000 partitions: 20,000 znodes and their watches outgrow the harness's
# default 256 MiB
export QT_ZK_HEAP=${QT_ZK_HEAP:-1g}
WAIT_S=${WAIT_S:-300} # longest wait for leadership / start-up

die() { printf 'partitions: %s\n' "$*" >&2; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
now_ms() { date +%s%3N; }

for bin in broker/quire-broker tools/quire-perf tools/quire-topics; do
    [ -x "$build/$bin" ] || die "no $build/$bin (set QUIRE_BUILD_DIR)"
done
rm -rf "$OUT" && mkdir -p "$OUT/broker" || die "cannot create $OUT"
# 10,000 partitions hold 10,000 files open (each active segment's log;
# its indexes are mapped, without a descriptor); the broker raises its soft
# limit to the hard one itself, and this raises the hard one where allowed
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

zk_port=$("$zksh" free-port) || die "no free port"
"$zksh" start "$OUT/zk" "$zk_port" >"$OUT/zk.log" 2>&1 ||
    die "ZooKeeper did not start (see $OUT/zk.log)"
bpid=
cleanup() {
    [ -n "$bpid" ] && kill -TERM "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    "$zksh" stop "$OUT/zk" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 1' INT TERM
connect=127.0.0.1:$zk_port/quire-partitions
cat >"$OUT/broker/server.properties" <<PROPS
broker.id=1
listeners=PLAINTEXT://127.0.0.1:0
zookeeper.connect=$connect
log.dirs=$OUT/broker/data
PROPS

# start_broker LABEL: starts it, waits for the port; sets t_exec
start_broker() {
    rm -f "$OUT/broker/port"
    t_exec=$(now_ms)
    "$build/broker/quire-broker" -c "$OUT/broker/server.properties" \
        -p "$OUT/broker/port" >"$OUT/broker/broker-$1.log" 2>&1 &
    bpid=$!
    for _ in $(seq 1 $((WAIT_S * 10))); do
        [ -s "$OUT/broker/port" ] && break
        kill -0 "$bpid" 2>/dev/null || die "the broker exited (see $OUT/broker/broker-$1.log)"
        sleep 0.1
    done
    [ -s "$OUT/broker/port" ] || die "the broker did not start"
    t_port=$(now_ms)
    bootstrap=$(cat "$OUT/broker/port")
}

# leading_count LOG: partitions the broker announced it leads
leading_count() { grep -c ' SERVER leading ' "$1"; }

# wait_leading LOG COUNT: until the broker leads COUNT partitions
wait_leading() {
    local i
    for i in $(seq 1 $((WAIT_S * 10))); do
        [ "$(leading_count "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    echo "partitions: only $(leading_count "$1") of $2 led after ${WAIT_S}s"
    return 1
}

res() { # label: the broker's resources now
    local rss fds maps
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$bpid/status")
    fds=$(ls "/proc/$bpid/fd" | wc -l)
    maps=$(wc -l <"/proc/$bpid/maps")
    printf '%-34s RSS %7d KiB  open files %6d  mmaps %6d  load %s\n' \
        "$1" "$rss" "$fds" "$maps" "$(load)"
}

pargs=()
for kv in $PPROPS; do pargs+=(--producer-property "$kv"); done
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$bpid/stat"; }
hz=$(getconf CLK_TCK)

start_broker first
res "broker, no topics"
total=0
declare -A prate crate
for P in $COUNTS; do
    t0=$(now_ms)
    "$build/tools/quire-topics" --zookeeper "$connect" --create \
        --topic "p$P" --partitions "$P" --replication-factor 1 >/dev/null ||
        die "cannot create p$P"
    total=$((total + P))
    wait_leading "$OUT/broker/broker-first.log" "$total" || die "leadership"
    echo "p$P: leading all $P partitions $(( $(now_ms) - t0 )) ms after create (load $(load))"
    res "p$P created"
    c0=$(cpu_ticks)
    "$build/tools/quire-perf" produce --topic "p$P" --num-records "$N" \
        --partitions "$P" --acks 1 "${pargs[@]}" --bootstrap-server \
        "$bootstrap" --csv >"$OUT/produce-$P.csv" 2>"$OUT/produce-$P.log" ||
        echo "partitions: produce p$P failed (see $OUT/produce-$P.log)"
    c1=$(cpu_ticks)
    prate[$P]=$(sed -n 2p "$OUT/produce-$P.csv" | cut -d, -f5)
    echo "p$P produce: ${prate[$P]:-n/a} msg/s, broker $(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v n="$N" 'BEGIN { printf "%.0f", (b - a) / hz * 1e9 / n }') ns/msg (load $(load))"
    "$build/tools/quire-perf" consume --topic "p$P" --num-records "$N" \
        --bootstrap-server "$bootstrap" --csv >"$OUT/consume-$P.csv" \
        2>"$OUT/consume-$P.log" ||
        echo "partitions: consume p$P failed (see $OUT/consume-$P.log)"
    crate[$P]=$(sed -n 2p "$OUT/consume-$P.csv" | cut -d, -f5)
    echo "p$P consume: ${crate[$P]:-n/a} msg/s (load $(load))"
    res "p$P after produce and consume"
done

# zk_has PATH: ZooKeeper holds the ephemeral PATH (the "dump" command)
zk_has() {
    local out
    out=$(exec 3<>"/dev/tcp/127.0.0.1/$zk_port" && printf dump >&3 && cat <&3) ||
        return 1
    grep -q "$1\$" <<<"$out"
}

restart() { # label, signal
    local label=$1 sig=$2 i t_kill
    t_kill=$(now_ms)
    kill "-$sig" "$bpid"
    wait "$bpid" 2>/dev/null
    printf 'stop by SIG%s (%d partitions): exited after %d ms (load %s)\n' \
        "$sig" "$total" $(($(now_ms) - t_kill)) "$(load)"
    bpid=
    # after kill -9 the dead broker's registration lives until its session
    # expires (zookeeper.session.timeout.ms, 18 s); a broker started before
    # that refuses to run (its id is taken), as Kafka's does: wait for it
    # (not counted in the start-up time)
    for i in $(seq 1 60); do
        zk_has /quire-partitions/brokers/ids/1 || break
        sleep 1
    done
    start_broker "$label"
    wait_leading "$OUT/broker/broker-$label.log" "$total" || die "leadership after $label"
    t_led=$(now_ms)
    printf 'restart after %s (%d partitions): listening after %d ms, leading all after %d ms; log: %s (load %s)\n' \
        "$label" "$total" $((t_port - t_exec)) $((t_led - t_exec)) \
        "$(grep -m1 'partitions loaded' "$OUT/broker/broker-$label.log" | cut -d' ' -f5-)" "$(load)"
    sleep 2
    res "at rest after $label"
}
restart clean TERM
restart kill9 KILL

echo
echo "partitions, one broker, N=$N records of 100 B, acks=1, round robin; $(date -u '+%Y-%m-%d %H:%M UTC')"
first=${COUNTS%% *}
printf '%-12s %14s %8s %14s %8s\n' partitions "produce msg/s" "of $first" "consume msg/s" "of $first"
for P in $COUNTS; do
    printf '%-12s %14.0f %8s %14.0f %8s\n' "$P" "${prate[$P]:-0}" \
        "$(awk -v a="${prate[$P]:-0}" -v b="${prate[$first]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')" \
        "${crate[$P]:-0}" \
        "$(awk -v a="${crate[$P]:-0}" -v b="${crate[$first]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
done
echo "files: $OUT"
