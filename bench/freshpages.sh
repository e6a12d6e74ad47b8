#!/usr/bin/env bash
# bench/freshpages.sh BUILD_DIR: what a new page-cache page costs on this
# machine, and how much of the broker's CPU per produced message it is
# (issue 14, targets 1 and 3).
#
# A virtual machine whose balloon reports free pages to the host (virtio
# "free page reporting": /sys/module/page_reporting) gives every page it
# frees back; the next write into it faults on the host. A log broker
# appends, so every byte it takes lands in a new page-cache page. The
# script measures the same work in two states of the guest's free memory:
#   fresh   the machine as it is (pages freed earlier have been reported);
#   hot     reporting held off (min_free_ms raised, restored at exit) and
#           4 GiB of page cache just written and deleted, so new pages
#           come from memory the host still backs.
# In each state, one after the other:
#   1. dd, 1 GiB to a new file in 1 MiB writes: the kernel's write(2)
#      alone, CPU ns per 100 bytes (no quire code);
#   2. one broker (bench/onebroker.sh), quire-perf produce of N records of
#      100 B, acks=1, 4 partitions, the producer properties bench/compare
#      uses: msg/s and the broker's CPU ns per message;
#   3. ../shared/limits' produce floor, once: msg/s;
# and the CPU each spent per record: the broker's and quire-perf's (all
# threads, user and system), and the floor program's (client and server).
# The official figures are bench/compare's (quire on whatever pages the
# machine gives it; the floor, which reruns on one file, mostly on pages
# it has just freed). This script says where the difference comes from;
# its hot state is not a way to measure a target.
#
# PROFILE=1 also records the broker with perf(1) during each produce and
# prints its CPU per message split by system call (the kernel's work under
# each included) and by binary (kernel, quire-broker, libc).
#
# Needs root (it writes the page_reporting parameter) and a kernel with
# /sys/module/page_reporting/parameters/min_free_ms; without either it
# says so and exits 2. Environment: N [10000000], ROUNDS [2] (each round
# is fresh then hot), PROFILE [0], QUIRE_SHARED (as bench/compare).
set -euo pipefail
build=$(cd "${1:?usage: freshpages.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
N=${N:-10000000}
ROUNDS=${ROUNDS:-2}
param=/sys/module/page_reporting/parameters/min_free_ms
[ -w "$param" ] || { echo "freshpages: no writable $param (root, a kernel with free page reporting)" >&2; exit 2; }
shared=${QUIRE_SHARED:-$here/../../shared}
[ -f "$shared/limits/produce_floor.c" ] ||
    { echo "freshpages: no $shared/limits/produce_floor.c; set QUIRE_SHARED" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qr-fresh-XXXXXX")
orig=$(cat "$param")
restore() { echo "$orig" >"$param"; }
chroot=/fresh
props=
. "$here/onebroker.sh"
trap 'restore; cleanup' EXIT
gcc -O2 -msse4.2 -o "$tmp/produce_floor" "$shared/limits/produce_floor.c"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$bpid/stat"; }
hz=$(getconf CLK_TCK)

kernel_write() { # -> CPU ns per 100 B of dd's 1 GiB of new file
    local t
    t=$( { TIMEFORMAT='%U %S'; time dd if=/dev/zero of="$tmp/dd" bs=1M \
        count=1024 status=none; } 2>&1 )
    rm -f "$tmp/dd"
    awk -v t="$t" 'BEGIN { split(t, a, " ");
        printf "%.1f", (a[1] + a[2]) * 1e9 / (1073741824 / 100) }'
}

state() { # fresh | hot: sets up the guest's free memory
    if [ "$1" = hot ]; then
        echo 100000 >"$param"
        dd if=/dev/zero of="$tmp/warm" bs=1M count=4096 status=none
        rm -f "$tmp/warm"
    else
        restore
        sleep 10 # let what was freed be reported
    fi
}

split() { # broker ns/msg -> where the broker's CPU went, in ns/msg
    perf report -i "$tmp/perf.data" --children --sort sym -g none \
        --stdio 2>/dev/null |
        awk -v ns="$1" '
            $3 == "[k]" && $4 ~ /^__x64_sys_/ { sys[$4] = $1 + 0 }
            END {
                printf "        broker ns/msg by system call (with the kernel work under it):"
                n = split("recvfrom pwrite64 fdatasync sendmsg epoll_wait futex", k, " ")
                for (i = 1; i <= n; i++) {
                    v = sys["__x64_sys_" k[i]]
                    printf " %s %.0f", k[i], v * ns / 100
                    t += v
                }
                printf "; the rest (quire, libc, other calls) %.0f\n", (100 - t) * ns / 100
            }'
    perf report -i "$tmp/perf.data" --no-children --sort dso -g none \
        --stdio 2>/dev/null |
        awk -v ns="$1" '$1 ~ /%$/ { printf "        %-22s %5.1f ns/msg\n", $2, ($1 + 0) * ns / 100 }' |
        head -4
}

round=0
topic=0
while [ $round -lt "$ROUNDS" ]; do
    round=$((round + 1))
    for s in fresh hot; do
        state $s
        k=$(kernel_write)
        topic=$((topic + 1))
        "$build/tools/quire-topics" --zookeeper "$connect" --create \
            --topic "fp$topic" --partitions 4 >/dev/null
        sleep 1
        state $s
        [ "${PROFILE:-0}" = 1 ] && {
            perf record -q -e cpu-clock -g -p "$bpid" -o "$tmp/perf.data" \
                2>/dev/null &
            ppid=$!
            sleep 0.5
        }
        c0=$(cpu_ticks)
        # quire-perf's own CPU (user + system, every thread) beside the
        # broker's: the whole cost of a record on this machine
        TIMEFORMAT='%U %S'
        { time "$build/tools/quire-perf" produce --topic "fp$topic" \
            --bootstrap-server "$addr" --num-records "$N" --record-size 100 \
            --acks 1 --producer-property batch.size=262144 \
            --producer-property linger.ms=5 --csv >"$tmp/q.csv" \
            2>/dev/null; } 2>"$tmp/q.time"
        c1=$(cpu_ticks)
        [ "${PROFILE:-0}" = 1 ] && { kill -INT "$ppid"; wait "$ppid" || true; }
        rate=$(sed -n 2p "$tmp/q.csv" | cut -d, -f5)
        did=$(sed -n 2p "$tmp/q.csv" | cut -d, -f2)
        bns=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v n="$did" \
            'BEGIN { printf "%.0f", (b - a) / hz * 1e9 / n }')
        cns=$(awk -v n="$did" '{ printf "%.0f", ($1 + $2) * 1e9 / n }' \
            "$tmp/q.time")
        state $s
        # the floor's client and server are one program (a fork): both
        { time "$tmp/produce_floor" "$N" 1048576 >"$tmp/f.out" \
            2>/dev/null; } 2>"$tmp/f.time"
        f=$(sed -n 's/.*msgs_s=\([0-9]*\).*/\1/p' "$tmp/f.out")
        fns=$(awk -v n="$N" '{ printf "%.0f", ($1 + $2) * 1e9 / n }' \
            "$tmp/f.time")
        awk -v r=$round -v s=$s -v k="$k" -v q="$rate" -v b="$bns" -v f="$f" \
            -v c="$cns" -v fc="$fns" \
            'BEGIN { printf "round %d %-5s kernel write %6.1f ns/100B  quire produce %9.0f msg/s  floor %9.0f msg/s  quire/floor %.2f\n",
                     r, s, k, q, f, q / f
                     printf "        CPU per record: quire %d ns (broker %d + quire-perf %d), floor %d ns (client and server)\n",
                     b + c, b, c, fc }'
        [ "${PROFILE:-0}" = 1 ] && split "$bns"
    done
done
