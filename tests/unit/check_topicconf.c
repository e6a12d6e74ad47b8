/*
 * check_topicconf: topic-level overrides over the broker's defaults
 * (broker/topicconf.c): each Kafka key lands in its field, nothing else
 * changes, and a bad or unsupported override is skipped (counted), never
 * applied half-way.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "partlog.h"
#include "topicconf.h"
#include "znode.h"

#define DEFAULT_MAX 1048588

static qr_plog_conf_t defaults(void)
{
    qr_plog_conf_t d;

    qr_plog_conf_defaults(&d);
    return d;
}

/* Applies one override; returns the number skipped. */
static size_t apply1(const char *key, const char *value, qr_plog_conf_t *out,
                     int32_t *max_bytes)
{
    qr_plog_conf_t d = defaults();
    qr_topic_config_t cfg = {NULL, NULL, 0};
    size_t skipped;

    qr_topic_produce_t dp = {DEFAULT_MAX, 0, 0, 1}, prod;

    qr_topic_config_set(&cfg, key, value);
    skipped = qr_topicconf_apply("t", &d, &dp, &cfg, out, &prod);
    qr_topic_config_free(&cfg);
    *max_bytes = prod.max_message_bytes;
    ck_assert_int_eq(prod.log_append_time, 0);
    return skipped;
}

START_TEST(test_no_overrides)
{
    qr_plog_conf_t d = defaults(), out;
    qr_topic_config_t empty = {NULL, NULL, 0};
    qr_topic_produce_t dp = {DEFAULT_MAX, 0, 0, 1}, prod;

    ck_assert_uint_eq(qr_topicconf_apply("t", &d, &dp, NULL, &out, &prod), 0);
    ck_assert_mem_eq(&out, &d, sizeof(d));
    ck_assert_int_eq(prod.max_message_bytes, DEFAULT_MAX);
    ck_assert_int_eq(prod.log_append_time, 0);
    dp.max_message_bytes = 77;
    dp.log_append_time = 1; /* log.message.timestamp.type=LogAppendTime */
    ck_assert_uint_eq(qr_topicconf_apply("t", &d, &dp, &empty, &out, &prod), 0);
    ck_assert_int_eq(prod.max_message_bytes, 77);
    ck_assert_int_eq(prod.log_append_time, 1);
}
END_TEST

typedef struct good {
    const char *key, *value;
    size_t field; /* offsetof in qr_plog_conf_t; SIZE_MAX: max_bytes */
    int64_t want;
} good_t;

#define F(f) offsetof(qr_plog_conf_t, f)
static const good_t goods[] = {
    {"retention.ms", "60000", F(retention_ms), 60000},
    {"retention.ms", "-1", F(retention_ms), -1},
    {"retention.bytes", "1048576", F(retention_bytes), 1048576},
    {"segment.bytes", "4096", F(segment_bytes), 4096},
    {"segment.ms", "3600000", F(roll_ms), 3600000},
    {"segment.index.bytes", "8192", F(index_size_max_bytes), 8192},
    {"index.interval.bytes", "128", F(index_interval_bytes), 128},
    {"flush.messages", "1", F(flush_interval_messages), 1},
    {"flush.ms", "1000", F(flush_interval_ms), 1000},
    {"file.delete.delay.ms", "0", F(segment_delete_delay_ms), 0},
    {"max.message.bytes", "800", SIZE_MAX, 800},
};

START_TEST(test_each_key)
{
    const good_t *g = &goods[_i];
    qr_plog_conf_t d = defaults(), out;
    int32_t max;
    int64_t got;

    ck_assert_uint_eq(apply1(g->key, g->value, &out, &max), 0);
    if (g->field == SIZE_MAX) {
        ck_assert_int_eq(max, g->want);
        ck_assert_mem_eq(&out, &d, sizeof(d));
        return;
    }
    ck_assert_int_eq(max, DEFAULT_MAX);
    memcpy(&got, (char *)&out + g->field, sizeof(got));
    ck_assert_int_eq(got, g->want);
    /* nothing else moved */
    memcpy((char *)&out + g->field, (char *)&d + g->field, sizeof(got));
    ck_assert_mem_eq(&out, &d, sizeof(d));
}
END_TEST

static const char *const bads[][2] = {
    {"segment.bytes", "14"},  /* Kafka's minimum, below a batch header */
    {"segment.bytes", "abc"}, /* not a number */
    {"segment.bytes", ""},
    {"segment.bytes", "2147483648"}, /* over 2^31-1 */
    {"retention.ms", "-2"},
    {"flush.messages", "0"},
    {"segment.ms", "0"},
    {"max.message.bytes", "-1"},
    {"max.message.bytes", "12x"},
    {"segment.index.bytes", "4"},                /* less than one entry */
    {"message.timestamp.type", "logappendtime"}, /* Kafka's exact words */
    {"cleanup.policy", "compact"},
    {"no.such.key", "1"},
};

START_TEST(test_bad_skipped)
{
    qr_plog_conf_t d = defaults(), out;
    int32_t max;

    ck_assert_uint_eq(apply1(bads[_i][0], bads[_i][1], &out, &max), 1);
    ck_assert_mem_eq(&out, &d, sizeof(d));
    ck_assert_int_eq(max, DEFAULT_MAX);
}
END_TEST

/* A bad override among good ones: the good ones still apply. */
START_TEST(test_mixed)
{
    qr_plog_conf_t d = defaults(), out;
    qr_topic_config_t cfg = {NULL, NULL, 0};
    qr_topic_produce_t dp = {DEFAULT_MAX, 0, 0, 1}, prod;

    qr_topic_config_set(&cfg, "segment.bytes", "1024");
    qr_topic_config_set(&cfg, "retention.bytes", "nope");
    qr_topic_config_set(&cfg, "cleanup.policy", "delete");
    qr_topic_config_set(&cfg, "max.message.bytes", "100");
    qr_topic_config_set(&cfg, "message.timestamp.type", "LogAppendTime");
    ck_assert_uint_eq(qr_topicconf_apply("t", &d, &dp, &cfg, &out, &prod), 1);
    ck_assert_int_eq(out.segment_bytes, 1024);
    ck_assert_int_eq(out.retention_bytes, d.retention_bytes);
    ck_assert_int_eq(prod.max_message_bytes, 100);
    ck_assert_int_eq(prod.log_append_time, 1);
    /* and back: a topic override of the broker's LogAppendTime */
    dp.log_append_time = 1;
    qr_topic_config_set(&cfg, "message.timestamp.type", "CreateTime");
    ck_assert_uint_eq(qr_topicconf_apply("t", &d, &dp, &cfg, &out, &prod), 1);
    ck_assert_int_eq(prod.log_append_time, 0);
    qr_topic_config_free(&cfg);
}
END_TEST

static Suite *topicconf_suite(void)
{
    Suite *s = suite_create("topicconf");
    TCase *tc = tcase_create("apply");

    tcase_set_tags(tc, "unit");
    tcase_add_test(tc, test_no_overrides);
    tcase_add_loop_test(tc, test_each_key, 0,
                        (int)(sizeof(goods) / sizeof(goods[0])));
    tcase_add_loop_test(tc, test_bad_skipped, 0,
                        (int)(sizeof(bads) / sizeof(bads[0])));
    tcase_add_test(tc, test_mixed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(topicconf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
