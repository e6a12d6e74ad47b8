#!/usr/bin/python3
"""Writes kgroup_vectors.txt: request and response bodies of Kafka's group
APIs as kafka-python (Debian's python3-kafka 2.0.2) encodes them, for
tests/unit/check_kgwire.c. Each line: "<req|resp> <api_key> <version>
<hex of the body>" (no size, no header). The field values are fixed here
and repeated in check_kgwire.c, which decodes every request and checks the
fields, and encodes every response from the same values and compares the
bytes.

kafka-python 2.0.2 lacks DescribeGroupsResponse v3's authorized_operations
(Kafka's DescribeGroupsResponse.json has it from v3) and
FindCoordinatorResponse v1's throttle_time_ms (FindCoordinatorResponse.json
has it from v1): those two are left out here and checked against
hand-made vectors in check_kgwire.c.

Run: /usr/bin/python3 tests/data/gen_kgroup_vectors.py > tests/data/kgroup_vectors.txt
"""
import kafka.protocol.admin as admin
import kafka.protocol.commit as commit
import kafka.protocol.group as group

out = []


def emit(kind, key, version, obj):
    out.append("%s %d %d %s" % (kind, key, version, obj.encode().hex()))


PROTOS = [("range", b"\x00\x01meta"), ("roundrobin", b"rr")]
for v, cls in enumerate(group.JoinGroupRequest):
    if v == 0:
        emit("req", 11, v, cls("grp", 10000, "m-1", "consumer", PROTOS))
    else:
        emit("req", 11, v, cls("grp", 10000, 30000, "m-1", "consumer",
                               PROTOS))
for v, cls in enumerate(group.JoinGroupResponse):
    args = [0, 7, "range", "m-1", "m-2", [("m-1", b"md1"), ("m-2", b"md2")]]
    emit("resp", 11, v, cls(*([0] + args if v >= 2 else args)))

ASSIGN = [("m-1", b"a1"), ("m-2", b"a22")]
for v, cls in enumerate(group.SyncGroupRequest):
    emit("req", 14, v, cls("grp", 7, "m-1", ASSIGN))
for v, cls in enumerate(group.SyncGroupResponse):
    emit("resp", 14, v, cls(*([0] if v >= 1 else []) + [0, b"a1"]))

for v, cls in enumerate(group.HeartbeatRequest):
    emit("req", 12, v, cls("grp", 7, "m-1"))
for v, cls in enumerate(group.HeartbeatResponse):
    emit("resp", 12, v, cls(*([0] if v >= 1 else []) + [27]))

for v, cls in enumerate(group.LeaveGroupRequest):
    emit("req", 13, v, cls("grp", "m-1"))
for v, cls in enumerate(group.LeaveGroupResponse):
    emit("resp", 13, v, cls(*([0] if v >= 1 else []) + [25]))

# FindCoordinator is GroupCoordinator in kafka-python
emit("req", 10, 0, commit.GroupCoordinatorRequest[0]("grp"))
emit("req", 10, 1, commit.GroupCoordinatorRequest[1]("grp", 0))
emit("resp", 10, 0, commit.GroupCoordinatorResponse[0](0, 2, "127.0.0.1",
                                                        19092))

OCR = commit.OffsetCommitRequest
emit("req", 8, 0, OCR[0]("grp", [("t", [(0, 42, "md")])]))
emit("req", 8, 1, OCR[1]("grp", 7, "m-1", [("t", [(0, 42, -1, "md")])]))
for v in (2, 3):
    emit("req", 8, v, OCR[v]("grp", 7, "m-1", -1, [("t", [(0, 42, "md")])]))
for v, cls in enumerate(commit.OffsetCommitResponse):
    topics = [("t", [(0, 0), (1, 3)])]
    emit("resp", 8, v, cls(*([0] if v >= 3 else []) + [topics]))

for v, cls in enumerate(commit.OffsetFetchRequest):
    emit("req", 9, v, cls("grp", [("t", [0, 1])]))
emit("req", 9, 2, commit.OffsetFetchRequest[2]("grp", None))
for v, cls in enumerate(commit.OffsetFetchResponse):
    topics = [("t", [(0, 42, "", 0), (1, -1, "", 0)])]
    args = [topics] + ([16] if v >= 2 else [])
    emit("resp", 9, v, cls(*([0] if v >= 3 else []) + args))

for v, cls in enumerate(admin.DescribeGroupsRequest):
    args = [["grp", "other"]] + ([True] if v >= 3 else [])
    emit("req", 15, v, cls(*args))
MEMBERS = [("m-1", "c", "/127.0.0.1", b"md1", b"as1")]
for v, cls in enumerate(admin.DescribeGroupsResponse):
    if v >= 3:
        continue  # see the module comment
    groups = [(0, "grp", "Stable", "consumer", "range", MEMBERS),
              (16, "other", "Dead", "", "", [])]
    emit("resp", 15, v, cls(*([0] if v >= 1 else []) + [groups]))

for v, cls in enumerate(admin.ListGroupsRequest):
    emit("req", 16, v, cls())
for v, cls in enumerate(admin.ListGroupsResponse):
    groups = [("grp", "consumer"), ("g2", "")]
    emit("resp", 16, v, cls(*([0] if v >= 1 else []) + [0, groups]))

print("\n".join(out))
