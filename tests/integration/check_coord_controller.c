/* check_coord_controller: controller election and failover between coordd
 * processes, partition leadership moving with broker deaths and back, a
 * stale controller's conditional write refused, and topic deletion
 * completed by brokers and controller (coordinator/controller.c,
 * cluster.c). Real ZooKeeper, separate processes killed by PID. */
#include "config.h"

#include <check.h>
#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "qt_coord.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

static char *connect_str;
static zhandle_t *zh;

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

/* The controller's broker id and /controller_epoch, or -1. */
static int controller_id(void)
{
    char *data = NULL, errstr[128];
    int len;
    int32_t id = -1;

    if (qt_zk_get(zh, "/controller", &data, &len, NULL, false, 2000) != ZOK ||
        qr_znode_controller_decode(data, len, &id, errstr, sizeof(errstr)))
        id = -1;
    free(data);
    return id;
}

static int wait_controller(int not_this, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    int id;

    do {
        id = controller_id();
        if (id >= 0 && id != not_this)
            return id;
        qt_sleep_ms(20);
    } while (qt_now_ms() < deadline);
    return -1;
}

static int epoch(void)
{
    char *data = NULL, errstr[128];
    int len;
    int32_t e = -1;

    if (qt_zk_get(zh, "/controller_epoch", &data, &len, NULL, false, 2000) !=
            ZOK ||
        qr_znode_epoch_decode(data, len, &e, errstr, sizeof(errstr)))
        e = -1;
    free(data);
    return e;
}

/* /controller_epoch once it is at least @p min (the winner writes it
 * just after creating /controller), or what it is after @p timeout_ms. */
static int wait_epoch(int min, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    int e;

    while ((e = epoch()) < min && qt_now_ms() < deadline)
        qt_sleep_ms(20);
    return e;
}

static void create_topic(const char *topic, const char *partitions)
{
    qt_run_result_t res;
    int rc = qt_topics(connect_str, &res, "--create", "--topic", topic,
                       "--partitions", partitions, NULL);
    ck_assert_msg(rc == 0, "quire-topics --create: %d %s", rc, res.err);
    qt_run_free(&res);
}

/* The broker that replica-holds topic-p (replication factor 1). */
static int replica_of(const char *topic, int p)
{
    char *path = qr_znode_topic_path(topic), *data = NULL, errstr[128];
    int len, id = -1;
    qr_assign_t a;

    if (qt_zk_get(zh, path, &data, &len, NULL, false, 2000) == ZOK &&
        qr_znode_topic_decode(data, len, &a, errstr, sizeof(errstr)) == 0) {
        if ((size_t)p < a.part_cnt)
            id = a.parts[p].ids[0];
        qr_assign_free(&a);
    }
    free(data);
    free(path);
    return id;
}

START_TEST(test_election_failover)
{
    qt_coordd_t d[3];
    int first, second, e1;

    for (int i = 0; i < 3; i++)
        ck_assert(qt_coordd_start(&d[i], connect_str, i + 1, NULL));
    first = wait_controller(-1, 10000);
    ck_assert_int_ge(first, 1);
    ck_assert_int_le(first, 3);
    e1 = wait_epoch(1, 5000);
    ck_assert_int_ge(e1, 1);
    /* exactly one: the others stay candidates */
    for (int i = 0; i < 3; i++)
        ck_assert(qt_coordd_wait_event(&d[i], "REGISTERED", 10000));
    /* kill the controller: another takes over, with a higher epoch */
    ck_assert_int_eq(qt_coordd_stop(&d[first - 1], SIGKILL, 5000),
                     128 + SIGKILL);
    second = wait_controller(first, 15000);
    ck_assert_int_ge(second, 1);
    ck_assert_int_ne(second, first);
    ck_assert_int_eq(wait_epoch(e1 + 1, 5000), e1 + 1);
    /* and it acts: a new topic gets its states from the new controller */
    create_topic("after-failover", "4");
    for (int p = 0; p < 4; p++) {
        qr_pstate_t st;
        int owner = replica_of("after-failover", p);
        ck_assert_int_ne(owner, first); /* the dead one is not assigned */
        ck_assert(qt_wait_pstate(zh, "after-failover", p, qt_leader_is, &owner,
                                 &st, 10000));
        ck_assert_int_eq(st.controller_epoch, epoch());
    }
    for (int i = 0; i < 3; i++)
        qt_coordd_stop(&d[i], SIGTERM, 5000);
}
END_TEST

START_TEST(test_leader_moves_and_back)
{
    qt_coordd_t d1, d2;
    qr_pstate_t st, st2;
    int none = -1, two = 2, p2 = -1;

    ck_assert(qt_coordd_start(&d1, connect_str, 1, NULL));
    ck_assert(qt_coordd_wait_event(&d1, "REGISTERED", 10000));
    ck_assert_int_eq(wait_controller(-1, 10000), 1);
    ck_assert(qt_coordd_start(&d2, connect_str, 2, "--no-controller"));
    ck_assert(qt_coordd_wait_event(&d2, "REGISTERED", 10000));
    create_topic("moves", "2");
    for (int p = 0; p < 2; p++)
        if (replica_of("moves", p) == 2)
            p2 = p;
    ck_assert_int_ge(p2, 0);
    ck_assert(qt_wait_pstate(zh, "moves", p2, qt_leader_is, &two, &st, 10000));
    ck_assert(qt_coordd_wait_event(&d2, "OPEN moves", 5000));
    /* broker 2 dies: no live replica, leader -1, epoch up, ISR kept */
    qt_coordd_stop(&d2, SIGKILL, 5000);
    ck_assert(
        qt_wait_pstate(zh, "moves", p2, qt_leader_is, &none, &st2, 15000));
    ck_assert_int_eq(st2.leader_epoch, st.leader_epoch + 1);
    ck_assert_uint_eq(st2.isr_cnt, 1);
    ck_assert_int_eq(st2.isr[0], 2);
    /* it returns: leader again, and it is told to open the partition */
    ck_assert(qt_coordd_start(&d2, connect_str, 2, "--no-controller"));
    ck_assert(qt_wait_pstate(zh, "moves", p2, qt_leader_is, &two, &st, 15000));
    ck_assert_int_eq(st.leader_epoch, st2.leader_epoch + 1);
    ck_assert(qt_coordd_wait_event(&d2, "OPEN moves", 5000));
    qt_coordd_stop(&d2, SIGTERM, 5000);
    qt_coordd_stop(&d1, SIGTERM, 5000);
}
END_TEST

/* A write fenced on an old /controller_epoch version is refused, through
 * the same multi the controller uses. */
START_TEST(test_stale_write_refused)
{
    struct ev_loop *loop = ev_loop_new(0);
    qr_zk_t *zk;
    qr_zk_sres_t res;
    qr_zk_multi_t *m;
    struct Stat stat;
    char errstr[256];
    qt_coordd_t d;
    qr_pstate_t st, after;
    int one = 1, e;

    ck_assert(qt_coordd_start(&d, connect_str, 1, NULL));
    ck_assert_int_eq(wait_controller(-1, 10000), 1);
    create_topic("fenced", "1");
    ck_assert(qt_wait_pstate(zh, "fenced", 0, qt_leader_is, &one, &st, 10000));
    e = wait_epoch(1, 5000);
    ck_assert_int_eq(st.controller_epoch, e);
    ck_assert_int_eq(qt_zk_exists(zh, "/controller_epoch", &stat, false, 2000),
                     ZOK);

    /* another controller was elected meanwhile: the epoch moves on */
    char next[16];
    snprintf(next, sizeof(next), "%d", e + 10);
    ck_assert_int_eq(qt_zk_set(zh, "/controller_epoch", next, (int)strlen(next),
                               stat.version, NULL, 2000),
                     ZOK);

    /* a stale controller's write (fenced on the old version) is refused */
    zk = qr_zk_new(loop, connect_str, 4000, 4000, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(zk);
    ck_assert_int_eq(qr_zk_sync_connect(zk, 5000, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    m = qr_zk_multi_new();
    qr_zk_multi_check(m, "/controller_epoch", stat.version);
    qr_pstate_t forged = st;
    forged.leader = 7;
    char *data = qr_znode_state_encode(&forged);
    qr_zk_multi_set(m, "/brokers/topics/fenced/partitions/0/state", data,
                    (int)strlen(data), -1);
    free(data);
    ck_assert_int_eq(qr_zk_sync_multi(zk, m, 5000, &res),
                     QUIRE_ERR_ZK_BAD_VERSION);
    ck_assert_int_eq(res.op_errs[0], ZBADVERSION);
    qr_zk_sres_free(&res);
    qr_zk_destroy(zk);
    ev_loop_destroy(loop);
    ck_assert(qt_wait_pstate(zh, "fenced", 0, NULL, NULL, &after, 1000));
    ck_assert_int_eq(after.leader, 1);

    /* coordd's controller is now stale too: its next write is refused, it
     * resigns and is elected again with an epoch past the forged one */
    qt_coordd_t d2;
    ck_assert(qt_coordd_start(&d2, connect_str, 2, "--no-controller"));
    ck_assert(qt_coordd_wait_event(&d2, "REGISTERED", 10000));
    create_topic("fenced2", "2");
    ck_assert_int_eq(wait_epoch(e + 11, 15000), e + 11);
    for (int p = 0; p < 2; p++) {
        int owner = replica_of("fenced2", p);
        ck_assert(qt_wait_pstate(zh, "fenced2", p, qt_leader_is, &owner, &after,
                                 10000));
        ck_assert_int_eq(after.controller_epoch, e + 11);
    }
    qt_coordd_stop(&d2, SIGTERM, 5000);
    qt_coordd_stop(&d, SIGTERM, 5000);
}
END_TEST

START_TEST(test_delete_topic)
{
    qt_coordd_t d1, d2;
    qt_run_result_t res;
    int one = 1;
    qr_pstate_t st;

    ck_assert(qt_coordd_start(&d1, connect_str, 1, NULL));
    ck_assert(qt_coordd_start(&d2, connect_str, 2, "--no-controller"));
    ck_assert(qt_coordd_wait_event(&d1, "REGISTERED", 10000));
    ck_assert(qt_coordd_wait_event(&d2, "REGISTERED", 10000));
    create_topic("doomed", "4");
    create_topic("kept", "1");
    for (int p = 0; p < 4; p++) {
        int owner = replica_of("doomed", p);
        ck_assert(
            qt_wait_pstate(zh, "doomed", p, qt_leader_is, &owner, &st, 10000));
    }
    ck_assert_int_eq(
        qt_topics(connect_str, &res, "--delete", "--topic", "doomed", NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out, "marked for deletion"));
    qt_run_free(&res);
    /* every replica's data is deleted by its broker, then the znodes go */
    ck_assert(qt_zk_wait_exists(zh, "/brokers/topics/doomed", false, 10000));
    ck_assert(
        qt_zk_wait_exists(zh, "/admin/delete_topics/doomed", false, 10000));
    ck_assert_int_eq(
        qt_zk_exists(zh, "/config/topics/doomed", NULL, false, 2000), ZNONODE);
    ck_assert_int_eq(qt_coordd_count_events(&d1, "DELETE doomed") +
                         qt_coordd_count_events(&d2, "DELETE doomed"),
                     4);
    ck_assert_int_eq(qt_coordd_count_events(&d1, "DELETE kept"), 0);
    ck_assert(qt_wait_pstate(zh, "kept", 0, NULL, NULL, &st, 1000));
    /* deleting an unknown topic fails, and writes nothing */
    ck_assert_int_eq(
        qt_topics(connect_str, &res, "--delete", "--topic", "doomed", NULL), 1);
    qt_run_free(&res);
    ck_assert_int_eq(
        qt_zk_exists(zh, "/admin/delete_topics/doomed", NULL, false, 2000),
        ZNONODE);
    /* a deletion waits for the broker of a dead replica to come back */
    create_topic("waits", "2");
    for (int p = 0; p < 2; p++) {
        int owner = replica_of("waits", p);
        ck_assert(
            qt_wait_pstate(zh, "waits", p, qt_leader_is, &owner, &st, 10000));
    }
    ck_assert_int_ne(replica_of("waits", 0), replica_of("waits", 1));
    qt_coordd_stop(&d2, SIGKILL, 5000);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/2", false, 10000));
    ck_assert_int_eq(
        qt_topics(connect_str, &res, "--delete", "--topic", "waits", NULL), 0);
    qt_run_free(&res);
    ck_assert(
        qt_zk_wait_exists(zh, "/admin/delete_topics/waits/1", true, 10000));
    qt_sleep_ms(1500); /* the controller must not finish without broker 2 */
    ck_assert_int_eq(
        qt_zk_exists(zh, "/brokers/topics/waits", NULL, false, 2000), ZOK);
    ck_assert(qt_coordd_start(&d2, connect_str, 2, "--no-controller"));
    ck_assert(qt_zk_wait_exists(zh, "/brokers/topics/waits", false, 15000));
    ck_assert(
        qt_zk_wait_exists(zh, "/admin/delete_topics/waits", false, 10000));
    ck_assert_int_eq(qt_coordd_count_events(&d2, "DELETE waits"), 1);
    (void)one;
    qt_coordd_stop(&d2, SIGTERM, 5000);
    qt_coordd_stop(&d1, SIGTERM, 5000);
}
END_TEST

static Suite *controller_suite(void)
{
    Suite *s = suite_create("coord_controller");
    TCase *tc = tcase_create("controller");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_election_failover);
    tcase_add_test(tc, test_leader_moves_and_back);
    tcase_add_test(tc, test_stale_write_refused);
    tcase_add_test(tc, test_delete_topic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env();
    SRunner *sr = srunner_create(controller_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
