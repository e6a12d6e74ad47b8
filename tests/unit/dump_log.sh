#!/bin/sh
# dump_log.sh: quire-dump-log on the partition-log fixtures
# (tests/data/plog) and on kafka-python's golden batches, its exit codes,
# and its --help against man/quire-dump-log.1 (same options both ways).
set -u
srcdir=${srcdir:-.}
top=${top_builddir:-../..}
DUMP=$top/tools/quire-dump-log
DATA=$srcdir/../data
MAN=$srcdir/../../man/quire-dump-log.1
fail=0
out=$(mktemp)
trap 'rm -f "$out" "$out.h" "$out.m"' EXIT

check() { # description, condition (eval'd)
    if eval "$2"; then echo "ok - $1"; else echo "FAIL - $1"; fail=1; fi
}
run() { # args...; sets rc, output in $out
    "$DUMP" "$@" >"$out" 2>&1
    rc=$?
}

[ -x "$DUMP" ] || { echo "no $DUMP"; exit 99; }

# --help and the man page name the same options
"$DUMP" --help | grep -o -- '--[a-z][a-z-]*' | sort -u >"$out.h"
sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$MAN" | grep '^\.BR' |
    sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z-]*' | sort -u >"$out.m"
check "--help and man page list the same options" \
    'cmp -s "$out.h" "$out.m" && [ -s "$out.h" ]'
"$DUMP" --help | grep -o -- ' -[a-zA-Z],' | sort -u >"$out.h"
sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$MAN" | grep '^\.BR' |
    sed 's/\\-/-/g' | grep -o -- ' -[a-zA-Z] *"*,' | tr -d ' "' |
    sed 's/^/ /' | sort -u >"$out.m"
check "--help and man page list the same short options" \
    'cmp -s "$out.h" "$out.m" && [ -s "$out.h" ]'

# a clean segment: every batch, record and index entry, exit 0
seg=$DATA/plog/torn-tail/fix-0/00000000000000000000.log
run --records --verify-index "$seg"
check "clean segment exits 0" '[ $rc -eq 0 ]'
check "14 batches" '[ $(grep -c "^baseOffset:" "$out") -eq 14 ]'
check "28 records" '[ $(grep -c "^| offset:" "$out") -eq 28 ]'
check "all CRCs valid" '! grep -q "crcValid: false" "$out"'
check "both indexes checked" \
    '[ $(grep -c ": 13 entries checked" "$out") -eq 2 ]'

# a torn tail
run "$DATA/plog/torn-tail/fix-0/00000000000000000056.log"
check "torn tail exits 1" '[ $rc -eq 1 ]'
check "torn tail reported at its position" \
    'tail -n 1 "$out" | grep -q "position: 3069 torn batch"'

# a flipped byte: exactly one bad CRC, the walk goes on
run "$DATA/plog/flipped-byte/fix-0/00000000000000000028.log"
check "flipped byte exits 1" '[ $rc -eq 1 ]'
check "one CRC mismatch, at offset 36" \
    '[ $(grep -c "crcValid: false" "$out") -eq 1 ] &&
     grep "crcValid: false" "$out" | grep -q "^baseOffset: 36 "'
check "batches after it still listed" \
    '[ $(grep -c "^baseOffset:" "$out") -eq 14 ]'

# indexes: truncated, missing
run -i "$DATA/plog/truncated-index/fix-0/00000000000000000000.log"
check "truncated index exits 1" '[ $rc -eq 1 ]'
check "truncated index reported" 'grep -q "not a multiple of 8" "$out"'
run -i "$DATA/plog/missing-index/fix-0/00000000000000000028.log"
check "missing index reported" '[ $rc -eq 1 ] && grep -q "index: missing" "$out"'
run "$DATA/plog/torn-tail/fix-0/00000000000000000028.index"
check ".index entries printed" \
    '[ $rc -eq 0 ] && [ $(grep -c "^offset: .* position: " "$out") -eq 13 ]'
run "$DATA/plog/torn-tail/fix-0/00000000000000000028.timeindex"
check ".timeindex entries printed" \
    '[ $rc -eq 0 ] && head -n 1 "$out" | grep -q "^timestamp: 1151 offset: 30$"'

# compressed batches written by kafka-python, records decompressed
for codec in gzip lz4 zstd; do
    run -r "$DATA/batch_${codec}_mixed.bin"
    check "$codec batch: 60 records" \
        '[ $rc -eq 0 ] && [ $(grep -c "^| offset:" "$out") -eq 60 ] &&
         grep -q "codec: $codec" "$out"'
done
run -r "$DATA/batch_none_headers.bin"
check "headers and escapes" \
    'grep -q "\"content-type\"=\"application/json\"" "$out" &&
     grep -q "\"none\"=null" "$out" && grep -q "{\\\\\"n\\\\\": 0" "$out"'

# usage and missing files
run
check "no FILE: exit 2" '[ $rc -eq 2 ]'
run --bogus x
check "unknown option: exit 2" '[ $rc -eq 2 ]'
run /nonexistent/00000000000000000000.log
check "missing file: exit 1" '[ $rc -eq 1 ]'
run --version
check "--version" '[ $rc -eq 0 ] && grep -q quire "$out"'

exit $fail
