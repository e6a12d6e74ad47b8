#!/usr/bin/env bash
# netns-startstop.sh: deploy/netns-cluster starts (every member and broker
# serving, status 0) and stops three times in a row, leaving no namespace,
# link, mount or process behind. Needs root (77 without); in `make nemesis`.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
nc=$top/deploy/netns-cluster
export QUIRE_NETNS_NAME=qns QUIRE_NETNS_SUBNET=10.231.7.0/24
export QUIRE_NETNS_DIR=${TMPDIR:-/tmp}/quire-netns-startstop-$$
fail=0

[ "$(id -u)" -eq 0 ] || { echo "needs root: skipped"; exit 77; }
trap '"$nc" stop >/dev/null 2>&1; rm -rf "$QUIRE_NETNS_DIR"' EXIT

ours() {
    { ip netns list; ip -o link show; mount; } | grep -E 'qns-|quire-qns' || true
}
[ -z "$(ours)" ] || { echo "objects named qns-* exist already: $(ours)"; exit 99; }
for round in 1 2 3; do
    "$nc" start || { echo "FAIL round $round: start"; exit 1; }
    "$nc" status || { echo "FAIL round $round: status after start"; fail=1; }
    pids=$(cat "$QUIRE_NETNS_DIR"/h*/broker.pid "$QUIRE_NETNS_DIR"/h*/zk/zk.pid)
    [ "$(wc -w <<<"$pids")" -eq 6 ] || { echo "FAIL round $round: pids '$pids'"; fail=1; }
    "$nc" stop || { echo "FAIL round $round: stop"; fail=1; }
    left=$(ours)
    for p in $pids; do
        [ -d "/proc/$p" ] && left="$left process $p"
    done
    if [ -n "$left" ]; then
        echo "FAIL round $round: left behind: $left"
        fail=1
    else
        echo "ok   round $round: nothing left (ip netns list, ip link, mounts, processes)"
    fi
    "$nc" status >/dev/null && { echo "FAIL round $round: status 0 after stop"; fail=1; }
done
exit $fail
