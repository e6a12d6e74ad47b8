/*
 * check_api_produce: the checks Produce runs on each partition's bytes
 * before anything is appended (broker/api_produce.c): every truncation
 * point, every corrupted byte of a batch header, sizes against
 * message.max.bytes, several batches back to back.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "api_produce.h"
#include "batch.h"
#include "../harness/qt_craft.h"
#include "buf.h"
#include "codec.h"
#include "crc32c.h"

static uint8_t one[4096], two[8192];
static size_t one_len, two_len;

static size_t build(uint8_t *buf, size_t cap, int n)
{
    qr_batch_builder_t b;
    const uint8_t *out;
    size_t len;

    ck_assert_int_eq(qr_batch_builder_init(&b, buf, cap, 0), QUIRE_ERR_NONE);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(
            qr_batch_builder_append(&b, 1000 + i, "k", 1, "value", 5, NULL, 0),
            QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &out, &len),
                     QUIRE_ERR_NONE);
    return len;
}

static void setup(void)
{
    size_t l2;

    one_len = build(one, sizeof(one), 5);
    memcpy(two, one, one_len);
    l2 = build(two + one_len, sizeof(two) - one_len, 3);
    two_len = one_len + l2;
}

START_TEST(test_good)
{
    const char *why = NULL;

    ck_assert_int_eq(qr_api_produce_check(one, one_len, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_api_produce_check(two, two_len, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_NONE);
    /* A limit of exactly the batch size is fine. */
    ck_assert_int_eq(
        qr_api_produce_check(one, one_len, (int32_t)one_len, 1 << 26, &why),
        QUIRE_ERR_NONE);
}
END_TEST

/* LogAppendTime: each batch gets the type bit and maxTimestamp, its CRC
 * stays valid, and readers see the broker's time on every record. */
START_TEST(test_stamp)
{
    const int64_t now = 1764000000123;
    const char *why = NULL;
    size_t off = 0;
    int recs = 0;

    qr_api_produce_stamp(two, two_len, now);
    ck_assert_int_eq(qr_api_produce_check(two, two_len, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_NONE);
    while (off < two_len) {
        qr_batch_iter_t it;
        qr_batch_rec_t r;

        ck_assert_int_eq(
            qr_batch_iter_open(&it, two + off, two_len - off, NULL, 0),
            QUIRE_ERR_NONE);
        ck_assert(it.hdr.attributes & QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND);
        ck_assert_int_eq(it.hdr.max_timestamp, now);
        while (qr_batch_iter_next(&it, &r) == QUIRE_ERR_NONE) {
            ck_assert_int_eq(r.timestamp, now);
            recs++;
        }
        off += qr_batch_size(&it.hdr);
    }
    ck_assert_int_eq(recs, 8);
}
END_TEST

START_TEST(test_empty)
{
    const char *why = NULL;

    ck_assert_int_eq(qr_api_produce_check(one, 0, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_ptr_nonnull(why);
}
END_TEST

/* Every cut of two batches short of the end is refused. */
START_TEST(test_truncated)
{
    const char *why = NULL;
    size_t cut = (size_t)_i;

    if (cut >= two_len)
        return;
    ck_assert_int_eq(qr_api_produce_check(two, cut, 1 << 20, 1 << 26, &why),
                     cut == one_len ? QUIRE_ERR_NONE
                                    : QUIRE_ERR_CORRUPT_MESSAGE);
}
END_TEST

/* Every byte of the header changed: refused, except baseOffset, which
 * the CRC does not cover and the broker rewrites. (partitionLeaderEpoch is
 * outside the CRC too; the validator judges its range, so it is left out
 * here.) */
START_TEST(test_header_byte)
{
    uint8_t copy[4096];
    size_t i = (size_t)_i;
    quire_err_t err;

    if (i >= QR_BATCH_OFF_LEADER_EPOCH && i < QR_BATCH_OFF_MAGIC)
        return;
    memcpy(copy, one, one_len);
    copy[i] ^= 0x41;
    err = qr_api_produce_check(copy, one_len, 1 << 20, 1 << 26, NULL);
    if (i < QR_BATCH_OFF_LENGTH)
        ck_assert_int_eq(err, QUIRE_ERR_NONE);
    else
        ck_assert_msg(err != QUIRE_ERR_NONE, "byte %zu changed, accepted", i);
}
END_TEST

START_TEST(test_too_large)
{
    const char *why = NULL;

    ck_assert_int_eq(
        qr_api_produce_check(one, one_len, (int32_t)one_len - 1, 1 << 26, &why),
        QUIRE_ERR_MESSAGE_TOO_LARGE);
    /* The second of two batches is the large one. */
    ck_assert_int_eq(
        qr_api_produce_check(two, two_len, (int32_t)one_len - 1, 1 << 26, &why),
        QUIRE_ERR_MESSAGE_TOO_LARGE);
}
END_TEST

/* A batchLength claiming more than is there, or less than a header. */
START_TEST(test_bad_lengths)
{
    uint8_t copy[4096];

    memcpy(copy, one, one_len);
    copy[QR_BATCH_OFF_LENGTH] = 0x7f; /* ~2 GiB */
    ck_assert_int_eq(
        qr_api_produce_check(copy, one_len, INT32_MAX, 1 << 26, NULL),
        QUIRE_ERR_CORRUPT_MESSAGE);
    memcpy(copy, one, one_len);
    memset(copy + QR_BATCH_OFF_LENGTH, 0, 4);
    copy[QR_BATCH_OFF_LENGTH + 3] = 10;
    ck_assert_int_eq(
        qr_api_produce_check(copy, one_len, 1 << 20, 1 << 26, NULL),
        QUIRE_ERR_CORRUPT_MESSAGE);
    memcpy(copy, one, one_len);
    memset(copy + QR_BATCH_OFF_LENGTH, 0xff, 4); /* negative */
    ck_assert_int_eq(
        qr_api_produce_check(copy, one_len, 1 << 20, 1 << 26, NULL),
        QUIRE_ERR_CORRUPT_MESSAGE);
}
END_TEST

/* ---- issue 17: what a hostile producer sent ---- */

/* Item 1: the two empty batches that put offsets INT32_MAX past a
 * segment's base. Kafka's LogValidator: recordCount >= 1 and
 * lastOffsetDelta == recordCount - 1. */
START_TEST(test_empty_batches)
{
    uint8_t buf[256];
    size_t a = qt_craft_batch(buf, 0, INT32_MAX, 0, NULL, 0);
    size_t b = qt_craft_batch(buf + a, 0, 0, 0, NULL, 0);
    const char *why = NULL;

    ck_assert_int_eq(qr_api_produce_check(buf, a, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_INVALID_RECORD);
    ck_assert_str_eq(why, "recordCount is 0: an empty batch");
    why = NULL;
    ck_assert_int_eq(qr_api_produce_check(buf + a, b, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_INVALID_RECORD);
    ck_assert_int_eq(qr_api_produce_check(buf, a + b, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_INVALID_RECORD);
    /* after a good batch too: nothing of the request goes in */
    {
        static uint8_t both[4096 + 256];
        memcpy(both, one, one_len);
        memcpy(both + one_len, buf, a);
        ck_assert_int_eq(
            qr_api_produce_check(both, one_len + a, 1 << 20, 1 << 26, &why),
            QUIRE_ERR_INVALID_RECORD);
    }
}
END_TEST

/* A control batch (transaction marker) may not come from a client. */
START_TEST(test_control_batch)
{
    uint8_t buf[4096];
    const char *why = NULL;

    memcpy(buf, one, one_len);
    qr_be16_put(buf + QR_BATCH_OFF_ATTRIBUTES, QR_BATCH_ATTR_CONTROL);
    qr_be32_put(buf + QR_BATCH_OFF_CRC,
                qr_crc32c(0, buf + QR_BATCH_OFF_ATTRIBUTES,
                          one_len - QR_BATCH_OFF_ATTRIBUTES));
    ck_assert_int_eq(qr_api_produce_check(buf, one_len, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_INVALID_RECORD);
    ck_assert_ptr_nonnull(strstr(why, "control"));
}
END_TEST

/* Item 5: three "records" of 0xff bytes with a valid CRC (accepted at
 * offset 93 before, stopping every consumer there). */
START_TEST(test_ff_records)
{
    uint8_t buf[256], ff[30];
    const char *why = NULL;
    size_t len;

    memset(ff, 0xff, sizeof(ff));
    len = qt_craft_batch(buf, 0, 2, 3, ff, sizeof(ff));
    ck_assert_int_eq(qr_api_produce_check(buf, len, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_INVALID_RECORD);
    ck_assert_ptr_nonnull(why);
    /* Not a compressed batch: trusting compressed producers changes
     * nothing here. */
    ck_assert_int_eq(qr_api_produce_check(buf, len, 1 << 20, 0, &why),
                     QUIRE_ERR_INVALID_RECORD);
}
END_TEST

/* Item 5: a gzip batch of garbage claiming INT32_MAX records. Refused
 * unless the topic trusts its producers' compressed batches. */
START_TEST(test_garbage_gzip)
{
    uint8_t buf[256];
    const char *why = NULL;
    size_t len = qt_craft_garbage_gzip(buf, INT32_MAX);

    ck_assert_int_eq(qr_api_produce_check(buf, len, 1 << 20, 1 << 26, &why),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(qr_api_produce_check(buf, len, 1 << 20, 0, &why),
                     QUIRE_ERR_NONE);
}
END_TEST

/* Compressed records: well-formed ones pass; a count that does not match
 * what decompresses, or records past the limit, are refused. */
START_TEST(test_compressed_records)
{
    static uint8_t raw[8192], z[8192], out[8192];
    int codecs[] = {QR_CODEC_GZIP, QR_CODEC_LZ4, QR_CODEC_ZSTD};
    const char *why = NULL;

    for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
        qr_batch_builder_t b;
        const uint8_t *batch;
        size_t len, zlen, rlen;

        ck_assert_int_eq(qr_batch_builder_init(&b, raw, sizeof(raw), codecs[c]),
                         QUIRE_ERR_NONE);
        for (int i = 0; i < 50; i++)
            ck_assert_int_eq(qr_batch_builder_append(&b, 1000 + i, "k", 1,
                                                     "aaaaaaaaaaaaaaaa", 16,
                                                     NULL, 0),
                             QUIRE_ERR_NONE);
        ck_assert_int_eq(
            qr_batch_builder_finish(&b, z, sizeof(z), &batch, &len),
            QUIRE_ERR_NONE);
        ck_assert_ptr_eq(batch, z);
        rlen = qr_batch_builder_size(&b) - QR_BATCH_HEADER_SIZE;
        ck_assert_int_eq(qr_api_produce_check(z, len, 1 << 20, 1 << 26, &why),
                         QUIRE_ERR_NONE);
        /* the records decompress to rlen bytes: one less is refused */
        ck_assert_int_eq(qr_api_produce_check(z, len, 1 << 20, rlen - 1, &why),
                         QUIRE_ERR_INVALID_RECORD);
        ck_assert_int_eq(qr_api_produce_check(z, len, 1 << 20, rlen, &why),
                         QUIRE_ERR_NONE);
        /* one record more claimed than there is */
        zlen = len - QR_BATCH_HEADER_SIZE;
        memcpy(out, z, len);
        len = qt_craft_batch(out, (int16_t)codecs[c], 50, 51,
                             z + QR_BATCH_HEADER_SIZE, zlen);
        ck_assert_int_eq(qr_api_produce_check(out, len, 1 << 20, 1 << 26, &why),
                         QUIRE_ERR_INVALID_RECORD);
        ck_assert_str_eq(why, "fewer records than recordCount");
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_produce");
    TCase *tc = tcase_create("check");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_good);
    tcase_add_test(tc, test_stamp);
    tcase_add_test(tc, test_empty);
    /* two_len is known only after setup: the loop covers more than it,
     * and cuts at or past the end return at once. */
    tcase_add_loop_test(tc, test_truncated, 1, 600);
    tcase_add_loop_test(tc, test_header_byte, 0, QR_BATCH_HEADER_SIZE);
    tcase_add_test(tc, test_too_large);
    tcase_add_test(tc, test_bad_lengths);
    tcase_add_test(tc, test_empty_batches);
    tcase_add_test(tc, test_control_batch);
    tcase_add_test(tc, test_ff_records);
    tcase_add_test(tc, test_garbage_gzip);
    tcase_add_test(tc, test_compressed_records);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
