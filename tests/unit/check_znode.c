/* check_znode: the ZooKeeper layout's paths and JSON (coordinator/znode.c),
 * including data written by Kafka itself, and malformed data refused. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "znode.h"

#define LEN(s) ((int)strlen(s))

START_TEST(test_paths)
{
    struct {
        char *got;
        const char *want;
    } t[] = {
        {qr_znode_broker_path(7), "/brokers/ids/7"},
        {qr_znode_topic_path("t.1"), "/brokers/topics/t.1"},
        {qr_znode_partitions_path("t"), "/brokers/topics/t/partitions"},
        {qr_znode_partition_path("t", 3), "/brokers/topics/t/partitions/3"},
        {qr_znode_state_path("t", 12), "/brokers/topics/t/partitions/12/state"},
        {qr_znode_config_path("t"), "/config/topics/t"},
        {qr_znode_delete_path("t"), "/admin/delete_topics/t"},
        {qr_znode_delete_ack_path("t", 2), "/admin/delete_topics/t/2"},
        {qr_znode_controlled_shutdown_path(7), "/admin/controlled_shutdown/7"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ck_assert_str_eq(t[i].got, t[i].want);
        free(t[i].got);
    }
    ck_assert_str_eq(qr_znode_roots[0], "/brokers");
    ck_assert_uint_eq(qr_znode_root_cnt, 10);
    /* the leaders' ISR changes go under it (issue 16) */
    ck_assert_str_eq(qr_znode_roots[8], "/isr_change_notification");
    /* and the brokers' controlled shutdown requests */
    ck_assert_str_eq(qr_znode_roots[9], "/admin/controlled_shutdown");
}
END_TEST

/* The ISR change notification, Kafka 0.8.2's JSON, and what its reader
 * refuses. */
START_TEST(test_isr_change)
{
    char *s = qr_znode_isr_change_encode("orders", 3);
    char **topics = NULL, errstr[256];
    int32_t *parts = NULL;
    size_t n = 0;
    static const char *const bad[] = {
        "{\"version\":1}",
        "{\"version\":1,\"partitions\":[]}",
        "{\"version\":2,\"partitions\":[{\"topic\":\"a\",\"partition\":0}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"..\",\"partition\":0}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"a\",\"partition\":-1}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"a\"}]}",
        "{\"version\":1,\"partitions\":[1]}",
    };

    ck_assert_str_eq(s, "{\"version\":1,\"partitions\":[{\"topic\":\"orders\","
                        "\"partition\":3}]}");
    ck_assert_int_eq(qr_znode_isr_change_decode(s, (int)strlen(s), &topics,
                                                &parts, &n, errstr,
                                                sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(topics[0], "orders");
    ck_assert_int_eq(parts[0], 3);
    free(topics[0]);
    free(topics);
    free(parts);
    free(s);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(qr_znode_isr_change_decode(
                          bad[i], (int)strlen(bad[i]), &topics, &parts, &n,
                          errstr, sizeof(errstr)) == QUIRE_ERR_BAD_JSON,
                      "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_parse_id)
{
    int32_t v = -5;
    ck_assert_int_eq(qr_znode_parse_id("0", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(qr_znode_parse_id("2147483647", &v), 0);
    ck_assert_int_eq(v, 2147483647);
    static const char *const bad[] = {
        "", "01", "-1", "+1", "1a", " 1", "2147483648", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(qr_znode_parse_id(bad[i], &v), -1);
}
END_TEST

START_TEST(test_broker)
{
    char errstr[256];
    qr_znode_broker_t b;
    char *s = qr_znode_broker_encode("h1.example", 9092, 1400000000123);

    ck_assert_int_eq(
        qr_znode_broker_decode(s, LEN(s), &b, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_str_eq(b.host, "h1.example");
    ck_assert_int_eq(b.port, 9092);
    ck_assert_int_eq(b.timestamp, 1400000000123);
    ck_assert_ptr_nonnull(strstr(s, "\"version\":1"));
    ck_assert_ptr_nonnull(strstr(s, "\"timestamp\":\"1400000000123\""));
    free(b.host);
    free(s);
    /* as Kafka 0.8 writes it */
    const char *kafka = "{\"jmx_port\":-1,\"timestamp\":\"1400000000000\","
                        "\"host\":\"kafka1\",\"version\":1,\"port\":9093}";
    ck_assert_int_eq(
        qr_znode_broker_decode(kafka, LEN(kafka), &b, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_str_eq(b.host, "kafka1");
    ck_assert_int_eq(b.port, 9093);
    ck_assert_int_eq(b.kafka_port, 0);
    free(b.host);
    /* issue 13: both listeners, in Kafka's endpoints array */
    s = qr_znode_broker_encode_ep("h1", 9092, 19092, 1400000000123);
    ck_assert_ptr_nonnull(strstr(
        s, "\"endpoints\":[\"PLAINTEXT://h1:9092\",\"KAFKA://h1:19092\"]"));
    ck_assert_ptr_nonnull(strstr(s, "\"listener_security_protocol_map\":{"
                                    "\"PLAINTEXT\":\"PLAINTEXT\",\"KAFKA\":"
                                    "\"PLAINTEXT\"}"));
    ck_assert_int_eq(
        qr_znode_broker_decode(s, LEN(s), &b, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(b.port, 9092);
    ck_assert_int_eq(b.kafka_port, 19092);
    free(b.host);
    free(s);
}
END_TEST

START_TEST(test_topic)
{
    char errstr[256];
    int32_t r0[] = {1, 2}, r1[] = {2, 3};
    qr_replicas_t parts[] = {{r0, 2}, {r1, 2}};
    qr_assign_t a = {parts, 2}, b;
    char *s = qr_znode_topic_encode(&a);

    ck_assert_str_eq(s, "{\"version\":1,\"partitions\":{\"0\":[1,2],"
                        "\"1\":[2,3]}}");
    ck_assert_int_eq(
        qr_znode_topic_decode(s, LEN(s), &b, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(b.part_cnt, 2);
    ck_assert_uint_eq(b.parts[1].n, 2);
    ck_assert_int_eq(b.parts[1].ids[0], 2);
    ck_assert_int_eq(b.parts[1].ids[1], 3);
    qr_assign_free(&b);
    free(s);
    /* key order does not matter */
    const char *kafka = "{\"version\":1,\"partitions\":{\"1\":[0],"
                        "\"0\":[1]}}";
    ck_assert_int_eq(
        qr_znode_topic_decode(kafka, LEN(kafka), &b, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(b.parts[0].ids[0], 1);
    ck_assert_int_eq(b.parts[1].ids[0], 0);
    qr_assign_free(&b);
}
END_TEST

START_TEST(test_state)
{
    char errstr[256];
    qr_pstate_t st = {.leader = 3,
                      .leader_epoch = 7,
                      .controller_epoch = 2,
                      .isr = {3, 1},
                      .isr_cnt = 2},
                got;
    char *s = qr_znode_state_encode(&st);

    ck_assert_int_eq(
        qr_znode_state_decode(s, LEN(s), &got, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(got.leader, 3);
    ck_assert_int_eq(got.leader_epoch, 7);
    ck_assert_int_eq(got.controller_epoch, 2);
    ck_assert_uint_eq(got.isr_cnt, 2);
    ck_assert_int_eq(got.isr[0], 3);
    free(s);
    const char *kafka = "{\"controller_epoch\":1,\"leader\":-1,"
                        "\"version\":1,\"leader_epoch\":0,\"isr\":[]}";
    ck_assert_int_eq(
        qr_znode_state_decode(kafka, LEN(kafka), &got, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(got.leader, -1);
    ck_assert_uint_eq(got.isr_cnt, 0);
}
END_TEST

START_TEST(test_config)
{
    char errstr[256];
    qr_topic_config_t c = {0}, got;
    char *s;

    qr_topic_config_set(&c, "retention.ms", "1000");
    qr_topic_config_set(&c, "segment.bytes", "1048576");
    qr_topic_config_set(&c, "retention.ms", "2000");
    ck_assert_uint_eq(c.n, 2);
    s = qr_znode_config_encode(&c);
    ck_assert_int_eq(
        qr_znode_config_decode(s, LEN(s), &got, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(got.n, 2);
    ck_assert_int_eq(qr_topic_config_unset(&got, "retention.ms"), 1);
    ck_assert_int_eq(qr_topic_config_unset(&got, "retention.ms"), 0);
    ck_assert_str_eq(got.keys[0], "segment.bytes");
    ck_assert_str_eq(got.values[0], "1048576");
    qr_topic_config_free(&got);
    qr_topic_config_free(&c);
    free(s);
    /* Kafka writes strings; an integer is accepted as text */
    const char *kafka = "{\"version\":1,\"config\":{\"retention.ms\":5}}";
    ck_assert_int_eq(
        qr_znode_config_decode(kafka, LEN(kafka), &got, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_str_eq(got.values[0], "5");
    qr_topic_config_free(&got);
}
END_TEST

START_TEST(test_config_check)
{
    char errstr[256];
    ck_assert_int_eq(
        qr_topic_config_check("retention.ms", "-1", errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_topic_config_check("cleanup.policy", "delete", errstr,
                                           sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_topic_config_check("file.delete.delay.ms", "0", errstr,
                                           sizeof(errstr)),
                     QUIRE_ERR_NONE);
    static const char *const bad[][2] = {
        {"retention.ms", "-2"},
        {"retention.ms", "1x"},
        {"retention.ms", ""},
        {"segment.bytes", "13"},
        {"segment.bytes", "9999999999"},
        {"cleanup.policy", "compact"},
        {"no.such.key", "1"},
        {"flush.messages", "0"},
        {"file.delete.delay.ms", "-1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errstr[0] = '\0';
        ck_assert_int_eq(
            qr_topic_config_check(bad[i][0], bad[i][1], errstr, sizeof(errstr)),
            QUIRE_ERR_INVALID_CONFIG);
        ck_assert_ptr_nonnull(strstr(errstr, bad[i][0]));
    }
}
END_TEST

START_TEST(test_controller)
{
    char errstr[256];
    int32_t id = -1, epoch = -1;
    char *s = qr_znode_controller_encode(4, 1234);

    ck_assert_int_eq(
        qr_znode_controller_decode(s, LEN(s), &id, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(id, 4);
    free(s);
    ck_assert_int_eq(
        qr_znode_epoch_decode("17", 2, &epoch, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(epoch, 17);
    ck_assert_int_eq(
        qr_znode_epoch_decode("-1", 2, &epoch, errstr, sizeof(errstr)),
        QUIRE_ERR_BAD_JSON);
    ck_assert_int_eq(qr_znode_epoch_decode("12345678901234567", 17, &epoch,
                                           errstr, sizeof(errstr)),
                     QUIRE_ERR_BAD_JSON);
    ck_assert_int_eq(
        qr_znode_epoch_decode(NULL, -1, &epoch, errstr, sizeof(errstr)),
        QUIRE_ERR_BAD_JSON);
}
END_TEST

/* ---- malformed data: every reader refuses it with a message ---- */

enum { BROKER, TOPIC, STATE, CONFIG, CTRL };

static const struct {
    int kind;
    const char *data;
} bad[] = {
    {BROKER, ""},
    {BROKER, "{"},
    {BROKER, "[]"},
    {BROKER, "null"},
    {BROKER, "{\"host\":\"h\",\"port\":1}"},
    {BROKER, "{\"version\":2,\"host\":\"h\",\"port\":1}"},
    {BROKER, "{\"version\":\"1\",\"host\":\"h\",\"port\":1}"},
    {BROKER, "{\"version\":1,\"port\":1}"},
    {BROKER, "{\"version\":1,\"host\":\"\",\"port\":1}"},
    {BROKER, "{\"version\":1,\"host\":5,\"port\":1}"},
    {BROKER, "{\"version\":1,\"host\":\"h\",\"port\":0}"},
    {BROKER, "{\"version\":1,\"host\":\"h\",\"port\":65536}"},
    {BROKER, "{\"version\":1,\"host\":\"h\",\"port\":\"1\"}"},
    {BROKER, "{\"version\":1,\"host\":\"h\\u0000x\",\"port\":1}"},
    {BROKER, "{\"version\":1,\"version\":1,\"host\":\"h\",\"port\":1}"},
    {TOPIC, "{\"version\":1}"},
    {TOPIC, "{\"version\":1,\"partitions\":{}}"},
    {TOPIC, "{\"version\":1,\"partitions\":[]}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"1\":[1]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"0\":[1],\"2\":[1]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"00\":[1]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"-1\":[1]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"x\":[1]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"0\":[]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"0\":[1,1]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"0\":[-1]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"0\":[\"1\"]}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"0\":1}}"},
    {TOPIC, "{\"version\":1,\"partitions\":{\"0\":[2147483648]}}"},
    {STATE, "{\"version\":1,\"leader_epoch\":0,\"isr\":[]}"},
    {STATE, "{\"version\":1,\"leader\":-2,\"leader_epoch\":0,\"isr\":[]}"},
    {STATE, "{\"version\":1,\"leader\":1,\"isr\":[]}"},
    {STATE, "{\"version\":1,\"leader\":1,\"leader_epoch\":-1,\"isr\":[]}"},
    {STATE, "{\"version\":1,\"leader\":1,\"leader_epoch\":0}"},
    {STATE, "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":[1,1]}"},
    {STATE, "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":{}}"},
    {STATE, "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":[],"
            "\"controller_epoch\":\"x\"}"},
    {CONFIG, "{\"version\":1}"},
    {CONFIG, "{\"version\":1,\"config\":[]}"},
    {CONFIG, "{\"version\":1,\"config\":{\"a\":{}}}"},
    {CONFIG, "{\"version\":1,\"config\":{\"a\":1.5}}"},
    {CTRL, "{\"version\":1}"},
    {CTRL, "{\"version\":1,\"brokerid\":-1}"},
    {CTRL, "{\"version\":1,\"brokerid\":\"1\"}"},
    {CTRL, "{\"version\":1,\"brokerid\":1"},
};

START_TEST(test_bad)
{
    char errstr[256] = "";
    const char *d = bad[_i].data;
    int len = LEN(d);
    qr_znode_broker_t b;
    qr_assign_t a;
    qr_pstate_t st;
    qr_topic_config_t c;
    int32_t id;
    quire_err_t err = QUIRE_ERR_NONE;

    switch (bad[_i].kind) {
    case BROKER:
        err = qr_znode_broker_decode(d, len, &b, errstr, sizeof(errstr));
        break;
    case TOPIC:
        err = qr_znode_topic_decode(d, len, &a, errstr, sizeof(errstr));
        break;
    case STATE:
        err = qr_znode_state_decode(d, len, &st, errstr, sizeof(errstr));
        break;
    case CONFIG:
        err = qr_znode_config_decode(d, len, &c, errstr, sizeof(errstr));
        break;
    case CTRL:
        err = qr_znode_controller_decode(d, len, &id, errstr, sizeof(errstr));
        break;
    }
    ck_assert_int_eq(err, QUIRE_ERR_BAD_JSON);
    ck_assert_msg(errstr[0] != '\0', "no message for %s", d);
}
END_TEST

/* Truncations of a valid document never crash and are refused. */
START_TEST(test_truncated)
{
    char errstr[256];
    qr_pstate_t st = {.leader = 1, .isr = {1}, .isr_cnt = 1}, got;
    char *s = qr_znode_state_encode(&st);

    for (int n = 0; n < LEN(s); n++) {
        char *copy = malloc((size_t)n + 1);
        memcpy(copy, s, (size_t)n);
        ck_assert_int_eq(
            qr_znode_state_decode(copy, n, &got, errstr, sizeof(errstr)),
            QUIRE_ERR_BAD_JSON);
        free(copy);
    }
    free(s);
}
END_TEST

static Suite *znode_suite(void)
{
    Suite *s = suite_create("znode");
    TCase *tc = tcase_create("json");

    tcase_add_test(tc, test_paths);
    tcase_add_test(tc, test_isr_change);
    tcase_add_test(tc, test_parse_id);
    tcase_add_test(tc, test_broker);
    tcase_add_test(tc, test_topic);
    tcase_add_test(tc, test_state);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_config_check);
    tcase_add_test(tc, test_controller);
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_truncated);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(znode_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
