/*
 * check_batch: RecordBatch v2 builder, reader and validator; golden bytes
 * written by kafka-python (tests/data, gen_batches.py); bad input as tables:
 * every truncation point, every header field out of range, a flipped byte
 * at every CRC-covered position, malformed records under a good CRC.
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "batch_testrec.h"
#include "buf.h"
#include "codec.h"
#include "crc32c.h"

static const int codecs[] = {QR_CODEC_NONE, QR_CODEC_GZIP, QR_CODEC_LZ4,
                             QR_CODEC_ZSTD};
#define N_CODECS ((int)(sizeof(codecs) / sizeof(codecs[0])))

/* ---- helpers ---- */

/* Builds records 0..n-1 of trec_gen; returns the batch in its own
 * exact-size allocation (so ASan sees any overread), or NULL on an error.
 * No ck_assert here: the suite setup calls it outside any test. */
static uint8_t *build_raw(int codec, int n, size_t *len)
{
    size_t cap = 64 + (size_t)n * 600;
    uint8_t *buf = malloc(cap), *out = malloc(cap), *copy = NULL;
    const uint8_t *batch;
    qr_batch_builder_t b;
    trec_t t;

    if (qr_batch_builder_init(&b, buf, cap, codec) != QUIRE_ERR_NONE)
        goto out;
    for (int i = 0; i < n; i++) {
        trec_gen(&t, i);
        if (qr_batch_builder_append(&b, t.ts, t.key, t.klen, t.val, t.vlen, t.h,
                                    t.nh) != QUIRE_ERR_NONE)
            goto out;
    }
    if (qr_batch_builder_count(&b) != n ||
        qr_batch_builder_finish(&b, out, cap, &batch, len) != QUIRE_ERR_NONE)
        goto out;
    copy = malloc(*len);
    memcpy(copy, batch, *len);
out:
    free(buf);
    free(out);
    return copy;
}

static uint8_t *build(int codec, int n, size_t *len)
{
    uint8_t *p = build_raw(codec, n, len);
    ck_assert_msg(p != NULL, "building %d records with codec %d failed", n,
                  codec);
    return p;
}

/* Recomputes the CRC after a test changed a covered byte on purpose. */
static void fix_crc(uint8_t *p, size_t len)
{
    qr_be32_put(p + QR_BATCH_OFF_CRC, qr_crc32c(0, p + QR_BATCH_OFF_ATTRIBUTES,
                                                len - QR_BATCH_OFF_ATTRIBUTES));
}

/* Iterates the batch (decompressing into scratch if needed) and returns
 * its dump; fails the test on any error. */
static void dump_batch(const uint8_t *p, size_t len, tdump_t *d, int *count)
{
    size_t scratch_cap = 4 << 20;
    uint8_t *scratch = malloc(scratch_cap);
    qr_batch_iter_t it;
    qr_batch_rec_t rec;
    qr_batch_rec_header_t h[64];
    quire_err_t err;

    err = qr_batch_iter_open(&it, p, len, scratch, scratch_cap);
    ck_assert_msg(err == QUIRE_ERR_NONE, "open: %s (%s)", quire_err2name(err),
                  it.why ? it.why : "");
    *count = 0;
    while ((err = qr_batch_iter_next(&it, &rec)) == QUIRE_ERR_NONE) {
        size_t nh = 0;
        while (qr_batch_rec_header_next(&rec, &h[nh]) == QUIRE_ERR_NONE)
            ck_assert_uint_lt(++nh, 64);
        ck_assert_uint_eq(nh, (size_t)rec.header_count);
        tdump_rec(d, rec.offset, rec.timestamp, rec.key, rec.key_len, rec.value,
                  rec.value_len, nh, h);
        (*count)++;
    }
    ck_assert_msg(err == QUIRE_ERR_NOT_FOUND, "next: %s (%s)",
                  quire_err2name(err), it.why ? it.why : "");
    free(scratch);
}

/* ---- round trips ---- */

/* build -> validate -> iterate, each codec, 1 and 1000 records, checking
 * every field of every record against what went in. */
START_TEST(test_round_trip)
{
    int codec = codecs[_i % N_CODECS];
    int n = _i < N_CODECS ? 1 : 1000;
    size_t len;
    uint8_t *p = build(codec, n, &len);
    qr_batch_hdr_t hdr;
    const char *why = NULL;

    ck_assert_int_eq(
        qr_batch_validate(p, len, QR_BATCH_CHECK_RECORDS, &hdr, &why),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(hdr.magic, 2);
    ck_assert_int_eq(hdr.record_count, n);
    ck_assert_int_eq(hdr.last_offset_delta, n - 1);
    ck_assert_int_eq(hdr.base_offset, 0);
    ck_assert_int_eq(hdr.leader_epoch, -1);
    ck_assert_int_eq(hdr.producer_id, -1);
    ck_assert_int_eq(hdr.producer_epoch, -1);
    ck_assert_int_eq(hdr.base_sequence, -1);
    ck_assert_uint_eq(qr_batch_size(&hdr), len);
    /* Compression must really happen: these records compress well. */
    ck_assert_int_eq(qr_batch_codec(&hdr), codec);

    int64_t first = 0, max = 0;
    tdump_t want = {0}, got = {0};
    for (int i = 0; i < n; i++) {
        trec_t t;
        trec_gen(&t, i);
        if (i == 0)
            first = max = t.ts;
        if (t.ts > max)
            max = t.ts;
        tdump_trec(&want, i, &t);
    }
    ck_assert_int_eq(hdr.first_timestamp, first);
    ck_assert_int_eq(hdr.max_timestamp, max);
    int count;
    dump_batch(p, len, &got, &count);
    ck_assert_int_eq(count, n);
    ck_assert_uint_eq(got.len, want.len);
    ck_assert(memcmp(got.p, want.p, got.len) == 0);
    tdump_free(&want);
    tdump_free(&got);
    free(p);
}
END_TEST

/* The reader hands out pointers into the batch itself (zero-copy). */
START_TEST(test_zero_copy)
{
    size_t len;
    uint8_t *p = build(QR_CODEC_NONE, 10, &len);
    qr_batch_iter_t it;
    qr_batch_rec_t rec;

    ck_assert_int_eq(qr_batch_iter_init(&it, p, len), QUIRE_ERR_NONE);
    while (qr_batch_iter_next(&it, &rec) == QUIRE_ERR_NONE) {
        if (rec.value) {
            ck_assert(rec.value >= p && rec.value + rec.value_len <= p + len);
        }
        if (rec.key) {
            ck_assert(rec.key >= p && rec.key + rec.key_len <= p + len);
        }
    }
    /* A compressed batch is refused by the in-place reader. */
    uint8_t *z = build(QR_CODEC_ZSTD, 10, &len);
    ck_assert_int_eq(qr_batch_iter_init(&it, z, len), QUIRE_ERR_BAD_ARG);
    ck_assert_ptr_nonnull(it.why);
    /* ...and by iter_open when the scratch is too small for its records. */
    uint8_t small[100];
    ck_assert_int_eq(qr_batch_iter_open(&it, z, len, small, sizeof(small)),
                     QUIRE_ERR_COMPRESSION);
    ck_assert_int_eq(qr_batch_iter_open(&it, z, len, NULL, 0),
                     QUIRE_ERR_COMPRESSION);
    free(z);
    free(p);
}
END_TEST

/* Filling a batch: BUF_FULL leaves it unchanged and still finishable;
 * qr_batch_record_size() predicts each record's bytes. */
START_TEST(test_full)
{
    uint8_t buf[1000];
    qr_batch_builder_t b;
    trec_t t;
    int i;

    ck_assert_int_eq(qr_batch_builder_init(&b, buf, sizeof(buf), QR_CODEC_NONE),
                     QUIRE_ERR_NONE);
    for (i = 0;; i++) {
        trec_gen(&t, i);
        size_t before = qr_batch_builder_size(&b);
        size_t want = qr_batch_record_size(i ? t.ts - b.first_ts : 0, i, t.key,
                                           t.klen, t.val, t.vlen, t.h, t.nh);
        quire_err_t err = qr_batch_builder_append(&b, t.ts, t.key, t.klen,
                                                  t.val, t.vlen, t.h, t.nh);
        if (err == QUIRE_ERR_BUF_FULL) {
            ck_assert_uint_eq(qr_batch_builder_size(&b), before);
            ck_assert_uint_gt(before + want, sizeof(buf));
            break;
        }
        ck_assert_int_eq(err, QUIRE_ERR_NONE);
        ck_assert_uint_eq(qr_batch_builder_size(&b), before + want);
    }
    ck_assert_int_gt(i, 2);
    ck_assert_int_eq(qr_batch_builder_count(&b), i);
    const uint8_t *batch;
    size_t len;
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &batch, &len),
                     QUIRE_ERR_NONE);
    ck_assert_ptr_eq(batch, buf);
    ck_assert_uint_le(len, sizeof(buf));
    qr_batch_hdr_t hdr;
    ck_assert_int_eq(
        qr_batch_validate(batch, len, QR_BATCH_CHECK_RECORDS, &hdr, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(hdr.record_count, i);
    /* Finished: no more appends, no second finish. */
    ck_assert_int_eq(qr_batch_builder_append(&b, 1, NULL, 0, NULL, 0, NULL, 0),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &batch, &len),
                     QUIRE_ERR_STATE);
}
END_TEST

START_TEST(test_builder_args)
{
    uint8_t buf[256], out[256];
    qr_batch_builder_t b;
    const uint8_t *batch;
    size_t len;
    qr_batch_rec_header_t h = {NULL, 3, (const uint8_t *)"v", 1};

    ck_assert_int_eq(qr_batch_builder_init(&b, NULL, 100, QR_CODEC_NONE),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(qr_batch_builder_init(&b, buf, 60, QR_CODEC_NONE),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(
        qr_batch_builder_init(&b, buf, (size_t)INT32_MAX + 13, QR_CODEC_NONE),
        QUIRE_ERR_BAD_ARG);
    for (int c = QR_CODEC_SNAPPY; c <= 7; c += (c == 2 ? 3 : 1))
        ck_assert_int_eq(qr_batch_builder_init(&b, buf, sizeof(buf), c),
                         QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    ck_assert_int_eq(qr_batch_builder_init(&b, buf, 61, QR_CODEC_NONE),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_batch_builder_append(&b, 0, NULL, 0, NULL, 0, NULL, 0),
                     QUIRE_ERR_BUF_FULL);
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &batch, &len),
                     QUIRE_ERR_STATE); /* empty */

    ck_assert_int_eq(qr_batch_builder_init(&b, buf, sizeof(buf), QR_CODEC_LZ4),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_batch_builder_append(&b, -1, NULL, 0, NULL, 0, NULL, 0),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(qr_batch_builder_append(&b, 5, NULL, 0, NULL, 0, &h, 1),
                     QUIRE_ERR_BAD_ARG); /* NULL key with a length */
    h.key = (const uint8_t *)"abc";
    h.value_len = -2;
    ck_assert_int_eq(qr_batch_builder_append(&b, 5, NULL, 0, NULL, 0, &h, 1),
                     QUIRE_ERR_BAD_ARG); /* negative length, value set */
    ck_assert_int_eq(qr_batch_builder_append(&b, 5, NULL, 0, NULL, 0, NULL, 2),
                     QUIRE_ERR_BAD_ARG); /* count without an array */
    ck_assert_int_eq(qr_batch_builder_append(&b, 5, buf, (size_t)INT32_MAX + 1,
                                             NULL, 0, NULL, 0),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(qr_batch_builder_count(&b), 0);
    ck_assert_int_eq(qr_batch_builder_append(&b, 5, "k", 1, "v", 1, NULL, 0),
                     QUIRE_ERR_NONE);
    /* A codec batch needs an out buffer. */
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &batch, &len),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(
        qr_batch_builder_finish(&b, out, sizeof(out), &batch, &len),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qr_batch_validate(batch, len, QR_BATCH_CHECK_RECORDS, NULL, NULL),
        QUIRE_ERR_NONE);
}
END_TEST

/* With an out buffer too small for the compressed records, the batch goes
 * out uncompressed (still valid); with out_bound() it is compressed. */
START_TEST(test_compress_fallback)
{
    static uint8_t buf[70000], out[70000];
    qr_batch_builder_t b;
    const uint8_t *batch;
    size_t len;
    qr_batch_hdr_t hdr;
    uint8_t rnd[200];
    uint32_t x = 1;

    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(
            qr_batch_builder_init(&b, buf, sizeof(buf), QR_CODEC_ZSTD),
            QUIRE_ERR_NONE);
        for (int i = 0; i < 100; i++) {
            for (size_t j = 0; j < sizeof(rnd); j++) {
                x = x * 1103515245u + 12345u;
                rnd[j] = (uint8_t)(x >> 24);
            }
            ck_assert_int_eq(qr_batch_builder_append(&b, 1000 + i, NULL, 0, rnd,
                                                     sizeof(rnd), NULL, 0),
                             QUIRE_ERR_NONE);
        }
        size_t cap = round == 0 ? 100 : qr_batch_builder_out_bound(&b);
        ck_assert_int_eq(qr_batch_builder_finish(&b, out, cap, &batch, &len),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(
            qr_batch_validate(batch, len, QR_BATCH_CHECK_RECORDS, &hdr, NULL),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_batch_codec(&hdr),
                         round == 0 ? QR_CODEC_NONE : QR_CODEC_ZSTD);
        ck_assert_ptr_eq(batch, round == 0 ? buf : out);
        ck_assert_int_eq(hdr.record_count, 100);
    }
}
END_TEST

/* Producer fields, and the two fields the broker writes in place outside
 * the CRC. */
START_TEST(test_producer_and_in_place)
{
    uint8_t buf[512];
    qr_batch_builder_t b;
    const uint8_t *batch;
    size_t len;
    qr_batch_hdr_t hdr;
    qr_batch_iter_t it;
    qr_batch_rec_t rec;

    qr_batch_builder_init(&b, buf, sizeof(buf), QR_CODEC_NONE);
    qr_batch_builder_set_producer(&b, 77, 3, 1000);
    for (int i = 0; i < 3; i++)
        qr_batch_builder_append(&b, 500 + i, "k", 1, "v", 1, NULL, 0);
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &batch, &len),
                     QUIRE_ERR_NONE);
    qr_batch_set_base_offset(buf, 4000000000LL);
    qr_batch_set_leader_epoch(buf, 9);
    ck_assert_int_eq(
        qr_batch_validate(buf, len, QR_BATCH_CHECK_RECORDS, &hdr, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(hdr.producer_id, 77);
    ck_assert_int_eq(hdr.producer_epoch, 3);
    ck_assert_int_eq(hdr.base_sequence, 1000);
    ck_assert_int_eq(hdr.base_offset, 4000000000LL);
    ck_assert_int_eq(hdr.leader_epoch, 9);
    ck_assert_int_eq(qr_batch_last_offset(&hdr), 4000000002LL);
    ck_assert_int_eq(qr_batch_iter_init(&it, buf, len), QUIRE_ERR_NONE);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(qr_batch_iter_next(&it, &rec), QUIRE_ERR_NONE);
        ck_assert_int_eq(rec.offset, 4000000000LL + i);
        ck_assert_int_eq(rec.timestamp, 500 + i);
        ck_assert_int_eq(rec.header_count, 0);
    }
    ck_assert_int_eq(qr_batch_iter_next(&it, &rec), QUIRE_ERR_NOT_FOUND);
    ck_assert_int_eq(qr_batch_iter_next(&it, &rec), QUIRE_ERR_NOT_FOUND);

    /* LOG_APPEND_TIME: every record carries maxTimestamp. */
    uint16_t attrs = qr_be16_get(buf + QR_BATCH_OFF_ATTRIBUTES);
    qr_be16_put(buf + QR_BATCH_OFF_ATTRIBUTES,
                attrs | QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND);
    qr_be64_put(buf + QR_BATCH_OFF_MAX_TIMESTAMP, 99);
    fix_crc(buf, len);
    ck_assert_int_eq(
        qr_batch_validate(buf, len, QR_BATCH_CHECK_RECORDS, &hdr, NULL),
        QUIRE_ERR_NONE);
    qr_batch_iter_init(&it, buf, len);
    while (qr_batch_iter_next(&it, &rec) == QUIRE_ERR_NONE)
        ck_assert_int_eq(rec.timestamp, 99);

    /* A batch followed by more bytes validates on its own. */
    uint8_t two[1024];
    memcpy(two, buf, len);
    memcpy(two + len, buf, len);
    ck_assert_int_eq(
        qr_batch_validate(two, 2 * len, QR_BATCH_CHECK_RECORDS, &hdr, NULL),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_batch_size(&hdr), len);
}
END_TEST

/* A compressed batch whose block is damaged under a good CRC: the
 * validator does not decompress (the broker never does), the reader
 * refuses the block; a good block of malformed records is refused record
 * by record. */
START_TEST(test_bad_compressed)
{
    int codec = codecs[1 + _i]; /* gzip, lz4, zstd */
    size_t len, slen = 1 << 20;
    uint8_t *p = build(codec, 20, &len), *scratch = malloc(slen);
    qr_batch_iter_t it;
    qr_batch_rec_t rec;

    /* damaged block */
    p[len - 3] ^= 0x55;
    p[QR_BATCH_HEADER_SIZE + 2] ^= 0x55;
    fix_crc(p, len);
    ck_assert_int_eq(
        qr_batch_validate(p, len, QR_BATCH_CHECK_RECORDS, NULL, NULL),
        QUIRE_ERR_NONE);
    quire_err_t err = qr_batch_iter_open(&it, p, len, scratch, slen);
    ck_assert_msg(err == QUIRE_ERR_CORRUPT_MESSAGE, "codec %d: %s", codec,
                  quire_err2name(err));
    ck_assert_ptr_nonnull(it.why);
    free(p);

    /* a good block of a record with a bad offset delta */
    static const uint8_t bad_rec[] = {0x0e, 0, 0, 0x02, 0x01, 0x02, 'x', 0};
    size_t clen, cap = QR_BATCH_HEADER_SIZE + 256;
    p = calloc(1, cap);
    ck_assert_int_eq(qr_codec_compress(codec, bad_rec, sizeof(bad_rec),
                                       p + QR_BATCH_HEADER_SIZE,
                                       cap - QR_BATCH_HEADER_SIZE, &clen),
                     QUIRE_ERR_NONE);
    len = QR_BATCH_HEADER_SIZE + clen;
    qr_be32_put(p + QR_BATCH_OFF_LENGTH, (uint32_t)(len - 12));
    p[QR_BATCH_OFF_MAGIC] = 2;
    qr_be16_put(p + QR_BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
    qr_be32_put(p + QR_BATCH_OFF_RECORD_COUNT, 1);
    fix_crc(p, len);
    ck_assert_int_eq(
        qr_batch_validate(p, len, QR_BATCH_CHECK_RECORDS, NULL, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_batch_iter_open(&it, p, len, scratch, slen),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_batch_iter_next(&it, &rec), QUIRE_ERR_INVALID_RECORD);
    ck_assert_ptr_nonnull(it.why);
    free(p);
    free(scratch);
}
END_TEST

/* ---- bad input: the fixture batch ---- */

/* A small uncompressed batch of 5 records with keys, values and headers. */
static uint8_t *fixture(size_t *len)
{
    return build(QR_CODEC_NONE, 5, len);
}

static size_t fixture_len(void)
{
    size_t len = 0;
    free(build_raw(QR_CODEC_NONE, 5, &len));
    return len;
}

/* Every truncation point: TRUNCATED at both check levels, and from the
 * reader, never success and never a read past the (exact) allocation. */
START_TEST(test_truncated)
{
    size_t len, cut = (size_t)_i;
    uint8_t *p = fixture(&len);
    uint8_t *t = malloc(cut ? cut : 1);
    const char *why = NULL;
    qr_batch_iter_t it;

    memcpy(t, p, cut);
    ck_assert_int_eq(qr_batch_validate(t, cut, QR_BATCH_CHECK_CRC, NULL, &why),
                     QUIRE_ERR_TRUNCATED);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(
        qr_batch_validate(t, cut, QR_BATCH_CHECK_RECORDS, NULL, NULL),
        QUIRE_ERR_TRUNCATED);
    ck_assert_int_eq(qr_batch_iter_init(&it, t, cut), QUIRE_ERR_TRUNCATED);
    ck_assert_int_eq(qr_batch_iter_open(&it, t, cut, NULL, 0),
                     QUIRE_ERR_TRUNCATED);
    free(t);
    free(p);
}
END_TEST

/* A flipped byte in the CRC or anywhere it covers: CORRUPT_MESSAGE. */
START_TEST(test_flipped)
{
    size_t len, pos = QR_BATCH_OFF_CRC + (size_t)_i;
    uint8_t *p = fixture(&len);
    const char *why = NULL;

    ck_assert_uint_lt(pos, len);
    p[pos] ^= 0xff;
    ck_assert_int_eq(qr_batch_validate(p, len, QR_BATCH_CHECK_CRC, NULL, &why),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_str_eq(why, "CRC-32C mismatch");
    ck_assert_int_eq(
        qr_batch_validate(p, len, QR_BATCH_CHECK_RECORDS, NULL, NULL),
        QUIRE_ERR_CORRUPT_MESSAGE);
    free(p);
}
END_TEST

/* One header field set to one value; the CRC is recomputed for covered
 * fields so that the field check itself is what answers. */
typedef struct field_case {
    int off, width;
    int64_t value; /* or, with rel, added to the field's current value */
    int rel;
    quire_err_t want_crc, want_records;
} field_case_t;

#define F(off, w, v, rel, e1, e2)                                     \
    {                                                                 \
        QR_BATCH_OFF_##off, w, v, rel, QUIRE_ERR_##e1, QUIRE_ERR_##e2 \
    }
static const field_case_t field_cases[] = {
    /* not covered by the CRC */
    F(MAGIC, 1, 0, 0, CORRUPT_MESSAGE, CORRUPT_MESSAGE),
    F(MAGIC, 1, 1, 0, CORRUPT_MESSAGE, CORRUPT_MESSAGE),
    F(MAGIC, 1, 3, 0, CORRUPT_MESSAGE, CORRUPT_MESSAGE),
    F(MAGIC, 1, -1, 0, CORRUPT_MESSAGE, CORRUPT_MESSAGE),
    F(LENGTH, 4, 0, 0, CORRUPT_MESSAGE, CORRUPT_MESSAGE),
    F(LENGTH, 4, 48, 0, CORRUPT_MESSAGE, CORRUPT_MESSAGE),
    F(LENGTH, 4, -1, 0, CORRUPT_MESSAGE, CORRUPT_MESSAGE),
    F(LENGTH, 4, INT32_MIN, 0, CORRUPT_MESSAGE, CORRUPT_MESSAGE),
    F(LENGTH, 4, 1, 1, TRUNCATED, TRUNCATED),
    F(LENGTH, 4, INT32_MAX, 0, TRUNCATED, TRUNCATED),
    F(LENGTH, 4, -1, 1, CORRUPT_MESSAGE, CORRUPT_MESSAGE), /* CRC changes */
    F(BASE_OFFSET, 8, -1, 0, INVALID_RECORD, INVALID_RECORD),
    F(BASE_OFFSET, 8, INT64_MIN, 0, INVALID_RECORD, INVALID_RECORD),
    F(BASE_OFFSET, 8, INT64_MAX, 0, INVALID_RECORD, INVALID_RECORD),
    F(BASE_OFFSET, 8, INT64_MAX - 4, 0, NONE, NONE),
    F(LEADER_EPOCH, 4, -2, 0, INVALID_RECORD, INVALID_RECORD),
    F(LEADER_EPOCH, 4, INT32_MIN, 0, INVALID_RECORD, INVALID_RECORD),
    F(LEADER_EPOCH, 4, INT32_MAX, 0, NONE, NONE),
    /* covered (CRC fixed) */
    F(ATTRIBUTES, 2, 2, 0, UNSUPPORTED_COMPRESSION_TYPE,
      UNSUPPORTED_COMPRESSION_TYPE),
    F(ATTRIBUTES, 2, 5, 0, UNSUPPORTED_COMPRESSION_TYPE,
      UNSUPPORTED_COMPRESSION_TYPE),
    F(ATTRIBUTES, 2, 6, 0, UNSUPPORTED_COMPRESSION_TYPE,
      UNSUPPORTED_COMPRESSION_TYPE),
    F(ATTRIBUTES, 2, 7, 0, UNSUPPORTED_COMPRESSION_TYPE,
      UNSUPPORTED_COMPRESSION_TYPE),
    F(ATTRIBUTES, 2, 0x40, 0, INVALID_RECORD, INVALID_RECORD),
    F(ATTRIBUTES, 2, 0x100, 0, INVALID_RECORD, INVALID_RECORD),
    F(ATTRIBUTES, 2, -32768, 0, INVALID_RECORD, INVALID_RECORD),
    F(LAST_OFFSET_DELTA, 4, -1, 0, INVALID_RECORD, INVALID_RECORD),
    F(LAST_OFFSET_DELTA, 4, 3, 0, INVALID_RECORD, INVALID_RECORD),
    F(LAST_OFFSET_DELTA, 4, 5, 0, INVALID_RECORD, INVALID_RECORD),
    F(LAST_OFFSET_DELTA, 4, INT32_MAX, 0, INVALID_RECORD, INVALID_RECORD),
    F(LAST_OFFSET_DELTA, 4, INT32_MIN, 0, INVALID_RECORD, INVALID_RECORD),
    F(FIRST_TIMESTAMP, 8, -2, 0, INVALID_RECORD, INVALID_RECORD),
    F(FIRST_TIMESTAMP, 8, INT64_MIN, 0, INVALID_RECORD, INVALID_RECORD),
    F(FIRST_TIMESTAMP, 8, INT64_MAX, 0, INVALID_RECORD, INVALID_RECORD),
    F(FIRST_TIMESTAMP, 8, -1, 0, NONE, NONE), /* no timestamps */
    F(MAX_TIMESTAMP, 8, -2, 0, INVALID_RECORD, INVALID_RECORD),
    F(MAX_TIMESTAMP, 8, INT64_MIN, 0, INVALID_RECORD, INVALID_RECORD),
    F(MAX_TIMESTAMP, 8, 0, 0, INVALID_RECORD, INVALID_RECORD),
    F(MAX_TIMESTAMP, 8, -1, 1, NONE, INVALID_RECORD), /* below a record */
    F(MAX_TIMESTAMP, 8, -1, 0, NONE, NONE),
    F(PRODUCER_ID, 8, -2, 0, INVALID_RECORD, INVALID_RECORD),
    F(PRODUCER_ID, 8, INT64_MIN, 0, INVALID_RECORD, INVALID_RECORD),
    F(PRODUCER_ID, 8, INT64_MAX, 0, NONE, NONE),
    F(PRODUCER_EPOCH, 2, -2, 0, INVALID_RECORD, INVALID_RECORD),
    F(PRODUCER_EPOCH, 2, -32768, 0, INVALID_RECORD, INVALID_RECORD),
    F(BASE_SEQUENCE, 4, -2, 0, INVALID_RECORD, INVALID_RECORD),
    F(BASE_SEQUENCE, 4, INT32_MIN, 0, INVALID_RECORD, INVALID_RECORD),
    F(RECORD_COUNT, 4, -1, 0, INVALID_RECORD, INVALID_RECORD),
    F(RECORD_COUNT, 4, INT32_MIN, 0, INVALID_RECORD, INVALID_RECORD),
    F(RECORD_COUNT, 4, 4, 0, INVALID_RECORD, INVALID_RECORD),
    F(RECORD_COUNT, 4, 6, 0, INVALID_RECORD, INVALID_RECORD),
    F(RECORD_COUNT, 4, INT32_MAX, 0, INVALID_RECORD, INVALID_RECORD),
    /* An empty batch keeps its lastOffsetDelta (Kafka's compaction
     * leftover): the header passes, the records left over do not. */
    F(RECORD_COUNT, 4, 0, 0, NONE, INVALID_RECORD),
};
#define N_FIELD_CASES ((int)(sizeof(field_cases) / sizeof(field_cases[0])))

static void put_field_be(uint8_t *p, int width, int64_t v)
{
    switch (width) {
    case 1:
        p[0] = (uint8_t)v;
        break;
    case 2:
        qr_be16_put(p, (uint16_t)v);
        break;
    case 4:
        qr_be32_put(p, (uint32_t)v);
        break;
    default:
        qr_be64_put(p, (uint64_t)v);
        break;
    }
}

static int64_t get_field_be(const uint8_t *p, int width)
{
    switch (width) {
    case 1:
        return (int8_t)p[0];
    case 2:
        return (int16_t)qr_be16_get(p);
    case 4:
        return (int32_t)qr_be32_get(p);
    default:
        return (int64_t)qr_be64_get(p);
    }
}

START_TEST(test_field)
{
    const field_case_t *fc = &field_cases[_i];
    size_t len;
    uint8_t *p = fixture(&len);
    const char *why = NULL;
    int64_t v = fc->value;

    if (fc->rel)
        v += get_field_be(p + fc->off, fc->width);
    /* "MAX_TIMESTAMP -1 rel": one below the records' maximum. */
    put_field_be(p + fc->off, fc->width, v);
    if (fc->off >= QR_BATCH_OFF_ATTRIBUTES)
        fix_crc(p, len);
    quire_err_t e1 = qr_batch_validate(p, len, QR_BATCH_CHECK_CRC, NULL, &why);
    ck_assert_msg(e1 == fc->want_crc, "case %d: CHECK_CRC gave %s (%s)", _i,
                  quire_err2name(e1), why ? why : "");
    if (e1 != QUIRE_ERR_NONE)
        ck_assert_ptr_nonnull(why);
    why = NULL;
    quire_err_t e2 =
        qr_batch_validate(p, len, QR_BATCH_CHECK_RECORDS, NULL, &why);
    ck_assert_msg(e2 == fc->want_records, "case %d: CHECK_RECORDS gave %s (%s)",
                  _i, quire_err2name(e2), why ? why : "");
    free(p);
}
END_TEST

/* Malformed records inside a batch whose header and CRC are right:
 * INVALID_RECORD with CHECK_RECORDS, and the reader refuses them too. */
typedef struct rec_case {
    const char *name;
    int32_t count;
    size_t len;
    uint8_t bytes[32];
} rec_case_t;

static const rec_case_t rec_cases[] = {
    /* the well-formed record the others break:
     * len 7 | attrs 0 | tsDelta 0 | offDelta 0 | key null | value "x" |
     * 0 headers */
    {"control (valid)", 1, 8, {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0}},
    {"length varint cut", 1, 1, {0x80}},
    {"length varint too long", 1, 6, {0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
    {"length negative", 1, 8, {0x01, 0, 0, 0, 0x01, 0x02, 'x', 0}},
    {"length below minimum", 1, 6, {0x0a, 0, 0, 0, 0x01, 0x01}},
    {"length past the end", 1, 8, {0x10, 0, 0, 0, 0x01, 0x02, 'x', 0}},
    {"attributes not 0", 1, 8, {0x0e, 0x01, 0, 0, 0x01, 0x02, 'x', 0}},
    {"timestampDelta too long",
     1,
     12,
     {0x16, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    {"offsetDelta 1 for the first",
     1,
     8,
     {0x0e, 0, 0, 0x02, 0x01, 0x02, 'x', 0}},
    {"offsetDelta repeated",
     2,
     16,
     {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0, 0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0}},
    {"key length -2", 1, 8, {0x0e, 0, 0, 0, 0x03, 0x02, 'x', 0}},
    {"key past the record", 1, 8, {0x0e, 0, 0, 0, 0x0a, 0x02, 'x', 0}},
    {"value past the record", 1, 8, {0x0e, 0, 0, 0, 0x01, 0x06, 'x', 0}},
    {"value length -3", 1, 8, {0x0e, 0, 0, 0, 0x01, 0x05, 'x', 0}},
    {"header count -1", 1, 8, {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0x01}},
    {"header count past the record",
     1,
     8,
     {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0x02}},
    {"header key null", 1, 9, {0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01}},
    {"header value past the record",
     1,
     9,
     {0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x00, 0x0a}},
    {"record longer than its fields",
     1,
     9,
     {0x10, 0, 0, 0, 0x01, 0x02, 'x', 0, 0xff}},
    {"fewer records than recordCount",
     2,
     8,
     {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0}},
    {"bytes after the last record",
     1,
     9,
     {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0, 0}},
    {"no records at all", 1, 0, {0}},
    {"timestamp above maxTimestamp",
     1,
     9,
     {0x10, 0, 0xa0, 0x1f, 0, 0x01, 0x02, 'x', 0}},
    {"timestamp overflows",
     1,
     17,
     {0x20, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0,
      0x01, 0x02, 'x', 0}},
    {"key length varint cut at the record's end", 1, 5, {0x08, 0, 0, 0, 0x80}},
};
#define N_REC_CASES ((int)(sizeof(rec_cases) / sizeof(rec_cases[0])))

START_TEST(test_bad_record)
{
    const rec_case_t *rc = &rec_cases[_i];
    size_t len = QR_BATCH_HEADER_SIZE + rc->len;
    uint8_t *p = calloc(1, len);
    const char *why = NULL;
    qr_batch_iter_t it;
    qr_batch_rec_t rec;
    quire_err_t err;

    qr_be32_put(p + QR_BATCH_OFF_LENGTH, (uint32_t)(len - 12));
    qr_be32_put(p + QR_BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
    p[QR_BATCH_OFF_MAGIC] = 2;
    qr_be32_put(p + QR_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)rc->count - 1);
    qr_be64_put(p + QR_BATCH_OFF_FIRST_TIMESTAMP, 1000000);
    qr_be64_put(p + QR_BATCH_OFF_MAX_TIMESTAMP, 1001000);
    qr_be64_put(p + QR_BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
    qr_be16_put(p + QR_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    qr_be32_put(p + QR_BATCH_OFF_BASE_SEQUENCE, (uint32_t)-1);
    qr_be32_put(p + QR_BATCH_OFF_RECORD_COUNT, (uint32_t)rc->count);
    memcpy(p + QR_BATCH_HEADER_SIZE, rc->bytes, rc->len);
    fix_crc(p, len);

    quire_err_t want = _i == 0 ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_RECORD;
    err = qr_batch_validate(p, len, QR_BATCH_CHECK_RECORDS, NULL, &why);
    ck_assert_msg(err == want, "%s: %s (%s)", rc->name, quire_err2name(err),
                  why ? why : "");
    if (want != QUIRE_ERR_NONE)
        ck_assert_ptr_nonnull(why);
    /* CHECK_CRC does not look inside the records; it may still see that
     * the count cannot fit, but it never crashes. */
    err = qr_batch_validate(p, len, QR_BATCH_CHECK_CRC, NULL, NULL);
    ck_assert(err == QUIRE_ERR_NONE || err == QUIRE_ERR_INVALID_RECORD);

    /* The reader, used without validation, stops at the bad record. */
    ck_assert_int_eq(qr_batch_iter_init(&it, p, len), QUIRE_ERR_NONE);
    while ((err = qr_batch_iter_next(&it, &rec)) == QUIRE_ERR_NONE)
        ;
    ck_assert_int_eq(err,
                     _i == 0 ? QUIRE_ERR_NOT_FOUND : QUIRE_ERR_INVALID_RECORD);
    free(p);
}
END_TEST

/* Arbitrary bytes after a good header, CRC fixed: the validator and the
 * reader may refuse, never crash. */
START_TEST(test_fuzz_records)
{
    uint32_t x = (uint32_t)_i * 2654435761u + 7;
    for (int round = 0; round < 200; round++) {
        size_t rlen = (x >> 8) % 64;
        size_t len = QR_BATCH_HEADER_SIZE + rlen;
        uint8_t *p = calloc(1, len);
        int32_t count = (int32_t)(1 + (x >> 4) % 4);
        p[QR_BATCH_OFF_MAGIC] = 2;
        qr_be32_put(p + QR_BATCH_OFF_LENGTH, (uint32_t)(len - 12));
        qr_be32_put(p + QR_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)count - 1);
        qr_be32_put(p + QR_BATCH_OFF_RECORD_COUNT, (uint32_t)count);
        qr_be64_put(p + QR_BATCH_OFF_MAX_TIMESTAMP, 1000);
        for (size_t i = 0; i < rlen; i++) {
            x = x * 1103515245u + 12345u;
            /* Mostly small varints, so framing gets some way in. */
            p[QR_BATCH_HEADER_SIZE + i] =
                (uint8_t)((x >> 16) % 4 ? (x >> 24) % 24 : x >> 24);
        }
        fix_crc(p, len);
        quire_err_t err =
            qr_batch_validate(p, len, QR_BATCH_CHECK_RECORDS, NULL, NULL);
        ck_assert(err == QUIRE_ERR_NONE || err == QUIRE_ERR_INVALID_RECORD);
        qr_batch_iter_t it;
        qr_batch_rec_t rec;
        qr_batch_rec_header_t h;
        if (qr_batch_iter_init(&it, p, len) == QUIRE_ERR_NONE)
            while (qr_batch_iter_next(&it, &rec) == QUIRE_ERR_NONE)
                while (qr_batch_rec_header_next(&rec, &h) == QUIRE_ERR_NONE)
                    ;
        free(p);
        x = x * 1103515245u + 12345u;
    }
}
END_TEST

/* ---- golden bytes from kafka-python (tests/data/gen_batches.py) ---- */

#define MANIFEST QR_TEST_DATA "/batches.manifest"

typedef struct golden {
    char file[128];
    int codec, count;
    long long base;
    size_t dlen;
    unsigned long dcrc;
} golden_t;

/* Reads entry @p idx of the manifest into @p g; returns the number of
 * entries (idx < 0 only counts), or -1 when the manifest cannot be read. */
static int golden_entry(int idx, golden_t *g)
{
    FILE *f = fopen(MANIFEST, "r");
    char line[512];
    int n = 0;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (n++ != idx)
            continue;
        ck_assert_int_eq(sscanf(line, "%127s %d %lld %d %zu %lu", g->file,
                                &g->codec, &g->base, &g->count, &g->dlen,
                                &g->dcrc),
                         6);
    }
    fclose(f);
    return n;
}

static uint8_t *read_file(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", QR_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

START_TEST(test_golden)
{
    golden_t g;
    size_t len;
    qr_batch_hdr_t hdr;
    const char *why = NULL;

    ck_assert_int_gt(golden_entry(_i, &g), _i);
    uint8_t *p = read_file(g.file, &len);
    quire_err_t err =
        qr_batch_validate(p, len, QR_BATCH_CHECK_RECORDS, &hdr, &why);
    ck_assert_msg(err == QUIRE_ERR_NONE, "%s: %s (%s)", g.file,
                  quire_err2name(err), why ? why : "");
    ck_assert_uint_eq(qr_batch_size(&hdr), len);
    ck_assert_int_eq(qr_batch_codec(&hdr), g.codec);
    ck_assert_int_eq(hdr.base_offset, g.base);
    ck_assert_int_eq(hdr.record_count, g.count);

    tdump_t d = {0};
    int count;
    dump_batch(p, len, &d, &count);
    ck_assert_int_eq(count, g.count);
    ck_assert_msg(d.len == g.dlen && tdump_crc(&d) == g.dcrc,
                  "%s: records differ from what kafka-python wrote "
                  "(dump %zu bytes crc %lu, manifest %zu crc %lu)",
                  g.file, d.len, (unsigned long)tdump_crc(&d), g.dlen, g.dcrc);
    tdump_free(&d);
    free(p);
}
END_TEST

/* The manifest is there and lists every file gen_batches.py writes. */
START_TEST(test_golden_count)
{
    golden_t g;
    ck_assert_msg(golden_entry(-1, &g) >= 16, "%s: missing or short", MANIFEST);
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("round_trip");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_round_trip, 0, 2 * N_CODECS);
    tcase_add_test(tc, test_zero_copy);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_builder_args);
    tcase_add_test(tc, test_compress_fallback);
    tcase_add_test(tc, test_producer_and_in_place);
    suite_add_tcase(s, tc);

    size_t flen = fixture_len();
    tc = tcase_create("bad_input");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_truncated, 0, (int)flen);
    tcase_add_loop_test(tc, test_flipped, 0, (int)(flen - QR_BATCH_OFF_CRC));
    tcase_add_loop_test(tc, test_field, 0, N_FIELD_CASES);
    tcase_add_loop_test(tc, test_bad_record, 0, N_REC_CASES);
    tcase_add_loop_test(tc, test_fuzz_records, 0, 20);
    tcase_add_loop_test(tc, test_bad_compressed, 0, N_CODECS - 1);
    suite_add_tcase(s, tc);

    golden_t g;
    tc = tcase_create("golden");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_golden_count);
    int n_golden = golden_entry(-1, &g);
    tcase_add_loop_test(tc, test_golden, 0, n_golden > 0 ? n_golden : 0);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(batch_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
