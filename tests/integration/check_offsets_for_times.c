/*
 * check_offsets_for_times: quire_consumer_offsets_for_times() (Kafka's
 * offsetsForTimes, ListOffsets by timestamp) against a real broker and a
 * real ZooKeeper: records with known CreateTimes, the first offset at or
 * after a time (exact with a batch per record; the batch's first offset
 * inside a batch, as the broker answers), the log's start and end, an
 * empty partition, a lookup mixing all of these, and bad arguments.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qt_broker.h"
#include "qt_zk.h"
#include "quire.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif

#define NREC 10

static char *zk_connect;
static qt_broker_t *broker;
static int64_t base_ms; /* record i of oft-0 has CreateTime base + i s */

static void conf_set(quire_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];

    ck_assert_msg(quire_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
}

static void setup(void)
{
    char *argv[] = {QT_TOPICS_BIN,  "--zookeeper", zk_connect,
                    "--create",     "--topic",     "oft",
                    "--partitions", "3",           NULL};
    quire_conf_t *conf;
    quire_producer_t *p = NULL;
    qt_run_result_t res;
    struct timespec now;
    char errstr[256];

    zk_connect = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(zk_connect);
    argv[2] = zk_connect;
    broker = qt_broker_new(1, zk_connect, NULL);
    ck_assert_ptr_nonnull(broker);
    ck_assert_int_eq(qt_broker_start(broker, 20000), 0);
    ck_assert_int_eq(qt_run(argv, NULL, 20000, &res), 0);
    ck_assert_msg(res.status == 0, "quire-topics: %s", res.err);
    qt_run_free(&res);
    clock_gettime(CLOCK_REALTIME, &now);
    base_ms = ((int64_t)now.tv_sec - 3600) * 1000; /* an hour ago */
    conf = quire_conf_new();
    conf_set(conf, "bootstrap.servers", broker->addr);
    conf_set(conf, "acks", "all");
    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    /* one batch per record: the broker answers at batch granularity */
    for (int i = 0; i < NREC; i++) {
        ck_assert_int_eq(quire_producer_send(p, "oft", 0, NULL, 0, "v", 1, NULL,
                                             0, base_ms + i * 1000, NULL),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(quire_producer_flush(p, 30000), QUIRE_ERR_NONE);
    }
    /* partition 1: one batch of NREC records, base + 100 s + i s */
    for (int i = 0; i < NREC; i++)
        ck_assert_int_eq(quire_producer_send(p, "oft", 1, NULL, 0, "v", 1, NULL,
                                             0, base_ms + (100 + i) * 1000,
                                             NULL),
                         QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
}

static void teardown(void)
{
    qt_broker_destroy(broker);
    broker = NULL;
    free(zk_connect);
    zk_connect = NULL;
}

static quire_consumer_t *consumer(void)
{
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *c = NULL;
    char errstr[256];

    conf_set(conf, "bootstrap.servers", broker->addr);
    ck_assert_msg(quire_consumer_new(conf, &c, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return c;
}

START_TEST(test_by_time)
{
    quire_consumer_t *c = consumer();
    /* {partition, timestamp, expected offset} */
    const struct {
        int32_t p;
        int64_t ts, want;
    } cases[] = {
        {0, base_ms - 60000, 0},        /* before everything: the first */
        {0, base_ms, 0},                /* exactly the first */
        {0, base_ms + 1, 1},            /* just after it: the next */
        {0, base_ms + 2500, 3},         /* between 2 and 3 */
        {0, base_ms + 9000, 9},         /* the last */
        {0, base_ms + 9001, -1},        /* none that recent */
        {0, QUIRE_OFFSET_BEGINNING, 0}, /* the log's start */
        {0, QUIRE_OFFSET_END, NREC},    /* the log's end */
        {1, base_ms, 0},
        {1, base_ms + 109001, -1},
        {1, QUIRE_OFFSET_BEGINNING, 0},
        {1, QUIRE_OFFSET_END, NREC},
        {2, base_ms, -1}, /* an empty partition */
        {2, QUIRE_OFFSET_BEGINNING, 0},
        {2, QUIRE_OFFSET_END, 0},
    };
    const size_t n = sizeof(cases) / sizeof(cases[0]);
    quire_topic_partition_t tps[sizeof(cases) / sizeof(cases[0])];

    /* one at a time */
    for (size_t i = 0; i < n; i++) {
        quire_topic_partition_t tp = {"oft", cases[i].p, cases[i].ts};

        ck_assert_int_eq(quire_consumer_offsets_for_times(c, &tp, 1, 10000),
                         QUIRE_ERR_NONE);
        ck_assert_msg(tp.offset == cases[i].want,
                      "case %zu: p%d ts %lld: offset %lld, not %lld", i,
                      (int)cases[i].p, (long long)cases[i].ts,
                      (long long)tp.offset, (long long)cases[i].want);
    }
    /* all in one call (one request for the leader) */
    for (size_t i = 0; i < n; i++) {
        tps[i].topic = "oft";
        tps[i].partition = cases[i].p;
        tps[i].offset = cases[i].ts;
    }
    ck_assert_int_eq(quire_consumer_offsets_for_times(c, tps, n, 10000),
                     QUIRE_ERR_NONE);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(tps[i].topic, "oft");
        ck_assert_int_eq(tps[i].partition, cases[i].p);
        ck_assert_int_eq(tps[i].offset, cases[i].want);
    }
    ck_assert_int_eq(quire_consumer_offsets_for_times(c, NULL, 0, 1000),
                     QUIRE_ERR_NONE);
    /* inside one batch: the batch's first offset, never past the first
     * record at or after the time */
    for (int i = 0; i < NREC; i++) {
        quire_topic_partition_t tp = {"oft", 1, base_ms + (100 + i) * 1000};

        ck_assert_int_eq(quire_consumer_offsets_for_times(c, &tp, 1, 10000),
                         QUIRE_ERR_NONE);
        ck_assert_int_ge(tp.offset, 0);
        ck_assert_int_le(tp.offset, i);
    }
    /* a partition the topic does not have, a topic that does not exist:
     * offsets come back -1 */
    tps[0] = (quire_topic_partition_t){"oft", 3, base_ms};
    ck_assert_int_eq(quire_consumer_offsets_for_times(c, tps, 1, 5000),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    quire_consumer_close(c);
}
END_TEST

/* The same consumer keeps working for records: the lookups do not
 * disturb an assignment. */
START_TEST(test_with_assignment)
{
    quire_consumer_t *c = consumer();
    quire_topic_partition_t tp = {"oft", 0, base_ms + 4000};
    const quire_record_t *r;
    int got = 0;

    ck_assert_int_eq(quire_consumer_offsets_for_times(c, &tp, 1, 10000),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(tp.offset, 4);
    ck_assert_int_eq(quire_consumer_assign(c, "oft", 0, tp.offset),
                     QUIRE_ERR_NONE);
    while (got < NREC - 4) {
        ck_assert_int_eq(quire_consumer_poll(c, 10000, &r), QUIRE_ERR_NONE);
        ck_assert_int_eq(r->offset, 4 + got);
        ck_assert_int_eq(r->timestamp, base_ms + (4 + got) * 1000);
        got++;
        tp.offset = base_ms + 7000; /* a lookup between polls */
        ck_assert_int_eq(quire_consumer_offsets_for_times(c, &tp, 1, 10000),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(tp.offset, 7);
    }
    quire_consumer_close(c);
}
END_TEST

/* Bad arguments: a clear error, nothing sent, offsets left alone. */
static const struct {
    const char *topic;
    int32_t partition;
    int64_t ts;
    int timeout_ms;
    quire_err_t want;
} bad[] = {
    {NULL, 0, 0, 1000, QUIRE_ERR_BAD_ARG},
    {"oft", -1, 0, 1000, QUIRE_ERR_BAD_ARG},
    {"oft", 0, -3, 1000, QUIRE_ERR_BAD_ARG},
    {"oft", 0, INT64_MIN, 1000, QUIRE_ERR_BAD_ARG},
    {"oft", 0, 0, -1, QUIRE_ERR_BAD_ARG},
    {"a/b", 0, 0, 1000, QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
    {"", 0, 0, 1000, QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
    {"..", 0, 0, 1000, QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
};

START_TEST(test_bad_args)
{
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *c = NULL;
    quire_topic_partition_t tp = {bad[_i].topic, bad[_i].partition, bad[_i].ts};
    char errstr[256];

    /* no broker needed: every case is refused before asking */
    conf_set(conf, "bootstrap.servers", "127.0.0.1:1");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(
        quire_consumer_offsets_for_times(c, &tp, 1, bad[_i].timeout_ms),
        bad[_i].want);
    ck_assert_int_eq(tp.offset, bad[_i].ts);
    if (_i == 0) {
        ck_assert_int_eq(quire_consumer_offsets_for_times(NULL, &tp, 1, 10),
                         QUIRE_ERR_BAD_ARG);
        ck_assert_int_eq(quire_consumer_offsets_for_times(c, NULL, 1, 10),
                         QUIRE_ERR_BAD_ARG);
        /* no broker answers: the time runs out */
        tp = (quire_topic_partition_t){"oft", 0, 0};
        ck_assert_int_eq(quire_consumer_offsets_for_times(c, &tp, 1, 300),
                         QUIRE_ERR_TIMED_OUT);
        ck_assert_int_eq(tp.offset, 0);
    }
    quire_consumer_close(c);
}
END_TEST

static Suite *oft_suite(void)
{
    Suite *s = suite_create("offsets_for_times");
    TCase *tc = tcase_create("broker");

    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_by_time);
    tcase_add_test(tc, test_with_assignment);
    suite_add_tcase(s, tc);
    tc = tcase_create("bad_args");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_bad_args, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    qt_zk_env(); /* exits 99 without the harness's server */
    sr = srunner_create(oft_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
