# shellcheck shell=bash
# kafka_harness.sh: sourced by kafka_clients.sh, kafka_groups.sh and
# kafka_admin.sh (issue 13): their checks, bounded waits, a state dir
# removed at exit and two real brokers, each with a quire and a Kafka
# listener, against the harness's ZooKeeper ($QUIRE_TEST_ZK), stopped by
# PID. Not a test by itself.
#
# Sets: top_src, top_build, zksh, state, zk (the chroot: $1 of
# kafka_harness_init), pids, qport[id], kport[id], fail.

# checks and waits
fail=0
check() { # description, condition (eval'd)
    if eval "$2"; then echo "ok - $1"; else echo "FAIL - $1"; fail=1; fi
}
# waits up to $1 tenths of a second for a condition (eval'd)
wait_for() {
    local n=$1
    shift
    for _ in $(seq 1 "$n"); do
        eval "$1" && return 0
        sleep 0.1
    done
    return 1
}

# kafka_harness_init NAME: skips (exit 99) without ZooKeeper, kcat or the
# Python clients; makes the state dir and the chroot /NAME<pid>
kafka_harness_init() {
    top_src=$(cd "$srcdir/../.." && pwd)
    top_build=$(cd "${top_builddir:-../..}" && pwd)
    zksh=$top_src/tests/harness/zk.sh
    [ -n "${QUIRE_TEST_ZK:-}" ] || { echo "QUIRE_TEST_ZK is not set"; exit 99; }
    command -v kcat >/dev/null || { echo "kcat missing"; exit 99; }
    /usr/bin/python3 -c 'import kafka, confluent_kafka' || exit 99
    state=$(mktemp -d)
    zk="$QUIRE_TEST_ZK/$1$$"
    pids=()
    trap kafka_harness_cleanup EXIT
}

kafka_harness_cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$state"
}

# kafka_brokers_start [PROPERTY-LINES]: brokers 1 and 2, each listening
# for quire's protocol and Kafka's on free ports, with the given extra
# server.properties lines; returns once both wrote their port files
# (exit 99 with the broker's log when one did not)
declare -A qport kport
kafka_brokers_start() {
    local id
    for id in 1 2; do
        qport[$id]=$("$zksh" free-port) || exit 99
        kport[$id]=$("$zksh" free-port) || exit 99
        cat >"$state/b$id.properties" <<PROPS
broker.id=$id
listeners=PLAINTEXT://127.0.0.1:${qport[$id]},KAFKA://127.0.0.1:${kport[$id]}
log.dirs=$state/logs$id
zookeeper.connect=$zk
${1:-}
PROPS
        "$top_build/broker/quire-broker" -p "$state/b$id.port" \
            "$state/b$id.properties" >"$state/b$id.log" 2>&1 &
        pids+=($!)
    done
    for id in 1 2; do
        wait_for 300 '[ -s "$state/b$id.port" ]' ||
            { cat "$state/b$id.log"; exit 99; }
    done
}
