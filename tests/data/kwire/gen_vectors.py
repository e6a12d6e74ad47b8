#!/usr/bin/python3
"""Writes vectors.txt: Kafka protocol bytes made by python3-kafka's own
protocol classes (kafka.protocol.*), an implementation independent of
quire's proto/kwire.c, for tests/unit/check_kwire.c.

Run with Debian's /usr/bin/python3 (python3-kafka 2.0.2) from this folder:
    /usr/bin/python3 gen_vectors.py > vectors.txt
Each line: NAME HEX. Requests are whole frames without the size prefix
(header v1 + body); responses are bodies only (no size, no correlation id).
The values mirror the C structs check_kwire.c builds or expects.
"""
from kafka.protocol.api import RequestHeader
from kafka.protocol.fetch import FetchRequest, FetchResponse
from kafka.protocol.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.offset import OffsetRequest, OffsetResponse
from kafka.protocol.produce import ProduceRequest, ProduceResponse
from kafka.protocol.admin import ApiVersionResponse


def req(name, r, corr):
    # kafka-python binds encode() through a weak reference: keep the
    # objects alive while they encode
    hdr = RequestHeader(r, correlation_id=corr, client_id="vec")
    print(name, (hdr.encode() + r.encode()).hex())


def resp(name, r):
    body = r.encode()
    print(name, body.hex())


BATCH = bytes(range(61)) + b"batch"  # opaque to the codec

req("metadata_v1_all", MetadataRequest[1](topics=None), 1)
req("metadata_v1_none", MetadataRequest[1](topics=[]), 2)
req("metadata_v4_two", MetadataRequest[4](topics=["a", "bc"],
                                         allow_auto_topic_creation=False), 3)
req("produce_v3", ProduceRequest[3](
    transactional_id=None, required_acks=-1, timeout=1500,
    topics=[("t", [(0, BATCH), (2, b"")])]), 4)
req("produce_v7", ProduceRequest[7](
    transactional_id=None, required_acks=1, timeout=30000,
    topics=[("t", [(1, BATCH)]), ("u", [(0, b"xy")])]), 5)
req("fetch_v4", FetchRequest[4](
    -1, 500, 1, 52428800, 1,
    [("t", [(0, 42, 1048576), (1, 7, 100)])]), 6)
req("fetch_v10", FetchRequest[10](
    -1, 100, 1024, 1000000, 0, 0, -1,
    [("t", [(3, 5, 12, 0, 65536)])], []), 7)
req("listoffsets_v1", OffsetRequest[1](
    -1, [("t", [(0, -2), (1, -1), (2, 1600000000000)])]), 8)
# not v4/v5: python3-kafka 2.0.2 declares their current_leader_epoch Int64,
# Kafka's ListOffsetsRequest.json an int32 (quire follows Kafka); v2 has
# the isolation level those add to v1
req("listoffsets_v2", OffsetRequest[2](
    -1, 1, [("t", [(0, -1)])]), 9)

resp("metadata_v1_resp", MetadataResponse[1](
    [(1, "h1", 19092, None), (2, "h2", 19093, None)], 1,
    [(0, "t", False, [(0, 0, 1, [1, 2], [1]), (9, 1, -1, [2], [])]),
     (3, "gone", False, [])]))
resp("metadata_v5_resp", MetadataResponse[5](
    0, [(1, "h1", 19092, None)], None, 1,
    [(0, "t", False, [(0, 0, 1, [1], [1], [])])]))
resp("produce_v3_resp", ProduceResponse[3](
    [("t", [(0, 0, 100, -1), (2, 6, -1, -1)])], 0))
resp("produce_v7_resp", ProduceResponse[7](
    [("t", [(1, 0, 7, -1, 0)])], 0))
resp("fetch_v4_resp", FetchResponse[4](
    0, [("t", [(0, 0, 50, 50, [], BATCH), (1, 1, -1, -1, [], b"")])]))
resp("fetch_v11_resp", FetchResponse[11](
    0, 0, 0, [("t", [(3, 0, 9, 9, 2, [], -1, BATCH)])]))
resp("listoffsets_v1_resp", OffsetResponse[1](
    [("t", [(0, 0, -1, 0), (1, 3, -1, -1)])]))
resp("listoffsets_v4_resp", OffsetResponse[4](
    0, [("t", [(0, 0, 1600000000000, 17, -1)])]))
resp("apiversions_v1_resp", ApiVersionResponse[1](
    0, [(0, 3, 7), (18, 0, 3)], 0))
resp("apiversions_v0_resp", ApiVersionResponse[0](
    35, [(0, 3, 7), (18, 0, 3)]))
