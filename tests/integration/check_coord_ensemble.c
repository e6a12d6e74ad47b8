/* check_coord_ensemble: the coordinator against a 3-server ZooKeeper
 * ensemble on loopback, with a chroot in zookeeper.connect: registration
 * and topic creation keep working when one server is stopped. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "qt_coord.h"
#include "znode.h"

START_TEST(test_ensemble)
{
    qt_zks_t zks;
    char connect[400];
    qt_coordd_t d1, d2;
    qt_run_result_t r;
    qr_pstate_t st;
    zhandle_t *zh;

    ck_assert(qt_zks_ensemble_start(&zks, 3, 60000));
    snprintf(connect, sizeof(connect), "%s/ens/quire", zks.hosts);
    ck_assert(qt_coordd_start(&d1, connect, 1, NULL));
    ck_assert(qt_coordd_wait_event(&d1, "REGISTERED", 15000));
    ck_assert_int_eq(qt_topics(connect, &r, "--create", "--topic", "e1",
                               "--partitions", "2", NULL),
                     0);
    qt_run_free(&r);
    zh = qt_zk_connect(connect, 10000);
    ck_assert_ptr_nonnull(zh);
    int one = 1;
    ck_assert(qt_wait_pstate(zh, "e1", 1, qt_leader_is, &one, &st, 10000));
    qt_zk_close(zh);

    /* one server down: a quorum of two remains */
    ck_assert(qt_zks_member_stop(&zks, 1, 20000));
    ck_assert(qt_coordd_start(&d2, connect, 2, NULL));
    ck_assert(qt_coordd_wait_event(&d2, "REGISTERED", 20000));
    ck_assert_int_eq(qt_topics(connect, &r, "--create", "--topic", "e2",
                               "--partitions", "4", NULL),
                     0);
    qt_run_free(&r);
    zh = qt_zk_connect(connect, 10000);
    ck_assert_ptr_nonnull(zh);
    for (int p = 0; p < 4; p++)
        ck_assert(qt_wait_pstate(zh, "e2", p, NULL, NULL, &st, 15000));
    /* both brokers registered (broker 1 again if its session expired
     * while its server went away) */
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/1", true, 15000));
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/2", true, 5000));
    ck_assert_int_eq(qt_zk_exists(zh, "/brokers/topics/e1", NULL, false, 5000),
                     ZOK);
    qt_zk_close(zh);
    ck_assert_int_eq(qt_coordd_stop(&d2, SIGTERM, 5000), 0);
    ck_assert_int_eq(qt_coordd_stop(&d1, SIGTERM, 5000), 0);
    ck_assert(qt_zks_stop(&zks, 30000));
}
END_TEST

static Suite *ensemble_suite(void)
{
    Suite *s = suite_create("coord_ensemble");
    TCase *tc = tcase_create("ensemble");

    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, test_ensemble);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env();
    SRunner *sr = srunner_create(ensemble_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
