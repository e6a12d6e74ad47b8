/*
 * check_broker_cluster: two real brokers under one ZooKeeper chroot.
 * A topic with partitions on both: each broker serves only what the
 * controller says it leads (NOT_LEADER_FOR_PARTITION otherwise); when one
 * broker dies its partitions go offline in Metadata, and come back when it
 * returns.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_broker.h"
#include "qt_client.h"
#include "qt_records.h"
#include "qt_zk.h"
#include "znode.h"

#define START_MS 30000
#define IO_MS    10000
#define WAIT_MS  30000
#define NPARTS   4

typedef struct leaders {
    int32_t leader[NPARTS];
    quire_err_t err[NPARTS];
    int brokers;
} leaders_t;

static int get_leaders(qt_client_t *c, const char *topic, leaders_t *out)
{
    const char *topics[1] = {topic};
    qr_req_t req = {0};
    qr_resp_t resp;
    int ok = 0;

    memset(out, 0, sizeof(*out));
    req.api = QR_API_METADATA;
    req.u.metadata.topic_count = 1;
    req.u.metadata.topics = topics;
    if (qt_client_call(c, &req, NULL, 0, &resp, IO_MS) != QUIRE_ERR_NONE)
        return -1;
    out->brokers = (int)resp.u.metadata.broker_count;
    if (resp.u.metadata.topic_count == 1 &&
        resp.u.metadata.topics[0].partition_count == NPARTS) {
        for (int p = 0; p < NPARTS; p++) {
            const qr_metadata_part_t *mp =
                &resp.u.metadata.topics[0].partitions[p];
            out->leader[mp->partition] = mp->leader;
            out->err[mp->partition] = mp->error_code;
        }
        ok = 1;
    }
    qr_wire_resp_free(&resp);
    return ok ? 0 : -1;
}

/* Waits until every partition has a leader, and they are @want (a broker
 * id, or 0 for "any live one"). */
static int wait_leaders(qt_client_t *c, const char *topic, leaders_t *out,
                        int need_both)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;

    while (qt_now_ms() < deadline) {
        if (get_leaders(c, topic, out) == 0) {
            int all = 1, on1 = 0, on2 = 0;
            for (int p = 0; p < NPARTS; p++) {
                if (out->err[p] != QUIRE_ERR_NONE || out->leader[p] < 0)
                    all = 0;
                on1 += out->leader[p] == 1;
                on2 += out->leader[p] == 2;
            }
            if (all && (!need_both || (on1 && on2)))
                return 0;
        }
        qt_sleep_ms(100);
    }
    return -1;
}

/* A broker learns that it leads a partition a moment after the
 * controller wrote it (the metadata another broker serves may be ahead):
 * retry, as a client refreshing its metadata would. Nothing is appended
 * by a refused request, so retrying is safe. */
static quire_err_t produce_retry(qt_client_t *c, int32_t p, const uint8_t *buf,
                                 size_t len)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;
    quire_err_t err;

    for (;;) {
        err = qt_produce(c, "spread", p, -1, buf, len, NULL, IO_MS);
        if ((err != QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION &&
             err != QUIRE_ERR_NOT_LEADER_FOR_PARTITION) ||
            qt_now_ms() > deadline)
            return err;
        qt_sleep_ms(100);
    }
}

START_TEST(test_two_brokers)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    const char *extra = "num.partitions=4\nauto.create.topics.enable=true\n";
    qt_broker_t *b1, *b2, *by_id[3];
    qt_client_t *c1, *c2;
    leaders_t ld;
    uint8_t buf[4096];
    size_t len;

    ck_assert_ptr_nonnull(chroot);
    b1 = qt_broker_new(1, chroot, extra);
    b2 = qt_broker_new(2, chroot, extra);
    ck_assert_int_eq(qt_broker_start(b1, START_MS), 0);
    ck_assert_int_eq(qt_broker_start(b2, START_MS), 0);
    by_id[1] = b1;
    by_id[2] = b2;
    c1 = qt_client_connect(b1->addr, IO_MS);
    ck_assert_ptr_nonnull(c1);
    /* Both registered before the topic exists, so it spreads over both. */
    int64_t deadline = qt_now_ms() + WAIT_MS;
    do {
        ck_assert_int_eq(get_leaders(c1, "__none__", &ld), -1);
        if (ld.brokers == 2)
            break;
        qt_sleep_ms(100);
    } while (qt_now_ms() < deadline);
    ck_assert_int_eq(ld.brokers, 2);
    ck_assert_int_eq(qt_wait_topic(c1, "spread", NPARTS, WAIT_MS), 0);
    ck_assert_int_eq(wait_leaders(c1, "spread", &ld, 1), 0);

    /* Each partition: its leader accepts, the other says NOT_LEADER. */
    len = qt_batch(buf, sizeof(buf), 3, "c", 0);
    c2 = qt_client_connect(b2->addr, IO_MS);
    ck_assert_ptr_nonnull(c2);
    for (int p = 0; p < NPARTS; p++) {
        qt_client_t *lead = ld.leader[p] == 1 ? c1 : c2;
        qt_client_t *other = ld.leader[p] == 1 ? c2 : c1;
        int64_t off;
        ck_assert_int_eq(produce_retry(lead, p, buf, len), QUIRE_ERR_NONE);
        ck_assert_int_eq(
            qt_produce(other, "spread", p, 1, buf, len, NULL, IO_MS),
            QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
        ck_assert_int_eq(
            qt_list_offset(other, "spread", p, QR_OFFSET_LATEST, &off, IO_MS),
            QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
        ck_assert_int_eq(
            qt_list_offset(lead, "spread", p, QR_OFFSET_LATEST, &off, IO_MS),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(off, 3);
    }
    qt_client_close(c2);

    /* Broker 2 dies: its partitions go offline, broker 1's stay. */
    leaders_t before = ld;
    ck_assert_int_eq(qt_broker_kill(b2), 0);
    deadline = qt_now_ms() + WAIT_MS;
    int offline = 0;
    while (!offline && qt_now_ms() < deadline) {
        if (get_leaders(c1, "spread", &ld) == 0) {
            offline = 1;
            for (int p = 0; p < NPARTS; p++) {
                if (before.leader[p] == 2 &&
                    (ld.err[p] == QUIRE_ERR_NONE || ld.leader[p] == 2))
                    offline = 0;
                if (before.leader[p] == 1)
                    ck_assert_int_eq(ld.leader[p], 1);
            }
        }
        if (!offline)
            qt_sleep_ms(100);
    }
    ck_assert_msg(offline, "broker 2's partitions still listed as led");
    for (int p = 0; p < NPARTS; p++)
        if (before.leader[p] == 2)
            ck_assert_int_eq(ld.err[p], QUIRE_ERR_LEADER_NOT_AVAILABLE);

    /* It returns, and so do its partitions, with their data. */
    ck_assert_int_eq(qt_broker_start(b2, START_MS), 0);
    ck_assert_int_eq(wait_leaders(c1, "spread", &ld, 0), 0);
    for (int p = 0; p < NPARTS; p++) {
        qt_client_t *lead = qt_client_connect(by_id[ld.leader[p]]->addr, IO_MS);
        int64_t off;
        ck_assert_ptr_nonnull(lead);
        int64_t deadline2 = qt_now_ms() + WAIT_MS;
        quire_err_t err;
        while ((err = qt_list_offset(lead, "spread", p, QR_OFFSET_LATEST, &off,
                                     IO_MS)) ==
                   QUIRE_ERR_NOT_LEADER_FOR_PARTITION &&
               qt_now_ms() < deadline2)
            qt_sleep_ms(100);
        ck_assert_int_eq(err, QUIRE_ERR_NONE);
        ck_assert_int_eq(off, 3);
        qt_client_close(lead);
    }
    qt_client_close(c1);
    ck_assert_int_eq(qt_broker_stop(b2, 30000), 0);
    ck_assert_int_eq(qt_broker_stop(b1, 30000), 0);
    qt_broker_destroy(b1);
    qt_broker_destroy(b2);
    free(chroot);
}
END_TEST

/* default.replication.factor (issue 16 item 1): an auto-created topic gets
 * that many replicas, placed as Kafka places them: distinct brokers, the
 * leaders spread over both. */
START_TEST(test_default_replication_factor)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000), *data = NULL;
    const char *extra = "num.partitions=4\nauto.create.topics.enable=true\n"
                        "default.replication.factor=2\n";
    qt_broker_t *b1, *b2;
    qt_client_t *c1;
    leaders_t ld;
    zhandle_t *zh;
    qr_assign_t a;
    char errstr[128];
    int len = 0, first[3] = {0};

    ck_assert_ptr_nonnull(chroot);
    b1 = qt_broker_new(1, chroot, extra);
    b2 = qt_broker_new(2, chroot, extra);
    ck_assert_int_eq(qt_broker_start(b1, START_MS), 0);
    ck_assert_int_eq(qt_broker_start(b2, START_MS), 0);
    c1 = qt_client_connect(b1->addr, IO_MS);
    ck_assert_ptr_nonnull(c1);
    int64_t deadline = qt_now_ms() + WAIT_MS;
    do {
        ck_assert_int_eq(get_leaders(c1, "__none__", &ld), -1);
        if (ld.brokers == 2)
            break;
        qt_sleep_ms(100);
    } while (qt_now_ms() < deadline);
    ck_assert_int_eq(ld.brokers, 2);
    ck_assert_int_eq(qt_wait_topic(c1, "rf2", NPARTS, WAIT_MS), 0);
    zh = qt_zk_connect(chroot, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert_int_eq(
        qt_zk_get(zh, "/brokers/topics/rf2", &data, &len, NULL, false, 10000),
        ZOK);
    ck_assert_int_eq(
        qr_znode_topic_decode(data, len, &a, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(a.part_cnt, NPARTS);
    for (size_t p = 0; p < a.part_cnt; p++) {
        ck_assert_uint_eq(a.parts[p].n, 2);
        ck_assert_int_ne(a.parts[p].ids[0], a.parts[p].ids[1]);
        first[a.parts[p].ids[0]]++;
    }
    ck_assert_int_eq(first[1], 2);
    ck_assert_int_eq(first[2], 2);
    qr_assign_free(&a);
    free(data);
    qt_zk_close(zh);
    qt_client_close(c1);
    ck_assert_int_eq(qt_broker_stop(b2, 30000), 0);
    ck_assert_int_eq(qt_broker_stop(b1, 30000), 0);
    qt_broker_destroy(b1);
    qt_broker_destroy(b2);
    free(chroot);
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("broker_cluster");
    TCase *tc = tcase_create("two brokers");

    tcase_set_timeout(tc, 180);
    tcase_set_tags(tc, "integration zk slow");
    tcase_add_test(tc, test_two_brokers);
    tcase_add_test(tc, test_default_replication_factor);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env();
    sr = srunner_create(cluster_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
