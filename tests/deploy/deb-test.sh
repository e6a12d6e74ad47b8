#!/usr/bin/env bash
# deb-test.sh: quire's Debian packages from deploy/debian/build: lintian
# finds no error; installed (apt-get, with their dependencies), the broker
# is /usr/sbin/quire-broker with its unit, conffile and system user, `quire-
# broker --version` and `pkg-config --modversion quire` give the version,
# quire(3)'s EXAMPLE compiles with `cc example.c $(pkg-config --cflags
# --libs quire)` and sends 10 records through the installed broker to a
# topic made by the installed quire-topics (on a private ZooKeeper,
# loopback); purged, none of their files is left.
# Slow (the build takes minutes): `make deb-test`, part of `make nemesis`,
# not of `make check`. Needs root (77 without); installs and purges
# packages on this machine, refusing to if any quire package is installed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
pkgs=(quire-broker quire-tools libquire0 libquire-dev)
version=$(sed -n 's/^AC_INIT(\[quire\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
fail=0

[ "$(id -u)" -eq 0 ] || { echo "needs root (installs packages): skipped"; exit 77; }
for p in "${pkgs[@]}"; do
    if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        echo "$p is installed already: not touching it"
        exit 99
    fi
done
d=$(mktemp -d) || exit 99
broker_pid=
installed=0
cleanup() {
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid"
    [ $installed = 1 ] && apt-get purge -y -q "${pkgs[@]}" >/dev/null 2>&1
    rm -rf "$d"
}
trap cleanup EXIT
ok() { echo "ok   $*"; }
bad() {
    echo "FAIL $*"
    fail=1
}

"$top/deploy/debian/build" "$d/out" || exit 99
debs=()
for p in "${pkgs[@]}"; do
    debs+=("$d/out/${p}_${version}_$(dpkg --print-architecture).deb")
done

lintian --fail-on error "$d"/out/*.changes >"$d/lintian.txt" 2>&1
rc=$?
errors=$(grep -c '^E: ' "$d/lintian.txt")
if [ $rc -eq 0 ] && [ "$errors" -eq 0 ]; then
    ok "lintian: 0 errors ($(grep -c '^W: ' "$d/lintian.txt") warnings)"
else
    bad "lintian: exit $rc, $errors errors:"
    cat "$d/lintian.txt"
fi
grep '^[WI]: ' "$d/lintian.txt" | sed 's/^/     /'

installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${debs[@]}" >"$d/install.log" 2>&1 || { cat "$d/install.log"; exit 99; }
ok "installed ${pkgs[*]}"
v=$(/usr/sbin/quire-broker --version 2>&1)
grep -q "$version" <<<"$v" && ok "quire-broker --version: $v" ||
    bad "quire-broker --version: '$v' lacks $version"
[ "$(command -v quire-broker)" = /usr/sbin/quire-broker ] ||
    bad "quire-broker on PATH is '$(command -v quire-broker)'"
v=$(pkg-config --modversion quire 2>&1)
[ "$v" = "$version" ] && ok "pkg-config --modversion quire: $v" ||
    bad "pkg-config --modversion quire: '$v'"
getent passwd quire >/dev/null && ok "system user quire" || bad "no user quire"
for f in /etc/quire/server.properties /lib/systemd/system/quire-broker.service \
    /usr/bin/quire-topics /usr/share/man/man8/quire-broker.8.gz \
    /usr/include/quire/quire.h; do
    [ -e "$f" ] && ok "$f" || bad "missing $f"
done
dpkg-query -W -f '${Conffiles}\n' quire-broker | grep -q /etc/quire/server.properties &&
    ok "/etc/quire/server.properties is a conffile" || bad "server.properties not a conffile"
out=$(systemd-analyze verify /lib/systemd/system/quire-broker.service 2>&1) &&
    [ -z "$out" ] && ok "systemd-analyze verify the installed unit" ||
    bad "systemd-analyze verify: $out"

# quire(3)'s example, built as the page says, against the installed broker
sed -n '/example-begin/,/example-end/p' "$top/man/quire.3" |
    sed -e '1,2d' -e '$d' | sed -e '$d' -e 's/\\-/-/g' -e 's/\\e/\\/g' \
    >"$d/example.c"
# shellcheck disable=SC2046 # pkg-config's words are separate arguments
if cc -o "$d/example" "$d/example.c" $(pkg-config --cflags --libs quire) \
    >"$d/cc.log" 2>&1; then
    ok "quire(3) EXAMPLE compiles: cc example.c \$(pkg-config --cflags --libs quire)"
else
    bad "the example does not compile:"
    cat "$d/cc.log"
fi
cat >"$d/run.sh" <<'RUN'
#!/usr/bin/env bash
# with-zk gives QUIRE_TEST_ZK; start the installed broker, produce, stop it
d=$1
mkdir -p "$d/log"
printf '%s\n' broker.id=1 listeners=PLAINTEXT://127.0.0.1:0 \
    "zookeeper.connect=$QUIRE_TEST_ZK/debtest" "log.dirs=$d/log" >"$d/b.properties"
/usr/sbin/quire-broker -c "$d/b.properties" -p "$d/port" >"$d/broker.log" 2>&1 &
pid=$!
echo "$pid" >"$d/broker.pid"
for _ in $(seq 1 200); do [ -s "$d/port" ] && break; sleep 0.1; done
rc=99
# the topic made with the installed tool, as an operator would
[ -s "$d/port" ] && /usr/bin/quire-topics --zookeeper "$QUIRE_TEST_ZK/debtest" \
    --create --topic debtest --partitions 1 --replication-factor 1 &&
    { "$d/example" "$(cat "$d/port")" debtest >"$d/example.out"; rc=$?; }
kill "$pid"; wait "$pid"
exit $rc
RUN
chmod +x "$d/run.sh"
if [ -x "$d/example" ]; then
    "$top/tests/harness/with-zk" "$d/run.sh" "$d"
    rc=$?
    n=$(grep -c '^debtest-0@' "$d/example.out" 2>/dev/null)
    [ $rc -eq 0 ] && [ "$n" -eq 10 ] &&
        ok "the example sent 10 records through the installed broker" ||
        bad "the example against the installed broker: exit $rc, $n records ($(tail -n 3 "$d/broker.log" 2>/dev/null))"
fi

files=$(dpkg -L "${pkgs[@]}" 2>/dev/null | sort -u)
apt-get purge -y -q "${pkgs[@]}" >"$d/purge.log" 2>&1 || { bad "purge:"; cat "$d/purge.log"; }
installed=0
left=
for f in $files; do
    [ -f "$f" ] && left="$left $f"
done
[ -e /etc/quire ] && left="$left /etc/quire"
for p in "${pkgs[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'not-installed\|^$' ||
        [ -z "$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null)" ] ||
        left="$left package:$p"
done
[ -z "$left" ] && ok "purged: no file of the packages left" || bad "left after purge:$left"
exit $fail
