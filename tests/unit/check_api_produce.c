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

    ck_assert_int_eq(qr_api_produce_check(one, one_len, 1 << 20, &why),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_api_produce_check(two, two_len, 1 << 20, &why),
                     QUIRE_ERR_NONE);
    /* A limit of exactly the batch size is fine. */
    ck_assert_int_eq(qr_api_produce_check(one, one_len, (int32_t)one_len, &why),
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
    ck_assert_int_eq(qr_api_produce_check(two, two_len, 1 << 20, &why),
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

    ck_assert_int_eq(qr_api_produce_check(one, 0, 1 << 20, &why),
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
    ck_assert_int_eq(qr_api_produce_check(two, cut, 1 << 20, &why),
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
    err = qr_api_produce_check(copy, one_len, 1 << 20, NULL);
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
        qr_api_produce_check(one, one_len, (int32_t)one_len - 1, &why),
        QUIRE_ERR_MESSAGE_TOO_LARGE);
    /* The second of two batches is the large one. */
    ck_assert_int_eq(
        qr_api_produce_check(two, two_len, (int32_t)one_len - 1, &why),
        QUIRE_ERR_MESSAGE_TOO_LARGE);
}
END_TEST

/* A batchLength claiming more than is there, or less than a header. */
START_TEST(test_bad_lengths)
{
    uint8_t copy[4096];

    memcpy(copy, one, one_len);
    copy[QR_BATCH_OFF_LENGTH] = 0x7f; /* ~2 GiB */
    ck_assert_int_eq(qr_api_produce_check(copy, one_len, INT32_MAX, NULL),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    memcpy(copy, one, one_len);
    memset(copy + QR_BATCH_OFF_LENGTH, 0, 4);
    copy[QR_BATCH_OFF_LENGTH + 3] = 10;
    ck_assert_int_eq(qr_api_produce_check(copy, one_len, 1 << 20, NULL),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    memcpy(copy, one, one_len);
    memset(copy + QR_BATCH_OFF_LENGTH, 0xff, 4); /* negative */
    ck_assert_int_eq(qr_api_produce_check(copy, one_len, 1 << 20, NULL),
                     QUIRE_ERR_CORRUPT_MESSAGE);
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
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
