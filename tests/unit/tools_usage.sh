#!/bin/sh
# tools_usage.sh: every tool on tools/cli.c's parser says what is wrong
# with an option in getopt's words, on one line ending with the way to
# --help, and exits 2 with nothing on stdout: an option it does not have
# (-h where --help has no short form: it once said "-h" needed an
# argument), an unknown or ambiguous long option, a flag given an
# argument, an option without its argument. Where --help shows "-h", -h
# prints the same text.
set -u
top=${top_builddir:-../..}
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # description, condition (eval'd)
    if eval "$2"; then echo "ok - $1"; else echo "FAIL - $1"; fail=1; fi
}

# bad tool message args...: exit 2, stdout empty, stderr exactly one line
bad() {
    t=$1
    printf "%s: %s; try '%s --help'\n" "$t" "$2" "$t" >"$tmp/want"
    shift 2
    "$top/tools/$t" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    check "$t $*: exit 2, \"$(cat "$tmp/want")\"" \
        '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && cmp -s "$tmp/want" "$tmp/err" ||
         { echo "exit $rc:"; cat "$tmp/out" "$tmp/err"; false; }'
}

# tool, the command before its options ("-": none), an option that needs
# an argument ("-": none)
while read -r tool cmd needs; do
    bin=$top/tools/$tool
    [ -x "$bin" ] || { echo "no $bin"; exit 99; }
    [ "$cmd" = - ] && set -- || set -- "$cmd"
    "$bin" --help >"$tmp/help" 2>&1
    check "$tool --help: exit 0" '[ $? -eq 0 ] && [ -s "$tmp/help" ]'
    if grep -q -- '^ *-h, --help' "$tmp/help"; then
        "$bin" "$@" -h >"$tmp/h" 2>&1
        check "$tool $* -h: the --help text" \
            '[ $? -eq 0 ] && cmp -s "$tmp/help" "$tmp/h"'
    else
        bad "$tool" "invalid option -- 'h'" "$@" -h
    fi
    bad "$tool" "invalid option -- '%'" "$@" -%
    bad "$tool" "unrecognized option '--no-such-option'" "$@" --no-such-option
    bad "$tool" "unrecognized option '--no-such=1'" "$@" --no-such=1
    bad "$tool" "option '--ver' is ambiguous" "$@" --ver
    bad "$tool" "option '--version' doesn't allow an argument" "$@" --version=1
    bad "$tool" "option '--version' doesn't allow an argument" "$@" --versi=1
    if [ "$needs" != - ]; then
        bad "$tool" "option '--$needs' requires an argument" "$@" --"$needs"
    fi
done <<'TOOLS'
quire-console-consumer - topic
quire-console-producer - topic
quire-consumer-groups - group
quire-dump-log - -
quire-leader-election - path-to-json-file
quire-load run topic
quire-perf produce topic
quire-reassign-partitions - broker-list
quire-topics - topic
TOOLS

# The tools with commands: -h and --help after any command print the
# tool's --help (quire-load run -h once said "invalid option -- 'h'"),
# and so does -h before it; -V after any command prints the version.
while read -r tool cmds; do
    bin=$top/tools/$tool
    "$bin" --help >"$tmp/help" 2>&1
    for cmd in - $cmds; do
        [ "$cmd" = - ] && set -- || set -- "$cmd"
        for h in -h --help; do
            "$bin" "$@" "$h" >"$tmp/h" 2>"$tmp/err"
            check "$tool $* $h: the --help text, exit 0" \
                '[ $? -eq 0 ] && [ ! -s "$tmp/err" ] && cmp -s "$tmp/help" "$tmp/h"'
        done
        "$bin" "$@" -V >"$tmp/v" 2>&1
        check "$tool $* -V: the version" \
            '[ $? -eq 0 ] && grep -q "^$tool (quire) " "$tmp/v"'
    done
done <<'CMDS'
quire-load run splits map commit
quire-perf produce consume e2e
CMDS
exit $fail
