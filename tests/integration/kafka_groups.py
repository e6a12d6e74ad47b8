#!/usr/bin/python3
"""Kafka-protocol consumer groups for kafka_groups.sh (issue 13), with
Debian's python3-confluent-kafka (librdkafka 2.0.2) and python3-kafka.

  member BOOTSTRAP TOPIC GROUP DIR
      a confluent-kafka Consumer in GROUP; for each record: a synchronous
      commit of the next offset, and only once it succeeded a line
      "partition offset value" in DIR/records (so every record is in some
      member's file exactly once); each assignment as a line of partitions
      in DIR/assign. Runs until DIR/stop exists, then close() (LeaveGroup).
  static-member BOOTSTRAP TOPIC GROUP DIR INSTANCE
      the same with group.instance.id INSTANCE (KIP-345), a 10 s session
      timeout, and each revocation as a line in DIR/revoke; killed rather
      than stopped to play a crash.
  metadata BOOTSTRAP TOPIC GROUP
      kafka-python, assigning itself partition 0 (OffsetCommit with
      generation -1): commits offset 5 with metadata "meta-x", prints
      "committed OFFSET METADATA" as OffsetFetch answers; then a commit
      with 5000 bytes of metadata: prints its error's name.
  kp-consume BOOTSTRAP TOPIC GROUP COUNT
      a kafka-python KafkaConsumer in GROUP reads COUNT records, commits,
      prints them "partition offset value", one a line.
  committed BOOTSTRAP TOPIC GROUP PARTITIONS
      prints kafka-python's committed offset (OffsetFetch) of each partition.
  admin BOOTSTRAP GROUP
      kafka-python's KafkaAdminClient: ListGroups and DescribeGroups; prints
      "listed" when GROUP is listed, then "state members".
  raw HOST PORT GROUP
      JoinGroup v0 sent to this broker by hand: prints its error code.
Every wait is bounded; a timeout exits 1 with a message.
"""
import os
import socket
import struct
import sys
import time


def member(bootstrap, topic, group, d, instance=None):
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    def log(name, parts):
        with open(os.path.join(d, name), "a") as f:
            f.write(" ".join(str(p.partition) for p in parts) + "\n")

    conf = {"bootstrap.servers": bootstrap, "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500}
    if instance:
        conf["group.instance.id"] = instance
        conf["session.timeout.ms"] = 10000
    c = Consumer(conf)
    c.subscribe([topic], on_assign=lambda c, p: log("assign", p),
                on_revoke=lambda c, p: log("revoke", p))
    out = open(os.path.join(d, "records"), "a")
    deadline = time.time() + 300
    while not os.path.exists(os.path.join(d, "stop")):
        if time.time() > deadline:
            print("member: never told to stop", file=sys.stderr)
            return 1
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        try:
            c.commit(offsets=[TopicPartition(topic, m.partition(),
                                             m.offset() + 1)],
                     asynchronous=False)
        except KafkaException as e:
            print("commit refused (redelivered later): %s" % e,
                  file=sys.stderr)
            continue
        out.write("%d %d %s\n" % (m.partition(), m.offset(),
                                  m.value().decode()))
        out.flush()
    c.close()
    return 0


def metadata(bootstrap, topic, group):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError
    from kafka.structs import OffsetAndMetadata
    tp = TopicPartition(topic, 0)
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                      enable_auto_commit=False)
    c.assign([tp])
    c.commit({tp: OffsetAndMetadata(5, "meta-x")})
    got = c._coordinator.fetch_committed_offsets([tp])[tp]
    print("committed", got.offset, got.metadata)
    try:
        c.commit({tp: OffsetAndMetadata(6, "y" * 5000)})
        print("no error")
    except KafkaError as e:
        print(type(e).__name__)
    c.close()
    return 0


def kp_consume(bootstrap, topic, group, count):
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=60000)
    got = []
    for m in c:
        got.append("%d %d %s" % (m.partition, m.offset, m.value.decode()))
        if len(got) == count:
            break
    c.commit()
    c.close()
    print("\n".join(got))
    return 0 if len(got) == count else 1


def committed(bootstrap, topic, group, parts):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                      enable_auto_commit=False)
    for p in range(parts):
        print(p, c.committed(TopicPartition(topic, p)))
    c.close()
    return 0


def admin(bootstrap, group):
    from kafka import KafkaAdminClient
    a = KafkaAdminClient(bootstrap_servers=bootstrap)
    listed = [g for g, _ in a.list_consumer_groups()]
    if group in listed:
        print("listed")
    for d in a.describe_consumer_groups([group]):
        print(d.state, len(d.members))
    a.close()
    return 0


def raw(host, port, group):
    from kafka.protocol.group import JoinGroupRequest
    req = JoinGroupRequest[0](group, 10000, "", "consumer", [("range", b"")])
    body = req.encode()
    hdr = struct.pack(">hhih", 11, 0, 7, 4) + b"test"
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            print("closed")
            return 1
        buf += chunk
    corr, err = struct.unpack(">ih", buf[4:10])
    print(err)
    return 0 if corr == 7 else 1


def main(argv):
    cmd = argv[1]
    if cmd == "member":
        return member(*argv[2:6])
    if cmd == "static-member":
        return member(*argv[2:7])
    if cmd == "metadata":
        return metadata(*argv[2:5])
    if cmd == "kp-consume":
        return kp_consume(argv[2], argv[3], argv[4], int(argv[5]))
    if cmd == "committed":
        return committed(argv[2], argv[3], argv[4], int(argv[5]))
    if cmd == "admin":
        return admin(argv[2], argv[3])
    if cmd == "raw":
        return raw(argv[2], argv[3], argv[4])
    print("unknown command", cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
