/*
 * check_broker_failover: the controller's side of replication with three
 * real quire-broker processes (issue 16 items 5, 7, 9). A
 * replication-factor-3 topic (assignment written to ZooKeeper, as
 * quire-topics --replica-assignment would): kill -9 of a leader moves its
 * partitions to the next ISR member with leader_epoch + 1 and Metadata
 * shows the new leader and ISR; a leader's own ISR change, announced
 * through /isr_change_notification, reaches every broker's Metadata; with
 * every ISR member dead the partition is offline (leader -1, unclean
 * election off); SIGTERM moves leadership before the broker deregisters
 * (controlled.shutdown.enable), and without it only after.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_client.h"
#include "qt_repl.h"
#include "znode.h"

#define START_MS 30000
#define IO_MS    10000
#define WAIT_MS  20000

static qt_repl_t cl;

static void start_brokers(const char *extra)
{
    char props[512];

    snprintf(props, sizeof(props),
             "zookeeper.session.timeout.ms=2000\n"
             "controlled.shutdown.retry.backoff.ms=3000\n%s",
             extra ? extra : "");
    qt_repl_start(&cl, props);
}

static void teardown(void)
{
    qt_repl_stop(&cl);
}

static void create_rf3(const char *topic)
{
    qt_repl_create_topic(&cl, topic,
                         "\"0\":[1,2,3],\"1\":[2,3,1],\"2\":[3,1,2]");
}

typedef struct want {
    int leader;
    int isr[3];
    size_t n;
} want_t;

static bool read_state(const char *topic, int p, qr_pstate_t *st,
                       struct Stat *stat)
{
    return qt_repl_state(&cl, topic, p, st, stat);
}

static bool same(const qr_pstate_t *st, const want_t *w)
{
    if (st->leader != w->leader || st->isr_cnt != w->n)
        return false;
    for (size_t i = 0; i < w->n; i++)
        if (st->isr[i] != w->isr[i])
            return false;
    return true;
}

static void wait_state(const char *topic, int p, want_t w, qr_pstate_t *st,
                       struct Stat *stat)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;
    bool ok;

    while (!(ok = read_state(topic, p, st, stat) && same(st, &w)) &&
           qt_now_ms() < deadline)
        qt_sleep_ms(20);
    ck_assert_msg(ok, "%s-%d: want leader %d (%zu in ISR), have %d (%zu)",
                  topic, p, w.leader, w.n, st->leader, st->isr_cnt);
}

/* Metadata of @p topic-@p p from broker @p via until it says @p w. */
static void wait_metadata(qt_broker_t *via, const char *topic, int p, want_t w)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;
    qt_client_t *c = qt_client_connect(via->addr, IO_MS);
    const char *topics[1] = {topic};
    bool ok = false;

    ck_assert_ptr_nonnull(c);
    while (!ok && qt_now_ms() < deadline) {
        qr_req_t req = {0};
        qr_resp_t resp;
        req.api = QR_API_METADATA;
        req.u.metadata.topic_count = 1;
        req.u.metadata.topics = topics;
        ck_assert_int_eq(qt_client_call(c, &req, NULL, 0, &resp, IO_MS),
                         QUIRE_ERR_NONE);
        if (resp.u.metadata.topic_count == 1 &&
            resp.u.metadata.topics[0].partition_count > (size_t)p) {
            const qr_metadata_part_t *mp =
                &resp.u.metadata.topics[0].partitions[p];
            qr_pstate_t st = {.leader = mp->leader, .isr_cnt = mp->isr_count};
            for (size_t i = 0; i < mp->isr_count && i < 3; i++)
                st.isr[i] = mp->isr[i];
            ok = mp->isr_count <= 3 && same(&st, &w);
        }
        qr_wire_resp_free(&resp);
        if (!ok)
            qt_sleep_ms(50);
    }
    qt_client_close(c);
    ck_assert_msg(ok,
                  "Metadata of %s-%d from broker %d never showed leader "
                  "%d with %zu in the ISR",
                  topic, p, via->broker_id, w.leader, w.n);
}

/* kill -9 of broker 1: its partition goes to broker 2 (next in replica
 * order, in the ISR) with leader_epoch + 1, every ISR loses broker 1, and
 * Metadata says so. A leader's own ISR change reaches Metadata through the
 * view and /isr_change_notification. All ISR members of a partition dead:
 * leader -1, ISR kept. */
START_TEST(test_kill_leader)
{
    qr_pstate_t st, st0, after;
    struct Stat stat;
    char *data, *path;
    const char *note = "{\"version\":1,\"partitions\":[{\"topic\":\"rf3\","
                       "\"partition\":1}]}";

    start_brokers(NULL);
    create_rf3("rf3");
    wait_state("rf3", 0, (want_t){1, {1, 2, 3}, 3}, &st0, &stat);
    wait_metadata(cl.b[2], "rf3", 0, (want_t){1, {1, 2, 3}, 3});
    ck_assert_int_eq(qt_broker_kill(cl.b[0]), 0);
    wait_state("rf3", 0, (want_t){2, {2, 3}, 2}, &st, &stat);
    ck_assert_int_eq(st.leader_epoch, st0.leader_epoch + 1);
    wait_metadata(cl.b[2], "rf3", 0, (want_t){2, {2, 3}, 2});
    wait_metadata(cl.b[1], "rf3", 0, (want_t){2, {2, 3}, 2});
    wait_state("rf3", 2, (want_t){3, {3, 2}, 2}, &st, &stat);

    /* broker 2, leader of rf3-1, rewrites its ISR as a leader does (a
     * conditional set keeping leader and epochs, then a notification);
     * the order changes so that a replicating leader has no reason to
     * write it back */
    wait_state("rf3", 1, (want_t){2, {2, 3}, 2}, &st, &stat);
    st.isr[0] = 3;
    st.isr[1] = 2;
    data = qr_znode_state_encode(&st);
    path = qr_znode_state_path("rf3", 1);
    ck_assert_int_eq(qt_zk_set(cl.zh, path, data, (int)strlen(data),
                               stat.version, NULL, 2000),
                     ZOK);
    free(path);
    free(data);
    ck_assert_int_eq(qt_zk_create(cl.zh, QR_ZNODE_ISR_CHANGE_PREFIX, note,
                                  (int)strlen(note), ZOO_SEQUENCE, NULL, 2000),
                     ZOK);
    wait_metadata(cl.b[2], "rf3", 1, (want_t){2, {3, 2}, 2});
    ck_assert(qt_zk_wait_exists(
        cl.zh, QR_ZNODE_ISR_CHANGE "/isr_change_0000000000", false, WAIT_MS));
    ck_assert(read_state("rf3", 1, &after, &stat));
    ck_assert_int_eq(after.leader_epoch, st.leader_epoch); /* not the
                                                              controller's */

    /* every ISR member of off-0 dies (no other replica lives): offline,
     * the ISR kept, and broker 1 (back, not a replica) says so */
    ck_assert_int_eq(qt_broker_start(cl.b[0], START_MS), 0);
    qt_repl_create_topic(&cl, "off", "\"0\":[2,3]");
    wait_state("off", 0, (want_t){2, {2, 3}, 2}, &st, &stat);
    ck_assert_int_eq(qt_broker_kill(cl.b[1]), 0);
    wait_state("off", 0, (want_t){3, {3}, 1}, &st, &stat);
    ck_assert_int_eq(qt_broker_kill(cl.b[2]), 0);
    wait_state("off", 0, (want_t){-1, {3}, 1}, &after, &stat);
    ck_assert_int_eq(after.leader_epoch, st.leader_epoch + 1);
    wait_metadata(cl.b[0], "off", 0, (want_t){-1, {3}, 1});
}
END_TEST

/* Compares when the state last changed with when broker 1 deregistered
 * (/brokers/ids' pzxid: its last child change). */
static void shutdown_leader(bool controlled)
{
    qr_pstate_t st0, st;
    struct Stat stat, ids;

    start_brokers(controlled ? NULL : "controlled.shutdown.enable=false\n");
    create_rf3("cs");
    wait_state("cs", 0, (want_t){1, {1, 2, 3}, 3}, &st0, &stat);
    wait_state("cs", 1, (want_t){2, {2, 3, 1}, 3}, &st, &stat);
    wait_metadata(cl.b[0], "cs", 0, (want_t){1, {1, 2, 3}, 3});
    ck_assert_int_eq(qt_broker_stop(cl.b[0], WAIT_MS), 0);
    wait_state("cs", 0, (want_t){2, {2, 3}, 2}, &st, &stat);
    ck_assert_int_eq(st.leader_epoch, st0.leader_epoch + 1);
    ck_assert(qt_zk_wait_exists(cl.zh, "/brokers/ids/1", false, WAIT_MS));
    ck_assert_int_eq(qt_zk_exists(cl.zh, "/brokers/ids", &ids, false, 2000),
                     ZOK);
    if (controlled)
        ck_assert_msg(stat.mzxid < ids.pzxid,
                      "leadership moved after the broker deregistered");
    else
        ck_assert_int_gt(stat.mzxid, ids.pzxid);
    wait_state("cs", 1, (want_t){2, {2, 3}, 2}, &st, &stat);
    wait_metadata(cl.b[2], "cs", 0, (want_t){2, {2, 3}, 2});
}

START_TEST(test_controlled_shutdown)
{
    shutdown_leader(true);
}
END_TEST

/* The contrast: without controlled shutdown the move follows the
 * deregistration (so the test above tells them apart). */
START_TEST(test_uncontrolled_shutdown)
{
    shutdown_leader(false);
}
END_TEST

static Suite *failover_suite(void)
{
    Suite *s = suite_create("broker_failover");
    TCase *tc = tcase_create("failover");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_kill_leader);
    tcase_add_test(tc, test_controlled_shutdown);
    tcase_add_test(tc, test_uncontrolled_shutdown);
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
