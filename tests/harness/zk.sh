#!/usr/bin/env bash
# zk.sh: start and stop real ZooKeeper servers for quire's tests
# (STYLE.md §10). Building blocks for tests/harness/with-zk and for tests
# that need a server of their own (session expiry, ensembles).
#
#   zk.sh start DIR PORT        standalone server on 127.0.0.1:PORT, state in DIR
#   zk.sh stop DIR              stop it (by PID) and wait until the JVM is gone
#   zk.sh kill DIR              the same with SIGKILL at once (a crash)
#   zk.sh restart-empty DIR     stop, empty the dataDir, start on the same port:
#                               every session the old server knew is now
#                               unknown, so clients see ZOO_EXPIRED_SESSION_STATE
#   zk.sh restart DIR           stop and start with the data kept (sessions
#                               survive: clients see connection loss only)
#   zk.sh free-port             print a free loopback TCP port
#   zk.sh ensemble-start DIR N  N servers on loopback (DIR/1 .. DIR/N); prints the
#                               connect string (also in DIR/connect)
#   zk.sh ensemble-stop DIR     stop every member
#   zk.sh member-stop DIR I     stop member I of the ensemble
#   zk.sh member-kill DIR I     SIGKILL member I (a crash)
#   zk.sh member-start DIR I    start member I again (waits until it serves,
#                               which needs a quorum of members up)
#   zk.sh connect DIR           print the connect string of DIR (either kind)
#
# Environment:
#   QT_ZK_START_TIMEOUT  seconds to wait for a server to serve (default 10;
#                        ensembles wait twice as long for their election)
#   QT_ZK_OWNER_PID      a watchdog stops the server once this process is gone
#                        (so a test killed by its timeout leaks no JVM)
#   QT_ZK_HEAP           the JVM's -Xmx (default 256m; bench/partitions.sh
#                        sets more: 10,000 partitions' znodes and watches)
#   ZKSERVER             path of zkServer.sh
#
# Each server lives in its own session (setsid), so Check's killpg() of a
# finished test does not take a shared server with it. It writes DIR/zk.pid
# (the JVM: zkServer.sh start-foreground execs java), DIR/zk.out (the
# server's log) and DIR/zoo.cfg. Exit status: 0 on success, 1 on failure
# with the reason and the log tail on stderr, 2 on usage errors.

set -u

ZKSERVER=${ZKSERVER:-/usr/share/zookeeper/bin/zkServer.sh}
START_TIMEOUT=${QT_ZK_START_TIMEOUT:-10}

die() {
    echo "zk.sh: $*" >&2
    exit 1
}

usage() {
    echo 'usage:' >&2; sed -n '6,22p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---- ports -----------------------------------------------------------------

# A port is taken when any TCP socket (v4 or v6, any state) has it as its
# local port. Reading /proc keeps the harness free of nc/ss/python.
port_in_use() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'NR > 1 && substr($2, length($2) - 4) == p { f = 1 }
                      END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Random ports below the kernel's ephemeral range (32768+), so outgoing
# connections cannot grab the port between our check and the server's bind.
# Callers retry if a bind still loses a race with another test.
free_port() {
    local i p
    for i in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        if ! port_in_use "$p" && ! grep -qx "$p" "${QT_ZK_TAKEN:-/dev/null}"; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found in 20000-31999"
}

# ---- one server --------------------------------------------------------------

# Print what srvr answers on PORT (empty when nothing listens yet).
srvr() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf srvr >&3 &&
                       cat <&3" 2>/dev/null
}

# True when PID is a live (non-zombie) java process.
jvm_alive() {
    local pid=$1 state
    [ -r "/proc/$pid/stat" ] || return 1
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

is_our_jvm() {
    jvm_alive "$1" && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = java ]
}

# True when PID holds the socket listening on PORT: srvr alone cannot tell
# our server from another one that already had the port.
owns_listener() {
    local pid=$1 hex inode fds
    hex=$(printf '%04X' "$2")
    fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || return 1
    while read -r inode; do
        case $fds in
        *"socket:[$inode]"*) return 0 ;;
        esac
    done < <(awk -v p=":$hex" 'NR > 1 && $4 == "0A" &&
             substr($2, length($2) - 4) == p { print $10 }' \
             /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    return 1
}

cfg_port() {
    sed -n 's/^clientPort=//p' "$1/zoo.cfg"
}

log_tail() {
    if [ -f "$1/zk.out" ]; then
        echo "zk.sh: last lines of $1/zk.out:" >&2
        tail -n 25 "$1/zk.out" >&2
    fi
}

# Settings every server gets. forceSync=no: durability of a test server's
# log does not matter, and fsync per transaction on a shared disk does.
# maxClientCnxns=0: tests open many connections from 127.0.0.1.
write_common_cfg() {
    local dir=$1 port=$2
    cat <<CFG
tickTime=500
initLimit=20
syncLimit=10
dataDir=$dir/data
clientPortAddress=127.0.0.1
clientPort=$port
admin.enableServer=false
4lw.commands.whitelist=srvr,stat,ruok,mntr,cons,dump,wchs
minSessionTimeout=1000
maxSessionTimeout=60000
maxClientCnxns=0
forceSync=no
preAllocSize=1024
CFG
}

# shellcheck disable=SC2016 # $$, $0, $1 belong to the inner shells.
# Launch the JVM for DIR/zoo.cfg in its own session. The inner bash writes
# its own PID and then execs zkServer.sh, which execs java: the recorded PID
# is the JVM whatever setsid decides about forking.
launch() {
    local dir=$1 jvmflags cp
    jvmflags="-Xmx${QT_ZK_HEAP:-256m} -Xms16m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
    jvmflags="$jvmflags -XX:-UsePerfData"
    # Debian's zookeeper.jar has no slf4j binding (NOP logger); put the
    # simple one on the class path so zk.out holds the server's log.
    # zkEnv.sh fixes CLASSPATH, and java honours the last -cp it is given.
    if [ -r /usr/share/java/slf4j-simple.jar ]; then
        cp="/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
        cp="$cp:/usr/share/java/slf4j-simple.jar"
        jvmflags="$jvmflags -cp $cp"
        jvmflags="$jvmflags -Dorg.slf4j.simpleLogger.showDateTime=true"
        jvmflags="$jvmflags -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"
    fi
    [ -x "$ZKSERVER" ] || die "$ZKSERVER not found: apt-get install zookeeper"
    mkdir -p "$dir/data" || die "cannot create $dir/data"
    rm -f "$dir/zk.pid"
    (
        cd "$dir" || exit 1
        export JMXDISABLE=true SERVER_JVMFLAGS="$jvmflags" JVMFLAGS=
        exec setsid bash -c 'echo $$ > zk.pid; exec "$0" start-foreground "$1"' \
            "$ZKSERVER" "$dir/zoo.cfg" </dev/null >>"$dir/zk.out" 2>&1
    ) &
    local i
    for i in $(seq 1 50); do
        [ -s "$dir/zk.pid" ] && break
        sleep 0.02
    done
    [ -s "$dir/zk.pid" ] || die "server in $dir did not record its PID"
    start_watchdog "$dir"
}

# shellcheck disable=SC2016 # $1, $2, $3 belong to the watchdog's shell.
# Once QT_ZK_OWNER_PID is gone while the server still runs, nobody is left
# to stop it: stop it and remove DIR (and an ensemble's directory when its
# last member goes). Exits quietly when the server stops first.
start_watchdog() {
    local dir=$1 owner=${QT_ZK_OWNER_PID:-} pid
    [ -n "$owner" ] || return 0
    pid=$(cat "$dir/zk.pid")
    setsid bash -c '
        while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do
            sleep 1
        done
        [ "$(cat "/proc/$2/comm" 2>/dev/null)" = java ] || exit 0
        kill "$2"
        for i in $(seq 1 100); do
            [ -d "/proc/$2" ] || break
            sleep 0.1
        done
        kill -KILL "$2" 2>/dev/null
        sleep 0.2
        member=false
        [ -f "$3/member" ] && member=true
        rm -rf "$3"
        if $member; then
            parent=$(dirname "$3")
            ls -d "$parent"/[0-9]* >/dev/null 2>&1 || rm -rf "$parent"
        fi' zk-watchdog "$owner" "$pid" "$dir" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
}

# Wait until srvr on DIR's port answers with a Mode: line (ruok's imok comes
# before sessions are accepted). Returns 1 with the log tail on stderr when
# the server dies or the cap passes.
wait_serving() {
    local dir=$1 cap=$2 port pid deadline
    port=$(cfg_port "$dir")
    pid=$(cat "$dir/zk.pid")
    deadline=$((SECONDS + cap))
    while :; do
        if owns_listener "$pid" "$port" && srvr "$port" | grep -q '^Mode:'
        then
            is_our_jvm "$pid" ||
                die "PID $pid in $dir/zk.pid is not the JVM"
            return 0
        fi
        if ! jvm_alive "$pid"; then
            log_tail "$dir"
            echo "zk.sh: server in $dir (port $port) exited during start" >&2
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log_tail "$dir"
            echo "zk.sh: server in $dir (port $port) not serving" \
                "after ${cap}s" >&2
            return 1
        fi
        sleep 0.1
    done
}

# Stop the JVM of DIR by PID: SIGTERM, up to 10 s, then SIGKILL (or
# SIGKILL at once when the second argument is KILL: a crash). Returns once
# the process is gone (a zombie counts as gone: its sockets are closed).
stop_dir() {
    local dir=$1 sig=${2:-TERM} pid i
    if [ -s "$dir/watchdog.pid" ]; then
        kill "$(cat "$dir/watchdog.pid")" 2>/dev/null
        rm -f "$dir/watchdog.pid"
    fi
    [ -s "$dir/zk.pid" ] || return 0
    pid=$(cat "$dir/zk.pid")
    # Only ever signal our own JVM, never a process that reused the PID.
    if is_our_jvm "$pid"; then
        kill -"$sig" "$pid" 2>/dev/null
        for i in $(seq 1 200); do
            jvm_alive "$pid" || break
            sleep 0.05
        done
        if jvm_alive "$pid"; then
            echo "zk.sh: $pid ignored SIGTERM for 10 s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null
            for i in $(seq 1 100); do
                jvm_alive "$pid" || break
                sleep 0.05
            done
            jvm_alive "$pid" && die "JVM $pid in $dir survived SIGKILL"
        fi
    fi
    rm -f "$dir/zk.pid"
}

cmd_start() {
    local dir=$1 port=$2
    case $port in
    '' | *[!0-9]*) usage ;;
    esac
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(cd "$dir" && pwd)
    if [ -s "$dir/zk.pid" ] && is_our_jvm "$(cat "$dir/zk.pid")"; then
        die "a server is already running in $dir"
    fi
    write_common_cfg "$dir" "$port" >"$dir/zoo.cfg"
    launch "$dir"
    wait_serving "$dir" "$START_TIMEOUT" || fail_stop "$dir"
}

# A server that failed to start is stopped, so nothing is left behind.
fail_stop() {
    stop_dir "$1"
    exit 1
}

# The highest zxid epoch DIR's data has seen: the epoch files of quorum
# mode, and the zxids in the names of snapshots and transaction logs.
data_epoch() {
    local v2=$1/data/version-2 f max=0 e
    for f in "$v2/currentEpoch" "$v2/acceptedEpoch"; do
        [ -r "$f" ] || continue
        e=$(cat "$f")
        case $e in '' | *[!0-9]*) continue ;; esac
        [ "$e" -gt "$max" ] && max=$e
    done
    for f in "$v2"/snapshot.* "$v2"/log.*; do
        case ${f##*.} in '' | *[!0-9a-fA-F]*) continue ;; esac
        e=$((0x${f##*.} >> 32))
        [ "$e" -gt "$max" ] && max=$e
    done
    echo "$max"
}

# Restart with an empty tree, so the server knows no session. A client
# reconnecting with its old session is told it expired, but only if the
# server's last zxid is not below the last zxid the client saw (else the
# server refuses the connection and the client retries forever). So the
# new server runs as a one-member quorum whose epoch files say it is past
# every epoch the old data saw: its first zxid is (epoch + 2) << 32, above
# any zxid the old server gave out.
cmd_restart_empty() {
    local dir=$1 port epoch q e
    [ -f "$dir/zoo.cfg" ] || die "$dir/zoo.cfg: no server was started there"
    dir=$(cd "$dir" && pwd)
    [ -f "$dir/member" ] &&
        die "restart-empty is for single servers, $dir is an ensemble member"
    port=$(cfg_port "$dir")
    stop_dir "$dir"
    epoch=$(($(data_epoch "$dir") + 1))
    for _ in 1 2; do
        rm -rf "$dir/data"
        mkdir -p "$dir/data/version-2" || die "cannot create $dir/data"
        echo 1 >"$dir/data/myid"
        echo "$epoch" >"$dir/data/version-2/currentEpoch"
        echo "$epoch" >"$dir/data/version-2/acceptedEpoch"
        q=$(free_port) && e=$(QT_ZK_TAKEN=<(echo "$q") free_port) || exit 1
        {
            write_common_cfg "$dir" "$port"
            echo "standaloneEnabled=false"
            echo "server.1=127.0.0.1:$q:$e"
        } >"$dir/zoo.cfg"
        launch "$dir"
        wait_serving "$dir" "$START_TIMEOUT" && return 0
        stop_dir "$dir"
    done
    exit 1
}

# Stop and start again with the data kept: sessions survive.
cmd_restart() {
    local dir=$1
    [ -f "$dir/zoo.cfg" ] || die "$dir/zoo.cfg: no server was started there"
    dir=$(cd "$dir" && pwd)
    stop_dir "$dir"
    launch "$dir"
    wait_serving "$dir" "$START_TIMEOUT" || fail_stop "$dir"
}

# ---- ensembles -------------------------------------------------------------

cmd_ensemble_start() {
    local dir=$1 n=$2 i p taken connect="" servers=""
    case $n in
    [1-9]) ;;
    *) usage ;;
    esac
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(cd "$dir" && pwd)
    # 3 distinct ports per member: client, quorum, election.
    taken="$dir/ports"
    : >"$taken"
    for i in $(seq 1 "$n"); do
        for p in client quorum election; do
            QT_ZK_TAKEN=$taken free_port >>"$taken" || exit 1
        done
    done
    for i in $(seq 1 "$n"); do
        servers="${servers}server.$i=127.0.0.1:$(sed -n "$((3 * i - 1))p" "$taken")"
        servers="$servers:$(sed -n "$((3 * i))p" "$taken")"$'\n'
        p=$(sed -n "$((3 * i - 2))p" "$taken")
        connect="${connect:+$connect,}127.0.0.1:$p"
    done
    for i in $(seq 1 "$n"); do
        mkdir -p "$dir/$i/data" || die "cannot create $dir/$i"
        echo "$i" >"$dir/$i/data/myid"
        : >"$dir/$i/member"
        {
            write_common_cfg "$dir/$i" "$(sed -n "$((3 * i - 2))p" "$taken")"
            printf '%s' "$servers"
        } >"$dir/$i/zoo.cfg"
    done
    echo "$n" >"$dir/size"
    echo "$connect" >"$dir/connect"
    # Start all members before waiting: none serves without a quorum.
    for i in $(seq 1 "$n"); do
        launch "$dir/$i"
    done
    for i in $(seq 1 "$n"); do
        if ! wait_serving "$dir/$i" $((2 * START_TIMEOUT)); then
            cmd_ensemble_stop "$dir"
            exit 1
        fi
    done
    echo "$connect"
}

member_dir() {
    local dir=$1 i=$2
    [ -f "$dir/size" ] || die "$dir: no ensemble was started there"
    case $i in
    '' | *[!0-9]*) usage ;;
    esac
    if [ "$i" -lt 1 ] || [ "$i" -gt "$(cat "$dir/size")" ]; then
        die "$dir: no member $i"
    fi
    echo "$(cd "$dir" && pwd)/$i"
}

cmd_member_start() {
    local mdir
    mdir=$(member_dir "$1" "$2") || exit 1
    if [ -s "$mdir/zk.pid" ] && is_our_jvm "$(cat "$mdir/zk.pid")"; then
        die "member $2 of $1 is already running"
    fi
    launch "$mdir"
    wait_serving "$mdir" $((2 * START_TIMEOUT)) || fail_stop "$mdir"
}

cmd_member_stop() {
    local mdir
    mdir=$(member_dir "$1" "$2") || exit 1
    stop_dir "$mdir" "${3:-TERM}"
}

cmd_ensemble_stop() {
    local dir=$1 i
    [ -f "$dir/size" ] || die "$dir: no ensemble was started there"
    for i in $(seq 1 "$(cat "$dir/size")"); do
        stop_dir "$dir/$i"
    done
}

cmd_connect() {
    local dir=$1
    if [ -f "$dir/connect" ]; then
        cat "$dir/connect"
    elif [ -f "$dir/zoo.cfg" ]; then
        echo "127.0.0.1:$(cfg_port "$dir")"
    else
        die "$dir: no server was started there"
    fi
}

case ${1:-} in
start) [ $# -eq 3 ] || usage; cmd_start "$2" "$3" ;;
stop) [ $# -eq 2 ] || usage; stop_dir "$2" ;;
restart-empty) [ $# -eq 2 ] || usage; cmd_restart_empty "$2" ;;
restart) [ $# -eq 2 ] || usage; cmd_restart "$2" ;;
free-port) [ $# -eq 1 ] || usage; free_port ;;
ensemble-start) [ $# -eq 3 ] || usage; cmd_ensemble_start "$2" "$3" ;;
ensemble-stop) [ $# -eq 2 ] || usage; cmd_ensemble_stop "$2" ;;
member-start) [ $# -eq 3 ] || usage; cmd_member_start "$2" "$3" ;;
member-stop) [ $# -eq 3 ] || usage; cmd_member_stop "$2" "$3" ;;
member-kill) [ $# -eq 3 ] || usage; cmd_member_stop "$2" "$3" KILL ;;
kill) [ $# -eq 2 ] || usage; stop_dir "$2" KILL ;;
connect) [ $# -eq 2 ] || usage; cmd_connect "$2" ;;
*) usage ;;
esac
