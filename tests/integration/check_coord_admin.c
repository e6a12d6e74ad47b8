/* check_coord_admin: the admin side of replication (issue 16 items 1, 10)
 * through the real binaries against a real ZooKeeper and coordd brokers
 * (each runs the real controller): quire-topics --replication-factor with
 * Kafka's placement, --replica-assignment and its refusals, --alter on a
 * replicated topic, --describe's ISR filters; quire-reassign-partitions
 * (--generate, --execute, --verify, bad input, a controller failover
 * midway) and quire-leader-election (requests and auto rebalance).
 *
 * coordd has no partition logs, so no leader writes ISR changes here: where
 * a step waits for a follower to catch up, the test writes the ISR change
 * itself, as a leader does (same leader and epochs, conditional set on the
 * znode version). The data path is tested with real brokers elsewhere. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_coord.h"
#include "znode.h"

#define NB 5

static char *connect_str;
static zhandle_t *zh;
static qt_coordd_t b[NB + 1]; /* b[id] */
static char tmpdir[64];

static void setup(void)
{
    connect_str = qt_zk_chroot_new(qt_zk_env(), 5000);
    ck_assert_ptr_nonnull(connect_str);
    zh = qt_zk_connect(connect_str, 5000);
    ck_assert_ptr_nonnull(zh);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/qt-admin-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    setenv("QUIRE_REPLICA_PLACEMENT", "0:0", 1);
}

static void teardown(void)
{
    char cmd[128];

    for (int i = 1; i <= NB; i++)
        if (b[i].pid)
            qt_coordd_stop(&b[i], SIGTERM, 5000);
    qt_zk_close(zh);
    free(connect_str);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void start(int id, const char *extra)
{
    ck_assert(qt_coordd_start(&b[id], connect_str, id, extra));
    ck_assert(qt_coordd_wait_event(&b[id], "REGISTERED", 10000));
}

static int run_toolv(const char *prog, qt_run_result_t *r, va_list ap)
{
    char *argv[32];
    int n = 0;
    const char *a;

    argv[n++] = (char *)prog;
    argv[n++] = (char *)"--zookeeper";
    argv[n++] = connect_str;
    while ((a = va_arg(ap, const char *)) != NULL && n < 31)
        argv[n++] = (char *)a;
    argv[n] = NULL;
    if (qt_run(argv, NULL, 30000, r) != 0)
        return -1;
    return r->status;
}

/* Runs @p prog with --zookeeper and the NULL-terminated arguments. */
static int run_tool(const char *prog, qt_run_result_t *r, ...)
{
    va_list ap;
    int rc;

    va_start(ap, r);
    rc = run_toolv(prog, r, ap);
    va_end(ap);
    return rc;
}

/* quire-reassign-partitions with the NULL-terminated arguments exits 1
 * with @p want in its error. */
static void reassign_refused(const char *want, ...)
{
    qt_run_result_t r;
    va_list ap;
    int rc;

    va_start(ap, want);
    rc = run_toolv(QT_REASSIGN, &r, ap);
    va_end(ap);
    ck_assert_msg(rc == 1 && strstr(r.err, want), "exit %d, not 1 with %s: %s",
                  rc, want, r.err);
    qt_run_free(&r);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_ge(fputs(text, fp), 0);
    fclose(fp);
    return path;
}

/* The assignment of @p topic as "1,2|2,3|..." */
static void assignment(const char *topic, char *out, size_t size)
{
    char path[300], *data = NULL, errstr[128];
    int len = 0;
    size_t off = 0;
    qr_assign_t a;

    snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
    ck_assert_int_eq(qt_zk_get(zh, path, &data, &len, NULL, false, 5000), ZOK);
    ck_assert_int_eq(
        qr_znode_topic_decode(data, len, &a, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    out[0] = '\0';
    for (size_t p = 0; p < a.part_cnt; p++)
        for (size_t i = 0; i < a.parts[p].n; i++)
            off += (size_t)snprintf(out + off, size - off, "%s%d",
                                    i ? "," : (p ? "|" : ""),
                                    (int)a.parts[p].ids[i]);
    qr_assign_free(&a);
    free(data);
}

/* Waits until the assignment of @p topic reads @p want. */
static bool wait_assignment(const char *topic, const char *want, int ms)
{
    char got[512];
    int64_t end = qt_now_ms() + ms;

    do {
        assignment(topic, got, sizeof(got));
        if (strcmp(got, want) == 0)
            return true;
        qt_sleep_ms(50);
    } while (qt_now_ms() < end);
    fprintf(stderr, "assignment of %s: %s, not %s\n", topic, got, want);
    return false;
}

/* What a leader does when a follower catches up or falls behind: a
 * conditional set of the state with the same leader and epochs. */
static void leader_sets_isr(const char *topic, int p, const int32_t *isr,
                            size_t n)
{
    char path[300], *data = NULL, *enc, errstr[128];
    int len = 0;
    struct Stat stat;
    qr_pstate_t st;

    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state",
             topic, p);
    ck_assert_int_eq(qt_zk_get(zh, path, &data, &len, &stat, false, 5000), ZOK);
    ck_assert_int_eq(
        qr_znode_state_decode(data, len, &st, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    free(data);
    memcpy(st.isr, isr, n * sizeof(int32_t));
    st.isr_cnt = n;
    enc = qr_znode_state_encode(&st);
    ck_assert_int_eq(
        qt_zk_set(zh, path, enc, (int)strlen(enc), stat.version, NULL, 5000),
        ZOK);
    free(enc);
    /* then a notification, as repl-leader does: main's controller re-reads
     * a state only when told through /isr_change_notification */
    enc = qr_znode_isr_change_encode(topic, p);
    ck_assert_int_eq(qt_zk_create(zh, QR_ZNODE_ISR_CHANGE_PREFIX, enc,
                                  (int)strlen(enc), ZOO_SEQUENCE, NULL, 5000),
                     ZOK);
    free(enc);
}

static bool isr_is(const qr_pstate_t *st, void *arg)
{
    const char *want = arg;
    char got[128];
    size_t off = 0;

    got[0] = '\0';
    for (size_t i = 0; i < st->isr_cnt; i++)
        off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%d",
                                i ? "," : "", (int)st->isr[i]);
    return strcmp(got, want) == 0;
}

/* Creates @p topic with --replica-assignment @p spec and waits for its
 * partition 0's ISR to read @p isr0. */
static void make_topic(const char *topic, const char *spec, const char *isr0)
{
    qt_run_result_t r;
    qr_pstate_t st;

    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", topic,
                               "--replica-assignment", spec, NULL),
                     0);
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, topic, 0, isr_is, (void *)isr0, &st, 10000));
}

/* ---- quire-topics ---- */

START_TEST(test_create_replicated)
{
    qt_run_result_t r;
    qr_pstate_t st;
    char got[512];
    int one = 1;

    start(1, NULL);
    start(2, NULL);
    start(3, NULL);
    /* Kafka's placement, start 0 and shift 0 (QUIRE_REPLICA_PLACEMENT):
     * the shift moves on when the round-robin wraps after 3 partitions */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "r3",
                               "--partitions", "6", "--replication-factor", "3",
                               NULL),
                     0);
    qt_run_free(&r);
    assignment("r3", got, sizeof(got));
    ck_assert_str_eq(got, "1,2,3|2,3,1|3,1,2|1,3,2|2,1,3|3,2,1");
    ck_assert(qt_wait_pstate(zh, "r3", 0, qt_leader_is, &one, &st, 10000));
    ck_assert(qt_wait_pstate(zh, "r3", 5, isr_is, (void *)"3,2,1", &st, 10000));
    ck_assert_int_eq(
        qt_topics(connect_str, &r, "--describe", "--topic", "r3", NULL), 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Topic:r3\tPartitionCount:6\t"
                                        "ReplicationFactor:3\tConfigs:\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "\tTopic: r3\tPartition: 3\t"
                                        "Leader: 1\tReplicas: 1,3,2\t"
                                        "Isr: 1,3,2\n"));
    qt_run_free(&r);
    /* alter: the new partitions get 3 replicas, continuing the round-robin
     * from partition 0's broker with the fixed shift (bumped at p6) */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--alter", "--topic", "r3",
                               "--partitions", "8", NULL),
                     0);
    qt_run_free(&r);
    assignment("r3", got, sizeof(got));
    ck_assert_str_eq(got, "1,2,3|2,3,1|3,1,2|1,3,2|2,1,3|3,2,1|1,3,2|2,1,3");
    /* more replicas than live brokers: refused, both numbers named */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "r4",
                               "--partitions", "1", "--replication-factor", "4",
                               NULL),
                     1);
    ck_assert_ptr_nonnull(
        strstr(r.err, "replication factor 4 larger than the 3 live brokers"));
    qt_run_free(&r);
    ck_assert_int_eq(qt_zk_exists(zh, "/brokers/topics/r4", NULL, false, 2000),
                     ZNONODE);
    /* the same topic on a replicated alter when a broker is gone */
    qt_coordd_stop(&b[3], SIGTERM, 5000);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/3", false, 10000));
    ck_assert_int_eq(qt_topics(connect_str, &r, "--alter", "--topic", "r3",
                               "--partitions", "9", NULL),
                     1);
    ck_assert_ptr_nonnull(
        strstr(r.err, "replication factor 3 larger than the 2 live brokers"));
    qt_run_free(&r);
}
END_TEST

static const struct {
    const char *spec, *want;
} bad_assignments[] = {
    {"1:2,2:9", "partition 1: broker 9 is not a live broker"},
    {"1:1", "partition 0: broker 1 is listed twice"},
    {"1:2,3", "partition 1 has 1 replicas, partition 0 has 2"},
    {"1:2,x", "partition 1: expected a broker id"},
};

START_TEST(test_replica_assignment)
{
    qt_run_result_t r;
    char got[256];

    start(1, NULL);
    start(2, NULL);
    start(3, NULL);
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "by",
                               "--replica-assignment", "3:1,2:3,1:2", NULL),
                     0);
    qt_run_free(&r);
    assignment("by", got, sizeof(got));
    ck_assert_str_eq(got, "3,1|2,3|1,2");
    for (size_t i = 0; i < sizeof(bad_assignments) / sizeof(*bad_assignments);
         i++) {
        ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic",
                                   "bad", "--replica-assignment",
                                   bad_assignments[i].spec, NULL),
                         1);
        ck_assert_msg(strstr(r.err, bad_assignments[i].want), "%s: %s",
                      bad_assignments[i].spec, r.err);
        qt_run_free(&r);
        ck_assert_int_eq(
            qt_zk_exists(zh, "/brokers/topics/bad", NULL, false, 2000),
            ZNONODE);
    }
    /* not with --partitions or --replication-factor */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "bad",
                               "--partitions", "2", "--replica-assignment",
                               "1:2", NULL),
                     2);
    qt_run_free(&r);
}
END_TEST

START_TEST(test_describe_filters)
{
    qt_run_result_t r;
    qr_pstate_t st;
    start(1, NULL);
    start(2, NULL);
    start(3, "--no-controller");
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "f",
                               "--replica-assignment", "2:3,1:2", NULL),
                     0);
    qt_run_free(&r);
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "solo",
                               "--replica-assignment", "3", NULL),
                     0);
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, "f", 0, isr_is, (void *)"2,3", &st, 10000));
    ck_assert(qt_wait_pstate(zh, "solo", 0, isr_is, (void *)"3", &st, 10000));
    /* all in sync, all led */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--describe",
                               "--under-replicated-partitions", NULL),
                     0);
    ck_assert_str_eq(r.out, "");
    qt_run_free(&r);
    ck_assert_int_eq(qt_topics(connect_str, &r, "--describe",
                               "--unavailable-partitions", NULL),
                     0);
    ck_assert_str_eq(r.out, "");
    qt_run_free(&r);
    /* broker 3 dies: f-0 under-replicated, solo-0 unavailable */
    qt_coordd_stop(&b[3], SIGKILL, 5000);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/3", false, 10000));
    ck_assert(qt_wait_pstate(zh, "f", 0, isr_is, (void *)"2", &st, 10000));
    ck_assert_int_eq(st.leader, 2);
    ck_assert_int_eq(qt_topics(connect_str, &r, "--describe",
                               "--under-replicated-partitions", NULL),
                     0);
    ck_assert_str_eq(r.out, "\tTopic: f\tPartition: 0\tLeader: 2\t"
                            "Replicas: 2,3\tIsr: 2\n");
    qt_run_free(&r);
    ck_assert_int_eq(qt_topics(connect_str, &r, "--describe",
                               "--unavailable-partitions", NULL),
                     0);
    ck_assert_ptr_nonnull(strstr(r.out, "\tTopic: solo\tPartition: 0\t"));
    ck_assert_ptr_null(strstr(r.out, "Topic: f"));
    qt_run_free(&r);
    /* usage: the filters are for --describe */
    ck_assert_int_eq(
        qt_topics(connect_str, &r, "--list", "--unavailable-partitions", NULL),
        2);
    qt_run_free(&r);
}
END_TEST

/* ---- quire-reassign-partitions ---- */

static const char *controller_of(char *buf, size_t size)
{
    char *data = NULL;
    int len = 0;

    /* absent for a moment during a failover */
    if (qt_zk_get(zh, "/controller", &data, &len, NULL, false, 5000) != ZOK)
        len = 0;
    snprintf(buf, size, "%.*s", len, data ? data : "");
    free(data);
    return buf;
}

/* Requests --execute refuses before writing anything. */
static const struct {
    const char *json, *want;
} bad_requests[] = {
    {"{\"partitions\":[{\"topic\":\"m\",", "not JSON"},
    {"{\"version\":1,\"partitions\":[]}", "lists no partitions"},
    {"{\"partitions\":[{\"topic\":\"m\",\"partition\":0}]}",
     "partitions[0]: \"replicas\" must be a list"},
    {"{\"partitions\":[{\"topic\":\"nope\",\"partition\":0,"
     "\"replicas\":[2,3]}]}",
     "topic \"nope\" does not exist"},
    {"{\"partitions\":[{\"topic\":\"m\",\"partition\":0,\"replicas\":[2,3]},"
     "{\"topic\":\"m\",\"partition\":0,\"replicas\":[3,2]}]}",
     "partitions[1]: m-0 is listed twice"},
    {"{\"partitions\":[{\"topic\":\"m\",\"partition\":0,\"replicas\":[2,9]}]}",
     "m-0: broker 9 is not a live broker"},
    {"{\"partitions\":[{\"topic\":\"m\",\"partition\":4,\"replicas\":[2,3]}]}",
     "partition 4 of topic \"m\" does not exist"},
    {"{\"partitions\":[{\"topic\":\"m\",\"partition\":0,\"replicas\":[2,2]}]}",
     "broker 2 is listed twice"},
};

START_TEST(test_reassign)
{
    const char *move =
        "{\"version\":1,\"partitions\":[{\"topic\":\"m\",\"partition\":0,"
        "\"replicas\":[2,3]}]}";
    qt_run_result_t r;
    qr_pstate_t st;
    char got[256], ctl[256];
    const char *file;
    int32_t epoch;

    /* data brokers 1..3 never control; 4 controls, 5 takes over */
    start(4, NULL);
    start(1, "--no-controller");
    start(2, "--no-controller");
    start(3, "--no-controller");
    start(5, NULL);
    ck_assert_ptr_nonnull(
        strstr(controller_of(ctl, sizeof(ctl)), "\"brokerid\":4"));
    make_topic("m", "1:2", "1,2");
    /* --generate proposes without writing */
    ck_assert_int_eq(
        run_tool(QT_REASSIGN, &r, "--generate", "--topics-to-move-json-file",
                 write_file("t.json", "{\"topics\":[{\"topic\":\"m\"}],"
                                      "\"version\":1}"),
                 "--broker-list", "3,2", NULL),
        0);
    ck_assert_str_eq(r.out, "Current partition replica assignment\n\n"
                            "{\"version\":1,\"partitions\":[{\"topic\":\"m\","
                            "\"partition\":0,\"replicas\":[1,2]}]}\n\n"
                            "Proposed partition reassignment configuration\n\n"
                            "{\"version\":1,\"partitions\":[{\"topic\":\"m\","
                            "\"partition\":0,\"replicas\":[2,3]}]}\n\n");
    qt_run_free(&r);
    ck_assert_int_eq(
        qt_zk_exists(zh, "/admin/reassign_partitions", NULL, false, 2000),
        ZNONODE);
    /* bad input: nothing written */
    for (size_t i = 0; i < sizeof(bad_requests) / sizeof(*bad_requests); i++) {
        char name[16];
        snprintf(name, sizeof(name), "bad%zu.json", i);
        reassign_refused(bad_requests[i].want, "--execute",
                         "--reassignment-json-file",
                         write_file(name, bad_requests[i].json), NULL);
    }
    reassign_refused("/nonexistent/move.json: No such file or directory",
                     "--execute", "--reassignment-json-file",
                     "/nonexistent/move.json", NULL);
    reassign_refused("--broker-list: broker 9 is not a live broker",
                     "--generate", "--topics-to-move-json-file",
                     write_file("t9.json", "{\"topics\":[{\"topic\":\"m\"}],"
                                           "\"version\":1}"),
                     "--broker-list", "3,9", NULL);
    ck_assert_int_eq(
        qt_zk_exists(zh, "/admin/reassign_partitions", NULL, false, 2000),
        ZNONODE);
    /* execute: the replicas become [2,3,1] (new first) */
    file = write_file("move.json", move);
    ck_assert_int_eq(run_tool(QT_REASSIGN, &r, "--execute",
                              "--reassignment-json-file", file, NULL),
                     0);
    ck_assert_ptr_nonnull(strstr(r.out, "\"replicas\":[1,2]"));
    ck_assert_ptr_nonnull(strstr(r.out, "Successfully started reassignment"));
    qt_run_free(&r);
    ck_assert(wait_assignment("m", "2,3,1", 10000));
    /* another one meanwhile is refused */
    ck_assert_int_eq(run_tool(QT_REASSIGN, &r, "--execute",
                              "--reassignment-json-file", file, NULL),
                     1);
    ck_assert_ptr_nonnull(strstr(r.err, "already in progress"));
    qt_run_free(&r);
    ck_assert_int_eq(run_tool(QT_REASSIGN, &r, "--verify",
                              "--reassignment-json-file", file, NULL),
                     3);
    ck_assert_ptr_nonnull(
        strstr(r.out, "Reassignment of partition m-0 is still in progress"));
    qt_run_free(&r);
    /* the controller dies midway; 5 takes over and waits as 4 did */
    qt_coordd_stop(&b[4], SIGKILL, 5000);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/4", false, 10000));
    for (int64_t end = qt_now_ms() + 10000;
         !strstr(controller_of(ctl, sizeof(ctl)), "\"brokerid\":5") &&
         qt_now_ms() < end;)
        qt_sleep_ms(50);
    ck_assert_ptr_nonnull(strstr(ctl, "\"brokerid\":5"));
    qt_sleep_ms(500);
    assignment("m", got, sizeof(got));
    ck_assert_str_eq(got, "2,3,1");
    ck_assert(qt_zk_wait_exists(zh, "/admin/reassign_partitions", true, 10));
    /* 3 catches up: the leader adds it to the ISR; the move completes */
    ck_assert(qt_wait_pstate(zh, "m", 0, NULL, NULL, &st, 5000));
    epoch = st.leader_epoch;
    /* the failover moved no leadership: 1 leads [1,2] and adds 3 (an ISR
     * without 2 would keep the move waiting, as in Kafka) */
    ck_assert(isr_is(&st, (void *)"1,2"));
    leader_sets_isr("m", 0, (const int32_t[]){1, 2, 3}, 3);
    ck_assert(wait_assignment("m", "2,3", 10000));
    ck_assert(
        qt_zk_wait_exists(zh, "/admin/reassign_partitions", false, 10000));
    ck_assert(qt_wait_pstate(zh, "m", 0, NULL, NULL, &st, 5000));
    ck_assert(st.leader == 2 || st.leader == 3);
    ck_assert(isr_is(&st, (void *)"2,3") || isr_is(&st, (void *)"3,2"));
    ck_assert_int_gt(st.leader_epoch, epoch);
    ck_assert_int_eq(run_tool(QT_REASSIGN, &r, "--verify",
                              "--reassignment-json-file", file, NULL),
                     0);
    ck_assert_ptr_nonnull(
        strstr(r.out, "Reassignment of partition m-0 completed successfully"));
    qt_run_free(&r);
}
END_TEST

/* ---- quire-leader-election ---- */

START_TEST(test_preferred_election)
{
    qt_run_result_t r;
    qr_pstate_t st;
    int one = 1, two = 2;
    int32_t epoch;

    start(4, NULL); /* the controller; no auto rebalance */
    start(1, "--no-controller");
    start(2, "--no-controller");
    make_topic("pe", "1:2,2:1", "1,2");
    /* bad input first: nothing written */
    ck_assert_int_eq(
        run_tool(QT_ELECTION, &r, "--path-to-json-file",
                 write_file("bad.json", "{\"partitions\":[{\"topic\":\"pe\","
                                        "\"partition\":7}]}"),
                 NULL),
        1);
    ck_assert_ptr_nonnull(
        strstr(r.err, "partition 7 of topic \"pe\" does not exist"));
    qt_run_free(&r);
    ck_assert_int_eq(run_tool(QT_ELECTION, &r, NULL), 2);
    qt_run_free(&r);
    ck_assert_int_eq(qt_zk_exists(zh, "/admin/preferred_replica_election", NULL,
                                  false, 2000),
                     ZNONODE);
    /* broker 1 dies: 2 leads pe-0; it returns and catches up */
    qt_coordd_stop(&b[1], SIGKILL, 5000);
    ck_assert(qt_wait_pstate(zh, "pe", 0, qt_leader_is, &two, &st, 10000));
    start(1, "--no-controller");
    ck_assert(qt_wait_pstate(zh, "pe", 0, NULL, NULL, &st, 5000));
    leader_sets_isr("pe", 0, (const int32_t[]){2, 1}, 2);
    ck_assert(qt_wait_pstate(zh, "pe", 0, isr_is, (void *)"2,1", &st, 10000));
    /* the controller does not move leadership back by itself (failover only,
     * no auto rebalance here): 2 leads until the election is asked for */
    ck_assert_int_eq(st.leader, 2);
    epoch = st.leader_epoch;
    ck_assert_int_eq(
        run_tool(QT_ELECTION, &r, "--path-to-json-file",
                 write_file("pe.json", "{\"partitions\":[{\"topic\":\"pe\","
                                       "\"partition\":0}]}"),
                 NULL),
        0);
    ck_assert_str_eq(r.out, "Successfully started preferred replica election "
                            "for 1 partition: pe-0\n");
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, "pe", 0, qt_leader_is, &one, &st, 10000));
    ck_assert_int_ge(st.leader_epoch, epoch);
    ck_assert(isr_is(&st, (void *)"2,1"));
    ck_assert(qt_zk_wait_exists(zh, "/admin/preferred_replica_election", false,
                                10000));
    /* --all-topic-partitions lists every partition */
    ck_assert_int_eq(run_tool(QT_ELECTION, &r, "--all-topic-partitions", NULL),
                     0);
    ck_assert_str_eq(r.out, "Successfully started preferred replica election "
                            "for 2 partitions: pe-0 pe-1\n");
    qt_run_free(&r);
    ck_assert(qt_zk_wait_exists(zh, "/admin/preferred_replica_election", false,
                                10000));
}
END_TEST

START_TEST(test_election_in_progress)
{
    qt_run_result_t r;

    start(1, "--no-controller"); /* nobody carries requests out */
    ck_assert_int_eq(qt_topics(connect_str, &r, "--create", "--topic", "x",
                               "--partitions", "1", NULL),
                     0);
    qt_run_free(&r);
    ck_assert_int_eq(run_tool(QT_ELECTION, &r, "--all-topic-partitions", NULL),
                     0);
    qt_run_free(&r);
    ck_assert_int_eq(run_tool(QT_ELECTION, &r, "--all-topic-partitions", NULL),
                     1);
    ck_assert_ptr_nonnull(strstr(r.err, "already in progress"));
    qt_run_free(&r);
    /* a malformed request node is removed by the next controller */
    ck_assert_int_eq(qt_zk_set(zh, "/admin/preferred_replica_election", "{", 1,
                               -1, NULL, 5000),
                     ZOK);
    start(4, NULL);
    ck_assert(qt_zk_wait_exists(zh, "/admin/preferred_replica_election", false,
                                10000));
}
END_TEST

START_TEST(test_auto_rebalance)
{
    qr_pstate_t st;
    int one = 1, two = 2;

    start(4, "--leader-rebalance=1");
    start(1, "--no-controller");
    start(2, "--no-controller");
    make_topic("ar", "1:2", "1,2");
    qt_coordd_stop(&b[1], SIGKILL, 5000);
    ck_assert(qt_wait_pstate(zh, "ar", 0, qt_leader_is, &two, &st, 10000));
    start(1, "--no-controller");
    leader_sets_isr("ar", 0, (const int32_t[]){2, 1}, 2);
    /* no request: the controller's own check moves it back */
    ck_assert(qt_wait_pstate(zh, "ar", 0, qt_leader_is, &one, &st, 10000));
}
END_TEST

/* --help and the man page name the same options, for both tools. */
START_TEST(test_help_matches_man)
{
    static const struct {
        const char *bin, *man;
        int min;
    } tools[] = {
        {QT_ELECTION, QT_MAN_DIR "/quire-leader-election.1", 7},
        {QT_REASSIGN, QT_MAN_DIR "/quire-reassign-partitions.1", 11},
    };

    for (size_t t = 0; t < 2; t++) {
        qt_run_result_t r;
        char *help[] = {(char *)tools[t].bin, (char *)"--help", NULL};
        FILE *fp = fopen(tools[t].man, "r");
        char man[32768], *m;
        size_t n;
        int cnt = 0;

        ck_assert_ptr_nonnull(fp);
        n = fread(man, 1, sizeof(man) - 1, fp);
        man[n] = '\0';
        fclose(fp);
        for (char *src = man, *dst = man;; src++)
            if (*src != '\\' && !(*dst++ = *src))
                break;
        ck_assert_int_eq(qt_run(help, NULL, 10000, &r), 0);
        ck_assert_int_eq(r.status, 0);
        for (const char *p = strstr(r.out, "--"); p; p = strstr(p + 2, "--")) {
            char opt[40];
            size_t len = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
            if (len == 0 || len >= sizeof(opt) - 3)
                continue;
            snprintf(opt, sizeof(opt), "--%.*s", (int)len, p + 2);
            ck_assert_msg(strstr(man, opt), "%s: %s not in the man page",
                          tools[t].bin, opt);
            cnt++;
        }
        for (m = strstr(man, "--"); m; m = strstr(m + 2, "--")) {
            char opt[40];
            size_t len = strspn(m + 2, "abcdefghijklmnopqrstuvwxyz-");
            if (len == 0 || len >= sizeof(opt) - 3)
                continue;
            snprintf(opt, sizeof(opt), "--%.*s", (int)len, m + 2);
            ck_assert_msg(strstr(r.out, opt), "%s: %s not in --help",
                          tools[t].bin, opt);
        }
        ck_assert_int_ge(cnt, tools[t].min);
        qt_run_free(&r);
    }
}
END_TEST

static Suite *admin_suite(void)
{
    Suite *s = suite_create("coord_admin");
    TCase *tc = tcase_create("admin");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_create_replicated);
    tcase_add_test(tc, test_replica_assignment);
    tcase_add_test(tc, test_describe_filters);
    tcase_add_test(tc, test_reassign);
    tcase_add_test(tc, test_preferred_election);
    tcase_add_test(tc, test_election_in_progress);
    tcase_add_test(tc, test_auto_rebalance);
    tcase_add_test(tc, test_help_matches_man);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    qt_zk_env(); /* exits 99 without a ZooKeeper */
    sr = srunner_create(admin_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
