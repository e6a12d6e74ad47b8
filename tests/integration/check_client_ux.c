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
#include "qt_cluster.h"
#include "qt_zk.h"
#include "quire.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif
#ifndef QT_PRODUCER_BIN
#error "QT_PRODUCER_BIN must name tools/quire-console-producer"
#endif
#ifndef QT_CONSUMER_BIN
#error "QT_CONSUMER_BIN must name tools/quire-console-consumer"
#endif
#ifndef QT_GROUPS_BIN
#error "QT_GROUPS_BIN must name tools/quire-consumer-groups"
#endif

#define START_MS 20000

static qt_cluster_t cl;

/* quire-topics --list: does it name @p topic? */
static int topic_listed(const char *topic)
{
    char *argv[] = {QT_TOPICS_BIN, "--zookeeper", cl.zk_connect, "--list",
                    NULL};
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
    char *argv[] = {QT_PRODUCER_BIN, "--bootstrap-server", cl.b[0]->addr,
                    "--topic", (char *)topic, "--producer-property",
                    /* longer than qt_run waits: an unknown topic must
                     * fail at once, not when this runs out (item 3) */
                    "max.block.ms=600000", prop ? "--producer-property" : NULL,
                    (char *)prop, NULL};

    ck_assert_int_eq(qt_run(argv, "hi\n", 60000, res), 0);
}

/* a configuration with bootstrap.servers set to the broker */
static quire_conf_t *broker_conf(void)
{
    quire_conf_t *conf = quire_conf_new();
    char errstr[256];

    ck_assert_ptr_nonnull(conf);
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers", cl.b[0]->addr,
                                    errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    return conf;
}

static quire_consumer_t *consumer_new(void)
{
    quire_conf_t *conf = broker_conf();
    quire_consumer_t *c = NULL;
    char errstr[256];

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

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
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
    qt_cluster_stop(&cl);
}
END_TEST

/* item 1: the broker's auto.create.topics.enable=false decides */
START_TEST(broker_setting_decides)
{
    qt_run_result_t res;

    ck_assert_int_eq(
        qt_cluster_start(&cl, 1, "auto.create.topics.enable=false", START_MS),
        0);
    produce_hi("brokersays", NULL, &res);
    ck_assert_msg(res.status != 0, "sent to a topic that does not exist");
    ck_assert_msg(strstr(res.err, "Unknown topic") != NULL, "%s", res.err);
    qt_run_free(&res);
    ck_assert(!topic_listed("brokersays"));
    qt_cluster_stop(&cl);
}
END_TEST

/* runs @p argv (NULL-terminated) with a 20 s bound, which a tool that
 * honours the test's smaller timeouts never reaches */
static void run_tool(char **argv, qt_run_result_t *res)
{
    ck_assert_int_eq(qt_run(argv, NULL, 20000, res), 0);
    ck_assert_msg(!res->timed_out, "%s hung: %s", argv[0], res->err);
}

static int line_count(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* item 3: --timeout-ms bounds the topic lookup (it waited 30 s) */
START_TEST(console_consumer_timeout)
{
    char addr[64];
    qt_run_result_t res;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", qt_free_port());
    char *argv[] = {QT_CONSUMER_BIN, "--bootstrap-server", addr,   "--topic",
                    "nosuch",        "--timeout-ms",       "2000", NULL};
    run_tool(argv, &res);
    ck_assert_int_eq(res.status, 1);
    qt_run_free(&res);
}
END_TEST

/* items 4, 11, 14: quire-consumer-groups and quire-topics */
START_TEST(admin_tools)
{
    qt_run_result_t res;
    char *create[] = {QT_TOPICS_BIN, "--zookeeper", NULL,           "--create",
                      "--topic",     "ux",          "--partitions", "6",
                      NULL,          NULL};
    char *reset[] = {QT_GROUPS_BIN,     "--zookeeper", NULL,
                     "--reset-offsets", "--group",     "g",
                     "--topic",         "ux:7",        "--to-earliest",
                     "--execute",       NULL,          NULL};
    char *clamp[] = {
        QT_GROUPS_BIN, "--zookeeper", NULL,        "--reset-offsets",
        "--group",     "g",           "--topic",   "ux:0",
        "--to-offset", "100",         "--execute", NULL};
    char *del[] = {QT_TOPICS_BIN, "--zookeeper", NULL,          "--delete",
                   "--topic",     "none",        "--if-exists", NULL};
    char *root[] = {QT_TOPICS_BIN, "--zookeeper", (char *)qt_zk_env(), "--list",
                    NULL};
    char *bogus[] = {QT_TOPICS_BIN, "--bogus", NULL};
    char *alltop[] = {QT_GROUPS_BIN,
                      "--zookeeper",
                      NULL,
                      "--reset-offsets",
                      "--all-groups",
                      "--all-topics",
                      "--to-earliest",
                      NULL};
    char *all[] = {QT_GROUPS_BIN, "--zookeeper",  NULL,
                   "--describe",  "--all-groups", NULL};

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    create[2] = reset[2] = clamp[2] = del[2] = all[2] = alltop[2] =
        cl.zk_connect;
    run_tool(create, &res);
    ck_assert_msg(res.status == 0, "%s", res.err);
    qt_run_free(&res);
    /* again: an error, unless --if-not-exists */
    run_tool(create, &res);
    ck_assert_int_eq(res.status, 1);
    qt_run_free(&res);
    create[8] = "--if-not-exists";
    run_tool(create, &res);
    ck_assert_msg(res.status == 0 && res.err_len == 0, "%s", res.err);
    qt_run_free(&res);
    run_tool(del, &res);
    ck_assert_msg(res.status == 0 && res.err_len == 0, "%s", res.err);
    qt_run_free(&res);

    /* a partition the topic does not have: refused by name, at once */
    run_tool(reset, &res);
    ck_assert_int_eq(res.status, 1);
    ck_assert_msg(strstr(res.err, "ux:7 does not exist"), "%s", res.err);
    qt_run_free(&res);
    /* past the log end: clamped, and said */
    run_tool(clamp, &res);
    ck_assert_msg(res.status == 0, "%s", res.err);
    ck_assert_msg(strstr(res.err, "clamped to 0"), "%s", res.err);
    qt_run_free(&res);
    /* --all-topics: every partition of the topics g has offsets for */
    run_tool(alltop, &res);
    ck_assert_msg(res.status == 0, "%s", res.err);
    ck_assert_msg(strstr(res.out, "\nux ") && strstr(res.out, " 5 "), "%s",
                  res.out);
    qt_run_free(&res);
    /* --all-groups: every group, each under its name */
    run_tool(all, &res);
    ck_assert_msg(res.status == 0, "%s", res.err);
    ck_assert_msg(strstr(res.out, "GROUP g\n") && strstr(res.out, "ux "), "%s",
                  res.out);
    qt_run_free(&res);

    /* the root instead of the cluster's chroot */
    run_tool(root, &res);
    ck_assert_int_eq(res.status, 1);
    ck_assert_msg(strstr(res.err, "is the chroot missing?"), "%s", res.err);
    qt_run_free(&res);

    /* an unknown option: one line */
    run_tool(bogus, &res);
    ck_assert_int_eq(res.status, 2);
    ck_assert_msg(line_count(res.err) == 1, "%s", res.err);
    qt_run_free(&res);
    qt_cluster_stop(&cl);
}
END_TEST

/* item 14: --property print.headers=true prints Kafka's key:value,... or
 * NO_HEADERS before the key */
START_TEST(console_consumer_headers)
{
    quire_conf_t *conf;
    quire_producer_t *p = NULL;
    qt_run_result_t res;
    char errstr[256];
    const quire_header_t hdrs[] = {{"a", "1", 1}, {"b", NULL, 0}};
    char *argv[] = {QT_CONSUMER_BIN,
                    "--bootstrap-server",
                    NULL,
                    "--topic",
                    "hdrs",
                    "--from-beginning",
                    "--max-messages",
                    "2",
                    "--timeout-ms",
                    "15000",
                    "--property",
                    "print.headers=true",
                    "--property",
                    "print.key=true",
                    NULL};

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    argv[2] = cl.b[0]->addr;
    conf = broker_conf();
    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    ck_assert_int_eq(
        quire_producer_send(p, "hdrs", 0, "k", 1, "v1", 2, hdrs, 2, 0, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(
        quire_producer_send(p, "hdrs", 0, "k", 1, "v2", 2, NULL, 0, 0, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_flush(p, 15000), QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_close(p, 5000), QUIRE_ERR_NONE);

    run_tool(argv, &res);
    ck_assert_msg(res.status == 0, "%s", res.err);
    ck_assert_str_eq(res.out, "a:1,b:null\tk\tv1\nNO_HEADERS\tk\tv2\n");
    qt_run_free(&res);
    qt_cluster_stop(&cl);
}
END_TEST

/* item 14: --whitelist without --group joins a generated group */
START_TEST(console_consumer_whitelist_no_group)
{
    qt_run_result_t res;
    char *argv[] = {QT_CONSUMER_BIN,  "--zookeeper", NULL,
                    "--whitelist",    "wl.*",        "--from-beginning",
                    "--max-messages", "1",           "--timeout-ms",
                    "15000",          NULL};

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    argv[2] = cl.zk_connect;
    produce_hi("wl1", NULL, &res);
    ck_assert_msg(res.status == 0, "console producer: %s", res.err);
    qt_run_free(&res);
    run_tool(argv, &res);
    ck_assert_msg(res.status == 0, "%s", res.err);
    ck_assert_str_eq(res.out, "hi\n");
    ck_assert_msg(strstr(res.err, "using group console-consumer-"), "%s",
                  res.err);
    qt_run_free(&res);
    qt_cluster_stop(&cl);
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
    tcase_add_test(tc, console_consumer_timeout);
    tcase_add_test(tc, admin_tools);
    tcase_add_test(tc, console_consumer_headers);
    tcase_add_test(tc, console_consumer_whitelist_no_group);
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
