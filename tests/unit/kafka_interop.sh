#!/bin/sh
# kafka_interop.sh: batches built by quire (write_batches, every codec) are
# read back by an independent implementation, kafka-python's
# DefaultRecordBatch, which checks the CRC and decodes every record; the
# records must be the ones quire was given (tests/data/gen_batches.py read).
#
# Needs Debian's python3-kafka, python3-lz4 and python3-zstandard under
# /usr/bin/python3 (tests/run installs them). Without them this FAILS: a
# missing checker must never look like a pass.
set -u

PY=/usr/bin/python3
srcdir=${srcdir:-$(dirname "$0")}
gen="$srcdir/../data/gen_batches.py"

if ! "$PY" -c 'import kafka.record.default_records' 2>/dev/null; then
    echo "FAIL: $PY cannot import kafka (kafka-python):" \
         "apt-get install python3-kafka python3-lz4 python3-zstandard" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/quire-interop.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

./write_batches "$tmp" || { echo "FAIL: write_batches" >&2; exit 1; }
"$PY" "$gen" read "$tmp"
