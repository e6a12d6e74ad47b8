#!/bin/sh
# client_man.sh: the client's man pages against the code. Each tool's
# --help and its page list the same options; quire(3)'s CONFIGURATION list
# is exactly what the conf table prints; quire(3)'s EXAMPLE compiles
# against the installed-style header and libquire.so, and runs.
set -u
srcdir=${srcdir:-.}
top=${top_builddir:-../..}
MAN=$srcdir/../../man
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # description, condition (eval'd)
    if eval "$2"; then echo "ok - $1"; else echo "FAIL - $1"; fail=1; fi
}

. ./client_man_env.sh || exit 99

for tool in quire-console-producer quire-console-consumer quire-perf quire-load; do
    bin=$top/tools/$tool
    [ -x "$bin" ] || { echo "no $bin"; exit 99; }
    "$bin" --help | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/h"
    sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$MAN/$tool.1" | grep '^\.B' |
        sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/m"
    check "$tool: --help and man page list the same options" \
        'cmp -s "$tmp/h" "$tmp/m" && [ -s "$tmp/h" ]'
    "$bin" --version | grep -q "^$tool (quire) "
    check "$tool --version" '[ $? -eq 0 ]'
    "$bin" --no-such-option >/dev/null 2>&1
    check "$tool: a bad option exits 2" '[ $? -eq 2 ]'
done

# CONFIGURATION: the generated list appears verbatim
./client_man_keys >"$tmp/keys"
awk '/^\.SH CONFIGURATION/{on=1; next} /^\.SH /{on=0} on && !/^\.\\"/' \
    "$MAN/quire.3" >"$tmp/section"
check "quire.3 CONFIGURATION matches the conf table" \
    'cmp -s "$tmp/keys" "$tmp/section"'

# SYNOPSIS: every public function of quire.h, and no other but err.h's
# quire_err2str/quire_err2name (issue 18 item 13)
grep -o '^[a-z][a-z0-9_ ]*[ *]quire_[a-z0-9_]*(' "$CLIENT_SRC/quire.h" |
    grep -o 'quire_[a-z0-9_]*(' | tr -d '(' >"$tmp/hfuncs"
printf 'quire_err2name\nquire_err2str\n' >>"$tmp/hfuncs"
sort -u -o "$tmp/hfuncs" "$tmp/hfuncs"
sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$MAN/quire.3" | grep '^\.BI' |
    grep -o 'quire_[a-z0-9_]*(' | tr -d '(' | sort -u >"$tmp/sfuncs"
check "quire.3 SYNOPSIS lists every public function of quire.h" \
    'cmp -s "$tmp/hfuncs" "$tmp/sfuncs" || diff "$tmp/hfuncs" "$tmp/sfuncs"'
# SEE ALSO: every other page of man/
sed -n '/^\.SH SEE ALSO/,$p' "$MAN/quire.3" | sed 's/\\-/-/g' >"$tmp/seealso"
for page in "$MAN"/*.[158]; do
    ref=$(basename "$page" | sed 's/^\(.*\)\.\([158]\)$/.BR \1 (\2)/')
    check "quire.3 SEE ALSO: $ref" 'grep -qF "$ref" "$tmp/seealso"'
done

# EXAMPLE: extract, unescape roff, compile, link, run (usage: exit 2)
sed -n '/example-begin/,/example-end/p' "$MAN/quire.3" |
    sed -e '1,2d' -e '$d' | sed -e '$d' \
        -e 's/\\-/-/g' -e 's/\\e/\\/g' >"$tmp/example.c"
mkdir "$tmp/inc"
cp "$CLIENT_SRC/quire.h" "$COMMON_SRC/err.h" "$tmp/inc/"
$CC $CFLAGS -Wall -Wextra -Werror -std=gnu11 -I"$tmp/inc" \
    "$tmp/example.c" -o "$tmp/example" -L"$LIBDIR" -lquire \
    -Wl,-rpath,"$LIBDIR" $LDFLAGS >"$tmp/cc.log" 2>&1
rc=$?
[ $rc -eq 0 ] || cat "$tmp/cc.log"
check "quire.3 EXAMPLE compiles and links against libquire.so" '[ $rc -eq 0 ]'
if [ $rc -eq 0 ]; then
    "$tmp/example" >/dev/null 2>"$tmp/err"
    check "the example runs (usage without arguments)" \
        '[ $? -eq 2 ] && grep -q "^usage:" "$tmp/err"'
fi
exit $fail
