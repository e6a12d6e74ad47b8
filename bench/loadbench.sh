#!/usr/bin/env bash
# bench/loadbench.sh: quire-load's throughput (issue 12) beside
# quire-perf consume of the same records, in the same run.
#
#   bench/loadbench.sh [BUILD_DIR]     (default: build-dev)
#
# Starts a private ZooKeeper and one broker on loopback (state under one
# temporary directory, removed at the end, processes stopped by PID),
# produces N records of SIZE bytes into a topic of PARTS partitions, reads
# them once with quire-perf consume, then loads them with
# quire-load run --format avro --avro-codec null at parallelism 1 and 2
# (a job and an output directory each). Prints RESULT lines and the
# ratios. Environment: N (10000000), SIZE (100), PARTS (8).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build-dev}" && pwd)
N=${N:-10000000} SIZE=${SIZE:-100} PARTS=${PARTS:-8}
here=$top/bench
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qr-load-XXXXXX")
chroot=/bench
props=log.retention.ms=-1
. "$here/onebroker.sh"
dir=$tmp zk=$connect bs=$addr
"$build/tools/quire-topics" --zookeeper "$zk" --create --topic bench \
    --partitions "$PARTS" --replication-factor 1 >/dev/null
"$build/tools/quire-perf" produce --topic bench --bootstrap-server "$bs" \
    --num-records "$N" --record-size "$SIZE" >"$dir/produce"
echo "produced: $(tail -1 "$dir/produce")"
"$build/tools/quire-perf" consume --topic bench --bootstrap-server "$bs" \
    --num-records "$N" >"$dir/consume"
consume_rate=$(grep -o '[0-9.]* msg/s' "$dir/consume" | head -1 | awk '{print $1}')
echo "quire-perf consume: $(tail -1 "$dir/consume")"
echo "RESULT consume records_per_s=$consume_rate"
for par in 1 2; do
    start=$(date +%s.%N)
    "$build/tools/quire-load" run --job bench-p$par --topic bench \
        --output "$dir/out-p$par" --format avro --avro-codec null \
        --parallelism "$par" --split-records 0 --zookeeper "$zk" \
        --bootstrap-server "$bs" >"$dir/load-p$par" 2>"$dir/load-p$par.err"
    end=$(date +%s.%N)
    rate=$(awk -v n="$N" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')
    eval "load_$par=$rate"
    echo "quire-load parallelism $par: $(tail -1 "$dir/load-p$par.err")"
    echo "RESULT load parallelism=$par records_per_s=$rate (wall clock, start-up included) output=$(du -sh "$dir/out-p$par" | cut -f1)"
    rm -rf "$dir/out-p$par"
done
awk -v c="$consume_rate" -v a="$load_1" -v b="$load_2" 'BEGIN {
    printf "RATIO load(p=2)/consume = %.2f, load(p=2)/load(p=1) = %.2f\n",
        b / c, b / a }'
