#!/usr/bin/python3
"""Writes kadmin_vectors.txt: request and response bodies of Kafka's
topic-administration APIs (CreateTopics 19, DeleteTopics 20,
DescribeConfigs 32) as kafka-python (Debian's python3-kafka 2.0.2) encodes
them, for tests/unit/check_kawire.c. Each line: "<req|resp> <api_key>
<version> <hex of the body>" (no size, no header). The field values are
fixed here and repeated in check_kawire.c, which decodes every request and
checks the fields, and encodes every response from the same values and
compares the bytes.

kafka-python 2.0.2 stops at CreateTopics v3; v4 has the same fields
(Kafka's CreateTopicsRequest.json and CreateTopicsResponse.json), so v3's
bytes are written as v4 too. Its DescribeConfigsResponse v1 calls Kafka's
config_source (int8) is_default and encodes a boolean: the v1 vector uses
entries whose source is 1, which both encode as 0x01.

Run: /usr/bin/python3 tests/data/gen_kadmin_vectors.py > tests/data/kadmin_vectors.txt
"""
import kafka.protocol.admin as admin

out = []


def emit(kind, key, version, obj):
    out.append("%s %d %d %s" % (kind, key, version, obj.encode().hex()))


TOPICS = [("t1", 3, 2, [], [("retention.ms", "1000"), ("k", None)]),
          ("t2", -1, -1, [(0, [1, 2]), (1, [2, 1])], [])]
CTR = admin.CreateTopicsRequest
emit("req", 19, 0, CTR[0](TOPICS, 5000))
for v in (1, 2, 3):
    emit("req", 19, v, CTR[v](TOPICS, 5000, True))
emit("req", 19, 4, CTR[3](TOPICS, 5000, True))
CTP = admin.CreateTopicsResponse
emit("resp", 19, 0, CTP[0]([("t1", 0), ("t2", 36)]))
ERRS = [("t1", 0, None), ("t2", 36, "Topic 't2' already exists.")]
emit("resp", 19, 1, CTP[1](ERRS))
for v in (2, 3):
    emit("resp", 19, v, CTP[v](0, ERRS))
emit("resp", 19, 4, CTP[3](0, ERRS))

for v, cls in enumerate(admin.DeleteTopicsRequest):
    emit("req", 20, v, cls(["t1", "t2"], 3000))
for v, cls in enumerate(admin.DeleteTopicsResponse):
    res = [("t1", 0), ("t2", 3)]
    emit("resp", 20, v, cls(*([0] if v >= 1 else []) + [res]))

RES = [(2, "t1", ["retention.ms", "segment.bytes"]), (4, "1", None)]
DCR = admin.DescribeConfigsRequest
emit("req", 32, 0, DCR[0](RES))
for v in (1, 2):
    emit("req", 32, v, DCR[v](RES, True))
DCP = admin.DescribeConfigsResponse
BAD = (42, "Unsupported resource type: 8", 8, "x", [])
emit("resp", 32, 0, DCP[0](0, [
    (0, None, 2, "t1", [("retention.ms", "1000", False, False, False),
                        ("segment.bytes", "1073741824", False, True,
                         False)]),
    BAD]))
SYN = [("retention.ms", "1000", 1), ("log.retention.hours", "168", 5)]
emit("resp", 32, 1, DCP[1](0, [
    (0, None, 2, "t1", [("retention.ms", "1000", False, True, False, SYN),
                        ("segment.bytes", "1048576", False, True, False,
                         [])]),
    BAD]))
emit("resp", 32, 2, DCP[2](0, [
    (0, None, 2, "t1", [("retention.ms", "1000", False, 1, False, SYN),
                        ("segment.bytes", "1073741824", False, 5, False,
                         [("log.segment.bytes", "1073741824", 5)])]),
    BAD]))

print("\n".join(out))
