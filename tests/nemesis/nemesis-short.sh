#!/usr/bin/env bash
# nemesis-short.sh: the short nemesis run of `make check` (about 2
# minutes): one cycle of a broker killed, a ZooKeeper member killed, the
# ZooKeeper leader killed and a broker host isolated (its session expires,
# the controller takes its partitions' leadership, healed it rejoins),
# while producers (acks=all) and a consumer group run; no acknowledged
# record lost or misplaced, no partition owned twice (tests/nemesis/run).
exec "$(dirname "$0")/run" --cycles 1 --fault-s 6 \
    --nemeses kill,zk-kill,zk-kill-leader,isolate \
    --out "${TMPDIR:-/tmp}/quire-nemesis-short-$$"
