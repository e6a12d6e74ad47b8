#!/usr/bin/env bash
# load.sh: quire-load (issue 12) against the harness's real ZooKeeper and
# two real brokers. Records come from load_produce (keys, nulls, headers,
# timestamps over four UTC hours); every file is read back by
# load_check.py through python3-avro, an Avro reader independent of the
# libavro that wrote them.
#   1. 50,000 records into 4 partitions, run, 30,000 more, run again:
#      each record exactly once; quire-consumer-groups shows lag 0.
#   2. SIGKILL at random instants in LOAD_KILLS runs (10), rerunning after
#      each (with records arriving meanwhile): still exactly once.
#   3. splits | map --output, then commit, as Streaming runs it (also in
#      Streaming's "offset<TAB>line" form): the same files as run.
#   4. JSON and text round-trip; deflate Avro is read by python3-avro;
#      map's stdout lines.
#   5. bad input changes nothing: a malformed split line (its number), a
#      topic that does not exist, an output that cannot be written, offsets
#      deleted by retention (--allow-gaps goes on).
set -u
srcdir=${srcdir:-.}
top_src=$(cd "$srcdir/../.." && pwd)
top_build=$(cd "${top_builddir:-../..}" && pwd)
[ -n "${QUIRE_TEST_ZK:-}" ] || { echo "QUIRE_TEST_ZK is not set"; exit 99; }
PY=/usr/bin/python3
"$PY" -c 'import avro.datafile' 2>/dev/null ||
    { echo "python3-avro is missing (apt-get install python3-avro)"; exit 99; }
load=$top_build/tools/quire-load
topics=$top_build/tools/quire-topics
groups=$top_build/tools/quire-consumer-groups
produce=$top_build/tests/integration/load_produce
check_py=$top_src/tests/integration/load_check.py
kills=${LOAD_KILLS:-10}

state=$(mktemp -d)
zk="$QUIRE_TEST_ZK/load-$$"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    rm -rf "$state"
}
trap cleanup EXIT

fail=0
check() { # description, condition (eval'd)
    if eval "$2"; then echo "ok - $1"; else echo "FAIL - $1"; fail=1; fi
}
die() { echo "setup failed: $*"; exit 99; }

# ---- two brokers ----
start_broker() { # id
    local d=$state/broker-$1 i
    mkdir -p "$d/data"
    cat >"$d/server.properties" <<PROPS
broker.id=$1
listeners=PLAINTEXT://127.0.0.1:0
zookeeper.connect=$zk
log.dirs=$d/data
num.partitions=4
log.retention.check.interval.ms=300
log.segment.delete.delay.ms=0
# records are stamped 2026-01-01: keep them whatever their age
log.retention.ms=-1
PROPS
    "$top_build/broker/quire-broker" -c "$d/server.properties" -p "$d/port" \
        >"$d/broker.log" 2>&1 </dev/null &
    pids+=($!)
    for i in $(seq 1 200); do [ -s "$d/port" ] && break; sleep 0.1; done
    [ -s "$d/port" ] || { tail "$d/broker.log"; die "broker $1 did not start"; }
}
# the chroot must exist before brokers register under it
"$topics" --zookeeper "$QUIRE_TEST_ZK" --list >/dev/null 2>&1
start_broker 1
start_broker 2
bootstrap="$(cat "$state/broker-1/port"),$(cat "$state/broker-2/port")"
create() { # topic partitions [config...]
    local t=$1 n=$2; shift 2
    "$topics" --zookeeper "$zk" --create --topic "$t" --partitions "$n" \
        --replication-factor 1 "$@" >/dev/null || die "cannot create $t"
}
produce() { # topic first count expected [plain]
    "$produce" "$bootstrap" "$@" || die "producing into $1 failed"
}
qload() { "$load" "$@" --zookeeper "$zk"; }
lcheck() { "$PY" "$check_py" "$@"; }

# ---- 1. two loads, every record exactly once ----
create events 4
produce events 0 50000 "$state/events.sent"
qload run --job camus --topic events --output "$state/out" \
    --split-records 20000 --parallelism 2 >"$state/run1" 2>"$state/run1.err"
rc=$?
cat "$state/run1"; grep -v "tasks [0-9]" "$state/run1.err"
check "first run exits 0" '[ $rc -eq 0 ]'
check "the summary names the topic, its records and committed offsets" \
    'grep -q "^topic events: 50000 records, [0-9]* bytes, [0-9]* files; committed 0=" "$state/run1"'
check "progress lines on stderr" 'grep -q "tasks [0-9]*/[0-9]*, .* records left" "$state/run1.err"'
produce events 50000 30000 "$state/events.sent"
qload run --job camus --topic events --output "$state/out" >"$state/run2" 2>&1
check "second run exits 0" '[ $? -eq 0 ]'
check "the second run loaded the 30,000 new records only" \
    'grep -q "^topic events: 30000 records" "$state/run2"'
lcheck --dir "$state/out" --topic events "$state/events.sent" >"$state/c1"
rc=$?; cat "$state/c1"
check "python3-avro reads all 80,000 records exactly once, fields intact" \
    '[ $rc -eq 0 ] && grep -q " 80000 records read, 80000 sent" "$state/c1"'
check "records of six UTC hours went to six hour directories" \
    '[ "$(ls -d "$state"/out/events/2026/01/01/* | wc -l)" -eq 6 ]'
"$groups" --zookeeper "$zk" --describe --group camus >"$state/describe" 2>&1
cat "$state/describe"
check "quire-consumer-groups --describe shows the job's 4 partitions at lag 0" \
    '[ "$(grep -c "^events  *[0-3]  *[0-9][0-9]*  *[0-9][0-9]*  *0 " "$state/describe")" -eq 4 ]'
qload run --job camus --topic events --output "$state/out" >"$state/run3" 2>&1
check "a third run finds nothing new" 'grep -q "^topic events: 0 records" "$state/run3"'
qload run --dry-run --job camus --topic events --output "$state/out" >"$state/dry" 2>&1
check "--dry-run prints an empty plan" 'grep -q "^# 0 task(s), 0 record(s)" "$state/dry"'

# ---- 2. SIGKILL at random instants ----
create killed 4
produce killed 0 40000 "$state/killed.sent"
for k in $(seq 1 "$kills"); do
    # the binary itself, not a shell function, so that $! is the loader
    # tasks of ~1.5 hours of records: each renames its first files long
    # before it ends and commits, so kills land between rename and commit
    "$load" run --job kj --topic killed --output "$state/kout" \
        --split-records 4000 --parallelism 2 --zookeeper "$zk" \
        >/dev/null 2>>"$state/kruns.err" &
    lp=$!
    sleep "0.$(( RANDOM % 50 ))"
    kill -9 "$lp" 2>/dev/null
    wait "$lp" 2>/dev/null
    [ $((k % 3)) -eq 0 ] && produce killed $((40000 + k * 1000)) 1000 "$state/killed.sent"
done
qload run --job kj --topic killed --output "$state/kout" >"$state/krun" 2>&1
check "the run after $kills kills exits 0" '[ $? -eq 0 ]'
echo "# $(cat "$state/krun" "$state/kruns.err" | grep -c adopting) adoption(s) of renamed but uncommitted files after kills"
lcheck --dir "$state/kout" --topic killed "$state/killed.sent" >"$state/c2"
rc=$?; cat "$state/c2"
check "after $kills kills and reruns every record is there exactly once" '[ $rc -eq 0 ]'
qload run --job kj --topic killed --output "$state/kout" >"$state/krun2" 2>&1
check "and the next run loads nothing twice" 'grep -q "^topic killed: 0 records" "$state/krun2"'

# ---- 3. Hadoop Streaming: splits | map, then commit ----
qload splits --job stream --topic events --split-records 20000 >"$state/splits"
check "splits prints one task a line" \
    '[ "$(wc -l <"$state/splits")" -ge 4 ] && grep -q "^events [0-3] 0 [0-9]*$" "$state/splits"'
qload splits --job stream --topic events --split-records 20000 |
    "$load" map --job stream --output "$state/sout" --bootstrap-server "$bootstrap" \
        >/dev/null 2>"$state/map.err"
check "splits | map exits 0" '[ "${PIPESTATUS[1]}" -eq 0 ]'
qload commit --job stream --topic events --output "$state/sout" >"$state/commit"
cat "$state/commit"
check "commit advances the job's offsets over map's files" \
    'grep -q "^topic events: .*committed 0=[1-9]" "$state/commit"'
qload run --job runref --topic events --output "$state/rout" --split-records 20000 >/dev/null 2>&1
check "map wrote the same files as run" \
    '[ "$(cd "$state/sout/events" && find . -type f | sort)" = "$(cd "$state/rout/events" && find . -type f | sort)" ]'
lcheck --dir "$state/sout" --topic events "$state/events.sent" >"$state/c3"
check "and they hold every record once" '[ $? -eq 0 ]'
qload splits --job stream --topic events >"$state/splits2"
check "after commit, splits has nothing left" '[ ! -s "$state/splits2" ]'
awk '{ print n "\t" $0; n += length($0) + 1 }' "$state/splits" |
    "$load" map --output "$state/sout2" --job s2 --zookeeper "$zk" >/dev/null 2>&1
check "map takes Streaming's offset<TAB>line form" \
    '[ "$(cd "$state/sout2/events" && find . -type f | sort)" = "$(cd "$state/rout/events" && find . -type f | sort)" ]'
head -1 "$state/splits" | "$load" map --zookeeper "$zk" >"$state/lines"
check "map without --output prints one line per record" \
    '[ "$(wc -l <"$state/lines")" -eq "$(awk "{print \$4 - \$3 + 1; exit}" "$state/splits")" ]'
check "escaped as Streaming expects: tab, newline, backslash, \\N for null" \
    'grep -q "	\\\\N	" "$state/lines" && grep -q "\\\\ttab\\\\nnl\\\\\\\\$" "$state/lines"'

# ---- 4. formats ----
qload run --job js --topic events --output "$state/jout" --format json >/dev/null 2>&1
lcheck --dir "$state/jout" --topic events --format json "$state/events.sent" >"$state/c4"
rc=$?; cat "$state/c4"
check "JSON lines round-trip (bytes as base64)" '[ $rc -eq 0 ]'
create lines 2
produce lines 0 5000 "$state/lines.sent" plain
qload run --job tx --topic lines --output "$state/tout" --format text >/dev/null 2>&1
lcheck --dir "$state/tout" --topic lines --format text --plain "$state/lines.sent" >"$state/c5"
rc=$?; cat "$state/c5"
check "text round-trips (the value as a line)" '[ $rc -eq 0 ]'
qload run --job df --whitelist 'ev.*' --output "$state/dout" --avro-codec deflate >"$state/drun" 2>&1
lcheck --dir "$state/dout" --topic events --codec deflate "$state/events.sent" >"$state/c6"
rc=$?; cat "$state/c6"
check "--whitelist ev.* picks events; deflate Avro is read by python3-avro" \
    '[ $rc -eq 0 ] && grep -q "^topic events:" "$state/drun" && ! grep -q "^topic killed" "$state/drun"'

# ---- 5. bad input changes nothing ----
printf 'events 0 0 9\nevents zero 0 9\n' |
    "$load" map --output "$state/bad1" --job bad --zookeeper "$zk" 2>"$state/e1"
rc=$?; cat "$state/e1"
check "a malformed split line: exit 2, its line number, no file" \
    '[ $rc -eq 2 ] && grep -q "stdin line 2" "$state/e1" && [ -z "$(find "$state/bad1" -type f -name "*.avro" 2>/dev/null)" ]'
qload run --job bad --topic nosuch --output "$state/bad2" 2>"$state/e2"
rc=$?; cat "$state/e2"
check "a topic that does not exist: exit 1, named, nothing committed" \
    '[ $rc -eq 1 ] && grep -q "topic nosuch does not exist" "$state/e2" && ! "$groups" --zookeeper "$zk" --list | grep -qx bad'
touch "$state/afile"
qload run --job bad --topic events --output "$state/afile/out" 2>"$state/e3"
rc=$?; cat "$state/e3"
check "an output that cannot be written: exit 1, said so" \
    '[ $rc -eq 1 ] && grep -q "cannot write to the output directory" "$state/e3"'
create gone 1 --config segment.bytes=20000 --config retention.bytes=20000
produce gone 0 100 "$state/gone.sent"
qload run --job gj --topic gone --output "$state/gout" >/dev/null 2>&1
produce gone 100 3000 "$state/gone.sent"
for i in $(seq 1 100); do # wait for retention to delete the first segments
    s=$(ls "$state"/broker-*/data/gone-0/*.log 2>/dev/null | head -1)
    [ -n "$s" ] && [ "$(basename "$s" .log)" != 00000000000000000000 ] && break
    sleep 0.1
done
qload run --job gj --topic gone --output "$state/gout" >/dev/null 2>"$state/e4"
rc=$?; cat "$state/e4"
check "offsets deleted by retention: exit 1, the partition named, nothing loaded" \
    '[ $rc -eq 1 ] && grep -q "gone-0: offsets 100\.\.[0-9]* were deleted by retention" "$state/e4" && [ "$(find "$state/gout" -name "*.avro" | wc -l)" -eq 1 ]'
printf 'gone 0 0 50\n' | "$load" map --zookeeper "$zk" >/dev/null 2>"$state/e5"
check "map of a deleted range: exit 1, said so" \
    '[ $? -eq 1 ] && grep -q "deleted by retention" "$state/e5"'
qload run --job gj --topic gone --output "$state/gout" --allow-gaps >"$state/g2" 2>&1
rc=$?; cat "$state/g2"
check "--allow-gaps goes on from the log start" \
    '[ $rc -eq 0 ] && grep -q "skipping offsets 100\.\." "$state/g2"'
exit $fail
