/* check_idemprod: the client's side of idempotence (idemprod.h, issue 22):
 * enable.idempotence against acks/retries/max.in.flight, sequences per
 * partition written into the batch header before the CRC, kept by a
 * retried batch, and started again after an epoch bump or a new id. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "accum.h"
#include "batch.h"
#include "clconf.h"
#include "codec.h"
#include "idemprod.h"

static quire_conf_t *conf_with(const char *k1, const char *v1, const char *k2,
                               const char *v2)
{
    quire_conf_t *conf = quire_conf_new();
    char errstr[256];

    ck_assert_ptr_nonnull(conf);
    if (k1)
        ck_assert_int_eq(quire_conf_set(conf, k1, v1, errstr, sizeof(errstr)),
                         QUIRE_ERR_NONE);
    if (k2)
        ck_assert_int_eq(quire_conf_set(conf, k2, v2, errstr, sizeof(errstr)),
                         QUIRE_ERR_NONE);
    return conf;
}

static int decide(quire_conf_t *conf, quire_err_t expect)
{
    char errstr[256] = "";
    int on = -1;

    ck_assert_int_eq(qr_idemprod_conf(conf, &on, errstr, sizeof(errstr)),
                     expect);
    if (expect != QUIRE_ERR_NONE)
        ck_assert_ptr_nonnull(strstr(errstr, "enable.idempotence"));
    quire_conf_destroy(conf);
    return on;
}

START_TEST(conf_rules)
{
    /* Kafka 3.x: on by default (acks=all is the default) */
    ck_assert_int_eq(decide(conf_with(NULL, NULL, NULL, NULL), 0), 1);
    /* unset and conflicting: off */
    ck_assert_int_eq(decide(conf_with("acks", "1", NULL, NULL), 0), 0);
    ck_assert_int_eq(decide(conf_with("retries", "0", NULL, NULL), 0), 0);
    ck_assert_int_eq(decide(conf_with("max.in.flight.requests.per.connection",
                                      "6", NULL, NULL),
                            0),
                     0);
    /* explicitly on and conflicting: a config error */
    decide(conf_with("enable.idempotence", "true", "acks", "1"),
           QUIRE_ERR_CONF_INVALID);
    decide(conf_with("enable.idempotence", "true",
                     "max.in.flight.requests.per.connection", "6"),
           QUIRE_ERR_CONF_INVALID);
    ck_assert_int_eq(
        decide(conf_with("enable.idempotence", "true",
                         "max.in.flight.requests.per.connection", "5"),
               0),
        1);
    ck_assert_int_eq(
        decide(conf_with("enable.idempotence", "false", NULL, NULL), 0), 0);
}
END_TEST

/* ---- numbering ---- */

static int take_all(void *ctx, const char *topic, int32_t partition,
                    size_t bytes)
{
    (void)ctx;
    (void)topic;
    (void)partition;
    (void)bytes;
    return 1;
}

/* One batch of @p n records for partition @p part, drained. */
static qr_pbatch_t *batch_of(qr_accum_t *acc, int32_t part, int n)
{
    qr_pbatch_t *list;
    int64_t next_ms;
    int32_t used;
    int wake;

    for (int i = 0; i < n; i++)
        ck_assert_int_eq(qr_accum_append(acc, "t", part, 4, 1700000000000LL,
                                         "k", 1, "v", 1, NULL, 0, NULL, 1000,
                                         1000, &used, &wake),
                         QUIRE_ERR_NONE);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1000, take_all, NULL, &list, &next_ms), 1);
    return list;
}

/* Finishes @p b and checks its header (and so that the CRC covers what
 * was stamped: qr_batch_validate checks it). */
static void expect_hdr(qr_pbatch_t *b, int64_t pid, int16_t epoch, int32_t seq)
{
    qr_batch_hdr_t hdr;
    const char *why = NULL;

    ck_assert_int_eq(qr_accum_finish(b), QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qr_batch_validate(b->data, b->len, QR_BATCH_CHECK_RECORDS, &hdr, &why),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(hdr.producer_id, pid);
    ck_assert_int_eq(hdr.producer_epoch, epoch);
    ck_assert_int_eq(hdr.base_sequence, seq);
}

START_TEST(sequences)
{
    qr_accum_conf_t c = {.batch_size = 16384,
                         .codec = QR_CODEC_NONE,
                         .buffer_memory = 1 << 20,
                         .max_batch = 1 << 20};
    qr_accum_t *acc = NULL;
    qr_idemprod_t *ip = qr_idemprod_new(0);
    qr_pbatch_t *a, *b, *x;
    int64_t pid;
    int16_t epoch;

    ck_assert_int_eq(qr_accum_new(&c, &acc), QUIRE_ERR_NONE);
    qr_idemprod_set(ip, 77, 0);
    /* partition 0: 3 records at 0, then 2 at 3; partition 1 starts at 0 */
    a = batch_of(acc, 0, 3);
    ck_assert_int_eq(qr_idemprod_stamp(ip, a), QUIRE_ERR_NONE);
    expect_hdr(a, 77, 0, 0);
    qr_accum_done(acc, a);
    b = batch_of(acc, 0, 2);
    ck_assert_int_eq(qr_idemprod_stamp(ip, b), QUIRE_ERR_NONE);
    expect_hdr(b, 77, 0, 3);
    x = batch_of(acc, 1, 4);
    ck_assert_int_eq(qr_idemprod_stamp(ip, x), QUIRE_ERR_NONE);
    expect_hdr(x, 77, 0, 0);
    /* b is retried: it keeps its numbers */
    b->attempts++;
    qr_accum_requeue(acc, b, 0);
    {
        qr_pbatch_t *list;
        int64_t next_ms;
        ck_assert_uint_eq(
            qr_accum_drain(acc, 1000, take_all, NULL, &list, &next_ms), 1);
        ck_assert_ptr_eq(list, b);
    }
    ck_assert_int_eq(qr_idemprod_stamp(ip, b), QUIRE_ERR_NONE);
    expect_hdr(b, 77, 0, 3);
    /* b fails for good: epoch bumped, partition 0 starts again at 0,
     * but only once nothing is in flight (x is) */
    qr_idemprod_failed(ip, b, QUIRE_ERR_REQUEST_TIMED_OUT);
    ck_assert_int_eq(qr_idemprod_settle(ip, 1), 0);
    qr_idemprod_get(ip, &pid, &epoch);
    ck_assert_int_eq(pid, 77);
    ck_assert_int_eq(epoch, 0);
    ck_assert_int_eq(qr_idemprod_settle(ip, 0), 1);
    qr_idemprod_get(ip, &pid, &epoch);
    ck_assert_int_eq(pid, 77);
    ck_assert_int_eq(epoch, 1);
    ck_assert_int_eq(qr_idemprod_settle(ip, 0), 1); /* once */
    qr_accum_done(acc, b);
    a = batch_of(acc, 0, 1);
    ck_assert_int_eq(qr_idemprod_stamp(ip, a), QUIRE_ERR_NONE);
    expect_hdr(a, 77, 1, 0);
    /* x (old epoch) failing later changes nothing more */
    qr_idemprod_failed(ip, x, QUIRE_ERR_REQUEST_TIMED_OUT);
    ck_assert_int_eq(qr_idemprod_settle(ip, 0), 1);
    qr_idemprod_get(ip, &pid, &epoch);
    ck_assert_int_eq(epoch, 1);
    qr_accum_done(acc, x);
    /* fenced: a new producer id is needed, once nothing is in flight */
    qr_idemprod_failed(ip, a, QUIRE_ERR_INVALID_PRODUCER_EPOCH);
    ck_assert_int_eq(qr_idemprod_settle(ip, 2), 0);
    qr_idemprod_get(ip, &pid, &epoch);
    ck_assert_int_eq(pid, 77);
    ck_assert_int_eq(qr_idemprod_settle(ip, 0), 1);
    qr_idemprod_get(ip, &pid, &epoch);
    ck_assert_int_eq(pid, -1);
    qr_accum_done(acc, a);
    qr_idemprod_destroy(ip);
    qr_accum_destroy(acc);
}
END_TEST

/* issue 22: OUT_OF_ORDER_SEQUENCE_NUMBER is retried for a batch sent
 * after one not acknowledged yet (that one goes first), not for the one
 * right after the last acknowledged, nor for an older epoch's */
START_TEST(out_of_order_retriable)
{
    qr_accum_conf_t c = {.batch_size = 16384,
                         .codec = QR_CODEC_NONE,
                         .buffer_memory = 1 << 20,
                         .max_batch = 1 << 20,
                         .part_in_flight = 5};
    qr_accum_t *acc = NULL;
    qr_idemprod_t *ip = qr_idemprod_new(0);
    qr_pbatch_t *a, *b;

    ck_assert_int_eq(qr_accum_new(&c, &acc), QUIRE_ERR_NONE);
    qr_idemprod_set(ip, 9, 0);
    a = batch_of(acc, 2, 3);
    ck_assert_int_eq(qr_idemprod_stamp(ip, a), QUIRE_ERR_NONE);
    expect_hdr(a, 9, 0, 0);
    b = batch_of(acc, 2, 2);
    ck_assert_int_eq(qr_idemprod_stamp(ip, b), QUIRE_ERR_NONE);
    expect_hdr(b, 9, 0, 3);
    /* a is not acknowledged: b is out of order because of it */
    ck_assert_int_eq(qr_idemprod_oos_retriable(ip, b), 1);
    ck_assert_int_eq(qr_idemprod_oos_retriable(ip, a), 0);
    qr_idemprod_acked(ip, a);
    qr_accum_done(acc, a);
    /* b is the next the broker should take: out of order is an error */
    ck_assert_int_eq(qr_idemprod_oos_retriable(ip, b), 0);
    /* an older epoch's batch never is */
    qr_idemprod_failed(ip, b, QUIRE_ERR_REQUEST_TIMED_OUT);
    ck_assert_int_eq(qr_idemprod_settle(ip, 0), 1);
    ck_assert_int_eq(qr_idemprod_oos_retriable(ip, b), 0);
    qr_accum_done(acc, b);
    qr_idemprod_destroy(ip);
    qr_accum_destroy(acc);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("idemprod");
    TCase *tc = tcase_create("idemprod");

    tcase_add_test(tc, conf_rules);
    tcase_add_test(tc, sequences);
    tcase_add_test(tc, out_of_order_retriable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
