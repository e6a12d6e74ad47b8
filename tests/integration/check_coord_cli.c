/* check_coord_cli: quire-topics through its binary against a real
 * ZooKeeper and a coordd broker: create, alter, describe (text and JSON),
 * list, delete; bad names and bad usage refused before anything is
 * written; --help matching the man page; the layout read back with
 * ZooKeeper's own zkCli.sh. */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_coord.h"
#include "znode.h"

#define ZKCLI "/usr/share/zookeeper/bin/zkCli.sh"

static char *connect_str;
static zhandle_t *zh;
static qt_coordd_t broker;

static void setup(void)
{
    connect_str = qt_zk_chroot_new(qt_zk_env(), 5000);
    ck_assert_ptr_nonnull(connect_str);
    zh = qt_zk_connect(connect_str, 5000);
    ck_assert_ptr_nonnull(zh);
}

static void setup_broker(void)
{
    setup();
    ck_assert(qt_coordd_start(&broker, connect_str, 1, NULL));
    ck_assert(qt_coordd_wait_event(&broker, "REGISTERED", 10000));
}

static void teardown(void)
{
    if (broker.pid)
        qt_coordd_stop(&broker, SIGTERM, 5000);
    qt_zk_close(zh);
    free(connect_str);
}

/* Nothing at all was written under the chroot. */
static void assert_untouched(void)
{
    struct String_vector sv;
    ck_assert_int_eq(qt_zk_children(zh, "/", &sv, false, 2000), ZOK);
    ck_assert_msg(sv.count == 0, "%d nodes written", sv.count);
    deallocate_String_vector(&sv);
}

START_TEST(test_lifecycle)
{
    qt_run_result_t r;
    qr_pstate_t st;
    int one = 1;

    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "orders",
                               "--partitions", "3", "--config",
                               "retention.ms=60000", NULL),
                     0);
    ck_assert_str_eq(r.out, "Created topic \"orders\".\n");
    qt_run_free(&r);
    for (int p = 0; p < 3; p++)
        ck_assert(
            qt_wait_pstate(zh, "orders", p, qt_leader_is, &one, &st, 10000));
    /* again: exists */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "orders",
                               "--partitions", "3", NULL),
                     1);
    ck_assert_ptr_nonnull(strstr(r.err, "already exists"));
    qt_run_free(&r);
    /* describe, text */
    ck_assert_int_eq(
        qt_topics(connect_str, &r, "--describe", "--topic", "orders", NULL), 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Topic:orders\tPartitionCount:3\t"
                                        "ReplicationFactor:1\tConfigs:"
                                        "retention.ms=60000\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "\tTopic: orders\tPartition: 2\t"
                                        "Leader: 1\tReplicas: 1\tIsr: 1\n"));
    qt_run_free(&r);
    /* alter: more partitions, a config change */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--alter", "--topic", "orders",
                               "--partitions", "5", "--config",
                               "segment.bytes=1048576", "--delete-config",
                               "retention.ms", NULL),
                     0);
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, "orders", 4, qt_leader_is, &one, &st, 10000));
    ck_assert_int_eq(qt_topics(connect_str, &r, "--alter", "--topic", "orders",
                               "--partitions", "2", NULL),
                     1);
    ck_assert_ptr_nonnull(strstr(r.err, "can only be increased"));
    qt_run_free(&r);
    /* describe, JSON */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--describe", "--json", NULL),
                     0);
    json_error_t jerr;
    json_t *root = json_loads(r.out, 0, &jerr), *t, *parts;
    ck_assert_msg(root != NULL, "not JSON: %s", jerr.text);
    t = json_array_get(json_object_get(root, "topics"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(t, "name")), "orders");
    parts = json_object_get(t, "partitions");
    ck_assert_uint_eq(json_array_size(parts), 5);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(parts, 4), "leader")),
        1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(t, "config"), "segment.bytes")),
                     "1048576");
    ck_assert_ptr_null(
        json_object_get(json_object_get(t, "config"), "retention.ms"));
    json_decref(root);
    qt_run_free(&r);
    /* list, then delete */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "b.2",
                               "--partitions", "1", NULL),
                     0);
    qt_run_free(&r);
    ck_assert_int_eq(qt_topics(connect_str, &r, "--list", NULL), 0);
    ck_assert_str_eq(r.out, "b.2\norders\n");
    qt_run_free(&r);
    ck_assert_int_eq(
        qt_topics(connect_str, &r, "--delete", "--topic", "b.2", NULL), 0);
    qt_run_free(&r);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/topics/b.2", false, 10000));
    ck_assert_int_eq(qt_topics(connect_str, &r, "--list", "--json", NULL), 0);
    root = json_loads(r.out, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "topics")), 1);
    json_decref(root);
    qt_run_free(&r);
    ck_assert(qt_coordd_wait_event(&broker, "DELETE b.2 0", 1000));
}
END_TEST

/* ---- bad input: refused before anything is written ---- */

static const char *bad_names[] = {
    "../x", "a/b", NULL /* 250 chars */, "", ".", "..", "a b", "x\ny"};

START_TEST(test_bad_name)
{
    qt_run_result_t r;
    char longname[251];
    const char *name = bad_names[_i];

    if (!name) {
        memset(longname, 'n', 250);
        longname[250] = '\0';
        name = longname;
    }
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", name,
                               "--partitions", "1", NULL),
                     2);
    ck_assert_ptr_nonnull(strstr(r.err, "invalid topic name"));
    qt_run_free(&r);
    ck_assert_int_eq(
        qt_topics(connect_str, &r, "--delete", "--topic", name, NULL), 2);
    qt_run_free(&r);
    ck_assert_int_eq(qt_topics(connect_str, &r, "--alter", "--topic", name,
                               "--partitions", "2", NULL),
                     2);
    qt_run_free(&r);
    assert_untouched();
}
END_TEST

static const char *const bad_usage[][8] = {
    {NULL},
    {"--list", "--create", NULL},
    {"--create", "--topic", "t", NULL},
    {"--create", "--topic", "t", "--partitions", "0", NULL},
    {"--create", "--topic", "t", "--partitions", "x", NULL},
    {"--create", "--topic", "t", "--partitions", "1", "--config", "a", NULL},
    {"--create", "--topic", "t", "--partitions", "1", "--config",
     "retention.ms=soon", NULL},
    {"--create", "--topic", "t", "--partitions", "1", "--config", "bogus=1",
     NULL},
    {"--create", "--partitions", "1", NULL},
    {"--alter", "--topic", "t", NULL},
    {"--delete", NULL},
    {"--list", "--bogus", NULL},
    {"--list", "extra", NULL},
    {"--describe", "--replication-factor", "1", NULL},
};

START_TEST(test_bad_usage)
{
    char *argv[16];
    int n = 0;
    qt_run_result_t r;

    argv[n++] = (char *)QT_TOPICS;
    argv[n++] = (char *)"--zookeeper";
    argv[n++] = connect_str;
    for (int i = 0; bad_usage[_i][i]; i++)
        argv[n++] = (char *)bad_usage[_i][i];
    argv[n] = NULL;
    ck_assert_int_eq(qt_run(argv, NULL, 10000, &r), 0);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--help"));
    qt_run_free(&r);
    assert_untouched();
}
END_TEST

START_TEST(test_refusals)
{
    qt_run_result_t r;

    /* no broker registered yet */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "t",
                               "--partitions", "1", NULL),
                     1);
    ck_assert_ptr_nonnull(strstr(r.err, "no live brokers"));
    qt_run_free(&r);
    ck_assert(qt_coordd_start(&broker, connect_str, 1, NULL));
    ck_assert(qt_coordd_wait_event(&broker, "REGISTERED", 10000));
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "t",
                               "--partitions", "1", "--replication-factor", "2",
                               NULL),
                     1);
    ck_assert_ptr_nonnull(
        strstr(r.err, "replication factor 2 larger than the 1 live broker"));
    qt_run_free(&r);
    ck_assert_int_eq(qt_zk_exists(zh, "/brokers/topics/t", NULL, false, 2000),
                     ZNONODE);
    ck_assert_int_eq(
        qt_topics(connect_str, &r, "--describe", "--topic", "nope", NULL), 1);
    ck_assert_ptr_nonnull(strstr(r.err, "does not exist"));
    qt_run_free(&r);
    /* an unreachable ZooKeeper is a runtime error, not a hang */
    char *argv[] = {(char *)QT_TOPICS, (char *)"--zookeeper",
                    (char *)"127.0.0.1:1", (char *)"--list", NULL};
    ck_assert_int_eq(qt_run(argv, NULL, 20000, &r), 0);
    ck_assert_int_eq(r.status, 1);
    qt_run_free(&r);
}
END_TEST

START_TEST(test_env_and_version)
{
    qt_run_result_t r;
    char *list[] = {(char *)QT_TOPICS, (char *)"--list", NULL};
    char *ver[] = {(char *)QT_TOPICS, (char *)"--version", NULL};

    qt_zk_create(zh, "/brokers", NULL, -1, 0, NULL, 2000);
    qt_zk_create(zh, "/brokers/topics", NULL, -1, 0, NULL, 2000);
    qt_zk_create(zh, "/brokers/topics/from-env", "{}", 2, 0, NULL, 2000);
    setenv("QUIRE_ZOOKEEPER", connect_str, 1);
    ck_assert_int_eq(qt_run(list, NULL, 10000, &r), 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "from-env\n");
    qt_run_free(&r);
    ck_assert_int_eq(qt_run(ver, NULL, 10000, &r), 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "quire-topics (quire) " PACKAGE_VERSION "\n");
    qt_run_free(&r);
}
END_TEST

/* Every long option in --help is in the man page, and the other way. */
static int options_in(const char *text, const char *prefix, char opts[][32],
                      int max)
{
    int n = 0;
    size_t plen = strlen(prefix);

    for (const char *p = strstr(text, prefix); p && n < max;
         p = strstr(p + 1, prefix)) {
        const char *q = p + plen;
        size_t len = strspn(q, "abcdefghijklmnopqrstuvwxyz-");
        int dup = 0;
        if (len == 0 || len >= 32)
            continue;
        for (int i = 0; i < n; i++)
            dup |= strncmp(opts[i], q, len) == 0 && opts[i][len] == '\0';
        if (!dup) {
            memcpy(opts[n], q, len);
            opts[n][len] = '\0';
            n++;
        }
    }
    return n;
}

START_TEST(test_help_matches_man)
{
    qt_run_result_t r;
    char *help[] = {(char *)QT_TOPICS, (char *)"--help", NULL};
    char man_opts[64][32], help_opts[64][32];
    FILE *fp = fopen(QT_MAN_DIR "/quire-topics.1", "r");
    char man[32768];
    size_t n;
    int nm, nh;

    ck_assert_ptr_nonnull(fp);
    n = fread(man, 1, sizeof(man) - 1, fp);
    man[n] = '\0';
    fclose(fp);
    ck_assert_int_eq(qt_run(help, NULL, 10000, &r), 0);
    ck_assert_int_eq(r.status, 0);
    nh = options_in(r.out, "--", help_opts, 64);
    /* roff escapes every dash: "\\-\\-replication\\-factor" */
    for (char *src = man, *dst = man;; src++)
        if (*src != '\\' && !(*dst++ = *src))
            break;
    nm = options_in(man, "--", man_opts, 64);
    ck_assert_int_ge(nh, 15);
    for (int i = 0; i < nh; i++) {
        int found = 0;
        for (int j = 0; j < nm; j++)
            found |= strcmp(help_opts[i], man_opts[j]) == 0;
        ck_assert_msg(found, "--%s is in --help, not in the man page",
                      help_opts[i]);
    }
    for (int j = 0; j < nm; j++) {
        int found = 0;
        for (int i = 0; i < nh; i++)
            found |= strcmp(help_opts[i], man_opts[j]) == 0;
        ck_assert_msg(found, "--%s is in the man page, not in --help",
                      man_opts[j]);
    }
    qt_run_free(&r);
}
END_TEST

/* ZooKeeper's own client reads back exactly DESIGN.md §5's layout. */
static char *zkcli(const char *cmd, const char *path)
{
    char full[512], *argv[] = {(char *)ZKCLI,
                               (char *)"-server",
                               (char *)qt_zk_env(),
                               (char *)cmd,
                               NULL,
                               NULL,
                               NULL};
    qt_run_result_t r;
    char *out;

    snprintf(full, sizeof(full), "%s%s", strchr(connect_str, '/'), path);
    argv[4] = full;
    ck_assert_int_eq(qt_run(argv, NULL, 30000, &r), 0);
    out = r.out;
    r.out = NULL;
    qt_run_free(&r);
    return out;
}

START_TEST(test_zkcli_layout)
{
    qt_run_result_t r;
    qr_pstate_t st;
    int one = 1;
    char *out;

    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "lay",
                               "--partitions", "2", NULL),
                     0);
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, "lay", 1, qt_leader_is, &one, &st, 10000));
    ck_assert_int_eq(
        qt_topics(connect_str, &r, "--delete", "--topic", "lay", NULL), 0);
    qt_run_free(&r);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/topics/lay", false, 10000));
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "lay",
                               "--partitions", "2", NULL),
                     0);
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, "lay", 1, qt_leader_is, &one, &st, 10000));

    out = zkcli("ls", "");
    ck_assert_ptr_nonnull(strstr(out, "[admin, brokers, config, consumers, "
                                      "controller, controller_epoch, "
                                      "isr_change_notification]"));
    free(out);
    out = zkcli("ls", "/brokers/topics/lay/partitions/1");
    ck_assert_ptr_nonnull(strstr(out, "[state]"));
    free(out);
    out = zkcli("ls", "/admin/delete_topics");
    ck_assert_ptr_nonnull(strstr(out, "[]"));
    free(out);
    out = zkcli("get", "/brokers/topics/lay");
    ck_assert_ptr_nonnull(
        strstr(out, "{\"version\":1,\"partitions\":{\"0\":[1],\"1\":[1]}}"));
    free(out);
    out = zkcli("get", "/brokers/topics/lay/partitions/0/state");
    ck_assert_ptr_nonnull(strstr(out, "{\"controller_epoch\":1,\"leader\":1,"
                                      "\"version\":1,\"leader_epoch\":0,"
                                      "\"isr\":[1]}"));
    free(out);
    out = zkcli("get", "/config/topics/lay");
    ck_assert_ptr_nonnull(strstr(out, "{\"version\":1,\"config\":{}}"));
    free(out);
    out = zkcli("get", "/brokers/ids/1");
    ck_assert_ptr_nonnull(strstr(out, "\"host\":\"127.0.0.1\",\"port\":9092"));
    free(out);
    out = zkcli("get", "/controller");
    ck_assert_ptr_nonnull(strstr(out, "{\"version\":1,\"brokerid\":1,"));
    free(out);
}
END_TEST

/* Malformed znodes are refused with a message, never trusted: the CLI
 * names the culprit, the broker keeps running, the controller replaces a
 * state it cannot parse. */
START_TEST(test_malformed_znodes)
{
    qt_run_result_t r;
    qr_pstate_t st;
    int one = 1;

    ck_assert_int_eq(
        qt_zk_create_all(zh, "/brokers/topics/junk", "not json", 8, 5000), ZOK);
    ck_assert_int_eq(
        qt_topics(connect_str, &r, "--describe", "--topic", "junk", NULL), 1);
    ck_assert_ptr_nonnull(strstr(r.err, "topic assignment: not JSON"));
    qt_run_free(&r);
    ck_assert_int_eq(qt_topics(connect_str, &r, "--list", NULL), 0);
    ck_assert_str_eq(r.out, "junk\n");
    qt_run_free(&r);

    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "good",
                               "--partitions", "1", NULL),
                     0);
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, "good", 0, qt_leader_is, &one, &st, 10000));
    ck_assert_int_eq(qt_zk_set(zh, "/brokers/topics/good/partitions/0/state",
                               "{", 1, -1, NULL, 2000),
                     ZOK);
    ck_assert(qt_wait_pstate(zh, "good", 0, qt_leader_is, &one, &st, 10000));
    ck_assert_int_eq(qt_coordd_wait_exit(&broker, 10), -1); /* alive */
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("coord_cli");
    TCase *tc = tcase_create("with_broker");

    tcase_add_checked_fixture(tc, setup_broker, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lifecycle);
    tcase_add_test(tc, test_zkcli_layout);
    tcase_add_test(tc, test_malformed_znodes);
    suite_add_tcase(s, tc);
    tc = tcase_create("without_broker");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_bad_name, 0,
                        (int)(sizeof(bad_names) / sizeof(bad_names[0])));
    tcase_add_loop_test(tc, test_bad_usage, 0,
                        (int)(sizeof(bad_usage) / sizeof(bad_usage[0])));
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_env_and_version);
    tcase_add_test(tc, test_help_matches_man);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env();
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
