/*
 * check_consumer_groups_cli: tools/quire-consumer-groups against a live
 * cluster (a real ZooKeeper from the harness, a real quire-broker, records
 * written with quire-console-producer): --list, --describe (committed,
 * log-end, lag, owners, members), --reset-offsets (dry run by default,
 * --execute, each --to-* including --to-datetime through ListOffsets by
 * timestamp, clamping, refused while members are live),
 * --delete (refused while live), and usage errors.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_cluster.h"
#include "qt_zk.h"
#include "quire.h"

#define T_MS 10000

static qt_cluster_t cl;
static zhandle_t *zh;

static void run_ok(char *const argv[], const char *input, int want_status,
                   qt_run_result_t *res)
{
    ck_assert_int_eq(qt_run(argv, input, 60000, res), 0);
    ck_assert_msg(res->status == want_status, "%s exited %d, not %d: %s%s",
                  argv[0], res->status, want_status, res->out, res->err);
}

static void cluster_start(void)
{
    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, 20000), 0);
    zh = qt_zk_connect(cl.zk_connect, T_MS);
    ck_assert_ptr_nonnull(zh);
    /* the controller elects the leaders first */
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "cg", 3, 1, 20000), 0);
    /* 10, 7 and 13 records to partitions 0, 1, 2 */
    static const int counts[3] = {10, 7, 13};
    quire_conf_t *conf = quire_conf_new();
    char errstr[256];
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers", cl.b[0]->addr,
                                    errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    quire_producer_t *prod = NULL;
    ck_assert_msg(quire_producer_new(conf, &prod, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < counts[p]; i++)
            ck_assert_int_eq(quire_producer_send(prod, "cg", p, NULL, 0, "v", 1,
                                                 NULL, 0, 0, NULL),
                             QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_flush(prod, 30000), QUIRE_ERR_NONE);
    quire_producer_close(prod, 10000);
}

/* @p n records ("v") to @p topic / @p partition, timestamped now. */
static void produce_to(const char *topic, int partition, int n)
{
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *prod = NULL;
    char errstr[256];
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers", cl.b[0]->addr,
                                    errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_msg(quire_producer_new(conf, &prod, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(quire_producer_send(prod, topic, partition, NULL, 0,
                                             "v", 1, NULL, 0, 0, NULL),
                         QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_flush(prod, 30000), QUIRE_ERR_NONE);
    quire_producer_close(prod, 10000);
}

static void cluster_stop(void)
{
    qt_cluster_stop(&cl);
    qt_zk_close(zh);
}

/* Runs the tool with @p args (NULL-terminated) after --zookeeper. */
static void cg(qt_run_result_t *res, int want_status, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = QT_CG_BIN;
    argv[n++] = "--zookeeper";
    argv[n++] = cl.zk_connect;
    va_list ap;
    va_start(ap, want_status);
    for (char *a; (a = va_arg(ap, char *)) != NULL && n < 31;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    run_ok(argv, NULL, want_status, res);
}

static void set_offset(const char *group, int p, long long v)
{
    char path[128], data[32];
    snprintf(path, sizeof(path), "/consumers/%s/offsets/cg/%d", group, p);
    snprintf(data, sizeof(data), "%lld", v);
    if (qt_zk_exists(zh, path, NULL, false, T_MS) == ZOK)
        ck_assert_int_eq(
            qt_zk_set(zh, path, data, (int)strlen(data), -1, NULL, T_MS), ZOK);
    else
        ck_assert_int_eq(
            qt_zk_create_all(zh, path, data, (int)strlen(data), T_MS), ZOK);
}

static long long get_offset(const char *group, int p)
{
    char path[128], *data = NULL;
    snprintf(path, sizeof(path), "/consumers/%s/offsets/cg/%d", group, p);
    if (qt_zk_get(zh, path, &data, NULL, NULL, false, T_MS) != ZOK)
        return -1;
    long long v = atoll(data);
    free(data);
    return v;
}

/* The describe row of partition @p p: committed, log-end, lag. */
static void row_of(const char *out, int p, long long *committed, long long *end,
                   long long *lag, char *owner)
{
    char want[32];
    snprintf(want, sizeof(want), "cg ");
    for (const char *l = out; l && *l;
         l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char t[64], c[32], e[32], g[32];
        int part;
        if (sscanf(l, "%63s %d %31s %31s %31s %95s", t, &part, c, e, g,
                   owner) == 6 &&
            strcmp(t, "cg") == 0 && part == p) {
            *committed = strcmp(c, "-") ? atoll(c) : -1;
            *end = strcmp(e, "-") ? atoll(e) : -1;
            *lag = strcmp(g, "-") ? atoll(g) : -1;
            return;
        }
    }
    ck_abort_msg("no row for cg-%d in:\n%s", p, out);
}

START_TEST(test_cli)
{
    qt_run_result_t res;
    cluster_start();
    set_offset("g1", 0, 1);
    set_offset("g1", 1, 0);
    set_offset("g1", 2, 0);

    cg(&res, 0, "--list", NULL);
    ck_assert_ptr_nonnull(strstr(res.out, "g1\n"));
    qt_run_free(&res);

    /* describe: log-end offsets sum to what was written; lag follows */
    cg(&res, 0, "--describe", "--group", "g1", NULL);
    long long c[3], e[3], lag[3], sum = 0;
    char owner[96];
    for (int p = 0; p < 3; p++) {
        row_of(res.out, p, &c[p], &e[p], &lag[p], owner);
        ck_assert_int_ge(e[p], 0);
        ck_assert_int_eq(lag[p], e[p] > c[p] ? e[p] - c[p] : 0);
        ck_assert_str_eq(owner, "-");
        sum += e[p];
    }
    ck_assert_int_eq(sum, 30);
    ck_assert_int_eq(e[0], 10);
    ck_assert_int_eq(e[1], 7);
    ck_assert_int_eq(e[2], 13);
    ck_assert_int_eq(lag[0], 9);
    ck_assert_int_eq(c[0], 1);
    ck_assert_ptr_nonnull(strstr(res.out, "MEMBER"));
    qt_run_free(&res);

    /* a live member: its registration and ownership show, and the
     * changes are refused */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl(QT_MEMBER_BIN, QT_MEMBER_BIN, "--zookeeper", cl.zk_connect,
              "--group", "g1", "--id", "g1_member", "--topics", "cg",
              "--tick-ms", "100000", (char *)NULL);
        _exit(127);
    }
    ck_assert(qt_zk_wait_exists(zh, "/consumers/g1/owners/cg/2", true, 15000));
    cg(&res, 0, "--describe", "--group", "g1", NULL);
    row_of(res.out, 2, &c[2], &e[2], &lag[2], owner);
    ck_assert_str_eq(owner, "g1_member");
    ck_assert_ptr_nonnull(strstr(res.out, "g1_member cg"));
    qt_run_free(&res);
    cg(&res, 1, "--reset-offsets", "--group", "g1", "--topic", "cg",
       "--to-earliest", "--execute", NULL);
    ck_assert_ptr_nonnull(strstr(res.err, "live member"));
    qt_run_free(&res);
    cg(&res, 1, "--delete", "--group", "g1", NULL);
    ck_assert_ptr_nonnull(strstr(res.err, "live member"));
    qt_run_free(&res);
    kill(pid, SIGTERM);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);

    /* dry run by default: printed, not written */
    set_offset("g1", 0, 1);
    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg:0",
       "--to-latest", NULL);
    ck_assert_ptr_nonnull(strstr(res.out, "dry run"));
    qt_run_free(&res);
    ck_assert_int_eq(get_offset("g1", 0), 1);

    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg",
       "--to-latest", "--execute", NULL);
    qt_run_free(&res);
    for (int p = 0; p < 3; p++)
        ck_assert_int_eq(get_offset("g1", p), e[p]);
    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg:0,1",
       "--shift-by", "-1", "--execute", NULL);
    qt_run_free(&res);
    ck_assert_int_eq(get_offset("g1", 0), 9);
    ck_assert_int_eq(get_offset("g1", 1), 6);
    ck_assert_int_eq(get_offset("g1", 2), e[2]); /* not named */
    /* beyond the log: clamped to it, as Kafka's tool does */
    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg:1",
       "--to-offset", "1000000", "--execute", NULL);
    qt_run_free(&res);
    ck_assert_int_eq(get_offset("g1", 1), e[1]);
    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg",
       "--to-earliest", "--execute", NULL);
    qt_run_free(&res);
    for (int p = 0; p < 3; p++)
        ck_assert_int_eq(get_offset("g1", p), 0);

    /* --to-datetime: the leader's first offset at or after the time;
     * three more records to cg-0 (offsets 10..12) after a marked time */
    struct timespec now;
    char mid[64], stamp[32];
    clock_gettime(CLOCK_REALTIME, &now);
    time_t secs = now.tv_sec;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(mid, sizeof(mid), "%s.%03dZ", stamp, (int)(now.tv_nsec / 1000000));
    usleep(50000); /* past the producer's coarse clock */
    produce_to("cg", 0, 3);
    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg",
       "--to-datetime", mid, "--execute", NULL);
    qt_run_free(&res);
    ck_assert_int_eq(get_offset("g1", 0), 10);
    ck_assert_int_eq(get_offset("g1", 1), e[1]); /* none that recent */
    ck_assert_int_eq(get_offset("g1", 2), e[2]);
    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg",
       "--to-datetime", "2020-01-01T00:00:00+01:00", "--execute", NULL);
    qt_run_free(&res);
    for (int p = 0; p < 3; p++)
        ck_assert_int_eq(get_offset("g1", p), 0);
    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg:0",
       "--to-datetime", "2099-12-31T23:59:59.999Z", NULL);
    ck_assert_ptr_nonnull(strstr(res.out, "dry run"));
    qt_run_free(&res);
    ck_assert_int_eq(get_offset("g1", 0), 0);
    cg(&res, 0, "--reset-offsets", "--group", "g1", "--topic", "cg:0",
       "--to-datetime", "2099-12-31T23:59:59.999Z", "--execute", NULL);
    qt_run_free(&res);
    ck_assert_int_eq(get_offset("g1", 0), 13); /* the log end */

    cg(&res, 0, "--delete", "--group", "g1", NULL);
    qt_run_free(&res);
    ck_assert_int_eq(qt_zk_exists(zh, "/consumers/g1", NULL, false, T_MS),
                     ZNONODE);
    cg(&res, 1, "--describe", "--group", "g1", NULL);
    ck_assert_ptr_nonnull(strstr(res.err, "does not exist"));
    qt_run_free(&res);
    cluster_stop();
}
END_TEST

/* usage errors exit 2 before touching anything */
static const char *const bad_usage[][4] = {
    {"--describe", NULL},
    {"--list", "--describe", NULL},
    {"--describe", "--group", "a/b", NULL},
    {"--reset-offsets", "--group", "g", NULL},
    {"--reset-offsets", "--group", "g", "--topic"},
    {"--delete", "--group", "g", "--to-latest"},
    {"--reset-offsets", "--to-offset", "-3", NULL},
    {"--reset-offsets", "--to-datetime", "yesterday", NULL},
    {"--reset-offsets", "--to-datetime", "2026-02-30T00:00:00Z", NULL},
    {"--reset-offsets", "--to-datetime", "2026-01-01T25:00:00", NULL},
    {"--reset-offsets", "--to-datetime", "2026-01-01T00:00:00.Z", NULL},
    {"--reset-offsets", "--to-datetime", "2026-01-01T00:00:00+5", NULL},
    {"--reset-offsets", "--to-datetime", "1969-12-31T23:59:59Z", NULL},
    {"--bogus", NULL},
    {NULL},
};

START_TEST(test_usage)
{
    char *argv[8];
    int n = 0;
    argv[n++] = QT_CG_BIN;
    argv[n++] = "--zookeeper";
    argv[n++] = "127.0.0.1:1";
    for (int i = 0; i < 4 && bad_usage[_i][i]; i++)
        argv[n++] = (char *)bad_usage[_i][i];
    argv[n] = NULL;
    qt_run_result_t res;
    run_ok(argv, NULL, 2, &res);
    ck_assert_ptr_nonnull(strstr(res.err, "quire-consumer-groups"));
    qt_run_free(&res);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("consumer_groups_cli");
    TCase *tc = tcase_create("cluster");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    tc = tcase_create("usage");
    tcase_set_tags(tc, "integration");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_usage, 0,
                        (int)(sizeof(bad_usage) / sizeof(bad_usage[0])) - 1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env(); /* exits 99 when the harness did not provide a server */
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
