/*
 * check_repl_leader: the leader's side of replication (issue 16) against
 * one real quire-broker (id 1) and the harness's real ZooKeeper. The
 * partition's replicas are [1, 2]; broker 2 is played by the test: it
 * registers /brokers/ids/2 itself (so the controller puts it in the ISR)
 * and sends the follower Fetches (replica_id 2) a follower would.
 *
 * What is checked: the high watermark moves only when the follower's
 * fetches say it has the records (and has synced them: write caching is
 * off by default); consumers and ListOffsets see only up to it while the
 * follower reads to the log end; acks=all waits for the follower;
 * min.insync.replicas refuses before the append and fails after it when
 * the ISR shrinks under a waiting request; the shrink after
 * replica.lag.time.max.ms and the expansion when the follower catches up
 * are written to the state znode with an isr_change notification; a
 * broker not in the replica list is refused; the leader epoch fences; a
 * leader replaced in ZooKeeper acknowledges nothing more. Nothing is
 * timed: waits have deadlines, assertions are about answers and znodes.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_client.h"
#include "qt_records.h"
#include "qt_zk.h"

#define START_MS 30000
#define IO_MS    20000
#define ZK_MS    10000
#define LAG_MS   1500 /* replica.lag.time.max.ms of the broker */
#define WAIT_MS  30000

typedef struct fixture {
    char *chroot;
    zhandle_t *zh;
    qt_broker_t *b;
    qt_client_t *c; /* producer and consumer */
    qt_client_t *f; /* the follower, broker 2 */
    qt_client_t *q; /* ListOffsets and consumer fetches */
    char topic[64];
    char state[160];
} fixture_t;

/* ---- ZooKeeper ---- */

static int32_t state_epoch(fixture_t *fx, int32_t *isr, size_t *isr_cnt,
                           int32_t *leader)
{
    char *data = NULL, *p;
    int32_t epoch = -1;

    ck_assert_int_eq(
        qt_zk_get(fx->zh, fx->state, &data, NULL, NULL, false, ZK_MS), ZOK);
    p = strstr(data, "\"leader_epoch\":");
    ck_assert_ptr_nonnull(p);
    epoch = atoi(p + strlen("\"leader_epoch\":"));
    p = strstr(data, "\"leader\":");
    ck_assert_ptr_nonnull(p);
    *leader = atoi(p + strlen("\"leader\":"));
    p = strstr(data, "\"isr\":[");
    ck_assert_ptr_nonnull(p);
    p += strlen("\"isr\":[");
    *isr_cnt = 0;
    while (*p && *p != ']') {
        isr[(*isr_cnt)++] = (int32_t)strtol(p, &p, 10);
        if (*p == ',')
            p++;
    }
    free(data);
    return epoch;
}

/* Waits until the state znode's ISR has @p want members (deadline). */
static void wait_isr(fixture_t *fx, size_t want)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;
    int32_t isr[16], leader;
    size_t n = 0;

    while (qt_now_ms() < deadline) {
        (void)state_epoch(fx, isr, &n, &leader);
        if (n == want)
            return;
        qt_sleep_ms(50);
    }
    ck_abort_msg("ISR of %s never had %zu members (has %zu)", fx->topic, want,
                 n);
}

/* How many notifications were ever created under /isr_change_notification:
 * the controller (this broker) deletes them once read, so the count is the
 * parent's child version, which every create and delete moves. */
static size_t isr_notifications(fixture_t *fx)
{
    struct Stat st;
    char *data = NULL;
    int len = 0;

    if (qt_zk_get(fx->zh, "/isr_change_notification", &data, &len, &st, false,
                  ZK_MS) != ZOK)
        return 0;
    free(data);
    return (size_t)st.cversion;
}

/* Waits until /isr_change_notification changed children since @p notes:
 * the leader creates its notification after its conditional state write,
 * so the state may show the new ISR a moment before. */
static void wait_notified(fixture_t *fx, size_t notes)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;

    while (isr_notifications(fx) <= notes && qt_now_ms() < deadline)
        qt_sleep_ms(20);
    ck_assert_uint_gt(isr_notifications(fx), notes);
}

/* ---- requests ---- */

/* A follower Fetch of partition 0 by broker @p replica. */
static quire_err_t follower_fetch(qt_client_t *f, const char *topic,
                                  int32_t replica, int64_t offset,
                                  int64_t synced, int32_t epoch, int64_t *hw,
                                  uint32_t *bytes)
{
    qr_fetch_part_t fp = {0, offset, 1 << 20, epoch, synced};
    qr_fetch_topic_t t = {topic, 1, &fp};
    qr_req_t req = {0};
    qr_resp_t resp;
    quire_err_t err;

    req.api = QR_API_FETCH;
    req.client_id = "follower";
    req.u.fetch.replica_id = replica;
    req.u.fetch.max_wait_ms = 0;
    req.u.fetch.max_bytes = 1 << 20;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = &t;
    ck_assert_int_eq(qt_client_call(f, &req, NULL, 0, &resp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.error_code, QUIRE_ERR_NONE);
    err = resp.u.fetch.topics[0].partitions[0].error_code;
    if (hw)
        *hw = resp.u.fetch.topics[0].partitions[0].high_watermark;
    if (bytes)
        *bytes = resp.u.fetch.topics[0].partitions[0].records_length;
    qr_wire_resp_free(&resp);
    return err;
}

/* Sends an acks=all produce of @p n records; returns its correlation id. */
static int32_t send_all(qt_client_t *c, const char *topic, int n, int first,
                        int timeout_ms)
{
    uint8_t buf[8192];
    size_t len = qt_batch(buf, sizeof(buf), n, "r", first);
    qr_produce_part_t part = {0, (uint32_t)len, NULL};
    qr_produce_topic_t t = {topic, 1, &part};
    qr_req_t req = {0};
    int32_t cid;

    req.api = QR_API_PRODUCE;
    req.client_id = "acks-all";
    req.u.produce.acks = -1;
    req.u.produce.timeout_ms = timeout_ms;
    req.u.produce.topic_count = 1;
    req.u.produce.topics = &t;
    cid = qt_client_send(c, &req, buf, len);
    ck_assert_int_ge(cid, 0);
    return cid;
}

static quire_err_t recv_produce(qt_client_t *c, int32_t cid, int64_t *base)
{
    qr_resp_t resp;
    quire_err_t err;

    ck_assert_int_eq(qt_client_recv(c, &resp, WAIT_MS), QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.correlation_id, cid);
    err = resp.u.produce.topics[0].partitions[0].error_code;
    if (base)
        *base = resp.u.produce.topics[0].partitions[0].base_offset;
    qr_wire_resp_free(&resp);
    return err;
}

static quire_err_t produce(qt_client_t *c, const char *topic, int acks, int n,
                           int first, int64_t *base)
{
    uint8_t buf[8192];
    size_t len = qt_batch(buf, sizeof(buf), n, "r", first);

    return qt_produce(c, topic, 0, acks, buf, len, base, IO_MS);
}

static int64_t latest(fixture_t *fx)
{
    int64_t off;

    ck_assert_int_eq(
        qt_list_offset(fx->q, fx->topic, 0, QR_OFFSET_LATEST, &off, IO_MS),
        QUIRE_ERR_NONE);
    return off;
}

/* Records a consumer reads from offset 0. */
static uint32_t consumer_bytes(fixture_t *fx)
{
    qr_resp_t resp;
    const qr_fetch_part_resp_t *fp;
    uint32_t n;

    ck_assert_int_eq(qt_fetch(fx->q, fx->topic, 0, 0, 0, 0, 1 << 20, 1 << 20,
                              &resp, &fp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(fp->error_code, QUIRE_ERR_NONE);
    n = fp->records_length;
    qr_wire_resp_free(&resp);
    return n;
}

/* ---- set-up ---- */

/* Broker 1 running, broker 2 registered by the test, the topic with
 * replicas [1,2] (and @p config overrides, JSON or NULL) led by 1 with
 * ISR [1,2]. */
static void start(fixture_t *fx, const char *config)
{
    char extra[256], path[160], json[256];
    int32_t isr[16], leader;
    size_t n;

    memset(fx, 0, sizeof(*fx));
    fx->chroot = qt_zk_chroot_new(qt_zk_env(), ZK_MS);
    ck_assert_ptr_nonnull(fx->chroot);
    snprintf(extra, sizeof(extra),
             "replica.lag.time.max.ms=%d\nauto.create.topics.enable=false\n",
             LAG_MS);
    fx->b = qt_broker_new(1, fx->chroot, extra);
    ck_assert_ptr_nonnull(fx->b);
    ck_assert_int_eq(qt_broker_start(fx->b, START_MS), 0);
    fx->zh = qt_zk_connect(fx->chroot, ZK_MS);
    ck_assert_ptr_nonnull(fx->zh);
    snprintf(json, sizeof(json),
             "{\"version\":1,\"host\":\"127.0.0.1\",\"port\":%d,"
             "\"timestamp\":\"0\",\"jmx_port\":-1}",
             qt_free_port());
    ck_assert_int_eq(qt_zk_create(fx->zh, "/brokers/ids/2", json,
                                  (int)strlen(json), ZOO_EPHEMERAL, NULL,
                                  ZK_MS),
                     ZOK);
    snprintf(fx->topic, sizeof(fx->topic), "repl-%d", (int)getpid());
    if (config) {
        snprintf(path, sizeof(path), "/config/topics/%s", fx->topic);
        ck_assert_int_eq(
            qt_zk_create_all(fx->zh, path, config, (int)strlen(config), ZK_MS),
            ZOK);
    }
    snprintf(path, sizeof(path), "/brokers/topics/%s", fx->topic);
    snprintf(json, sizeof(json),
             "{\"version\":1,\"partitions\":{\"0\":[1,2]}}");
    ck_assert_int_eq(
        qt_zk_create(fx->zh, path, json, (int)strlen(json), 0, NULL, ZK_MS),
        ZOK);
    snprintf(fx->state, sizeof(fx->state),
             "/brokers/topics/%s/partitions/0/state", fx->topic);
    ck_assert(qt_zk_wait_exists(fx->zh, fx->state, true, WAIT_MS));
    (void)state_epoch(fx, isr, &n, &leader);
    ck_assert_int_eq(leader, 1);
    ck_assert_uint_eq(n, 2);
    fx->c = qt_client_connect(fx->b->addr, IO_MS);
    ck_assert_ptr_nonnull(fx->c);
    ck_assert_int_eq(qt_wait_topic(fx->c, fx->topic, 1, WAIT_MS), 0);
    fx->f = qt_client_connect(fx->b->addr, IO_MS);
    ck_assert_ptr_nonnull(fx->f);
    fx->q = qt_client_connect(fx->b->addr, IO_MS);
    ck_assert_ptr_nonnull(fx->q);
}

static void stop(fixture_t *fx)
{
    qt_client_close(fx->c);
    qt_client_close(fx->f);
    qt_client_close(fx->q);
    /* a clean exit: nothing leaked or used after free (sanitizers) */
    ck_assert_int_eq(qt_broker_stop(fx->b, 30000), 0);
    qt_broker_destroy(fx->b);
    qt_zk_close(fx->zh);
    free(fx->chroot);
}

/* ---- tests ---- */

/* Waits until ListOffsets latest (the HW) is @p want: the leader syncs
 * in the background (write caching off), so its own part of the HW
 * arrives a little after the follower's. */
static void wait_latest(fixture_t *fx, int64_t want)
{
    int64_t deadline = qt_now_ms() + WAIT_MS, got = -1;

    while (qt_now_ms() < deadline) {
        got = latest(fx);
        if (got == want)
            return;
        ck_assert_int_lt(got, want);
        qt_sleep_ms(10);
    }
    ck_abort_msg("HW of %s never reached %lld (%lld)", fx->topic,
                 (long long)want, (long long)got);
}

/* Fetches as the follower at @p offset until records come (they are
 * appended by a request in flight). */
static void follower_wait_records(fixture_t *fx, int64_t offset, int32_t epoch)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;
    uint32_t bytes = 0;

    while (qt_now_ms() < deadline) {
        quire_err_t err = follower_fetch(fx->f, fx->topic, 2, offset, offset,
                                         epoch, NULL, &bytes);
        if (err == QUIRE_ERR_NONE && bytes > 0)
            return;
        ck_assert(err == QUIRE_ERR_NONE ||
                  err == QUIRE_ERR_OFFSET_OUT_OF_RANGE);
        qt_sleep_ms(10);
    }
    ck_abort_msg("no records at %lld", (long long)offset);
}

/* The HW moves only with the follower's fetches; consumers and ListOffsets
 * see up to it; the follower reads past it; acks=all waits for it. */
START_TEST(test_hw_and_acks_all)
{
    fixture_t fx;
    int64_t base, hw;
    uint32_t bytes;
    int32_t cid, isr[16], leader;
    size_t n;
    int32_t epoch;

    start(&fx, NULL);
    epoch = state_epoch(&fx, isr, &n, &leader);
    ck_assert_int_eq(produce(fx.c, fx.topic, 1, 5, 0, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 0);
    /* acks=all cannot be answered before the follower has the records:
     * timeout_ms 0 times out, deterministically */
    cid = send_all(fx.c, fx.topic, 5, 5, 0);
    ck_assert_int_eq(recv_produce(fx.c, cid, &base),
                     QUIRE_ERR_REQUEST_TIMED_OUT);
    /* nothing fetched by the follower: the HW stays at 0 */
    ck_assert_int_eq(latest(&fx), 0);
    ck_assert_uint_eq(consumer_bytes(&fx), 0);
    /* the follower reads up to the log end, past the HW */
    ck_assert_int_eq(
        follower_fetch(fx.f, fx.topic, 2, 0, -1, epoch, &hw, &bytes),
        QUIRE_ERR_NONE);
    ck_assert_uint_gt(bytes, 0);
    ck_assert_int_eq(hw, 0);
    ck_assert_int_eq(latest(&fx), 0); /* nothing synced reported */
    /* it has 10 but synced only 5: the HW goes to 5, not further */
    ck_assert_int_eq(
        follower_fetch(fx.f, fx.topic, 2, 10, 5, epoch, &hw, &bytes),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(bytes, 0);
    wait_latest(&fx, 5);
    ck_assert_uint_gt(consumer_bytes(&fx), 0);
    ck_assert_int_eq(
        follower_fetch(fx.f, fx.topic, 2, 10, 10, epoch, &hw, NULL),
        QUIRE_ERR_NONE);
    wait_latest(&fx, 10);
    ck_assert_int_eq(
        follower_fetch(fx.f, fx.topic, 2, 10, 10, epoch, &hw, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(hw, 10); /* the answer carries the leader's HW */
    /* acks=all is answered once the follower has fetched and synced it */
    cid = send_all(fx.c, fx.topic, 5, 10, IO_MS);
    follower_wait_records(&fx, 10, epoch);
    ck_assert_int_eq(latest(&fx), 10);
    ck_assert_int_eq(
        follower_fetch(fx.f, fx.topic, 2, 15, 15, epoch, &hw, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(recv_produce(fx.c, cid, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 10);
    ck_assert_int_eq(latest(&fx), 15);
    /* a follower that truncates does not pull the HW back */
    ck_assert_int_eq(follower_fetch(fx.f, fx.topic, 2, 3, 3, epoch, &hw, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(latest(&fx), 15);
    stop(&fx);
}
END_TEST

/* A broker outside the replica list is refused; the leader epoch fences
 * stale and future senders. */
START_TEST(test_refusals)
{
    fixture_t fx;
    int32_t isr[16], leader, epoch;
    size_t n;
    char json[256];

    start(&fx, NULL);
    epoch = state_epoch(&fx, isr, &n, &leader);
    ck_assert_int_eq(follower_fetch(fx.f, fx.topic, 3, 0, 0, epoch, NULL, NULL),
                     QUIRE_ERR_REPLICA_NOT_AVAILABLE);
    ck_assert_int_eq(follower_fetch(fx.f, fx.topic, 3, 0, 0, -1, NULL, NULL),
                     QUIRE_ERR_REPLICA_NOT_AVAILABLE);
    ck_assert_int_eq(
        follower_fetch(fx.f, fx.topic, 2, 0, 0, epoch + 1, NULL, NULL),
        QUIRE_ERR_UNKNOWN_LEADER_EPOCH);
    /* a new epoch with the same leader (as the controller writes on a
     * re-election): the old one is fenced */
    snprintf(json, sizeof(json),
             "{\"controller_epoch\":1,\"leader\":1,\"version\":1,"
             "\"leader_epoch\":%d,\"isr\":[1,2]}",
             epoch + 1);
    ck_assert_int_eq(
        qt_zk_set(fx.zh, fx.state, json, (int)strlen(json), -1, NULL, ZK_MS),
        ZOK);
    for (int i = 0; i < 1000; i++) {
        if (follower_fetch(fx.f, fx.topic, 2, 0, 0, epoch + 1, NULL, NULL) ==
            QUIRE_ERR_NONE)
            break;
        qt_sleep_ms(10);
    }
    ck_assert_int_eq(
        follower_fetch(fx.f, fx.topic, 2, 0, 0, epoch + 1, NULL, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(follower_fetch(fx.f, fx.topic, 2, 0, 0, epoch, NULL, NULL),
                     QUIRE_ERR_FENCED_LEADER_EPOCH);
    stop(&fx);
}
END_TEST

/* min.insync.replicas=2 (topic override): a request waiting when the
 * follower falls behind fails after the append once the shrink is
 * written; then acks=all is refused before the append, acks=1 works; the
 * follower catching up is written back into the ISR. */
START_TEST(test_min_insync_and_isr_changes)
{
    fixture_t fx;
    int64_t base, end;
    int32_t cid, isr[16], leader, epoch;
    size_t n, notes;

    start(&fx, "{\"version\":1,\"config\":{\"min.insync.replicas\":\"2\"}}");
    epoch = state_epoch(&fx, isr, &n, &leader);
    notes = isr_notifications(&fx);
    /* the follower is in sync and fetching: acks=all works */
    cid = send_all(fx.c, fx.topic, 5, 0, IO_MS);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(
            follower_fetch(fx.f, fx.topic, 2, 0, -1, epoch, NULL, NULL),
            QUIRE_ERR_NONE);
        if (follower_fetch(fx.f, fx.topic, 2, 5, 5, epoch, NULL, NULL) ==
                QUIRE_ERR_NONE &&
            latest(&fx) == 5)
            break;
        qt_sleep_ms(10);
    }
    ck_assert_int_eq(recv_produce(fx.c, cid, &base), QUIRE_ERR_NONE);
    /* the follower stops: the waiting request ends when the leader has
     * dropped it from the ISR, below min.insync.replicas */
    cid = send_all(fx.c, fx.topic, 5, 5, WAIT_MS);
    ck_assert_int_eq(recv_produce(fx.c, cid, &base),
                     QUIRE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    (void)state_epoch(&fx, isr, &n, &leader);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(isr[0], 1);
    ck_assert_int_eq(leader, 1);
    wait_notified(&fx, notes);
    /* now refused before the append; acks=1 still appends */
    end = latest(&fx);
    cid = send_all(fx.c, fx.topic, 5, 10, IO_MS);
    ck_assert_int_eq(recv_produce(fx.c, cid, &base),
                     QUIRE_ERR_NOT_ENOUGH_REPLICAS);
    ck_assert_int_eq(latest(&fx), end);
    ck_assert_int_eq(produce(fx.c, fx.topic, 1, 5, 10, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, end);
    /* the follower catches up to the log end: written back into the ISR */
    notes = isr_notifications(&fx);
    for (int i = 0; i < 3000; i++) {
        int32_t cur[16], l;
        size_t k;
        ck_assert_int_eq(follower_fetch(fx.f, fx.topic, 2, end + 5, end + 5,
                                        epoch, NULL, NULL),
                         QUIRE_ERR_NONE);
        (void)state_epoch(&fx, cur, &k, &l);
        if (k == 2)
            break;
        qt_sleep_ms(10);
    }
    wait_isr(&fx, 2);
    wait_notified(&fx, notes);
    cid = send_all(fx.c, fx.topic, 5, 15, IO_MS);
    for (int i = 0; i < 1000; i++) {
        if (follower_fetch(fx.f, fx.topic, 2, end + 10, end + 10, epoch, NULL,
                           NULL) == QUIRE_ERR_NONE &&
            latest(&fx) == end + 10)
            break;
        qt_sleep_ms(10);
    }
    ck_assert_int_eq(recv_produce(fx.c, cid, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, end + 5);
    stop(&fx);
}
END_TEST

/* Item 8: a leader replaced in ZooKeeper answers its waiting acks=all
 * requests and every new produce NOT_LEADER_FOR_PARTITION. */
START_TEST(test_deposed_acknowledges_nothing)
{
    fixture_t fx;
    int32_t cid, isr[16], leader, epoch;
    size_t n;
    char json[256];
    int64_t base;
    quire_err_t err = QUIRE_ERR_NONE;

    start(&fx, NULL);
    epoch = state_epoch(&fx, isr, &n, &leader);
    cid = send_all(fx.c, fx.topic, 5, 0, WAIT_MS);
    /* the controller's successor state: broker 2 leads, epoch + 1 */
    snprintf(json, sizeof(json),
             "{\"controller_epoch\":1,\"leader\":2,\"version\":1,"
             "\"leader_epoch\":%d,\"isr\":[2]}",
             epoch + 1);
    ck_assert_int_eq(
        qt_zk_set(fx.zh, fx.state, json, (int)strlen(json), -1, NULL, ZK_MS),
        ZOK);
    ck_assert_int_eq(recv_produce(fx.c, cid, &base),
                     QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    err = produce(fx.c, fx.topic, -1, 5, 5, &base);
    ck_assert_int_eq(err, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    err = produce(fx.c, fx.topic, 1, 5, 5, &base);
    ck_assert_int_eq(err, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    stop(&fx);
}
END_TEST

static Suite *repl_leader_suite(void)
{
    Suite *s = suite_create("repl_leader");
    TCase *tc = tcase_create("leader");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_hw_and_acks_all);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_min_insync_and_isr_changes);
    tcase_add_test(tc, test_deposed_acknowledges_nothing);
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
    sr = srunner_create(repl_leader_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
