/* check_coord_registry: broker registration in a real ZooKeeper
 * (coordinator/registry.c through coordd): the node and its JSON, a
 * duplicate live id refused, the ephemeral gone when the process dies, the
 * chroot created when missing. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "qt_coord.h"
#include "znode.h"

static char *connect_str; /* this test's chroot, per test (forked) */
static zhandle_t *zh;     /* a session under that chroot */

static void setup(void)
{
    connect_str = qt_zk_chroot_new(qt_zk_env(), 5000);
    ck_assert_ptr_nonnull(connect_str);
    zh = qt_zk_connect(connect_str, 5000);
    ck_assert_ptr_nonnull(zh);
}

static void teardown(void)
{
    qt_zk_close(zh);
    free(connect_str);
}

START_TEST(test_register)
{
    qt_coordd_t d;
    qr_znode_broker_t b;
    char *data = NULL, errstr[128];
    int len;
    struct Stat st;

    ck_assert(qt_coordd_start(&d, connect_str, 3, NULL));
    ck_assert(qt_coordd_wait_event(&d, "REGISTERED", 10000));
    ck_assert_int_eq(
        qt_zk_get(zh, "/brokers/ids/3", &data, &len, &st, false, 2000), ZOK);
    ck_assert_msg(st.ephemeralOwner != 0, "registration is not ephemeral");
    ck_assert_int_eq(
        qr_znode_broker_decode(data, len, &b, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_str_eq(b.host, "127.0.0.1");
    ck_assert_int_eq(b.port, 9092);
    ck_assert(b.timestamp > 0);
    free(b.host);
    free(data);
    /* the persistent roots exist */
    static const char *const roots[] = {"/brokers/ids", "/brokers/topics",
                                        "/config/topics",
                                        "/admin/delete_topics", "/consumers"};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        ck_assert_int_eq(qt_zk_exists(zh, roots[i], NULL, false, 2000), ZOK);
    /* a clean stop deregisters at once (no session timeout to wait) */
    ck_assert_int_eq(qt_coordd_stop(&d, SIGTERM, 5000), 0);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/3", false, 1000));
}
END_TEST

START_TEST(test_duplicate)
{
    qt_coordd_t a, b;

    ck_assert(qt_coordd_start(&a, connect_str, 1, NULL));
    ck_assert(qt_coordd_wait_event(&a, "REGISTERED", 10000));
    ck_assert(qt_coordd_start(&b, connect_str, 1, NULL));
    /* the second one refuses to run, naming the id */
    ck_assert_int_eq(qt_coordd_wait_exit(&b, 10000), 1);
    ck_assert(qt_coordd_wait_event(&b,
                                   "FATAL broker id 1 is already "
                                   "registered",
                                   100));
    /* and the first one's registration is untouched */
    ck_assert_int_eq(qt_coordd_count_events(&a, "SESSION_LOST"), 0);
    ck_assert_int_eq(qt_zk_exists(zh, "/brokers/ids/1", NULL, false, 2000),
                     ZOK);
    qt_coordd_stop(&a, SIGTERM, 5000);
}
END_TEST

START_TEST(test_ephemeral_gone)
{
    qt_coordd_t d;

    ck_assert(qt_coordd_start(&d, connect_str, 2, NULL));
    ck_assert(qt_coordd_wait_event(&d, "REGISTERED", 10000));
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/2", true, 2000));
    /* SIGKILL: no deregistration; the server removes the node when the
     * 2 s session expires */
    ck_assert_int_eq(qt_coordd_stop(&d, SIGKILL, 5000), 128 + SIGKILL);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/2", false, 10000));
    /* the id is free again */
    ck_assert(qt_coordd_start(&d, connect_str, 2, NULL));
    ck_assert(qt_coordd_wait_event(&d, "REGISTERED", 10000));
    qt_coordd_stop(&d, SIGTERM, 5000);
}
END_TEST

START_TEST(test_chroot_created)
{
    char deeper[512];
    qt_coordd_t d;

    /* a chroot two levels below one that exists: created by the broker */
    snprintf(deeper, sizeof(deeper), "%s/a/b", connect_str);
    ck_assert_int_eq(qt_zk_exists(zh, "/a", NULL, false, 2000), ZNONODE);
    ck_assert(qt_coordd_start(&d, deeper, 4, NULL));
    ck_assert(qt_coordd_wait_event(&d, "REGISTERED", 10000));
    ck_assert_int_eq(qt_zk_exists(zh, "/a/b/brokers/ids/4", NULL, false, 2000),
                     ZOK);
    /* nothing leaked outside the chroot */
    ck_assert_int_eq(qt_zk_exists(zh, "/brokers", NULL, false, 2000), ZNONODE);
    qt_coordd_stop(&d, SIGTERM, 5000);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("coord_registry");
    TCase *tc = tcase_create("registry");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_register);
    tcase_add_test(tc, test_duplicate);
    tcase_add_test(tc, test_ephemeral_gone);
    tcase_add_test(tc, test_chroot_created);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env(); /* exits 99 without QUIRE_TEST_ZK */
    SRunner *sr = srunner_create(registry_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
