#!/usr/bin/python3
"""Kafka-protocol clients against quire's KAFKA:// listener (issue 13).

Run by kafka_clients.sh under Debian's /usr/bin/python3 (python3-kafka,
python3-confluent-kafka). Each subcommand prints "ok - ..." lines and exits
non-zero on the first failure:

  confluent BOOTSTRAP TOPIC     Producer acks=all with delivery reports,
                                Consumer by explicit assignment
  kafkapython BOOTSTRAP TOPIC   KafkaProducer acks=all, KafkaConsumer by
                                explicit assignment
  produce-lines BOOTSTRAP TOPIC PART   kafka-python writes stdin's lines
                                (key<TAB>value) to one partition, acks=all
  hostile HOST PORT MAXBYTES    raw frames: unknown API key, unsupported
                                versions, truncated body, oversized frame
"""
import socket
import struct
import sys
import time


def ok(cond, what):
    if not cond:
        print("FAIL - " + what)
        sys.exit(1)
    print("ok - " + what)


def records(tag, n):
    return [(("k%d" % i).encode(), ("%s-%d-\x00\xff" % (tag, i)).encode(),
             [("h", ("hv%d" % i).encode())]) for i in range(n)]


def confluent(bootstrap, topic):
    import confluent_kafka as ck
    sent = records("confluent", 20)
    got_reports = []
    p = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all",
                     "enable.idempotence": False})

    def report(err, msg):
        got_reports.append((err, msg.partition(), msg.offset()))
    for k, v, h in sent:
        p.produce(topic, key=k, value=v, headers=h, partition=1,
                  on_delivery=report)
    left = p.flush(30)
    ok(left == 0, "confluent-kafka: every record delivered (acks=all)")
    ok(len(got_reports) == 20 and all(e is None for e, _, _ in got_reports),
       "confluent-kafka: 20 delivery reports without error")
    offs = sorted(o for _, _, o in got_reports)
    ok(offs == list(range(offs[0], offs[0] + 20)),
       "confluent-kafka: consecutive offsets %d..%d" % (offs[0], offs[-1]))
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                     "enable.auto.commit": False})
    c.assign([ck.TopicPartition(topic, 1, offs[0])])
    got = []
    deadline = time.time() + 30
    while len(got) < 20 and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got.append((m.key(), m.value(), m.headers()))
    c.close()
    ok(got == [(k, v, h) for k, v, h in sent],
       "confluent-kafka: assigned consumer read the 20 byte for byte")
    # ListOffsets: earliest, latest and by timestamp
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    lo, hi = c.get_watermark_offsets(ck.TopicPartition(topic, 1),
                                     timeout=10, cached=False)
    ok(lo == 0 and hi == offs[-1] + 1,
       "ListOffsets earliest/latest: %d/%d" % (lo, hi))
    tp = c.offsets_for_times([ck.TopicPartition(topic, 1, 0)], timeout=10)
    ok(tp[0].error is None and tp[0].offset == 0,
       "ListOffsets by timestamp 0: offset 0")
    c.close()


def kafkapython(bootstrap, topic):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    sent = records("kafkapython", 20)
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=3)
    futs = [p.send(topic, key=k, value=v, headers=h, partition=2)
            for k, v, h in sent]
    p.flush(30)
    metas = [f.get(timeout=30) for f in futs]
    ok(len(metas) == 20, "kafka-python: 20 records acknowledged (acks=all)")
    first = metas[0].offset
    ok([m.offset for m in metas] == list(range(first, first + 20)),
       "kafka-python: consecutive offsets from %d" % first)
    p.close()
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      consumer_timeout_ms=15000)
    tp = TopicPartition(topic, 2)
    c.assign([tp])
    c.seek(tp, first)
    got = []
    for m in c:
        got.append((m.key, m.value, [(k, v) for k, v in m.headers]))
        if len(got) == 20:
            break
    c.close()
    ok(got == [(k, v, h) for k, v, h in sent],
       "kafka-python: assigned consumer read the 20 byte for byte")


def produce_lines(bootstrap, topic, part):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    futs = []
    for line in sys.stdin.read().splitlines():
        k, v = line.split("\t", 1)
        futs.append(p.send(topic, key=k.encode(), value=v.encode(),
                           partition=int(part)))
    for f in futs:
        f.get(timeout=30)
    p.close()
    print("ok - kafka-python wrote %d lines" % len(futs))


# ---- hostile frames ----

def conn(host, port):
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def response(s):
    head = recv_exact(s, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">i", head)
    return recv_exact(s, size)


def header(key, version, corr, client=b"hostile"):
    return struct.pack(">hhih", key, version, corr, len(client)) + client


def frame(body):
    return struct.pack(">i", len(body)) + body


def closed(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return True


def api_versions_ok(host, port):
    s = conn(host, port)
    s.sendall(frame(header(18, 0, 99)))
    r = response(s)
    s.close()
    return r is not None and struct.unpack(">ih", r[:6]) == (99, 0)


def hostile(host, port, maxbytes):
    # an unknown API key: its correlation id and UNSUPPORTED_VERSION
    s = conn(host, port)
    s.sendall(frame(header(999, 0, 7)))
    r = response(s)
    ok(r is not None and struct.unpack(">ih", r[:6]) == (7, 35),
       "unknown API key 999: correlation id 7, error 35")
    # same connection still serves
    s.sendall(frame(header(18, 1, 8)))
    r = response(s)
    ok(r is not None and struct.unpack(">ih", r[:6]) == (8, 0),
       "the connection still answers ApiVersions after it")
    # Produce v0, a version we do not serve, before anything else
    s.sendall(frame(header(0, 0, 9) + b"\x00\x01\x00\x00\x03\xe8\x00\x00\x00\x00"))
    r = response(s)
    ok(r is not None and struct.unpack(">ih", r[:6]) == (9, 35),
       "Produce v0 (not served): error 35")
    s.close()
    # ApiVersions at a version from the future: error 35 and a v0 body
    # listing what is served, as Kafka answers
    s = conn(host, port)
    s.sendall(frame(header(18, 42, 10)))
    r = response(s)
    corr, err, n = struct.unpack(">ihi", r[:10])
    keys = [struct.unpack(">hhh", r[10 + 6 * i:16 + 6 * i]) for i in range(n)]
    ok(corr == 10 and err == 35 and len(r) == 10 + 6 * n,
       "ApiVersions v42: error 35 with a v0 body")
    ok((18, 0, 3) in keys and any(k[0] == 0 for k in keys)
       and any(k[0] == 1 for k in keys),
       "... listing ApiVersions 0-3, Produce and Fetch")
    s.close()
    # a truncated body: Metadata v1 claiming 5 topics but carrying none
    s = conn(host, port)
    s.sendall(frame(header(3, 1, 11) + struct.pack(">i", 5)))
    ok(closed(s), "truncated Metadata body: connection closed")
    s.close()
    # a negative array count
    s = conn(host, port)
    s.sendall(frame(header(3, 1, 12) + struct.pack(">i", -7)))
    ok(closed(s), "Metadata with topic count -7: connection closed")
    s.close()
    # a frame too short for a header
    s = conn(host, port)
    s.sendall(struct.pack(">i", 3) + b"abc")
    ok(closed(s), "3-byte frame: connection closed")
    s.close()
    # a size past socket.request.max.bytes: refused from the 4 bytes alone
    s = conn(host, port)
    s.sendall(struct.pack(">i", int(maxbytes) + 1))
    ok(closed(s), "frame of socket.request.max.bytes + 1: closed unread")
    s.close()
    s = conn(host, port)
    s.sendall(struct.pack(">I", 0xFFFFFFF0))
    ok(closed(s), "negative frame size: closed")
    s.close()
    ok(api_versions_ok(host, port), "the broker serves new clients after it")


def main():
    cmd = sys.argv[1]
    if cmd == "confluent":
        confluent(sys.argv[2], sys.argv[3])
    elif cmd == "kafkapython":
        kafkapython(sys.argv[2], sys.argv[3])
    elif cmd == "produce-lines":
        produce_lines(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "hostile":
        hostile(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
