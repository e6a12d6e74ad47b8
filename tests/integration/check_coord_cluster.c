/* check_coord_cluster: the broker-facing API (coordinator/cluster.h) in
 * process, against a real ZooKeeper: callbacks, the metadata snapshot and
 * its ordering promise, topic auto-creation, and a fatal start. */
#include "config.h"

#include <check.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"
#include "qt_coord.h"

static char *connect_str;
static struct ev_loop *loop;

typedef struct obs {
    qr_cluster_t *cl;
    int registered, fatal, opened, closed, deleted;
    int order_ok; /* no snapshot showed a partition led before its open */
    int states;   /* partition_state calls */
    int32_t replicas[8]; /* the replica list the last one carried */
    size_t replica_cnt;
    char fatal_msg[512];
} obs_t;

static obs_t obs;

static quire_err_t on_open(void *opaque, const char *topic, int32_t p,
                           int32_t epoch, const qr_topic_config_t *config)
{
    obs_t *o = opaque;
    qr_meta_t *meta = qr_cluster_meta_get(o->cl);
    const qr_meta_part_t *part = qr_meta_part_find(meta, topic, p);

    (void)epoch;
    (void)config;
    /* while opening, the snapshot must not yet show us as the leader */
    if (part && part->leader == qr_cluster_broker_id(o->cl))
        o->order_ok = 0;
    qr_meta_release(meta);
    o->opened++;
    return QUIRE_ERR_NONE;
}

static void on_close(void *opaque, const char *topic, int32_t p)
{
    obs_t *o = opaque;
    qr_meta_t *meta = qr_cluster_meta_get(o->cl);
    const qr_meta_part_t *part = qr_meta_part_find(meta, topic, p);

    if (part && part->leader == qr_cluster_broker_id(o->cl))
        o->order_ok = 0;
    qr_meta_release(meta);
    o->closed++;
}

static quire_err_t on_delete(void *opaque, const char *topic, int32_t p)
{
    (void)topic;
    (void)p;
    ((obs_t *)opaque)->deleted++;
    return QUIRE_ERR_NONE;
}

static void on_pstate(void *opaque, const char *topic, int32_t p,
                      const qr_replicas_t *replicas, const qr_pstate_t *st,
                      int32_t version)
{
    obs_t *o = opaque;

    (void)topic;
    (void)p;
    (void)st;
    (void)version;
    o->states++;
    o->replica_cnt = replicas->n < 8 ? replicas->n : 8;
    memcpy(o->replicas, replicas->ids, o->replica_cnt * sizeof(int32_t));
}

static void on_status(void *opaque, qr_cluster_status_t st, quire_err_t err,
                      const char *msg)
{
    obs_t *o = opaque;

    (void)err;
    if (st == QR_CLUSTER_REGISTERED)
        o->registered++;
    if (st == QR_CLUSTER_FATAL) {
        o->fatal++;
        snprintf(o->fatal_msg, sizeof(o->fatal_msg), "%s", msg ? msg : "");
    }
}

static void on_deadline(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)revents;
    *(int *)w->data = 1;
}

/* Runs the loop until @p cond or @p ms pass. */
static int run_until(int (*cond)(void), int ms)
{
    ev_timer t;
    int expired = 0;

    ev_timer_init(&t, on_deadline, ms / 1000., 0.);
    t.data = &expired;
    ev_timer_start(loop, &t);
    while (!cond() && !expired)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &t);
    return cond();
}

static qr_cluster_t *start(const char *connect, int id, int autocreate,
                           int conn_timeout_ms)
{
    qr_cluster_conf_t conf = {
        .zk_connect = connect,
        .zk_session_timeout_ms = 4000,
        .zk_connection_timeout_ms = conn_timeout_ms,
        .broker_id = id,
        .host = "127.0.0.1",
        .port = 9100 + id,
        .controller_eligible = 1,
        .auto_create_topics = autocreate,
        .num_partitions = 3,
        .default_replication_factor = 1,
    };
    qr_cluster_cbs_t cbs = {&obs, on_open, on_close, on_delete, on_status,
                            NULL, NULL,    NULL,     NULL};
    char errstr[256];
    cbs.partition_state = on_pstate;
    qr_cluster_t *cl =
        qr_cluster_new(loop, &conf, &cbs, errstr, sizeof(errstr));

    ck_assert_msg(cl != NULL, "%s", errstr);
    obs.cl = cl;
    ck_assert_int_eq(qr_cluster_start(cl, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    return cl;
}

static void setup(void)
{
    connect_str = qt_zk_chroot_new(qt_zk_env(), 5000);
    ck_assert_ptr_nonnull(connect_str);
    loop = ev_loop_new(0);
    memset(&obs, 0, sizeof(obs));
    obs.order_ok = 1;
}

static void teardown(void)
{
    ev_loop_destroy(loop);
    free(connect_str);
}

static int is_registered(void)
{
    return obs.registered > 0;
}

static int is_fatal(void)
{
    return obs.fatal > 0;
}

static const char *want_topic;
static int want_parts;

static int topic_led(void)
{
    qr_meta_t *meta = qr_cluster_meta_get(obs.cl);
    const qr_meta_topic_t *t = qr_meta_topic_find(meta, want_topic);
    int ok = t && (int)t->part_cnt == want_parts;

    for (size_t p = 0; ok && p < t->part_cnt; p++)
        ok = t->parts[p].err == QUIRE_ERR_NONE &&
             t->parts[p].leader == qr_cluster_broker_id(obs.cl);
    qr_meta_release(meta);
    return ok;
}

static int topic_gone(void)
{
    qr_meta_t *meta = qr_cluster_meta_get(obs.cl);
    int gone = qr_meta_topic_find(meta, want_topic) == NULL;

    qr_meta_release(meta);
    return gone;
}

START_TEST(test_snapshot_and_autocreate)
{
    qr_cluster_t *cl = start(connect_str, 7, 1, 10000);
    qr_meta_t *meta;
    qt_run_result_t r;

    /* an empty snapshot before anything is read, never NULL */
    meta = qr_cluster_meta_get(cl);
    ck_assert_ptr_nonnull(meta);
    qr_meta_release(meta);
    ck_assert(run_until(is_registered, 10000));
    ck_assert_int_eq(qr_cluster_broker_id(cl), 7);

    /* auto-creation: bad names refused at once, good ones appear */
    ck_assert_int_eq(qr_cluster_topic_autocreate(cl, "../x"),
                     QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
    ck_assert_int_eq(qr_cluster_topic_autocreate(cl, "auto"), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_cluster_topic_autocreate(cl, "auto"),
                     QUIRE_ERR_NONE); /* de-duplicated */
    want_topic = "auto";
    want_parts = 3;
    ck_assert(run_until(topic_led, 10000));
    ck_assert_int_eq(obs.opened, 3);
    ck_assert(qr_cluster_is_controller(cl));
    meta = qr_cluster_meta_get(cl);
    ck_assert_int_eq(meta->controller_id, 7);
    ck_assert_uint_eq(meta->broker_cnt, 1);
    ck_assert_str_eq(meta->brokers[0].host, "127.0.0.1");
    ck_assert_int_eq(meta->brokers[0].port, 9107);
    const qr_meta_part_t *part = qr_meta_part_find(meta, "auto", 2);
    ck_assert_ptr_nonnull(part);
    ck_assert_int_eq(part->leader_epoch, 0);
    ck_assert_uint_eq(part->replica_cnt, 1);
    ck_assert_int_eq(part->replicas[0], 7);
    ck_assert_ptr_null(qr_meta_part_find(meta, "auto", 3));
    ck_assert_ptr_null(qr_meta_topic_find(meta, "nope"));
    qr_meta_release(meta);

    /* deletion through the CLI: closed, deleted, gone from the snapshot;
     * the loop runs while the CLI waits, so the CLI runs in a child */
    pid_t pid = fork();
    if (pid == 0) {
        int rc =
            qt_topics(connect_str, &r, "--delete", "--topic", "auto", NULL);
        _exit(rc);
    }
    ck_assert(run_until(topic_gone, 15000));
    int status = -1;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(obs.closed, 3);
    ck_assert_int_eq(obs.deleted, 3);
    ck_assert(obs.order_ok);
    qr_cluster_close(cl);
    qr_cluster_destroy(cl);
}
END_TEST

START_TEST(test_autocreate_off)
{
    qr_cluster_t *cl = start(connect_str, 8, 0, 10000);

    ck_assert(run_until(is_registered, 10000));
    ck_assert_int_eq(qr_cluster_topic_autocreate(cl, "t"),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    qr_cluster_destroy(cl);
}
END_TEST

static int swapped(void)
{
    return obs.replica_cnt == 2 && obs.replicas[0] == 7 && obs.replicas[1] == 9;
}

/* A replica list rewritten to another of the same length (one follower
 * swapped for another) reaches the leader: it once noticed only a change
 * of length, and went on expecting fetches from the replica gone. */
START_TEST(test_replica_swap_reported)
{
    static const char a78[] = "{\"version\":1,\"partitions\":{\"0\":[7,8]}}";
    static const char a79[] = "{\"version\":1,\"partitions\":{\"0\":[7,9]}}";
    qr_cluster_t *cl = start(connect_str, 7, 0, 10000);
    zhandle_t *zh = qt_zk_connect(connect_str, 10000);

    ck_assert_ptr_nonnull(zh);
    ck_assert(run_until(is_registered, 10000));
    ck_assert_int_eq(qt_zk_create_all(zh, "/brokers/topics/swap", a78,
                                      (int)strlen(a78), 10000),
                     ZOK);
    want_topic = "swap";
    want_parts = 1;
    ck_assert(run_until(topic_led, 15000));
    ck_assert_int_ge(obs.states, 1);
    ck_assert_uint_eq(obs.replica_cnt, 2);
    ck_assert_int_eq(obs.replicas[1], 8);
    ck_assert_int_eq(qt_zk_set(zh, "/brokers/topics/swap", a79,
                               (int)strlen(a79), -1, NULL, 10000),
                     ZOK);
    ck_assert_msg(run_until(swapped, 10000),
                  "the leader still has replicas [%d,%d]", obs.replicas[0],
                  obs.replicas[1]);
    qt_zk_close(zh);
    qr_cluster_close(cl);
    qr_cluster_destroy(cl);
}
END_TEST

START_TEST(test_fatal_no_zookeeper)
{
    int port = qt_free_port();
    char connect[64];

    snprintf(connect, sizeof(connect), "127.0.0.1:%d", port);
    qr_cluster_t *cl = start(connect, 9, 0, 1000);
    ck_assert(run_until(is_fatal, 10000));
    ck_assert_ptr_nonnull(strstr(obs.fatal_msg, "connection.timeout"));
    qr_cluster_destroy(cl);
}
END_TEST

START_TEST(test_bad_conf)
{
    qr_cluster_conf_t conf = {.zk_connect = "127.0.0.1:1/a//b",
                              .zk_session_timeout_ms = 4000,
                              .zk_connection_timeout_ms = 4000,
                              .broker_id = 1,
                              .host = "h",
                              .port = 1};
    qr_cluster_cbs_t cbs = {&obs, on_open, on_close, on_delete, NULL,
                            NULL, NULL,    NULL,     NULL};
    char errstr[256] = "";

    ck_assert_ptr_null(
        qr_cluster_new(loop, &conf, &cbs, errstr, sizeof(errstr)));
    ck_assert_ptr_nonnull(strstr(errstr, "chroot"));
    conf.zk_connect = "127.0.0.1:1";
    conf.port = 0;
    ck_assert_ptr_null(
        qr_cluster_new(loop, &conf, &cbs, errstr, sizeof(errstr)));
    conf.port = 1;
    conf.broker_id = -1;
    ck_assert_ptr_null(
        qr_cluster_new(loop, &conf, &cbs, errstr, sizeof(errstr)));
    conf.broker_id = 1;
    cbs.delete_partition = NULL;
    ck_assert_ptr_null(
        qr_cluster_new(loop, &conf, &cbs, errstr, sizeof(errstr)));
    conf.zk_connect = "";
    ck_assert_ptr_null(
        qr_cluster_new(loop, &conf, &cbs, errstr, sizeof(errstr)));
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("coord_cluster");
    TCase *tc = tcase_create("cluster");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_snapshot_and_autocreate);
    tcase_add_test(tc, test_autocreate_off);
    tcase_add_test(tc, test_replica_swap_reported);
    tcase_add_test(tc, test_fatal_no_zookeeper);
    tcase_add_test(tc, test_bad_conf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env();
    SRunner *sr = srunner_create(cluster_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
