/*
 * check_group: the consumer group's pure parts (coordinator/group.h): the
 * ids/<consumer-id> registration JSON Kafka's consumers write and read,
 * consumer ids, offsets/<t>/<p> values, and bad input of each.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

START_TEST(test_encode_decode)
{
    const char *topics[] = {"views", "orders"};
    char *s = qr_group_member_encode(0, topics, 2, 1700000000123LL);
    ck_assert_str_eq(s,
                     "{\"pattern\":\"static\",\"subscription\":{\"orders\":1,"
                     "\"views\":1},\"timestamp\":\"1700000000123\","
                     "\"version\":1}");
    qr_group_member_t m;
    char errstr[256];
    ck_assert_int_eq(
        qr_group_member_decode(s, (int)strlen(s), &m, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(m.white_list, 0);
    ck_assert_uint_eq(m.topic_cnt, 2);
    ck_assert_str_eq(m.topics[0], "orders"); /* sorted */
    ck_assert_str_eq(m.topics[1], "views");
    ck_assert_int_eq(m.timestamp, 1700000000123LL);
    qr_group_member_free(&m);
    free(s);

    const char *re[] = {"rx-.*"};
    s = qr_group_member_encode(1, re, 1, 5);
    ck_assert_int_eq(
        qr_group_member_decode(s, (int)strlen(s), &m, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(m.white_list, 1);
    ck_assert_str_eq(m.topics[0], "rx-.*");
    qr_group_member_free(&m);
    qr_group_member_free(NULL);
    free(s);
}
END_TEST

START_TEST(test_decode_kafka)
{
    /* as Kafka 0.8's ZookeeperConsumerConnector writes it: counts are
     * streams per topic, the timestamp a string */
    static const char k[] =
        "{\"version\":1,\"subscription\":{\"t1\":2,\"t0\":1},\"pattern\":"
        "\"static\",\"timestamp\":\"1400000000000\"}";
    qr_group_member_t m;
    char errstr[256];
    ck_assert_int_eq(
        qr_group_member_decode(k, (int)strlen(k), &m, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(m.topic_cnt, 2);
    ck_assert_str_eq(m.topics[0], "t0");
    qr_group_member_free(&m);
}
END_TEST

static const char *const bad_members[] = {
    "",
    "not json",
    "[]",
    "{\"version\":2,\"subscription\":{\"a\":1},\"pattern\":\"static\"}",
    "{\"subscription\":{\"a\":1},\"pattern\":\"static\"}",
    "{\"version\":1,\"subscription\":{},\"pattern\":\"static\"}",
    "{\"version\":1,\"subscription\":[\"a\"],\"pattern\":\"static\"}",
    "{\"version\":1,\"subscription\":{\"a\":1},\"pattern\":\"other\"}",
    "{\"version\":1,\"subscription\":{\"a\":1}}",
    "{\"version\":1,\"subscription\":{\"a\":0},\"pattern\":\"static\"}",
    "{\"version\":1,\"subscription\":{\"a\":\"1\"},\"pattern\":\"static\"}",
    "{\"version\":1,\"subscription\":{\"a/b\":1},\"pattern\":\"static\"}",
    "{\"version\":1,\"subscription\":{\"..\":1},\"pattern\":\"static\"}",
    "{\"version\":1,\"subscription\":{\"a\":1,\"b\":1},\"pattern\":"
    "\"white_list\"}",
    "{\"version\":1,\"subscription\":{\"a\":1},\"pattern\":\"static\","
    "\"timestamp\":\"12x\"}",
    "{\"version\":1,\"subscription\":{\"a\":1},\"pattern\":\"static\","
    "\"timestamp\":[]}",
    "{\"version\":1,\"subscription\":{\"a\":1,\"a\":1},\"pattern\":"
    "\"static\"}",
};

START_TEST(test_decode_bad)
{
    const char *s = bad_members[_i];
    qr_group_member_t m;
    char errstr[256] = "";
    ck_assert_int_eq(
        qr_group_member_decode(s, (int)strlen(s), &m, errstr, sizeof(errstr)),
        QUIRE_ERR_BAD_JSON);
    ck_assert_ptr_nonnull(strstr(errstr, "consumer registration"));
    ck_assert_ptr_null(m.topics);
}
END_TEST

START_TEST(test_decode_truncated)
{
    /* every prefix of a good registration is refused, never over-read */
    const char *topics[] = {"orders"};
    char *s = qr_group_member_encode(0, topics, 1, 1);
    size_t n = strlen(s);
    for (size_t len = 0; len < n; len++) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, s, len);
        qr_group_member_t m;
        char errstr[256];
        ck_assert_int_eq(
            qr_group_member_decode(copy, (int)len, &m, errstr, sizeof(errstr)),
            QUIRE_ERR_BAD_JSON);
        free(copy);
    }
    free(s);
}
END_TEST

START_TEST(test_consumer_id)
{
    char *id = qr_group_make_consumer_id("payments");
    ck_assert_int_eq(strncmp(id, "payments_", 9), 0);
    /* <group>_<host>-<ms>-<8 hex> */
    const char *dash = strrchr(id, '-');
    ck_assert_ptr_nonnull(dash);
    ck_assert_uint_eq(strlen(dash + 1), 8);
    ck_assert_uint_eq(strspn(dash + 1, "0123456789abcdef"), 8);
    char *other = qr_group_make_consumer_id("payments");
    ck_assert_str_ne(id, other);
    free(id);
    free(other);
    ck_assert(qr_group_id_valid("a.b_c-9"));
    ck_assert(!qr_group_id_valid(""));
    ck_assert(!qr_group_id_valid(".."));
    ck_assert(!qr_group_id_valid("a/b"));
    ck_assert(!qr_group_id_valid(NULL));
    char long_id[QR_GROUP_ID_MAX + 2];
    memset(long_id, 'g', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    ck_assert(!qr_group_id_valid(long_id));
    long_id[QR_GROUP_ID_MAX] = '\0';
    ck_assert(qr_group_id_valid(long_id));
}
END_TEST

START_TEST(test_offsets)
{
    int64_t v = -5;
    ck_assert_int_eq(qr_group_offset_decode("42", 2, &v), QUIRE_ERR_NONE);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(qr_group_offset_decode(" 7\n", 3, &v), QUIRE_ERR_NONE);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(qr_group_offset_decode("9223372036854775807", 19, &v),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(v, INT64_MAX);
    static const char *const bad[] = {
        "", "-1", "x", "1x", "1 2", "0x1", " ", "+1", "9223372036854775808"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 3;
        ck_assert_int_eq(
            qr_group_offset_decode(bad[i], (int)strlen(bad[i]), &v),
            QUIRE_ERR_BAD_ARG);
        ck_assert_int_eq(v, 3);
    }
    ck_assert_int_eq(qr_group_offset_decode(NULL, 0, &v), QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(qr_group_offset_decode("1", -1, &v), QUIRE_ERR_BAD_ARG);
}
END_TEST

/* issue 13: a commit's metadata after the offset, on a line of its own */
START_TEST(test_offset_metadata)
{
    int64_t v = -5;
    const char *m;
    size_t mn;
    int len;
    char *s = qr_group_offset_encode(12, NULL, &len);
    ck_assert_str_eq(s, "12"); /* Kafka 0.8's format without metadata */
    ck_assert_int_eq(len, 2);
    free(s);
    s = qr_group_offset_encode(12, "", &len);
    ck_assert_str_eq(s, "12");
    free(s);
    s = qr_group_offset_encode(34, "a b\nc ", &len);
    ck_assert_int_eq(len, 9);
    ck_assert_int_eq(qr_group_offset_decode_meta(s, len, &v, &m, &mn),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(v, 34);
    ck_assert_int_eq(mn, 6);
    ck_assert(memcmp(m, "a b\nc ", 6) == 0);
    /* every reader of the offset alone still reads it */
    v = 0;
    ck_assert_int_eq(qr_group_offset_decode(s, len, &v), QUIRE_ERR_NONE);
    ck_assert_int_eq(v, 34);
    free(s);
    ck_assert_int_eq(qr_group_offset_decode_meta("7\n", 2, &v, &m, &mn),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(mn, 0);
    /* no length limit of its own: the writer enforces
     * offset.metadata.max.bytes */
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s = qr_group_offset_encode(1, big, &len);
    ck_assert_int_eq(qr_group_offset_decode_meta(s, len, &v, &m, &mn),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(mn, sizeof(big) - 1);
    free(s);
}
END_TEST

START_TEST(test_conf)
{
    qr_group_conf_t conf;
    qr_group_conf_init(&conf);
    ck_assert_int_eq(conf.strategy, QR_ASSIGNOR_RANGE);
    ck_assert_int_eq(conf.rebalance_backoff_ms, 2000);
    ck_assert_int_eq(conf.rebalance_max_retries, 4);
    ck_assert_int_eq(conf.auto_commit_interval_ms, 5000);
}
END_TEST

static Suite *group_suite(void)
{
    Suite *s = suite_create("group");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_encode_decode);
    tcase_add_test(tc, test_decode_kafka);
    tcase_add_loop_test(tc, test_decode_bad, 0,
                        (int)(sizeof(bad_members) / sizeof(bad_members[0])));
    tcase_add_test(tc, test_decode_truncated);
    tcase_add_test(tc, test_consumer_id);
    tcase_add_test(tc, test_offsets);
    tcase_add_test(tc, test_offset_metadata);
    tcase_add_test(tc, test_conf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(group_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
