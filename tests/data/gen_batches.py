#!/usr/bin/python3
"""Golden RecordBatch v2 bytes from an independent implementation.

Kafka's record format has a Python implementation in Debian's python3-kafka
(kafka.record.default_records). This script uses it in two directions:

  gen_batches.py write DIR   writes batch_*.bin with kafka-python's
                             DefaultRecordBatchBuilder, plus batches.manifest
                             describing what each holds. The output is
                             committed under tests/data/ (run it from there:
                             /usr/bin/python3 gen_batches.py write .).
  gen_batches.py read DIR    reads every file a manifest in DIR lists with
                             kafka-python's DefaultRecordBatch (CRC checked)
                             and compares its records with the manifest; the
                             unit test kafka_interop.sh runs this on batches
                             quire built (tests/unit/write_batches).

Manifest: one line per file, '#' starts a comment:
  FILE CODEC BASE_OFFSET COUNT DUMP_LEN DUMP_CRC32
CODEC is the batch's attributes & 7. The dump is the records written out as
text, one line per record:
  OFFSET TIMESTAMP KEY VALUE NHEADERS[ HKEY HVALUE]...\\n
with KEY, VALUE, HKEY, HVALUE in lower-case hex, or '-' for null; DUMP_CRC32
is zlib's crc32 of the whole dump. tests/unit/check_batch.c computes the same
dump from what quire decodes.

Everything is deterministic (no clock, no random), so rerunning writes the
same bytes: kafka-python's gzip_encode() would put the current time in the
gzip header's MTIME, so this script makes gzip.GzipFile default to mtime=0.
"""

import functools
import gzip
import os
import struct
import sys
import zlib

try:
    from kafka.record.default_records import (DefaultRecordBatch,
                                              DefaultRecordBatchBuilder)
    import kafka.codec
except ImportError as e:
    sys.stderr.write("gen_batches.py: cannot import kafka-python (%s): "
                     "apt-get install python3-kafka\n" % e)
    sys.exit(1)

CODEC_NONE, CODEC_GZIP, CODEC_LZ4, CODEC_ZSTD = 0, 1, 3, 4
BASE_TS = 1700000000000  # 2023-11-14, milliseconds


def require_codecs():
    missing = []
    if not kafka.codec.has_gzip():
        missing.append("gzip (python3 zlib)")
    if not kafka.codec.has_lz4():
        missing.append("lz4 (apt-get install python3-lz4)")
    if not kafka.codec.has_zstd():
        missing.append("zstd (apt-get install python3-zstandard)")
    if missing:
        sys.stderr.write("gen_batches.py: kafka-python lacks codecs: %s\n" %
                         ", ".join(missing))
        sys.exit(1)


def hexnull(b):
    return "-" if b is None else bytes(b).hex()


def dump(records):
    """records: list of (offset, timestamp, key, value, headers)."""
    out = []
    for off, ts, key, value, headers in records:
        line = "%d %d %s %s %d" % (off, ts, hexnull(key), hexnull(value),
                                   len(headers))
        for hk, hv in headers:
            if isinstance(hk, str):
                hk = hk.encode("utf-8")
            line += " %s %s" % (hexnull(hk), hexnull(hv))
        out.append(line + "\n")
    return "".join(out).encode("ascii")


# ---- the batches: name -> (codec, base_offset, producer, records) ----
# A record is (timestamp, key, value, headers); its offset delta is its
# index. Values repeat enough that every codec actually compresses (the
# builder falls back to no compression when that would not save bytes).

def rec_plain(i):
    return (BASE_TS + i, None, b"value-%d-" % i + b"x" * (i % 40), [])


def rec_keyed(i):
    return (BASE_TS + 10 * i, b"key-%d" % (i % 17),
            b"payload %05d " % i + b"abcdefgh" * (1 + i % 9), [])


def rec_mixed(i):
    """Null keys, null values, empty ones, headers, timestamps that go
    backwards and jump: the corners of the format."""
    key = None if i % 3 == 0 else (b"" if i % 3 == 1 else b"k%d" % i)
    value = None if i % 5 == 0 else (b"" if i % 5 == 1 else
                                     b"v" * (i % 300))
    headers = []
    for h in range(i % 4):
        hv = None if (i + h) % 3 == 0 else b"hv%d" % (i * h)
        headers.append(("h%d" % h if h else "", hv))
    ts = BASE_TS + [0, -5, 7, 100000, 3][i % 5] + i
    return (ts, key, value, headers)


def rec_headers(i):
    return (BASE_TS, b"user-%d" % i, b'{"n": %d, "pad": "%s"}' % (i, b"z" * 30),
            [("trace-id", b"%016x" % (i * 7919)), ("content-type",
                                                    b"application/json"),
             ("empty", b""), ("none", None)])


def batches():
    out = {}
    for codec, cname in ((CODEC_NONE, "none"), (CODEC_GZIP, "gzip"),
                         (CODEC_LZ4, "lz4"), (CODEC_ZSTD, "zstd")):
        out["batch_%s_1.bin" % cname] = (
            codec, 0, None,
            [(BASE_TS, b"only", b"one record " + b"r" * 100, [])])
        out["batch_%s_1000.bin" % cname] = (
            codec, 0, None, [rec_keyed(i) for i in range(1000)])
        out["batch_%s_mixed.bin" % cname] = (
            codec, 0, None, [rec_mixed(i) for i in range(60)])
    out["batch_none_plain.bin"] = (
        CODEC_NONE, 0, None, [rec_plain(i) for i in range(25)])
    out["batch_none_headers.bin"] = (
        CODEC_NONE, 0, None, [rec_headers(i) for i in range(12)])
    out["batch_none_nullkeys.bin"] = (
        CODEC_NONE, 0, None,
        [(BASE_TS + i, None, b"no key %d" % i, []) for i in range(30)])
    # Idempotent-producer fields, and a base offset the broker would have
    # assigned (baseOffset is outside the CRC: patched after building).
    out["batch_gzip_producer.bin"] = (
        CODEC_GZIP, 123456789, (4242, 7, 100),
        [rec_keyed(i) for i in range(50)])
    return out


def build(codec, base_offset, producer, records):
    pid, epoch, seq = producer if producer else (-1, -1, -1)
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec,
                                  is_transactional=False, producer_id=pid,
                                  producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 30)
    for i, (ts, key, value, headers) in enumerate(records):
        if b.append(i, timestamp=ts, key=key, value=value,
                    headers=headers) is None:
            raise SystemExit("gen_batches.py: record %d did not fit" % i)
    data = bytearray(b.build())
    struct.pack_into(">q", data, 0, base_offset)
    return bytes(data)


def read_batch(data):
    """Returns (codec, base_offset, records) as kafka-python decodes them."""
    batch = DefaultRecordBatch(data)
    if not batch.validate_crc():
        raise ValueError("CRC-32C mismatch")
    if batch.magic != 2:
        raise ValueError("magic %d" % batch.magic)
    recs = [(r.offset, r.timestamp, r.key, r.value, r.headers)
            for r in batch]
    return batch.compression_type, batch.base_offset, recs


def manifest_line(name, codec, base_offset, recs):
    d = dump(recs)
    return "%s %d %d %d %d %d\n" % (name, codec, base_offset, len(recs),
                                    len(d), zlib.crc32(d) & 0xffffffff)


def write(outdir):
    require_codecs()
    gzip.GzipFile = functools.partial(gzip.GzipFile, mtime=0)
    lines = ["# written by gen_batches.py with python3-kafka %s; see there "
             "for the format\n" % getattr(kafka, "__version__", "?")]
    for name, (codec, base, prod, records) in sorted(batches().items()):
        data = build(codec, base, prod, records)
        # kafka-python must read back exactly what was asked for, and the
        # codec must really be in use (no silent fallback to none).
        rcodec, rbase, recs = read_batch(data)
        want = [(base + i, ts, k, v, h)
                for i, (ts, k, v, h) in enumerate(records)]
        if rcodec != codec or rbase != base or dump(recs) != dump(want):
            raise SystemExit("gen_batches.py: %s does not read back" % name)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        lines.append(manifest_line(name, codec, base, want))
    with open(os.path.join(outdir, "batches.manifest"), "w") as f:
        f.writelines(lines)
    print("wrote %d batches to %s" % (len(lines) - 1, outdir))


def read(indir):
    require_codecs()
    path = os.path.join(indir, "batches.manifest")
    n = bad = 0
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, codec, base, count, dlen, dcrc = line.split()
            with open(os.path.join(indir, name), "rb") as bf:
                data = bf.read()
            try:
                rcodec, rbase, recs = read_batch(data)
                d = dump(recs)
                got = (rcodec, rbase, len(recs), len(d),
                       zlib.crc32(d) & 0xffffffff)
                want = (int(codec), int(base), int(count), int(dlen),
                        int(dcrc))
                if got != want:
                    raise ValueError("got %s, manifest says %s" % (got, want))
            except Exception as e:  # report every file, then fail
                print("FAIL %s: %r" % (name, e))
                bad += 1
            else:
                print("ok   %s: codec %s, %s records" % (name, codec, count))
            n += 1
    if n == 0:
        print("FAIL: %s lists no batches" % path)
        return 1
    print("%d of %d batches read back by kafka-python" % (n - bad, n))
    return 1 if bad else 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("write", "read"):
        sys.stderr.write("usage: gen_batches.py write|read DIR\n")
        return 2
    if argv[1] == "write":
        write(argv[2])
        return 0
    return read(argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
