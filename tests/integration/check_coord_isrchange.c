/* check_coord_isrchange: a leader's ISR writes (coordinator/isrchange.c)
 * against a real ZooKeeper: the conditional set on the state znode
 * version and the isr_change notification after it; a stale version with
 * the same leadership (ZK_BAD_VERSION: plan again), and a state that names
 * another leader or epoch, or is gone (NOT_LEADER_FOR_PARTITION: the
 * zombie leader of issue 16 item 8); writes in flight when the writer goes
 * never call back (and leak nothing under the sanitizers). */
#include "config.h"

#include <check.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "isrchange.h"
#include "qt_zk.h"
#include "view.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

#define STATE "/brokers/topics/t/partitions/0/state"
#define MS    10000

typedef struct outcome {
    int calls;
    quire_err_t result;
    int32_t version;
} outcome_t;

static void on_done(void *opaque, const char *topic, int32_t partition,
                    const qr_pstate_t *st, quire_err_t result, int32_t version)
{
    outcome_t *o = opaque;

    ck_assert_str_eq(topic, "t");
    ck_assert_int_eq(partition, 0);
    ck_assert_int_eq(st->leader, 1);
    o->calls++;
    o->result = result;
    o->version = version;
}

static void on_view(qr_view_t *view, void *opaque)
{
    (void)view;
    (void)opaque;
}

typedef struct env {
    char *connect;
    zhandle_t *zh;
    struct ev_loop *loop;
    qr_zk_t *zk;
    qr_view_t *view;
    qr_isrchange_t *ic;
} env_t;

static void env_start(env_t *e)
{
    char errstr[256];

    e->connect = qt_zk_chroot_new(qt_zk_env(), MS);
    ck_assert_ptr_nonnull(e->connect);
    e->zh = qt_zk_connect(e->connect, MS);
    ck_assert_ptr_nonnull(e->zh);
    ck_assert_int_eq(qt_zk_create_all(e->zh, QR_ZNODE_ISR_CHANGE, NULL, -1, MS),
                     ZOK);
    e->loop = ev_loop_new(0);
    e->zk = qr_zk_new(e->loop, e->connect, 4000, 4000, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(e->zk);
    ck_assert_int_eq(qr_zk_sync_connect(e->zk, MS, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    e->view = qr_view_new(e->zk, on_view, NULL);
    e->ic = qr_isrchange_new(e->zk, e->view, 1);
}

static void env_stop(env_t *e)
{
    qr_isrchange_destroy(e->ic);
    qr_view_destroy(e->view);
    qr_zk_destroy(e->zk);
    ev_loop_destroy(e->loop);
    qt_zk_close(e->zh);
    free(e->connect);
}

static void set_state(env_t *e, int leader, int epoch, const char *isr)
{
    char json[256];

    snprintf(json, sizeof(json),
             "{\"controller_epoch\":1,\"leader\":%d,\"version\":1,"
             "\"leader_epoch\":%d,\"isr\":[%s]}",
             leader, epoch, isr);
    ck_assert_int_eq(
        qt_zk_create_all(e->zh, STATE, json, (int)strlen(json), MS), ZOK);
    ck_assert_int_eq(
        qt_zk_set(e->zh, STATE, json, (int)strlen(json), -1, NULL, MS), ZOK);
}

/* Writes ISR [1] as leader 1 at epoch 3 over @p version; returns the
 * outcome once the callback ran. */
static outcome_t write_isr(env_t *e, int32_t version)
{
    qr_pstate_t st = {1, 3, 1, {1}, 1};
    outcome_t o = {0};
    int64_t deadline = qt_now_ms() + MS;

    ck_assert_int_eq(
        qr_isrchange_write(e->ic, "t", 0, &st, version, on_done, &o),
        QUIRE_ERR_NONE);
    while (o.calls == 0 && qt_now_ms() < deadline)
        ev_run(e->loop, EVRUN_ONCE);
    ck_assert_int_eq(o.calls, 1);
    return o;
}

static int notifications(env_t *e, char **first_data)
{
    struct String_vector kids;
    int n;
    char path[256];

    ck_assert_int_eq(
        qt_zk_children(e->zh, QR_ZNODE_ISR_CHANGE, &kids, false, MS), ZOK);
    n = kids.count;
    if (first_data && n > 0) {
        ck_assert_int_eq(strncmp(kids.data[0], "isr_change_", 11), 0);
        snprintf(path, sizeof(path), "%s/%s", QR_ZNODE_ISR_CHANGE,
                 kids.data[0]);
        ck_assert_int_eq(
            qt_zk_get(e->zh, path, first_data, NULL, NULL, false, MS), ZOK);
    }
    deallocate_String_vector(&kids);
    return n;
}

START_TEST(test_write_and_notify)
{
    env_t e;
    outcome_t o;
    struct Stat stat;
    char *data = NULL, **topics, errstr[256];
    int32_t *parts;
    size_t n;
    qr_pstate_t st;

    env_start(&e);
    set_state(&e, 1, 3, "1,2");
    ck_assert_int_eq(qt_zk_exists(e.zh, STATE, &stat, false, MS), ZOK);
    o = write_isr(&e, stat.version);
    ck_assert_int_eq(o.result, QUIRE_ERR_NONE);
    ck_assert_int_eq(o.version, stat.version + 1);
    ck_assert_int_eq(qt_zk_get(e.zh, STATE, &data, NULL, NULL, false, MS), ZOK);
    ck_assert_int_eq(qr_znode_state_decode(data, (int)strlen(data), &st, errstr,
                                           sizeof(errstr)),
                     QUIRE_ERR_NONE);
    free(data);
    ck_assert_int_eq(st.leader, 1);
    ck_assert_int_eq(st.leader_epoch, 3);
    ck_assert_int_eq(st.controller_epoch, 1);
    ck_assert_uint_eq(st.isr_cnt, 1);
    ck_assert_int_eq(st.isr[0], 1);
    /* the notification, persistent and sequential, names the partition
     * (it is written after the set; wait for it) */
    for (int i = 0; i < 500 && notifications(&e, NULL) == 0; i++)
        ev_run(e.loop, EVRUN_NOWAIT), qt_sleep_ms(10);
    ck_assert_int_eq(notifications(&e, &data), 1);
    ck_assert_int_eq(qr_znode_isr_change_decode(data, (int)strlen(data),
                                                &topics, &parts, &n, errstr,
                                                sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(topics[0], "t");
    ck_assert_int_eq(parts[0], 0);
    free(topics[0]);
    free(topics);
    free(parts);
    free(data);
    env_stop(&e);
}
END_TEST

START_TEST(test_stale_and_deposed)
{
    env_t e;
    outcome_t o;
    struct Stat stat;

    env_start(&e);
    set_state(&e, 1, 3, "1,2");
    ck_assert_int_eq(qt_zk_exists(e.zh, STATE, &stat, false, MS), ZOK);
    /* an older version, same leader and epoch: plan again */
    o = write_isr(&e, stat.version - 1);
    ck_assert_int_eq(o.result, QUIRE_ERR_ZK_BAD_VERSION);
    ck_assert_int_eq(o.version, stat.version);
    /* the controller elected broker 2 meanwhile: deposed */
    set_state(&e, 2, 4, "2");
    o = write_isr(&e, stat.version);
    ck_assert_int_eq(o.result, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    /* same leader, newer epoch (re-elected): this write's epoch is over */
    set_state(&e, 1, 4, "1,2");
    o = write_isr(&e, stat.version);
    ck_assert_int_eq(o.result, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    /* the state is gone (topic deleted) */
    ck_assert_int_eq(qt_zk_delete(e.zh, STATE, -1, MS), ZOK);
    o = write_isr(&e, stat.version);
    ck_assert_int_eq(o.result, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    /* nothing was written by the refused writes */
    ck_assert_int_eq(notifications(&e, NULL), 0);
    env_stop(&e);
}
END_TEST

/* The writer goes with a write out: its callback never runs. */
START_TEST(test_destroy_in_flight)
{
    env_t e;
    qr_pstate_t st = {1, 3, 1, {1}, 1};
    outcome_t o = {0};

    env_start(&e);
    set_state(&e, 1, 3, "1,2");
    ck_assert_int_eq(qr_isrchange_write(e.ic, "t", 0, &st, 0, on_done, &o),
                     QUIRE_ERR_NONE);
    qr_isrchange_destroy(e.ic);
    e.ic = NULL;
    for (int i = 0; i < 50; i++)
        ev_run(e.loop, EVRUN_NOWAIT), qt_sleep_ms(10);
    ck_assert_int_eq(o.calls, 0);
    env_stop(&e);
}
END_TEST

static Suite *isrchange_suite(void)
{
    Suite *s = suite_create("isrchange");
    TCase *tc = tcase_create("zk");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_write_and_notify);
    tcase_add_test(tc, test_stale_and_deposed);
    tcase_add_test(tc, test_destroy_in_flight);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    if (!qt_zk_env()) {
        fprintf(stderr, "QUIRE_TEST_ZK is not set (run under with-zk)\n");
        return 99;
    }
    sr = srunner_create(isrchange_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
