#!/usr/bin/env bash
# kafka_clients.sh: Debian's Kafka clients against quire's KAFKA:// listener
# (issue 13), with the harness's real ZooKeeper and two real brokers, each
# listening for quire's protocol and Kafka's. kcat (librdkafka 2.0.2) lists
# the cluster, produces with keys, headers and gzip/lz4/zstd and consumes;
# python3-confluent-kafka and python3-kafka produce with acks=all and read
# back by explicit assignment (kafka_clients.py); records written through
# quire's protocol are read through Kafka's and the other way round; hostile
# frames get Kafka's answers or a closed connection while the broker goes on
# serving. Brokers are stopped by PID.
set -u
srcdir=${srcdir:-.}
# shellcheck source=kafka_harness.sh
. "$srcdir/kafka_harness.sh"
kafka_harness_init kafka_clients
py=$srcdir/kafka_clients.py
topics=$top_build/tools/quire-topics
cprod=$top_build/tools/quire-console-producer
ccons=$top_build/tools/quire-console-consumer

# two brokers, each with a quire and a Kafka listener
kafka_brokers_start "num.network.threads=1"
kafka=127.0.0.1:${kport[1]}
"$topics" --zookeeper "$zk" --create --topic kt --partitions 3 \
    --replication-factor 1 >/dev/null || exit 99

# -L: both brokers at their Kafka ports, the topic, its leaders
for _ in $(seq 1 100); do
    timeout 20 kcat -b "$kafka" -L -t kt >"$state/L" 2>&1
    grep -q "partition 2, leader [12]," "$state/L" &&
        [ "$(grep -c "^  broker" "$state/L")" -eq 2 ] && break
    sleep 0.2
done
cat "$state/L"
check "kcat -L: broker 1 at its Kafka port" \
    'grep -q "broker 1 at 127.0.0.1:${kport[1]}" "$state/L"'
check "kcat -L: broker 2 at its Kafka port" \
    'grep -q "broker 2 at 127.0.0.1:${kport[2]}" "$state/L"'
check "kcat -L: topic kt with 3 partitions, each with a leader" \
    'grep -q "topic \"kt\" with 3 partitions" "$state/L" &&
     [ "$(grep -c "partition [0-2], leader [12], replicas: [12], isrs: [12]" "$state/L")" -eq 3 ]'

# -P with keys and headers, -C reads the same records byte for byte
printf 'key-%d:value-%d\n' 1 1 2 2 3 3 >"$state/in"
timeout 30 kcat -b "$kafka" -P -t kt -p 0 -K: -H trace=abc -H n=1 \
    <"$state/in" 2>"$state/P.err"
check "kcat -P: 3 keyed records with headers (exit 0)" '[ $? -eq 0 ]'
timeout 30 kcat -b "$kafka" -C -t kt -p 0 -o beginning -e -q \
    -f '%k|%s|%h|%o\n' >"$state/C" 2>&1
check "kcat -C -e: the same keys, values and headers at offsets 0-2" \
    '[ "$(cat "$state/C")" = "key-1|value-1|trace=abc,n=1|0
key-2|value-2|trace=abc,n=1|1
key-3|value-3|trace=abc,n=1|2" ]'
for codec in gzip lz4 zstd; do
    seq 1 50 | sed "s/^/$codec-/" >"$state/z.in"
    timeout 30 kcat -b "$kafka" -P -t kt -p 1 -z "$codec" <"$state/z.in"
    timeout 30 kcat -b "$kafka" -C -t kt -p 1 -o -50 -e -q -f '%s\n' \
        >"$state/z.out" 2>&1
    check "kcat -z $codec: 50 records back" 'cmp -s "$state/z.in" "$state/z.out"'
done

# the Python clients (acks=all, explicit assignment)
timeout 120 /usr/bin/python3 "$py" confluent "$kafka" kt || fail=1
timeout 120 /usr/bin/python3 "$py" kafkapython "$kafka" kt || fail=1

# cross-reading: quire's protocol in, Kafka's out ...
printf 'q%d\n' $(seq 1 10) >"$state/q.in"
timeout 60 "$cprod" --zookeeper "$zk" --topic kt --acks all \
    <"$state/q.in" >/dev/null 2>"$state/qp.err"
: >"$state/q.out"
for p in 0 1 2; do
    timeout 30 kcat -b "$kafka" -C -t kt -p $p -o beginning -e -q \
        -f '%s\n' >>"$state/q.out" 2>/dev/null
done
check "records from quire-console-producer read by kcat" \
    '[ "$(grep -ac "^q[0-9]*$" "$state/q.out")" -eq 10 ] &&
     [ "$(grep -a "^q[0-9]*$" "$state/q.out" | sort -V)" = "$(cat "$state/q.in")" ]'
# ... and Kafka's in (kcat and kafka-python), quire's out
printf 'kc%d\n' $(seq 1 5) | timeout 30 kcat -b "$kafka" -P -t kt -p 2
printf 'kp\tkp%d\n' $(seq 1 5) |
    timeout 60 /usr/bin/python3 "$py" produce-lines "$kafka" kt 2 || fail=1
timeout 60 "$ccons" --zookeeper "$zk" --topic kt --partition 2 \
    --offset earliest --timeout-ms 3000 >"$state/k.out" 2>"$state/kc.err"
check "records from kcat read by quire-console-consumer" \
    '[ "$(grep -a "^kc[0-9]$" "$state/k.out")" = "$(printf "kc%d\n" $(seq 1 5))" ]'
check "records from kafka-python read by quire-console-consumer" \
    '[ "$(grep -a "^kp[0-9]$" "$state/k.out")" = "$(printf "kp%d\n" $(seq 1 5))" ]'

# hostile frames; then both listeners still serve
timeout 60 /usr/bin/python3 "$py" hostile 127.0.0.1 "${kport[1]}" 104857600 ||
    fail=1
check "after them kcat -L still lists the cluster" \
    'timeout 20 kcat -b "$kafka" -L | grep -q "topic \"kt\" with 3 partitions"'
check "and quire-console-consumer still reads through quire's protocol" \
    '[ "$(timeout 60 "$ccons" --zookeeper "$zk" --topic kt --partition 0 \
         --offset earliest --max-messages 3 2>/dev/null | wc -l)" -eq 3 ]'
for id in 1 2; do
    check "broker $id still running" 'kill -0 "${pids[$((id - 1))]}"'
done
[ $fail -eq 0 ] || { tail -n 20 "$state/b1.log" "$state/b2.log"; }
exit $fail
