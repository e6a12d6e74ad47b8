/*
 * check_leader_epoch: OffsetForLeaderEpoch (Kafka key 23; issue 16 item 6,
 * KIP-101 / KIP-279) against a real broker and a real ZooKeeper: the
 * leader stamps its epoch on what it appends and keeps
 * leader-epoch-checkpoint; a new epoch (the state znode's leader_epoch
 * raised for the same leader) starts a new entry; the answers for the
 * latest epoch, an older one, one in between, a newer one; the fencing by
 * current_leader_epoch; a partition with no epoch; a partition this broker
 * does not lead; and the same answers after a restart (the file reloaded).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_client.h"
#include "qt_records.h"
#include "qt_zk.h"

#define START_MS 30000
#define IO_MS    5000

/* One OffsetForLeaderEpoch of one partition. */
static quire_err_t ask(const qt_broker_t *b, const char *topic, int32_t p,
                       int32_t current, int32_t epoch, int32_t *got_epoch,
                       int64_t *end)
{
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);
    qr_epoch_req_part_t part = {p, current, epoch};
    qr_epoch_req_topic_t t = {topic, 1, &part};
    qr_req_t req = {.api = QR_API_OFFSET_FOR_LEADER_EPOCH};
    qr_resp_t resp;
    quire_err_t err;

    ck_assert_ptr_nonnull(c);
    req.client_id = "check_leader_epoch";
    req.u.offset_for_leader_epoch.replica_id = -1;
    req.u.offset_for_leader_epoch.topic_count = 1;
    req.u.offset_for_leader_epoch.topics = &t;
    ck_assert_int_eq(qt_client_call(c, &req, NULL, 0, &resp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.api, QR_API_OFFSET_FOR_LEADER_EPOCH);
    ck_assert_int_eq(resp.error_code, QUIRE_ERR_NONE);
    ck_assert_uint_eq(resp.u.offset_for_leader_epoch.topic_count, 1);
    const qr_epoch_topic_resp_t *tr = &resp.u.offset_for_leader_epoch.topics[0];
    ck_assert_str_eq(tr->topic, topic);
    ck_assert_uint_eq(tr->partition_count, 1);
    ck_assert_int_eq(tr->partitions[0].partition, p);
    err = tr->partitions[0].error_code;
    *got_epoch = tr->partitions[0].leader_epoch;
    *end = tr->partitions[0].end_offset;
    qr_wire_resp_free(&resp);
    qt_client_close(c);
    return err;
}

static void expect(const qt_broker_t *b, const char *topic, int32_t p,
                   int32_t current, int32_t epoch, quire_err_t want_err,
                   int32_t want_epoch, int64_t want_end)
{
    int32_t e = -9;
    int64_t o = -9;
    quire_err_t err = ask(b, topic, p, current, epoch, &e, &o);
    ck_assert_msg(err == want_err && e == want_epoch && o == want_end,
                  "%s-%d current %d epoch %d: %s (%d, %lld), want %s "
                  "(%d, %lld)",
                  topic, (int)p, (int)current, (int)epoch, quire_err2name(err),
                  (int)e, (long long)o, quire_err2name(want_err),
                  (int)want_epoch, (long long)want_end);
}

static void produce(const qt_broker_t *b, const char *topic, int n,
                    int64_t want_base)
{
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);
    uint8_t buf[16384];
    int64_t base = -2;
    size_t len = qt_batch(buf, sizeof(buf), n, "v", 0);

    ck_assert_ptr_nonnull(c);
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(qt_produce(c, topic, 0, -1, buf, len, &base, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(base, want_base);
    qt_client_close(c);
}

/* The leader_epoch of @p path's state JSON; *json set to it (owned). */
static int32_t state_epoch(zhandle_t *zh, const char *path, char **json)
{
    const char *key = "\"leader_epoch\":";
    char *at;

    ck_assert_int_eq(qt_zk_get(zh, path, json, NULL, NULL, false, IO_MS), ZOK);
    at = strstr(*json, key);
    ck_assert_ptr_nonnull(at);
    return (int32_t)strtol(at + strlen(key), NULL, 10);
}

START_TEST(test_offset_for_leader_epoch)
{
    char *zk = qt_zk_chroot_new(qt_zk_env(), 10000);
    const char *topic = "ep";
    const char *path = "/brokers/topics/ep/partitions/0/state";
    qt_broker_t *brokers[2], *b, *other;
    zhandle_t *zh;
    char *json = NULL, *at, bumped[512];
    size_t head;
    const char *tail;
    int32_t e0, e1, e = -9;
    int64_t o = -9;

    ck_assert_ptr_nonnull(zk);
    for (int i = 0; i < 2; i++) {
        brokers[i] = qt_broker_new(i + 1, zk, "num.partitions=1\n");
        ck_assert_ptr_nonnull(brokers[i]);
        ck_assert_int_eq(qt_broker_start(brokers[i], START_MS), 0);
    }
    qt_client_t *c = qt_client_connect(brokers[0]->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, topic, 1, 20000), 0);
    ck_assert_int_eq(qt_wait_topic(c, "ep-empty", 1, 20000), 0);
    qt_client_close(c);

    /* the broker that leads ep-0, and the other one */
    zh = qt_zk_connect(zk, IO_MS);
    ck_assert_ptr_nonnull(zh);
    e0 = state_epoch(zh, path, &json);
    at = strstr(json, "\"leader\":");
    ck_assert_ptr_nonnull(at);
    long leader = strtol(at + strlen("\"leader\":"), NULL, 10);
    ck_assert(leader == 1 || leader == 2);
    b = brokers[leader - 1];
    other = brokers[2 - leader];
    char *ejson = NULL;
    int32_t ee =
        state_epoch(zh, "/brokers/topics/ep-empty/partitions/0/state", &ejson);
    at = strstr(ejson, "\"leader\":");
    ck_assert_ptr_nonnull(at);
    long eleader = strtol(at + strlen("\"leader\":"), NULL, 10);
    ck_assert(eleader == 1 || eleader == 2);
    free(ejson);

    /* epoch e0: 5 records at 0..4 */
    ck_assert_int_ge(e0, 0);
    produce(b, topic, 5, 0);
    expect(b, topic, 0, e0, e0, QUIRE_ERR_NONE, e0, 5);
    expect(b, topic, 0, -1, e0 + 1, QUIRE_ERR_NONE, -1, -1);

    /* the same leader at epoch e0 + 3 (as a controller's ISR change
     * writes it): the broker takes the new epoch */
    e1 = e0 + 3;
    at = strstr(json, "\"leader_epoch\":");
    head = (size_t)(at - json) + strlen("\"leader_epoch\":");
    tail = at + strlen("\"leader_epoch\":");
    while (*tail >= '0' && *tail <= '9')
        tail++;
    snprintf(bumped, sizeof(bumped), "%.*s%d%s", (int)head, json, (int)e1,
             tail);
    free(json);
    ck_assert_int_eq(
        qt_zk_set(zh, path, bumped, (int)strlen(bumped), -1, NULL, IO_MS), ZOK);
    quire_err_t err = QUIRE_ERR_UNKNOWN_LEADER_EPOCH;
    for (int i = 0; i < 200 && err == QUIRE_ERR_UNKNOWN_LEADER_EPOCH; i++) {
        err = ask(b, topic, 0, e1, e1, &e, &o);
        if (err == QUIRE_ERR_UNKNOWN_LEADER_EPOCH)
            usleep(50 * 1000);
    }
    ck_assert_msg(err == QUIRE_ERR_NONE, "the broker never took epoch %d: %s",
                  (int)e1, quire_err2name(err));
    /* nothing appended in e1 yet: e0 is still the latest */
    expect(b, topic, 0, e1, e0, QUIRE_ERR_NONE, e0, 5);
    produce(b, topic, 2, 5);

    int32_t cur = e1; /* the leader's epoch, for fencing */
    for (int round = 0; round < 2; round++) {
        /* KIP-279: e0 ends where e1 starts; an epoch in between answers
         * e0's end; the latest ends at the log end; newer is unknown;
         * older than every entry gets the first entry's start */
        expect(b, topic, 0, cur, e0, QUIRE_ERR_NONE, e0, 5);
        expect(b, topic, 0, cur, e0 + 1, QUIRE_ERR_NONE, e0, 5);
        expect(b, topic, 0, cur, e1, QUIRE_ERR_NONE, e1, 7);
        expect(b, topic, 0, cur, e1 + 1, QUIRE_ERR_NONE, -1, -1);
        expect(b, topic, 0, -1, -1, QUIRE_ERR_NONE, -1, -1);
        if (e0 > 0)
            expect(b, topic, 0, cur, e0 - 1, QUIRE_ERR_NONE, e0 - 1, 0);
        /* fencing by the asker's idea of the leader's epoch */
        expect(b, topic, 0, cur - 1, e1, QUIRE_ERR_FENCED_LEADER_EPOCH, -1, -1);
        expect(b, topic, 0, cur + 1, e1, QUIRE_ERR_UNKNOWN_LEADER_EPOCH, -1,
               -1);
        /* a partition with nothing appended has no epoch */
        expect(brokers[eleader - 1], "ep-empty", 0, -1, ee, QUIRE_ERR_NONE, -1,
               -1);
        /* not a partition of the topic; not a topic */
        expect(b, topic, 1, -1, e0, QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, -1,
               -1);
        expect(b, "no-such-topic", 0, -1, e0,
               QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, -1, -1);
        if (round == 0) {
            /* a restart (the controller moves the epoch on while it is
             * down): the answers come from leader-epoch-checkpoint */
            ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
            ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
            err = QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
            for (int i = 0; i < 400 && err != QUIRE_ERR_NONE; i++) {
                json = NULL;
                cur = state_epoch(zh, path, &json);
                free(json);
                err = ask(b, topic, 0, cur, e1, &e, &o);
                if (err != QUIRE_ERR_NONE)
                    usleep(50 * 1000);
            }
            ck_assert_int_eq(err, QUIRE_ERR_NONE);
            ck_assert_int_ge(cur, e1);
        }
    }
    /* the other broker leads nothing of ep-0: NOT_LEADER_FOR_PARTITION */
    expect(other, topic, 0, -1, e1, QUIRE_ERR_NOT_LEADER_FOR_PARTITION, -1, -1);

    qt_zk_close(zh);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(qt_broker_stop(brokers[i], 30000), 0);
        qt_broker_destroy(brokers[i]);
    }
    free(zk);
}
END_TEST

static Suite *leader_epoch_suite(void)
{
    Suite *s = suite_create("leader_epoch");
    TCase *tc = tcase_create("offset_for_leader_epoch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_offset_for_leader_epoch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    (void)qt_zk_env(); /* exits 99 without the harness's ZooKeeper */
    SRunner *sr = srunner_create(leader_epoch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
