/*
 * check_zk_servers: ZooKeeper servers a test starts for itself through
 * tests/harness/zk.sh (qt_zks_*), so coordinator and broker tests can rely
 * on them:
 *   - restart-empty expires a client's session deterministically
 *     (states 3 -> ... -> -112, STYLE.md §10), while a plain restart with
 *     the data kept does not;
 *   - a 3-server loopback ensemble keeps serving with one member stopped
 *     or killed, and the member catches up when it returns.
 * Exits 99 without QUIRE_TEST_ZK, like every integration test.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "qt_zk.h"

#define T_MS      5000  /* one helper call */
#define SERVER_MS 30000 /* starting or restarting a server */

/* ---- session expiry ------------------------------------------------ */

START_TEST(test_restart_empty_expires_session)
{
    qt_zks_t zks;
    ck_assert(qt_zks_start(&zks, SERVER_MS));
    zhandle_t *zh = qt_zk_connect_session(zks.hosts, 4000, T_MS);
    ck_assert_ptr_nonnull(zh);
    int64_t old_id = zoo_client_id(zh)->client_id;
    ck_assert_int_eq(
        qt_zk_create(zh, "/eph", "x", 1, ZOO_EPHEMERAL, NULL, T_MS), ZOK);

    ck_assert(qt_zks_restart_empty(&zks, SERVER_MS));
    ck_assert(qt_zk_wait_state(zh, ZOO_EXPIRED_SESSION_STATE, 20000));

    /* The watcher saw the session connected, then lost, then expired. */
    int states[16];
    int n = qt_zk_states_seen(zh, states, 16);
    ck_assert_int_ge(n, 3);
    ck_assert_int_eq(states[0], ZOO_CONNECTED_STATE);
    ck_assert_int_eq(states[1], ZOO_CONNECTING_STATE);
    ck_assert_int_eq(states[n - 1], ZOO_EXPIRED_SESSION_STATE);
    /* An expired handle refuses work at once. */
    ck_assert_int_eq(qt_zk_exists(zh, "/", NULL, false, T_MS), ZINVALIDSTATE);
    qt_zk_close(zh);

    /* A new session works, on an empty tree. */
    zh = qt_zk_connect(zks.hosts, T_MS);
    ck_assert_ptr_nonnull(zh);
    ck_assert_int_ne(zoo_client_id(zh)->client_id, old_id);
    ck_assert_int_eq(qt_zk_exists(zh, "/eph", NULL, false, T_MS), ZNONODE);
    qt_zk_close(zh);
    ck_assert(qt_zks_stop(&zks, SERVER_MS));
}
END_TEST

START_TEST(test_restart_keeps_session)
{
    qt_zks_t zks;
    ck_assert(qt_zks_start(&zks, SERVER_MS));
    zhandle_t *zh = qt_zk_connect_session(zks.hosts, 10000, T_MS);
    ck_assert_ptr_nonnull(zh);
    int64_t id = zoo_client_id(zh)->client_id;
    ck_assert_int_eq(
        qt_zk_create(zh, "/eph", "x", 1, ZOO_EPHEMERAL, NULL, T_MS), ZOK);

    ck_assert(qt_zks_restart(&zks, SERVER_MS));
    /* The client notices the restart, reconnects, keeps its session. */
    int64_t deadline = qt_now_ms() + 20000;
    int n = 0, states[16];
    while (n < 3 && qt_now_ms() < deadline) {
        qt_zk_pump(zh, 100);
        n = qt_zk_states_seen(zh, states, 16);
    }
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(states[1], ZOO_CONNECTING_STATE);
    ck_assert_int_eq(states[2], ZOO_CONNECTED_STATE);
    ck_assert_int_eq(zoo_client_id(zh)->client_id, id);
    struct Stat stat;
    ck_assert_int_eq(qt_zk_exists(zh, "/eph", &stat, false, T_MS), ZOK);
    ck_assert_int_eq(stat.ephemeralOwner, id);
    qt_zk_close(zh);
    ck_assert(qt_zks_stop(&zks, SERVER_MS));
}
END_TEST

/* ---- a 3-server ensemble ------------------------------------------- */

/* Retry a create across the connection loss a member's death causes. */
static int create_retrying(zhandle_t *zh, const char *path, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    int rc;
    do {
        rc = qt_zk_create(zh, path, "e", 1, 0, NULL, T_MS);
        if (rc == ZCONNECTIONLOSS)
            qt_zk_wait_state(zh, ZOO_CONNECTED_STATE, T_MS);
    } while (rc == ZCONNECTIONLOSS && qt_now_ms() < deadline);
    return rc;
}

/* One ensemble member down (stopped, or killed when @p crash), writes go
 * on; the member rejoins and serves what was written meanwhile. */
static void ensemble_loses_member(int member, bool crash)
{
    qt_zks_t zks;
    ck_assert(qt_zks_ensemble_start(&zks, 3, 60000));
    ck_assert_int_eq(zks.members, 3);
    /* "127.0.0.1:a,127.0.0.1:b,127.0.0.1:c": pick out the member's own. */
    char one_host[64];
    const char *h = zks.hosts;
    for (int i = 1; i < member; i++) {
        h = strchr(h, ',');
        ck_assert_ptr_nonnull(h);
        h++;
    }
    snprintf(one_host, sizeof(one_host), "%.*s", (int)strcspn(h, ","), h);

    zhandle_t *zh = qt_zk_connect(zks.hosts, T_MS);
    ck_assert_ptr_nonnull(zh);
    ck_assert_int_eq(create_retrying(zh, "/before", 20000), ZOK);

    if (crash)
        ck_assert(qt_zks_member_kill(&zks, member, SERVER_MS));
    else
        ck_assert(qt_zks_member_stop(&zks, member, SERVER_MS));
    ck_assert_int_eq(create_retrying(zh, "/during", 20000), ZOK);
    ck_assert(qt_zk_wait_state(zh, ZOO_CONNECTED_STATE, 20000));

    ck_assert(qt_zks_member_start(&zks, member, 60000));
    zhandle_t *one = qt_zk_connect(one_host, T_MS);
    ck_assert_ptr_nonnull(one);
    ck_assert(qt_zk_wait_exists(one, "/during", true, 10000));
    ck_assert_int_eq(qt_zk_exists(one, "/before", NULL, false, T_MS), ZOK);
    qt_zk_close(one);
    qt_zk_close(zh);
    ck_assert(qt_zks_stop(&zks, SERVER_MS));
}

START_TEST(test_ensemble_member_stopped)
{
    ensemble_loses_member(1, false);
}
END_TEST

START_TEST(test_ensemble_member_killed)
{
    ensemble_loses_member(3, true);
}
END_TEST

static Suite *zk_servers_suite(void)
{
    Suite *s = suite_create("zk_servers");

    TCase *tc = tcase_create("expiry");
    tcase_set_tags(tc, "integration zk slow");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_restart_empty_expires_session);
    tcase_add_test(tc, test_restart_keeps_session);
    suite_add_tcase(s, tc);

    tc = tcase_create("ensemble");
    tcase_set_tags(tc, "integration zk slow");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_ensemble_member_stopped);
    tcase_add_test(tc, test_ensemble_member_killed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env(); /* exits 99 when the harness did not provide a server */
    SRunner *sr = srunner_create(zk_servers_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
