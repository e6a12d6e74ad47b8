#!/usr/bin/env bash
# check-selftest.sh: tests/nemesis/check finds each violation it reports
# (lost, misplaced, offsets going backwards, unread, a partition owned by
# two members, a ZooKeeper phase with nothing acknowledged) in small
# hand-written runs, and passes a clean one. Needs nothing but python3.
set -u
check=$(cd "$(dirname "$0")" && pwd)/check
d=$(mktemp -d) || exit 99
trap 'rm -rf "$d"' EXIT
fail=0

# a clean run: two records on partition 0, read back and by member m1
clean() {
    rm -f "$d"/*
    printf '1000 warmup begin\n2000 kill#1 begin\n2500 kill#1 heal\n' >"$d/schedule.log"
    printf 'A 1100 warmup 0 0 0\nA 2100 kill#1 1 0 1\nX 3000 2 2 0\n' >"$d/producer-p1.out"
    printf 'A 1000 0 -2\nM 1200 0 0 p1/0/warmup\nM 2200 0 1 p1/1/kill#1\nX 3000 2\n' >"$d/member-m1.out"
    printf 'Partition:0\tOffset:0\tp1/0/warmup\nPartition:0\tOffset:1\tp1/1/kill#1\n' >"$d/readback.txt"
}

expect() { # expect RC WHAT: the checker exits RC and prints WHAT
    local rc=$1 what=$2 got outp
    outp=$(/usr/bin/python3 "$check" "$d")
    got=$?
    if [ $got -ne "$rc" ] || ! grep -q -- "$what" <<<"$outp"; then
        echo "FAIL $3: exit $got (want $rc), output:"
        echo "$outp"
        fail=1
    else
        echo "ok   $3"
    fi
}

clean
expect 0 "check: 2 acknowledged, 0 violations" "clean run"
clean
sed -i '2d' "$d/readback.txt"
expect 1 "VIOLATION kill#1: 1 lost" "lost record"
clean
sed -i 's/Offset:1/Offset:7/' "$d/readback.txt"
expect 1 "VIOLATION kill#1: 2 misplaced" "record at another offset (acknowledged and read by the group)"
clean
printf 'Partition:0\tOffset:2\tp1/1/kill#1\n' >>"$d/readback.txt"
printf 'M 2250 0 2 p1/1/kill#1\n' >>"$d/member-m1.out"
expect 0 "check: 2 acknowledged, 0 violations" "a retry's duplicate read by the group"
clean
printf 'M 2250 0 2 p1/1/kill#1\n' >>"$d/member-m1.out"
expect 1 "VIOLATION kill#1: 1 misplaced" "the group reads a record where the log has none"
clean
printf 'M 2300 0 0 p1/0/warmup\n' >>"$d/member-m1.out"
expect 1 "VIOLATION kill#1: 1 backwards" "offset going backwards"
clean
sed -i '/p1\/1/d' "$d/member-m1.out"
expect 1 "VIOLATION kill#1: 1 unread" "record the group never read"
clean
printf 'A 2050 0 0\nR 2060 0 1\n' >"$d/member-m2.out"
expect 1 "VIOLATION kill#1: 1 double_owned" "partition owned by two members"
clean
printf 'A 2050 0 0\n' >"$d/member-m2.out"
sed -i 's/^A 1000 0 -2$/A 1000 0 -2\nR 2000 0 0/' "$d/member-m1.out"
expect 0 "0 violations" "clean handover"
clean
sed -i 's/kill#1/zk-kill#1/g' "$d"/*
sed -i '/zk-kill#1 1 0 1/d; /p1\/1/d' "$d/producer-p1.out" "$d/member-m1.out" "$d/readback.txt"
expect 1 "ZooKeeper member down and nothing acknowledged" "ZooKeeper phase without acks"
exit $fail
