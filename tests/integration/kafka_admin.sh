#!/usr/bin/env bash
# kafka_admin.sh: topic administration over Kafka's protocol (issue 13,
# item 5) with the harness's real ZooKeeper and two real brokers (each
# with a quire and a Kafka listener), stopped by PID.
#   1. python3-kafka's KafkaAdminClient: create with partitions, replication
#      factor and configs (quire-topics --describe shows what quire-topics
#      --create would have written; kcat -L sees it with leaders), a
#      replica assignment, validate_only (nothing written), a duplicate
#      (TopicAlreadyExists), an illegal name, a replication factor above
#      the brokers, zero partitions, an unknown config; describe configs
#      (override DYNAMIC_TOPIC_CONFIG, defaults, synonyms, a broker's);
#      delete (gone from quire-topics --list and from kcat -L), delete of an
#      unknown topic;
#   2. python3-confluent-kafka's AdminClient: create_topics, describe_configs,
#      delete_topics, and the same refusals.
# Every wait is a bounded poll; no assertion is about time.
set -u
srcdir=${srcdir:-.}
# shellcheck source=kafka_harness.sh
. "$srcdir/kafka_harness.sh"
kafka_harness_init kafka_admin
py="timeout 120 /usr/bin/python3 $srcdir/kafka_admin.py"
topics=$top_build/tools/quire-topics

kafka_brokers_start "num.network.threads=2
log.retention.hours=100"
kafka=127.0.0.1:${kport[1]},127.0.0.1:${kport[2]}
wait_for 300 '[ "$(timeout 20 kcat -b "$kafka" -L 2>/dev/null |
    grep -c "^  broker [12] at")" -eq 2 ]' || exit 99

# the topic's lines of quire-topics --describe, tabs as spaces
describe() { "$topics" --zookeeper "$zk" --describe --topic "$1" 2>&1 | tr '\t' ' '; }
listed() { "$topics" --zookeeper "$zk" --list 2>/dev/null | grep -qx "$1"; }
kcat_leaders() { # topic partitions: kcat -L sees each with a leader
    [ "$(timeout 20 kcat -b "$kafka" -L -t "$1" 2>/dev/null |
        grep -c "partition [0-9]*, leader [12],")" -eq "$2" ]
}

# ---- 1. python3-kafka's KafkaAdminClient ----
r=$($py kp-create "$kafka" ka 3 2 retention.ms=3600000 max.message.bytes=2000)
check "kafka-python create_topics ka (3 partitions, RF 2, configs): $r" '[ "$r" = ok ]'
describe ka >"$state/ka"
cat "$state/ka"
check "quire-topics --describe: 3 partitions, RF 2, the overrides" \
    'grep -q "^Topic:ka PartitionCount:3 ReplicationFactor:2 Configs:.*retention.ms=3600000" "$state/ka" &&
     grep -q "Configs:.*max.message.bytes=2000" "$state/ka"'
check "every partition has two replicas and a leader (the answer waited)" \
    '[ "$(grep -cE "Partition: [0-2] Leader: [12] Replicas: [12],[12] " "$state/ka")" -eq 3 ]'
check "kcat -L sees ka with three led partitions" 'kcat_leaders ka 3'

r=$($py kp-create "$kafka" kassign 0 0 --assign 2:1,1:2)
check "kafka-python create with a replica assignment: $r" '[ "$r" = ok ]'
check "quire-topics shows the assignment as given" \
    'describe kassign | grep -q "Partition: 0 .*Replicas: 2,1 " &&
     describe kassign | grep -q "Partition: 1 .*Replicas: 1,2 "'

r=$($py kp-create "$kafka" kvalid 2 1 --validate)
check "validate_only: success ($r)" '[ "$r" = ok ]'
check "validate_only wrote nothing" '! listed kvalid'
r=$($py kp-create "$kafka" kvalid 2 1 --validate retention.ms=x)
check "validate_only with a bad value: $r" '[ "$r" = InvalidConfigurationError ]'
r=$($py kp-create "$kafka" ka 1 1)
check "a duplicate: $r" '[ "$r" = TopicAlreadyExistsError ]'
r=$($py kp-create "$kafka" ../x 1 1)
check "an illegal name ../x: $r" '[ "$r" = InvalidTopicError ]'
r=$($py kp-create "$kafka" kbig 1 3)
check "replication factor 3 on 2 brokers: $r" '[ "$r" = InvalidReplicationFactorError ]'
r=$($py kp-create "$kafka" kzero 0 1)
check "zero partitions: $r" '[ "$r" = InvalidPartitionsError ]'
r=$($py kp-create "$kafka" kcfg 1 1 no.such.key=1)
check "an unknown config key: $r" '[ "$r" = InvalidConfigurationError ]'
r=$($py kp-create "$kafka" kcfg 1 1 cleanup.policy=compact)
check "a config value quire does not implement: $r" '[ "$r" = InvalidConfigurationError ]'
check "none of the refused topics was written" \
    '! listed kbig && ! listed kzero && ! listed kcfg && ! listed kvalid'

$py kp-describe "$kafka" ka >"$state/kad"
cat "$state/kad"
check "describe_configs: the override, DYNAMIC_TOPIC_CONFIG, with its synonyms" \
    'grep -qx "retention.ms=3600000 1 0 0 retention.ms:1,log.retention.hours:4,log.retention.hours:5" "$state/kad"'
check "describe_configs: a default, DEFAULT_CONFIG" \
    'grep -qx "segment.bytes=1073741824 5 0 0 log.segment.bytes:5" "$state/kad"'
check "describe_configs: max.message.bytes overridden" \
    'grep -q "^max.message.bytes=2000 1 " "$state/kad"'
check "describe_configs lists every topic key quire implements (16)" \
    '[ "$(wc -l <"$state/kad")" -eq 16 ]'
r=$($py kp-describe "$kafka" nosuch)
check "describe_configs of an unknown topic: $r" '[ "$r" = "error 3" ]'
$py kp-broker "$kafka" 1 >"$state/b1d"
check "describe_configs of broker 1: its keys, read-only, a set one STATIC" \
    'grep -q "^log.retention.hours=100 4 1 0" "$state/b1d" &&
     grep -q "^num.partitions=1 5 1 0" "$state/b1d"'

r=$($py kp-delete "$kafka" ka)
check "kafka-python delete_topics ka: $r" '[ "$r" = ok ]'
check "gone from quire-topics --list (the answer waited)" '! listed ka'
check "gone from kcat -L" \
    '! timeout 20 kcat -b "$kafka" -L 2>/dev/null | grep -q "topic \"ka\""'
r=$($py kp-delete "$kafka" nosuch)
check "delete of an unknown topic: $r" '[ "$r" = UnknownTopicOrPartitionError ]'

# ---- 2. python3-confluent-kafka's AdminClient ----
r=$($py ck-create "$kafka" cka 4 1 segment.bytes=1048576)
check "confluent-kafka create_topics cka: $r" '[ "$r" = ok ]'
check "quire-topics: 4 partitions, RF 1, segment.bytes" \
    'describe cka | grep -q "^Topic:cka PartitionCount:4 ReplicationFactor:1 Configs:segment.bytes=1048576"'
wait_for 100 'kcat_leaders cka 4'
check "kcat -L sees cka with four led partitions" 'kcat_leaders cka 4'
r=$($py ck-create "$kafka" cka 1 1)
check "confluent-kafka duplicate: $r" '[ "$r" = TOPIC_ALREADY_EXISTS ]'
r=$($py ck-create "$kafka" ckb 1 1 bad.key=1)
check "confluent-kafka unknown config: $r" '[ "$r" = INVALID_CONFIG ]'
$py ck-describe "$kafka" cka >"$state/ckd"
check "confluent-kafka describe_configs: the override and a default" \
    'grep -qx "segment.bytes=1048576 1" "$state/ckd" &&
     grep -qx "retention.ms=360000000 4" "$state/ckd"'
r=$($py ck-delete "$kafka" cka)
check "confluent-kafka delete_topics cka: $r" '[ "$r" = ok ]'
wait_for 100 '! listed cka'
check "cka gone" '! listed cka'
r=$($py ck-delete "$kafka" cka)
check "confluent-kafka delete of a deleted topic: $r" \
    '[ "$r" = UNKNOWN_TOPIC_OR_PART ]'

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
    for f in "$state"/b*.log; do
        echo "==== $f"
        tail -n 30 "$f"
    done
fi
exit "$fail"
