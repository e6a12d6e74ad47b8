#!/usr/bin/env bash
# netns-badinput.sh: deploy/netns-cluster start refuses bad input with a
# clear message and changes nothing: not root; a subnet some address
# already uses; a malformed subnet; too few brokers. Needs root (77 without).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
nc=$top/deploy/netns-cluster
export QUIRE_NETNS_NAME=qnb QUIRE_NETNS_SUBNET=10.231.8.0/24
export QUIRE_NETNS_DIR=${TMPDIR:-/tmp}/quire-netns-badinput-$$
probe=qnbprobe
fail=0

[ "$(id -u)" -eq 0 ] || { echo "needs root: skipped"; exit 77; }
cleanup() {
    ip netns del "$probe" 2>/dev/null
    "$nc" stop >/dev/null 2>&1
    rm -rf "$QUIRE_NETNS_DIR"
}
trap cleanup EXIT

# every namespace, link and mount whose name is ours
ours() {
    { ip netns list; ip -o link show; mount; } | grep -E 'qnb-|quire-qnb' || true
}

# expect: start exits 1, says $1 on stderr, leaves nothing of ours behind
expect_refused() {
    local what=$1 want=$2 rc err
    shift 2
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -ne 1 ]; then
        echo "FAIL $what: exit $rc, not 1 ($err)"
        fail=1
    elif ! grep -q -- "$want" <<<"$err"; then
        echo "FAIL $what: message '$err' does not say '$want'"
        fail=1
    elif [ -n "$(ours)" ] || [ -e "$QUIRE_NETNS_DIR" ]; then
        echo "FAIL $what: left behind: $(ours) $(ls -d "$QUIRE_NETNS_DIR" 2>/dev/null)"
        fail=1
    else
        echo "ok   $what: $err"
    fi
}

[ -z "$(ours)" ] || { echo "objects named qnb-* exist already: $(ours)"; exit 99; }
expect_refused "not root" "needs root" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$nc" start

# an address on the subnet, in a namespace of this test's own
ip netns add "$probe" && ip -n "$probe" link add qnbv0 type veth peer name qnbv1 &&
    ip -n "$probe" addr add 10.231.8.1/24 dev qnbv0 || exit 99
expect_refused "subnet in use" "subnet 10.231.8.0/24 is in use" "$nc" start
expect_refused "subnet in use (named)" "10.231.8.1/24 in namespace $probe" \
    "$nc" start
ip netns del "$probe"

expect_refused "malformed subnet" "give a /24" \
    env QUIRE_NETNS_SUBNET=10.231.8.0/16 "$nc" start
expect_refused "two brokers" "a number from 3" \
    env QUIRE_NETNS_BROKERS=2 "$nc" start
expect_refused "unknown host" "no host 'h9'" "$nc" exec h9 true
exit $fail
