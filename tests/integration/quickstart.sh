#!/usr/bin/env bash
# quickstart.sh: deploy/quickstart as a user runs it (issue 6): against
# this build (QUIRE_BUILD_DIR), with its own ZooKeeper and 3 brokers on
# free loopback ports and a temporary state directory. Checks what it
# consumed, runs it a second time (the cluster and topic are reused),
# then deploy/local-cluster stop and status.
set -u
srcdir=${srcdir:-.}
top_src=$(cd "$srcdir/../.." && pwd)
top_build=$(cd "${top_builddir:-../..}" && pwd)
zksh=$top_src/tests/harness/zk.sh

# an integration test without the harness's ZooKeeper is a hard error
[ -n "${QUIRE_TEST_ZK:-}" ] || { echo "QUIRE_TEST_ZK is not set"; exit 99; }

fail=0
check() { # description, condition (eval'd)
    if eval "$2"; then echo "ok - $1"; else echo "FAIL - $1"; fail=1; fi
}

port_free() { # true when no TCP socket uses port $1
    ! awk -v p=":$(printf '%04X' "$1")" 'NR > 1 &&
        substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# three consecutive free ports for the brokers
for _ in $(seq 1 50); do
    base=$("$zksh" free-port) || exit 99
    port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)) &&
        break
done
state=$(mktemp -d)
export QUIRE_BUILD_DIR=$top_build QUIRE_LOCAL_DIR=$state/cluster
export QUIRE_ZK_PORT=$("$zksh" free-port) QUIRE_BROKER_PORT_BASE=$base
trap '"$top_src/deploy/local-cluster" stop >/dev/null 2>&1; rm -rf "$state"' \
    EXIT

for run in 1 2; do
    start=$SECONDS
    timeout 180 "$top_src/deploy/quickstart" >"$state/out" 2>&1
    rc=$?
    cat "$state/out"
    check "quickstart run $run exits 0" '[ $rc -eq 0 ]'
    check "run $run: the 10 records came back" \
        'grep -q "10 of them from this run" "$state/out"'
    check "run $run: every record printed with partition and offset" \
        '[ "$(grep -c "^Partition:[0-5]	Offset:[0-9]*	key-[0-9]*	quickstart run-" "$state/out")" -ge 10 ]'
    check "run $run: two group members shared the partitions and got the 10" \
        'grep -q "group quickstart-group: 2 member(s) owned partitions and consumed 10 " "$state/out"'
    check "run $run: describe showed the group's lag column" \
        'grep -q "^TOPIC  *PARTITION  *CURRENT-OFFSET  *LOG-END-OFFSET  *LAG  *OWNER" "$state/out"'
    check "run $run: it says how to stop" \
        'grep -q "local-cluster stop" "$state/out"'
    # issue 18 item 11: the line it prints makes the tools' default right
    check "run $run: its export QUIRE_ZOOKEEPER line points the tools at it" \
        '( eval "$(grep "^  export QUIRE_ZOOKEEPER=" "$state/out")" &&
           "$top_build/tools/quire-topics" --list | grep -qx quickstart )'
    echo "# run $run took $((SECONDS - start)) s"
done
check "the second run reused the topic" \
    'grep -q "topic quickstart exists already" "$state/out"'
check "the second run read both runs' records" \
    'grep -q "consumed 20 record(s)" "$state/out"'

"$top_src/deploy/local-cluster" stop
"$top_src/deploy/local-cluster" status
check "status after stop says stopped (exit 1)" '[ $? -eq 1 ]'
exit $fail
