/* check_coord_failover: the controller's side of replication (issue 16
 * items 5, 7, 8, 9) between coordd processes on a real ZooKeeper:
 * replication-factor-3 topics (assignments written to ZooKeeper directly),
 * a leader killed -9 replaced from the ISR in replica order with
 * leader_epoch + 1, dead followers dropped from ISRs, a partition with no
 * live ISR member kept offline (unclean election off) or given to a live
 * replica (the topic override on), /isr_change_notification handled (a
 * burst, and leftovers after a controller failover), controlled shutdown
 * moving leadership before the broker exits, and a controller paused past
 * its session (SIGSTOP, SIGCONT) changing nothing. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "qt_coord.h"
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

/* ---- helpers ---- */

/* Writes /brokers/topics/<topic> with @p json's partitions, as quire-topics
 * --replica-assignment would. */
static void create_assigned(const char *topic, const char *partitions)
{
    char path[256], data[512];

    snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
    snprintf(data, sizeof(data), "{\"version\":1,\"partitions\":{%s}}",
             partitions);
    ck_assert_int_eq(qt_zk_create_all(zh, path, data, (int)strlen(data), 5000),
                     ZOK);
}

/* A state: leader and exact ISR. */
typedef struct want {
    int leader;
    int isr[8];
    size_t n;
} want_t;

static bool is_state(const qr_pstate_t *st, void *arg)
{
    const want_t *w = arg;

    if (st->leader != w->leader || st->isr_cnt != w->n)
        return false;
    for (size_t i = 0; i < w->n; i++)
        if (st->isr[i] != w->isr[i])
            return false;
    return true;
}

static void wait_state(const char *topic, int p, const want_t *w,
                       qr_pstate_t *st, int timeout_ms)
{
    bool ok = qt_wait_pstate(zh, topic, p, is_state, (void *)w, st, timeout_ms);

    ck_assert_msg(ok,
                  "%s-%d: want leader %d isr_cnt %zu, have leader %d "
                  "isr_cnt %zu (isr[0] %d)",
                  topic, p, w->leader, w->n, st->leader, st->isr_cnt,
                  st->isr[0]);
}

static int controller_epoch(void)
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

static void wait_controller(int id, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;

    while (controller_id() != id && qt_now_ms() < deadline)
        qt_sleep_ms(20);
    ck_assert_int_eq(controller_id(), id);
}

static void start(qt_coordd_t *d, int id, const char *extra)
{
    char path[64];

    ck_assert(qt_coordd_start(d, connect_str, id, extra));
    snprintf(path, sizeof(path), "/brokers/ids/%d", id);
    ck_assert_msg(qt_zk_wait_exists(zh, path, true, 10000),
                  "broker %d did not register", id);
}

static int children_count(const char *path)
{
    struct String_vector sv;
    int n;

    if (qt_zk_children(zh, path, &sv, false, 2000) != ZOK)
        return -1;
    n = sv.count;
    deallocate_String_vector(&sv);
    return n;
}

static bool wait_children(const char *path, int n, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;

    do {
        if (children_count(path) == n)
            return true;
        qt_sleep_ms(20);
    } while (qt_now_ms() < deadline);
    return false;
}

/* The state znode's version (its write count). */
static int state_version(const char *topic, int p)
{
    char *path = qr_znode_state_path(topic, p);
    struct Stat stat;
    int rc = qt_zk_exists(zh, path, &stat, false, 2000);

    free(path);
    return rc == ZOK ? stat.version : -1;
}

/* Three brokers 1..3 and a controller-only coordd 9 (no replicas), so the
 * controller never dies with a leader in these tests. */
static void start_cluster(qt_coordd_t *ctl, qt_coordd_t b[3], const char *ex)
{
    start(ctl, 9, NULL);
    wait_controller(9, 10000);
    for (int i = 0; i < 3; i++)
        start(&b[i], i + 1, ex ? ex : "--no-controller");
}

static void stop_all(qt_coordd_t *ctl, qt_coordd_t b[3])
{
    for (int i = 0; i < 3; i++)
        qt_coordd_stop(&b[i], SIGKILL, 5000);
    qt_coordd_stop(ctl, SIGTERM, 5000);
}

/* ---- tests ---- */

/* kill -9 a leader: its partitions go to the first live ISR member in
 * replica order with leader_epoch + 1 and the controller's epoch; every
 * ISR loses it. It returns outside the ISR: nothing moves back. */
START_TEST(test_leader_killed)
{
    qt_coordd_t ctl, b[3];
    qr_pstate_t st0, st1, st2, st;

    start_cluster(&ctl, b, NULL);
    create_assigned("fo", "\"0\":[1,2,3],\"1\":[2,3,1],\"2\":[3,1,2]");
    wait_state("fo", 0, &(want_t){1, {1, 2, 3}, 3}, &st0, 10000);
    wait_state("fo", 1, &(want_t){2, {2, 3, 1}, 3}, &st1, 10000);
    wait_state("fo", 2, &(want_t){3, {3, 1, 2}, 3}, &st2, 10000);
    ck_assert(qt_coordd_wait_event(&b[0], "OPEN fo 0", 5000));

    ck_assert_int_eq(qt_coordd_stop(&b[0], SIGKILL, 5000), 128 + SIGKILL);
    wait_state("fo", 0, &(want_t){2, {2, 3}, 2}, &st, 15000);
    ck_assert_int_eq(st.leader_epoch, st0.leader_epoch + 1);
    ck_assert_int_eq(st.controller_epoch, controller_epoch());
    ck_assert(qt_coordd_wait_event(&b[1], "OPEN fo 0", 5000));
    /* followers' partitions: same leader, ISR without 1, epoch + 1 */
    wait_state("fo", 1, &(want_t){2, {2, 3}, 2}, &st, 5000);
    ck_assert_int_eq(st.leader_epoch, st1.leader_epoch + 1);
    wait_state("fo", 2, &(want_t){3, {3, 2}, 2}, &st, 5000);
    ck_assert_int_eq(st.leader_epoch, st2.leader_epoch + 1);

    /* broker 1 returns: not in any ISR, so it leads nothing */
    int v0 = state_version("fo", 0);
    start(&b[0], 1, "--no-controller");
    qt_sleep_ms(1500); /* a wrong election would have happened by now */
    ck_assert_int_eq(state_version("fo", 0), v0);
    ck_assert_int_eq(qt_coordd_count_events(&b[0], "OPEN fo"), 0);
    stop_all(&ctl, b);
}
END_TEST

/* No live ISR member: leader -1 with the ISR kept; a returning replica
 * outside the ISR does not lead; the topic's unclean override lets it. */
START_TEST(test_offline_then_unclean)
{
    qt_coordd_t ctl, b[3];
    qr_pstate_t st, off;
    char cfg[] = "{\"version\":1,\"config\":{\"unclean.leader.election."
                 "enable\":\"true\"}}";

    start_cluster(&ctl, b, NULL);
    create_assigned("off", "\"0\":[1,2,3]");
    wait_state("off", 0, &(want_t){1, {1, 2, 3}, 3}, &st, 10000);
    /* the followers die first: the ISR shrinks to the leader */
    qt_coordd_stop(&b[1], SIGKILL, 5000);
    qt_coordd_stop(&b[2], SIGKILL, 5000);
    wait_state("off", 0, &(want_t){1, {1}, 1}, &st, 15000);
    /* then the leader: offline, the ISR kept, epoch + 1 */
    qt_coordd_stop(&b[0], SIGKILL, 5000);
    wait_state("off", 0, &(want_t){-1, {1}, 1}, &off, 15000);
    ck_assert_int_eq(off.leader_epoch, st.leader_epoch + 1);
    /* broker 2 returns (not in the ISR): still offline */
    start(&b[1], 2, "--no-controller");
    qt_sleep_ms(1500);
    ck_assert(qt_wait_pstate(zh, "off", 0, NULL, NULL, &st, 1000));
    ck_assert_int_eq(st.leader, -1);
    ck_assert_int_eq(st.leader_epoch, off.leader_epoch);
    /* the topic override allows an unclean election: 2 leads alone */
    ck_assert_int_eq(
        qt_zk_create_all(zh, "/config/topics/off", cfg, (int)strlen(cfg), 5000),
        ZOK);
    wait_state("off", 0, &(want_t){2, {2}, 1}, &st, 15000);
    ck_assert_int_eq(st.leader_epoch, off.leader_epoch + 1);
    ck_assert(qt_coordd_wait_event(&b[1], "OPEN off 0", 5000));
    stop_all(&ctl, b);
}
END_TEST

/* The broker key: a controller started with unclean election on elects a
 * live replica outside the ISR at once. */
START_TEST(test_unclean_broker_key)
{
    qt_coordd_t ctl, b[3];
    qr_pstate_t st;

    start(&ctl, 9, "--unclean");
    wait_controller(9, 10000);
    for (int i = 0; i < 3; i++)
        start(&b[i], i + 1, "--no-controller");
    create_assigned("unc", "\"0\":[1,2,3]");
    wait_state("unc", 0, &(want_t){1, {1, 2, 3}, 3}, &st, 10000);
    qt_coordd_stop(&b[2], SIGKILL, 5000);
    wait_state("unc", 0, &(want_t){1, {1, 2}, 2}, &st, 15000);
    /* 3 comes back outside the ISR, then both ISR members die */
    start(&b[2], 3, "--no-controller");
    qt_coordd_stop(&b[0], SIGKILL, 5000);
    qt_coordd_stop(&b[1], SIGKILL, 5000);
    wait_state("unc", 0, &(want_t){3, {3}, 1}, &st, 15000);
    stop_all(&ctl, b);
}
END_TEST

/* A leader's ISR change and its notification: the controller deletes
 * every notification of a burst, malformed ones too, and the leftovers of
 * a controller that died before handling them. */
START_TEST(test_isr_notifications)
{
    qt_coordd_t ctl, ctl2, b[3];
    qr_pstate_t st;
    const char *note = "{\"version\":1,\"partitions\":[{\"topic\":\"isr\","
                       "\"partition\":0}]}";
    char *state_path = qr_znode_state_path("isr", 0), *data;
    struct Stat stat;

    start_cluster(&ctl, b, NULL);
    create_assigned("isr", "\"0\":[1,2,3]");
    wait_state("isr", 0, &(want_t){1, {1, 2, 3}, 3}, &st, 10000);
    /* the leader shrinks its ISR as repl-leader does: a conditional set
     * keeping leader and epochs, then a notification */
    ck_assert_int_eq(qt_zk_exists(zh, state_path, &stat, false, 2000), ZOK);
    st.isr_cnt = 2;
    data = qr_znode_state_encode(&st);
    ck_assert_int_eq(qt_zk_set(zh, state_path, data, (int)strlen(data),
                               stat.version, NULL, 2000),
                     ZOK);
    free(data);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(qt_zk_create(zh, QR_ZNODE_ISR_CHANGE_PREFIX, note,
                                      (int)strlen(note), ZOO_SEQUENCE, NULL,
                                      2000),
                         ZOK);
    ck_assert_int_eq(qt_zk_create(zh, QR_ZNODE_ISR_CHANGE_PREFIX, "{", 1,
                                  ZOO_SEQUENCE, NULL, 2000),
                     ZOK);
    ck_assert(wait_children(QR_ZNODE_ISR_CHANGE, 0, 10000));
    /* the controller took the leader's ISR as it is: no rewrite */
    ck_assert(qt_wait_pstate(zh, "isr", 0, NULL, NULL, &st, 1000));
    ck_assert_uint_eq(st.isr_cnt, 2);
    ck_assert_int_eq(state_version("isr", 0), stat.version + 1);

    /* no controller: notifications wait; the next controller takes them */
    qt_coordd_stop(&ctl, SIGKILL, 5000);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(qt_zk_create(zh, QR_ZNODE_ISR_CHANGE_PREFIX, note,
                                      (int)strlen(note), ZOO_SEQUENCE, NULL,
                                      2000),
                         ZOK);
    ck_assert_int_eq(children_count(QR_ZNODE_ISR_CHANGE), 5);
    start(&ctl2, 8, NULL);
    wait_controller(8, 15000);
    ck_assert(wait_children(QR_ZNODE_ISR_CHANGE, 0, 10000));
    free(state_path);
    qt_coordd_stop(&ctl2, SIGTERM, 5000);
    for (int i = 0; i < 3; i++)
        qt_coordd_stop(&b[i], SIGKILL, 5000);
}
END_TEST

/* Controlled shutdown: broker 1 asks, the controller moves each of its
 * leaderships to another ISR member (epoch + 1) and drops it from ISRs;
 * only then does the broker report and exit. A partition with one replica
 * does not hold it back. */
START_TEST(test_controlled_shutdown)
{
    qt_coordd_t ctl, b[3];
    qr_pstate_t st0, st1, st;

    start(&ctl, 9, NULL);
    wait_controller(9, 10000);
    start(&b[0], 1, "--controlled-shutdown=3:5000");
    start(&b[1], 2, "--no-controller");
    start(&b[2], 3, "--no-controller");
    create_assigned("cs", "\"0\":[1,2,3],\"1\":[2,1,3],\"2\":[1]");
    wait_state("cs", 0, &(want_t){1, {1, 2, 3}, 3}, &st0, 10000);
    wait_state("cs", 1, &(want_t){2, {2, 1, 3}, 3}, &st1, 10000);
    wait_state("cs", 2, &(want_t){1, {1}, 1}, &st, 10000);
    ck_assert(qt_coordd_wait_event(&b[0], "OPEN cs 0", 5000));

    kill(b[0].pid, SIGTERM);
    ck_assert(qt_coordd_wait_event(&b[0], "SHUTDOWN", 10000));
    /* when it reported, its leadership had moved: check before it exits
     * could matter, so read while it may still be registered */
    ck_assert_int_eq(qt_coordd_count_events(&b[0], "SHUTDOWN 1"), 1);
    ck_assert(qt_wait_pstate(zh, "cs", 0, NULL, NULL, &st, 1000));
    ck_assert_int_eq(st.leader, 2);
    ck_assert_int_eq(st.leader_epoch, st0.leader_epoch + 1);
    ck_assert_int_eq(qt_coordd_wait_exit(&b[0], 10000), 0);
    wait_state("cs", 0, &(want_t){2, {2, 3}, 2}, &st, 5000);
    ck_assert_int_eq(st.leader_epoch, st0.leader_epoch + 1); /* one write */
    wait_state("cs", 1, &(want_t){2, {2, 3}, 2}, &st, 5000);
    ck_assert_int_eq(st.leader_epoch, st1.leader_epoch + 1);
    ck_assert(qt_coordd_wait_event(&b[1], "OPEN cs 0", 5000));
    /* the single-replica partition goes offline only now, as it died */
    wait_state("cs", 2, &(want_t){-1, {1}, 1}, &st, 10000);
    stop_all(&ctl, b);
}
END_TEST

/* A controller shutting itself down moves its own leaderships too; with no
 * other replica alive the shutdown does not wait. */
START_TEST(test_controlled_shutdown_controller)
{
    qt_coordd_t b[3];
    qr_pstate_t st0, st;

    start(&b[0], 1, "--controlled-shutdown=3:5000");
    wait_controller(1, 10000);
    start(&b[1], 2, "--no-controller");
    start(&b[2], 3, "--controlled-shutdown=2:500");
    create_assigned("csc", "\"0\":[1,2],\"1\":[3,2]");
    wait_state("csc", 0, &(want_t){1, {1, 2}, 2}, &st0, 10000);
    wait_state("csc", 1, &(want_t){3, {3, 2}, 2}, &st, 10000);
    kill(b[0].pid, SIGTERM);
    ck_assert(qt_coordd_wait_event(&b[0], "SHUTDOWN 1", 10000));
    ck_assert_int_eq(qt_coordd_wait_exit(&b[0], 10000), 0);
    wait_state("csc", 0, &(want_t){2, {2}, 1}, &st, 5000);
    ck_assert_int_eq(st.leader_epoch, st0.leader_epoch + 1);
    /* broker 2 dies; 3 leads csc-1 with nowhere to go: it stops at once
     * ("SHUTDOWN 1": nothing that could move) */
    qt_coordd_stop(&b[1], SIGKILL, 5000);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/2", false, 10000));
    wait_state("csc", 1, &(want_t){3, {3}, 1}, &st, 10000);
    kill(b[2].pid, SIGTERM);
    ck_assert(qt_coordd_wait_event(&b[2], "SHUTDOWN 1", 5000));
    ck_assert_int_eq(qt_coordd_wait_exit(&b[2], 10000), 0);
}
END_TEST

/* A controller paused past its session (SIGSTOP) is replaced; once resumed
 * (SIGCONT) it changes nothing: every state keeps its version and the
 * epoch of the controller that last wrote it. */
START_TEST(test_zombie_controller)
{
    qt_coordd_t b[3];
    qr_pstate_t st;
    int e1, e2, v[3];

    start(&b[0], 1, NULL);
    wait_controller(1, 10000);
    e1 = controller_epoch();
    start(&b[1], 2, NULL);
    start(&b[2], 3, "--no-controller");
    create_assigned("zc", "\"0\":[2,3,1],\"1\":[3,2,1],\"2\":[3,2]");
    wait_state("zc", 0, &(want_t){2, {2, 3, 1}, 3}, &st, 10000);
    wait_state("zc", 2, &(want_t){3, {3, 2}, 2}, &st, 10000);

    kill(b[0].pid, SIGSTOP);
    wait_controller(2, 15000); /* after the 2 s session of broker 1 */
    /* the winner writes /controller_epoch just after /controller */
    for (int64_t d = qt_now_ms() + 5000;
         (e2 = controller_epoch()) <= e1 && qt_now_ms() < d;)
        qt_sleep_ms(20);
    ck_assert_int_gt(e2, e1);
    /* the new controller drops the paused broker from the ISRs */
    wait_state("zc", 0, &(want_t){2, {2, 3}, 2}, &st, 10000);
    ck_assert_int_eq(st.controller_epoch, e2);
    wait_state("zc", 1, &(want_t){3, {3, 2}, 2}, &st, 10000);
    for (int p = 0; p < 3; p++)
        v[p] = state_version("zc", p);

    kill(b[0].pid, SIGCONT);
    ck_assert(qt_coordd_wait_event(&b[0], "SESSION_LOST", 10000));
    ck_assert(qt_coordd_wait_event(&b[0], "REGISTERED", 10000));
    qt_sleep_ms(1500); /* a stale write would have landed by now */
    ck_assert_int_eq(controller_id(), 2);
    ck_assert_int_eq(controller_epoch(), e2);
    for (int p = 0; p < 3; p++) {
        ck_assert_int_eq(state_version("zc", p), v[p]);
        ck_assert(qt_wait_pstate(zh, "zc", p, NULL, NULL, &st, 1000));
        /* zc-2 never involved broker 1: the first controller's write */
        ck_assert_int_eq(st.controller_epoch, p < 2 ? e2 : e1);
    }
    /* it came back outside the ISRs: it leads nothing */
    ck_assert_int_eq(qt_coordd_count_events(&b[0], "OPEN"), 0);
    for (int i = 0; i < 3; i++)
        qt_coordd_stop(&b[i], SIGTERM, 5000);
}
END_TEST

static Suite *failover_suite(void)
{
    Suite *s = suite_create("coord_failover");
    TCase *tc = tcase_create("failover");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_leader_killed);
    tcase_add_test(tc, test_offline_then_unclean);
    tcase_add_test(tc, test_unclean_broker_key);
    tcase_add_test(tc, test_isr_notifications);
    tcase_add_test(tc, test_controlled_shutdown);
    tcase_add_test(tc, test_controlled_shutdown_controller);
    tcase_add_test(tc, test_zombie_controller);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    qt_zk_env(); /* exits 99 without a ZooKeeper */
    sr = srunner_create(failover_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
