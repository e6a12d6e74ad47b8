/*
 * check_client_ux: libquire and the console tools as a Kafka user meets
 * them (issue 18), against a real ZooKeeper and a real broker: a producer
 * asks for auto-creation and a consumer does not (allow.auto.create.topics,
 * item 1); a topic the broker answered "unknown" for fails a send at once
 * instead of blocking max.block.ms (item 3).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_broker.h"
#include "qt_zk.h"
#include "quire.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif
#ifndef QT_PRODUCER_BIN
#error "QT_PRODUCER_BIN must name tools/quire-console-producer"
#endif

#define START_MS 20000

static char *zk_connect;
static qt_broker_t *broker;

static void cluster_start(const char *extra)
{
    zk_connect = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(zk_connect);
    broker = qt_broker_new(1, zk_connect, extra);
    ck_assert_ptr_nonnull(broker);
    ck_assert_int_eq(qt_broker_start(broker, START_MS), 0);
}

static void cluster_stop(void)
{
    qt_broker_destroy(broker);
    broker = NULL;
    free(zk_connect);
    zk_connect = NULL;
}

/* quire-topics --list: does it name @p topic? */
static int topic_listed(const char *topic)
{
    char *argv[] = {QT_TOPICS_BIN, "--zookeeper", zk_connect, "--list", NULL};
    qt_run_result_t res;
    char *line, *save = NULL;
    int found = 0;

    ck_assert_int_eq(qt_run(argv, NULL, 20000, &res), 0);
    ck_assert_msg(res.status == 0, "quire-topics --list: %s", res.err);
    for (line = strtok_r(res.out, "\n", &save); line && !found;
         line = strtok_r(NULL, "\n", &save))
        found = !strcmp(line, topic);
    qt_run_free(&res);
    return found;
}

/* quire-console-producer sending "hi" to @p topic, with @p prop as a
 * --producer-property (NULL: none); the result is the caller's. */
static void produce_hi(const char *topic, const char *prop,
                       qt_run_result_t *res)
{
    char *argv[] = {QT_PRODUCER_BIN, "--bootstrap-server", broker->addr,
                    "--topic", (char *)topic, "--producer-property",
                    /* longer than qt_run waits: an unknown topic must
                     * fail at once, not when this runs out (item 3) */
                    "max.block.ms=600000", prop ? "--producer-property" : NULL,
                    (char *)prop, NULL};

    ck_assert_int_eq(qt_run(argv, "hi\n", 60000, res), 0);
}

static quire_consumer_t *consumer_new(void)
{
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *c = NULL;
    char errstr[256];

    ck_assert_ptr_nonnull(conf);
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers", broker->addr,
                                    errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_msg(quire_consumer_new(conf, &c, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return c;
}

/* item 1: a producer's metadata request asks for auto-creation, a
 * consumer's does not; allow.auto.create.topics=false turns it off */
START_TEST(auto_create_from_producer_only)
{
    quire_consumer_t *c;
    qt_run_result_t res;
    int32_t cnt = 0;
    char val[16];
    size_t len = sizeof(val);
    quire_conf_t *conf = quire_conf_new();

    /* unset, the key reads as empty: the client's own default */
    ck_assert_int_eq(
        quire_conf_get(conf, "allow.auto.create.topics", val, &len),
        QUIRE_ERR_NONE);
    ck_assert_str_eq(val, "");
    quire_conf_destroy(conf);

    cluster_start(NULL);
    produce_hi("autoprod", NULL, &res);
    ck_assert_msg(res.status == 0, "console producer: %s", res.err);
    ck_assert_msg(res.err_len == 0, "stderr of a clean run: %s", res.err);
    qt_run_free(&res);
    ck_assert(topic_listed("autoprod"));

    produce_hi("noauto", "allow.auto.create.topics=false", &res);
    ck_assert_msg(res.status != 0, "sent to a topic that does not exist");
    ck_assert_msg(strstr(res.err, "Unknown topic") != NULL, "%s", res.err);
    qt_run_free(&res);
    ck_assert(!topic_listed("noauto"));

    c = consumer_new();
    /* a timeout far past the test's: the broker's answer ends the wait */
    ck_assert_int_eq(
        quire_consumer_partition_count(c, "consauto", 1000000, &cnt),
        QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* remembered: asked again, the same answer */
    ck_assert_int_eq(
        quire_consumer_partition_count(c, "consauto", 1000000, &cnt),
        QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    quire_consumer_close(c);
    ck_assert(!topic_listed("consauto"));
    cluster_stop();
}
END_TEST

/* item 1: the broker's auto.create.topics.enable=false decides */
START_TEST(broker_setting_decides)
{
    qt_run_result_t res;

    cluster_start("auto.create.topics.enable=false");
    produce_hi("brokersays", NULL, &res);
    ck_assert_msg(res.status != 0, "sent to a topic that does not exist");
    ck_assert_msg(strstr(res.err, "Unknown topic") != NULL, "%s", res.err);
    qt_run_free(&res);
    ck_assert(!topic_listed("brokersays"));
    cluster_stop();
}
END_TEST

static Suite *ux_suite(void)
{
    Suite *s = suite_create("client_ux");
    TCase *tc = tcase_create("cluster");

    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, auto_create_from_producer_only);
    tcase_add_test(tc, broker_setting_decides);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env(); /* exits 99 when the harness gave no ZooKeeper */
    sr = srunner_create(ux_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
