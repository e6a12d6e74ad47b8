/* check_coord_expiry: ZooKeeper session expiry and connection loss, made
 * deterministic by restarting the test's own server with an empty dataDir
 * (STYLE.md §10). The session state machine (coordinator/zk.c) in process;
 * then a coordd broker whose registration, controller and watches must come
 * back by themselves; then KAFKA-1387 (a stale registration of another
 * session is waited out, not fatal, after an expiry). */
#include "config.h"

#include <check.h>
#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_coord.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

static qt_zks_t zks;

static void setup(void)
{
    ck_assert(qt_zks_start(&zks, 20000));
}

static void teardown(void)
{
    qt_zks_stop(&zks, 20000);
}

typedef struct events {
    qr_zk_event_t seen[32];
    int n;
} events_t;

static void on_event(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    events_t *e = owner;

    (void)zk;
    if (e->n < 32)
        e->seen[e->n++] = ev;
}

typedef struct want {
    events_t *e;
    qr_zk_event_t ev;
    int count;
} want_t;

static int seen_n(void *arg)
{
    want_t *w = arg;
    int n = 0;

    for (int i = 0; i < w->e->n; i++)
        n += w->e->seen[i] == w->ev;
    return n >= w->count;
}

static int count_ev(const events_t *e, qr_zk_event_t ev)
{
    int n = 0;

    for (int i = 0; i < e->n; i++)
        n += e->seen[i] == ev;
    return n;
}

START_TEST(test_session_state_machine)
{
    struct ev_loop *loop = ev_loop_new(0);
    char errstr[256], connect[300];
    events_t e = {.n = 0};
    qr_zk_sres_t res;
    int64_t sid;
    qr_zk_t *zk;

    snprintf(connect, sizeof(connect), "%s/sm/chroot", zks.hosts);
    zk = qr_zk_new(loop, connect, 4000, 10000, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(zk);
    qr_zk_listen(zk, on_event, &e);
    ck_assert_int_eq(qr_zk_sync_connect(zk, 10000, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    sid = qr_zk_session_id(zk);
    ck_assert(sid != 0);
    ck_assert_int_eq(
        qr_zk_sync_create(zk, "/x", "1", 1, ZOO_EPHEMERAL, 5000, &res),
        QUIRE_ERR_NONE);
    qr_zk_sres_free(&res);

    /* connection loss within the session: not an expiry */
    ck_assert(qt_zks_restart(&zks, 20000));
    want_t w = {&e, QR_ZK_EV_RECONNECTED, 1};
    ck_assert(qr_zk_sync_wait(zk, seen_n, &w, 15000));
    ck_assert_int_eq(count_ev(&e, QR_ZK_EV_DISCONNECTED), 1);
    ck_assert_int_eq(count_ev(&e, QR_ZK_EV_EXPIRED), 0);
    ck_assert(qr_zk_session_id(zk) == sid);
    ck_assert_int_eq(qr_zk_sync_exists(zk, "/x", 5000, &res), QUIRE_ERR_NONE);
    qr_zk_sres_free(&res);

    /* an empty server: the session is unknown, so expired; a new one is
     * made, the chroot created again */
    ck_assert(qt_zks_restart_empty(&zks, 20000));
    w = (want_t){&e, QR_ZK_EV_SESSION, 2};
    ck_assert(qr_zk_sync_wait(zk, seen_n, &w, 20000));
    ck_assert_int_eq(count_ev(&e, QR_ZK_EV_EXPIRED), 1);
    ck_assert(qr_zk_session_id(zk) != sid);
    ck_assert_int_eq(qr_zk_sync_exists(zk, "/", 5000, &res), QUIRE_ERR_NONE);
    qr_zk_sres_free(&res);
    ck_assert_int_eq(qr_zk_sync_exists(zk, "/x", 5000, &res),
                     QUIRE_ERR_NOT_FOUND);
    qr_zk_sres_free(&res);
    qr_zk_destroy(zk);
    ev_loop_destroy(loop);
}
END_TEST

/* Issue 14: the connection timeout counts from the session's start, not
 * from the loop's last iteration: a broker loads its logs (blocking, 54 s
 * for 10,000 partitions after a crash) between creating its loop and
 * starting the session, and the timeout fired at once. */
START_TEST(test_conn_timeout_after_blocking_load)
{
    struct ev_loop *loop = ev_loop_new(0);
    char errstr[256], connect[300];
    events_t e = {.n = 0};
    qr_zk_t *zk;

    ev_run(loop, EVRUN_NOWAIT); /* the loop's clock is now */
    sleep(3);                   /* the load, longer than the timeout */
    snprintf(connect, sizeof(connect), "%s/load", zks.hosts);
    zk = qr_zk_new(loop, connect, 4000, 2000, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(zk);
    qr_zk_listen(zk, on_event, &e);
    ck_assert_msg(qr_zk_sync_connect(zk, 10000, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    ck_assert_int_eq(count_ev(&e, QR_ZK_EV_FATAL), 0);
    qr_zk_destroy(zk);
    ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_broker_recovers)
{
    char connect[300];
    qt_coordd_t d;
    zhandle_t *zh;
    qt_run_result_t r;
    qr_pstate_t st;
    int five = 5;

    snprintf(connect, sizeof(connect), "%s/quire", zks.hosts);
    ck_assert(qt_coordd_start(&d, connect, 5, NULL));
    ck_assert(qt_coordd_wait_event(&d, "REGISTERED", 10000));
    ck_assert_int_eq(qt_topics(connect, &r, "--create", "--topic", "pre",
                               "--partitions", "1", NULL),
                     0);
    qt_run_free(&r);
    zh = qt_zk_connect(connect, 5000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(qt_wait_pstate(zh, "pre", 0, qt_leader_is, &five, &st, 10000));
    qt_zk_close(zh);

    ck_assert(qt_zks_restart_empty(&zks, 20000));
    ck_assert(qt_coordd_wait_event(&d, "SESSION_LOST", 15000));
    /* registration, chroot and controller come back by themselves */
    int64_t deadline = qt_now_ms() + 15000;
    while (qt_coordd_count_events(&d, "REGISTERED") < 2 &&
           qt_now_ms() < deadline)
        qt_sleep_ms(20);
    ck_assert_int_eq(qt_coordd_count_events(&d, "REGISTERED"), 2);
    zh = qt_zk_connect(connect, 5000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/5", true, 5000));
    ck_assert(qt_zk_wait_exists(zh, "/controller", true, 5000));
    /* the old topic is gone with the data: its partition is closed */
    ck_assert(qt_coordd_wait_event(&d, "CLOSE pre 0", 5000));
    /* watches are armed again: a new topic gets a leader, and growing it
     * too (the topic's own watch) */
    ck_assert_int_eq(qt_topics(connect, &r, "--create", "--topic", "post",
                               "--partitions", "1", NULL),
                     0);
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, "post", 0, qt_leader_is, &five, &st, 10000));
    ck_assert_int_eq(qt_topics(connect, &r, "--alter", "--topic", "post",
                               "--partitions", "2", NULL),
                     0);
    qt_run_free(&r);
    ck_assert(qt_wait_pstate(zh, "post", 1, qt_leader_is, &five, &st, 10000));
    ck_assert(qt_coordd_wait_event(&d, "OPEN post 1", 5000));
    qt_zk_close(zh);
    ck_assert_int_eq(qt_coordd_stop(&d, SIGTERM, 5000), 0);
}
END_TEST

/* KAFKA-1387: after an expiry, /brokers/ids/<id> may still be held by
 * another session; the broker waits for it instead of dying. */
START_TEST(test_stale_registration_waited_out)
{
    char connect[300];
    qt_coordd_t d;
    zhandle_t *zh;
    struct Stat st;

    snprintf(connect, sizeof(connect), "%s/k1387", zks.hosts);
    ck_assert(qt_coordd_start(&d, connect, 6, NULL));
    ck_assert(qt_coordd_wait_event(&d, "REGISTERED", 10000));
    /* freeze the broker, empty the server, take its id from elsewhere */
    kill(d.pid, SIGSTOP);
    ck_assert(qt_zks_restart_empty(&zks, 20000));
    zh = qt_zk_connect(zks.hosts, 5000);
    ck_assert_ptr_nonnull(zh);
    ck_assert_int_eq(qt_zk_create_all(zh, "/k1387/brokers/ids", NULL, -1, 5000),
                     ZOK);
    ck_assert_int_eq(qt_zk_create(zh, "/k1387/brokers/ids/6", "{}", 2,
                                  ZOO_EPHEMERAL, NULL, 5000),
                     ZOK);
    kill(d.pid, SIGCONT);
    ck_assert(qt_coordd_wait_event(&d, "SESSION_LOST", 15000));
    qt_sleep_ms(1500);
    /* still running, not registered, not fatal */
    ck_assert_int_eq(qt_coordd_count_events(&d, "FATAL"), 0);
    ck_assert_int_eq(qt_coordd_count_events(&d, "REGISTERED"), 1);
    ck_assert_int_eq(qt_coordd_wait_exit(&d, 10), -1);
    /* the other session goes: the broker registers */
    qt_zk_close(zh);
    int64_t deadline = qt_now_ms() + 15000;
    while (qt_coordd_count_events(&d, "REGISTERED") < 2 &&
           qt_now_ms() < deadline)
        qt_sleep_ms(20);
    ck_assert_int_eq(qt_coordd_count_events(&d, "REGISTERED"), 2);
    zh = qt_zk_connect(connect, 5000);
    ck_assert_ptr_nonnull(zh);
    ck_assert_int_eq(qt_zk_exists(zh, "/brokers/ids/6", &st, false, 5000), ZOK);
    ck_assert(st.ephemeralOwner != 0);
    qt_zk_close(zh);
    ck_assert_int_eq(qt_coordd_stop(&d, SIGTERM, 5000), 0);
}
END_TEST

static Suite *expiry_suite(void)
{
    Suite *s = suite_create("coord_expiry");
    TCase *tc = tcase_create("expiry");

    /* a server of each test's own: restarting it must not disturb others */
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_session_state_machine);
    tcase_add_test(tc, test_conn_timeout_after_blocking_load);
    tcase_add_test(tc, test_broker_recovers);
    tcase_add_test(tc, test_stale_registration_waited_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env();
    SRunner *sr = srunner_create(expiry_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
