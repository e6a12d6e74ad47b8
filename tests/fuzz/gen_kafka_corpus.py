#!/usr/bin/python3
"""Writes the seeds of tests/fuzz/fuzz_kafka.c into tests/fuzz/corpus_kafka/:
one Kafka request frame (int32 size, request header, body) for every API
and version the Kafka listener serves (proto/kreq.c's table), plus a few
streams of several frames, an unsupported version and an unknown API.

Bodies are encoded by kafka-python (Debian's python3-kafka 2.0.2) where it
has the version. Where it does not (Metadata v6-v8, ApiVersions v3,
OffsetCommit v4-v7, OffsetFetch v4-v5, FindCoordinator v2, JoinGroup v3-v5,
Heartbeat v2-v3, LeaveGroup v2-v3, SyncGroup v2-v3, DescribeGroups v4,
ListGroups v2, CreateTopics v4), the body is written here field by field
from Kafka's message definitions (clients/src/main/resources/common/
message/*.json): most are an older version's body unchanged.

Produce carries real record batches built by kafka-python's
MemoryRecordsBuilder (uncompressed and gzip).

Run: /usr/bin/python3 tests/fuzz/gen_kafka_corpus.py tests/fuzz/corpus_kafka
(`make fuzz-corpus` runs it too).
"""
import os
import struct
import sys

from kafka.protocol import admin, commit, fetch, group, metadata, offset
from kafka.protocol import produce
from kafka.record.memory_records import MemoryRecordsBuilder

# What proto/kreq.c serves: api_key -> (name, min, max, first flexible)
SERVED = {
    0: ("produce", 3, 7, 99), 1: ("fetch", 4, 11, 99),
    2: ("list_offsets", 1, 5, 99), 3: ("metadata", 0, 8, 99),
    8: ("offset_commit", 0, 7, 8), 9: ("offset_fetch", 0, 5, 6),
    10: ("find_coordinator", 0, 2, 3), 11: ("join_group", 0, 5, 6),
    12: ("heartbeat", 0, 3, 4), 13: ("leave_group", 0, 3, 4),
    14: ("sync_group", 0, 3, 4), 15: ("describe_groups", 0, 4, 5),
    16: ("list_groups", 0, 2, 3), 18: ("api_versions", 0, 3, 3),
    19: ("create_topics", 0, 4, 5), 20: ("delete_topics", 0, 3, 4),
    32: ("describe_configs", 0, 2, 4),
}


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)


def s(v):
    if v is None:
        return i16(-1)
    b = v.encode()
    return i16(len(b)) + b


def byt(v):
    return i32(len(v)) + v


def arr(items):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(items)


def uvarint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def cstr(v):
    b = v.encode()
    return uvarint(len(b) + 1) + b


def frame(key, version, body, corr=7, client="fuzz-seed"):
    hdr = i16(key) + i16(version) + i32(corr) + s(client)
    if version >= SERVED.get(key, ("", 0, 0, 99))[3]:
        hdr += b"\x00"  # header v2: no tagged fields
    req = hdr + body
    return i32(len(req)) + req


def batch(codec, n, base_key=b"k"):
    b = MemoryRecordsBuilder(magic=2, compression_type=codec,
                             batch_size=1 << 20)
    for i in range(n):
        b.append(1700000000000 + i, base_key + str(i).encode(),
                 b"value-%d" % i, [("h", b"v")] if i % 2 else [])
    b.close()
    return bytes(b.buffer())


RECORDS = batch(0, 3) + batch(1, 2)


def E(obj):
    """kafka-python's encode() holds its object weakly: keep it alive."""
    return obj.encode()


def bodies(key, v):
    """The body of api `key` at version `v`."""
    if key == 0:
        return E(produce.ProduceRequest[v](
            None if v >= 3 else None, 1, 30000,
            [("t", [(0, RECORDS), (1, batch(0, 1))])]))
    if key == 1:
        parts = [(0, -1, 0, 0, 1048576), (1, -1, 5, 0, 65536)] if v >= 9 \
            else [(0, 0, 0, 1048576), (1, 5, 0, 65536)] if v >= 5 \
            else [(0, 0, 1048576), (1, 5, 65536)]
        args = [-1, 500, 1, 52428800]
        if v >= 4:
            args.append(0)
        if v >= 7:
            args += [0, -1]
        args.append([("t", parts)])
        if v >= 7:
            args.append([])
        if v >= 11:
            args.append("")
        return E(fetch.FetchRequest[v](*args))
    if key == 2:
        parts = [(0, -1, -1), (1, -1, -2)] if v >= 4 else [(0, -1), (1, -2)]
        args = [-1] + ([0] if v >= 2 else []) + [[("t", parts)]]
        return E(offset.OffsetRequest[v](*args))
    if key == 3:
        if v <= 3:
            return E(metadata.MetadataRequest[v](["t", "u"]))
        if v <= 7:
            return E(metadata.MetadataRequest[min(v, 5)](["t"], True))
        return arr([s("t")]) + i8(1) + i8(0) + i8(0)
    if key == 8:
        parts = [("t", [(0, 42, "md"), (1, 7, None)])]
        if v == 0:
            return E(commit.OffsetCommitRequest[0]("g", parts))
        if v == 1:
            return E(commit.OffsetCommitRequest[1](
                "g", 3, "m-1", [("t", [(0, 42, 1700000000000, "md")])]
            ))
        if v <= 4:
            return E(commit.OffsetCommitRequest[min(v, 3)](
                "g", 3, "m-1", -1, parts))
        out = s("g") + i32(3) + s("m-1")
        if v >= 7:
            out += s(None)  # group_instance_id
        pbytes = []
        for p, o, md in parts[0][1]:
            pbytes.append(i32(p) + i64(o) + (i32(-1) if v >= 6 else b"")
                          + s(md))
        return out + arr([s("t") + arr(pbytes)])
    if key == 9:
        if v <= 3:
            return E(commit.OffsetFetchRequest[v]("g", [("t", [0, 1])]))
        return s("g") + arr([s("t") + arr([i32(0), i32(1)])])
    if key == 10:
        if v == 0:
            return E(commit.GroupCoordinatorRequest[0]("g"))
        return E(commit.GroupCoordinatorRequest[1]("g", 0))
    protos = [("range", b"\x00\x01meta"), ("roundrobin", b"rr")]
    if key == 11:
        if v == 0:
            return E(group.JoinGroupRequest[0]("g", 10000, "", "consumer",
                                             protos))
        if v <= 4:
            return E(group.JoinGroupRequest[min(v, 2)](
                "g", 10000, 30000, "", "consumer", protos))
        return (s("g") + i32(10000) + i32(30000) + s("m-1") + s("inst-1")
                + s("consumer")
                + arr([s(n) + byt(m) for n, m in protos]))
    if key == 12:
        if v <= 2:
            return E(group.HeartbeatRequest[min(v, 1)]("g", 3, "m-1"))
        return s("g") + i32(3) + s("m-1") + s(None)
    if key == 13:
        if v <= 2:
            return E(group.LeaveGroupRequest[min(v, 1)]("g", "m-1"))
        return s("g") + arr([s("m-1") + s(None), s("m-2") + s("inst-2")])
    if key == 14:
        assign = [("m-1", b"a1"), ("m-2", b"a22")]
        if v <= 2:
            return E(group.SyncGroupRequest[min(v, 1)]("g", 3, "m-1",
                                                     assign))
        return (s("g") + i32(3) + s("m-1") + s("inst-1")
                + arr([s(m) + byt(a) for m, a in assign]))
    if key == 15:
        if v <= 2:
            return E(admin.DescribeGroupsRequest[v](["g", "h"]))
        return E(admin.DescribeGroupsRequest[3](["g", "h"], True))
    if key == 16:
        return E(admin.ListGroupsRequest[min(v, 1)]())
    if key == 18:
        if v <= 2:
            return E(admin.ApiVersionRequest[v]())
        return cstr("fuzz-seed") + cstr("1.0") + b"\x00"
    if key == 19:
        topics = [("t", 3, 1, [], [("retention.ms", "60000")]),
                  ("u", -1, -1, [(0, [1, 2]), (1, [2, 1])], [])]
        if v == 0:
            return E(admin.CreateTopicsRequest[0](topics, 5000))
        return E(admin.CreateTopicsRequest[min(v, 3)](topics, 5000,
                                                    False))
    if key == 20:
        return E(admin.DeleteTopicsRequest[v](["t", "u"], 5000))
    if key == 32:
        res = [(2, "t", ["retention.ms", "cleanup.policy"]), (2, "u", None)]
        if v == 0:
            return E(admin.DescribeConfigsRequest[0](res))
        return E(admin.DescribeConfigsRequest[v](res, v == 2))
    raise ValueError("api %d" % key)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus_kafka"
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    frames = {}
    for key, (name, lo, hi, _) in sorted(SERVED.items()):
        for v in range(lo, hi + 1):
            frames[(key, v)] = frame(key, v, bodies(key, v))
            with open(os.path.join(out, "%s_v%d" % (name, v)), "wb") as f:
                f.write(frames[(key, v)])
    streams = {
        # what librdkafka sends first, then a produce/fetch round
        "stream_data": [(18, 3), (3, 8), (0, 7), (1, 11), (2, 5)],
        # a consumer group's round
        "stream_group": [(18, 2), (10, 2), (11, 5), (14, 3), (9, 5),
                         (12, 3), (8, 7), (13, 3)],
        "stream_admin": [(18, 1), (19, 4), (32, 2), (20, 3), (15, 4),
                         (16, 2)],
    }
    for name, seq in streams.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"".join(frames[k] for k in seq))
    with open(os.path.join(out, "unsupported"), "wb") as f:
        f.write(frame(0, 2, b"") + frame(18, 4, b"") + frame(99, 0, b"")
                + frames[(3, 1)])
    with open(os.path.join(out, "truncated"), "wb") as f:
        f.write(frames[(18, 0)] + frames[(1, 11)][:-3])


if __name__ == "__main__":
    main()
