#!/usr/bin/env bash
# kafka_groups.sh: Kafka-protocol consumer groups against quire (issue 13,
# item 4), with the harness's real ZooKeeper and two real brokers (each
# with a quire and a Kafka listener), stopped by PID.
#   1. two python3-confluent-kafka members of one group split a 6-partition
#      topic; every record is committed and read exactly once; the group is
#      in quire-consumer-groups --list, --describe shows lag 0, and
#      kafka-python's admin client lists and describes it (Stable, 2);
#   2. one member leaves (close: LeaveGroup): the other takes all six;
#      records produced then are read once, by it;
#   3. it stops; a restarted member starts from the committed offsets
#      (reads only what came after), as kafka-python's OffsetFetch says;
#   4. a python3-kafka KafkaConsumer with group_id reads the topic and
#      commits (lag 0), kcat -G reads it, the broker that does not
#      coordinate a group answers NOT_COORDINATOR, and a group id that
#      ZooKeeper-coordinated members use is refused;
#   5. the reverse: a libquire ZooKeeper member (quire-console-consumer
#      --group) is refused while a confluent-kafka member holds the group,
#      and joins once it left;
#   6. commit metadata round trip (kafka-python, generation -1), and
#      OFFSET_METADATA_TOO_LARGE past offset.metadata.max.bytes;
#   7. static membership: a member with group.instance.id killed and
#      restarted within its session timeout gets its partitions back and
#      the other member sees no rebalance.
# Every wait is a bounded poll; no assertion is about time.
set -u
srcdir=${srcdir:-.}
# shellcheck source=kafka_harness.sh
. "$srcdir/kafka_harness.sh"
kafka_harness_init kafka_groups
py="/usr/bin/python3 $srcdir/kafka_groups.py"
topics=$top_build/tools/quire-topics
groups=$top_build/tools/quire-consumer-groups
ccons=$top_build/tools/quire-console-consumer

kafka_brokers_start "num.network.threads=2
group.initial.rebalance.delay.ms=500"
kafka=127.0.0.1:${kport[1]},127.0.0.1:${kport[2]}
"$topics" --zookeeper "$zk" --create --topic gt --partitions 6 \
    --replication-factor 1 >/dev/null || exit 99
wait_for 200 'timeout 20 kcat -b "$kafka" -L -t gt 2>/dev/null |
    grep -q "partition 5, leader [12],"' || exit 99

# produce N records per partition: values "<tag>-<p>-<i>"
produce() { # tag count
    for p in 0 1 2 3 4 5; do
        seq 1 "$2" | sed "s/^/$1-$p-/" |
            timeout 30 kcat -b "$kafka" -P -t gt -p "$p" || exit 99
    done
}
records() { cat "$state"/m*/records 2>/dev/null | awk '{print $3}' | sort; }
start_member() { # name
    mkdir -p "$state/$1"
    $py member "$kafka" gt grp "$state/$1" 2>"$state/$1.err" &
    pids+=($!)
    eval "pid_$1=$!"
}
last_assign() { tail -n 1 "$state/$1/assign" 2>/dev/null; }

# ---- 1. two members split the partitions ----
produce a 10
start_member m1
start_member m2
split() { # [member member]
    local a b
    a=$(last_assign "${1:-m1}")
    b=$(last_assign "${2:-m2}")
    [ -n "$a" ] && [ -n "$b" ] &&
        [ "$(echo "$a $b" | tr ' ' '\n' | sort -n | tr '\n' ' ')" = \
            "0 1 2 3 4 5 " ]
}
wait_for 600 split
check "two members split the six partitions ($(last_assign m1) | $(last_assign m2))" split
wait_for 600 '[ "$(records | wc -l)" -ge 60 ]'
check "the 60 records read once each by the group" \
    '[ "$(records | uniq | wc -l)" -eq 60 ] && [ "$(records | wc -l)" -eq 60 ]'
check "both members read some" \
    '[ -s "$state/m1/records" ] && [ -s "$state/m2/records" ]'
check "quire-consumer-groups --list shows the group" \
    '"$groups" --zookeeper "$zk" --list | grep -qx grp'
lag0() { # group: six partitions of gt, each with lag 0
    "$groups" --zookeeper "$zk" --describe --group "$1" >"$state/desc" 2>&1
    [ "$(awk '$1 == "gt" && $5 == 0' "$state/desc" | wc -l)" -eq 6 ]
}
wait_for 100 'lag0 grp'
cat "$state/desc"
check "quire-consumer-groups --describe: committed, lag 0" 'lag0 grp'
$py admin "$kafka" grp >"$state/admin" 2>&1
cat "$state/admin"
check "kafka-python ListGroups lists it, DescribeGroups: Stable, 2 members" \
    'grep -qx listed "$state/admin" && grep -qx "Stable 2" "$state/admin"'

# ---- 2. one leaves: the other takes all six ----
touch "$state/m2/stop"
wait "$pid_m2"; rc=$?
check "the leaving member closed cleanly" "[ $rc -eq 0 ]"
wait_for 600 '[ "$(last_assign m1)" = "0 1 2 3 4 5" ]'
check "after the leave one member holds all six" \
    '[ "$(last_assign m1)" = "0 1 2 3 4 5" ]'
produce b 10
wait_for 600 '[ "$(records | wc -l)" -ge 120 ]'
check "120 records read once each" \
    '[ "$(records | uniq | wc -l)" -eq 120 ] && [ "$(records | wc -l)" -eq 120 ]'
check "the b records all by the remaining member" \
    '[ "$(grep -c " b-" "$state/m1/records")" -eq 60 ]'

# ---- 3. restart from the committed offsets ----
touch "$state/m1/stop"
wait "$pid_m1"
$py committed "$kafka" gt grp 6 >"$state/committed" 2>&1
cat "$state/committed"
check "OffsetFetch: 20 committed on each partition" \
    '[ "$(grep -c " 20$" "$state/committed")" -eq 6 ]'
produce c 1
start_member m3
wait_for 600 '[ "$(records | wc -l)" -ge 126 ]'
touch "$state/m3/stop"
wait "$pid_m3"
check "the restarted member read only the 6 new records" \
    '[ "$(wc -l <"$state/m3/records")" -eq 6 ] &&
     [ "$(grep -c " c-" "$state/m3/records")" -eq 6 ] &&
     [ "$(records | uniq | wc -l)" -eq 126 ]'

# ---- 4. kafka-python, kcat -G, NOT_COORDINATOR, mixed groups ----
timeout 120 $py kp-consume "$kafka" gt kp 126 >"$state/kp" 2>"$state/kp.err"
check "kafka-python KafkaConsumer with group_id read all 126" \
    '[ "$(awk "{print \$3}" "$state/kp" | sort -u | wc -l)" -eq 126 ]'
wait_for 100 'lag0 kp'
check "its commits show lag 0" 'lag0 kp'
timeout 120 kcat -b "$kafka" -G kc -o beginning -e -f '%s\n' gt \
    >"$state/kc" 2>"$state/kc.err"
check "kcat -G read the topic" '[ "$(sort -u "$state/kc" | wc -l)" -eq 126 ]'
r1=$($py raw 127.0.0.1 "${kport[1]}" probe)
r2=$($py raw 127.0.0.1 "${kport[2]}" probe)
echo "JoinGroup of probe: broker 1 says $r1, broker 2 says $r2"
check "exactly one broker coordinates a group; the other says NOT_COORDINATOR" \
    '{ [ "$r1" = 0 ] && [ "$r2" = 16 ]; } || { [ "$r1" = 16 ] && [ "$r2" = 0 ]; }'
"$ccons" --zookeeper "$zk" --topic gt --group zkgrp --from-beginning \
    >/dev/null 2>"$state/zkc.err" &
pids+=($!)
wait_for 300 '"$groups" --zookeeper "$zk" --describe --group zkgrp 2>/dev/null |
    grep -q "^MEMBER" && [ -n "$("$groups" --zookeeper "$zk" --describe \
    --group zkgrp 2>/dev/null | sed -n "/^MEMBER/,\$p" | sed 1d)" ]'
r1=$($py raw 127.0.0.1 "${kport[1]}" zkgrp)
r2=$($py raw 127.0.0.1 "${kport[2]}" zkgrp)
echo "JoinGroup of zkgrp: broker 1 says $r1, broker 2 says $r2"
check "a group with ZooKeeper members: INCONSISTENT_GROUP_PROTOCOL" \
    '[ "$r1" = 23 ] || [ "$r2" = 23 ]'

# ---- 5. a ZooKeeper member refused while Kafka members hold the group ----
mkdir -p "$state/kmix"
$py member "$kafka" gt kmix "$state/kmix" 2>"$state/kmix.err" &
pids+=($!)
pid_kmix=$!
wait_for 600 '[ -s "$state/kmix/assign" ]'
check "a confluent-kafka member holds group kmix" '[ -s "$state/kmix/assign" ]'
timeout 60 "$ccons" --zookeeper "$zk" --topic gt --group kmix \
    >"$state/zkmix.out" 2>"$state/zkmix.err"
rc=$?
cat "$state/zkmix.err"
check "a libquire ZooKeeper member of kmix is refused: exit 1, a clear error" \
    '[ $rc -eq 1 ] &&
     grep -q "group kmix is in use by Kafka-protocol consumers" "$state/zkmix.err"'
check "it printed no record" '[ ! -s "$state/zkmix.out" ]'
"$groups" --zookeeper "$zk" --reset-offsets --group kmix --topic gt \
    --to-earliest --execute >"$state/reset" 2>&1
rc=$?
cat "$state/reset"
check "quire-consumer-groups --reset-offsets refuses a group with Kafka members" \
    '[ $rc -ne 0 ] && grep -q "has Kafka-protocol members" "$state/reset"'
touch "$state/kmix/stop"
wait "$pid_kmix"
echo "d-0-1" | timeout 30 kcat -b "$kafka" -P -t gt -p 0 || exit 99
# the coordinator drops its node once the last member left (LeaveGroup)
kafka_held() {
    "$groups" --zookeeper "$zk" --reset-offsets --group kmix --topic gt \
        --to-earliest 2>&1 | grep -q "has Kafka-protocol members"
}
wait_for 100 '! kafka_held'
check "the group's Kafka node goes with its last member" '! kafka_held'
timeout 60 "$ccons" --zookeeper "$zk" --topic gt --group kmix \
    --max-messages 1 >"$state/zkmix.out" 2>"$state/zkmix.err"
rc=$?
check "once the Kafka member left, the ZooKeeper member joins and reads" \
    '[ $rc -eq 0 ] && grep -qx "d-0-1" "$state/zkmix.out"'

# ---- 6. commit metadata ----
$py metadata "$kafka" gt mdg >"$state/md" 2>&1
cat "$state/md"
check "OffsetCommit's metadata comes back in OffsetFetch" \
    'grep -qx "committed 5 meta-x" "$state/md"'
check "metadata past offset.metadata.max.bytes: OFFSET_METADATA_TOO_LARGE" \
    'grep -qx OffsetMetadataTooLargeError "$state/md"'
"$groups" --zookeeper "$zk" --describe --group mdg >"$state/desc" 2>&1
cat "$state/desc"
check "quire-consumer-groups reads the offset of a commit with metadata" \
    '[ "$(awk '"'"'$1 == "gt" && $2 == 0 {print $3}'"'"' "$state/desc")" = 5 ]'

# ---- 7. static membership: a restart within the session, no rebalance ----
start_static() { # dir instance
    mkdir -p "$state/$1"
    $py static-member "$kafka" gt stg "$state/$1" "$2" 2>"$state/$1.err" &
    pids+=($!)
    eval "pid_$1=$!"
}
lines() { cat "$1" 2>/dev/null | wc -l; }
start_static s1 inst-1
start_static s2 inst-2
wait_for 600 'split s1 s2'
check "two static members split the six partitions" 'split s1 s2'
sleep 2 # any rebalance of the start is over
s1_assigns=$(lines "$state/s1/assign")
s1_revokes=$(lines "$state/s1/revoke")
s2_had=$(last_assign s2)
kill -9 "$pid_s2"
wait "$pid_s2" 2>/dev/null
start_static s2b inst-2
wait_for 300 '[ -s "$state/s2b/assign" ]'
sleep 3 # time for a rebalance, were there one
echo "s2 had [$s2_had], its restart got [$(last_assign s2b)]"
check "the restarted static member got its partitions back" \
    '[ -n "$s2_had" ] && [ "$(last_assign s2b)" = "$s2_had" ]'
check "the other member saw no revoke and no new assignment" \
    '[ "$(lines "$state/s1/revoke")" = "$s1_revokes" ] &&
     [ "$(lines "$state/s1/assign")" = "$s1_assigns" ]'
touch "$state/s1/stop" "$state/s2b/stop"
wait "$pid_s1" "$pid_s2b"

# the brokers stop cleanly, and sanitizers (tests/run) found nothing
for i in 0 1; do kill "${pids[$i]}"; done
for i in 0 1; do
    wait "${pids[$i]}"
    rc=$?
    check "broker $((i + 1)) exits 0 on SIGTERM" "[ $rc -eq 0 ]"
done
check "no sanitizer report in the brokers' logs" \
    '! grep -lE "runtime error|Sanitizer" "$state"/b*.log'

if [ "$fail" -ne 0 ]; then
    for f in "$state"/*.err "$state"/b*.log; do
        echo "==== $f"
        tail -n 30 "$f"
    done
fi
exit "$fail"
