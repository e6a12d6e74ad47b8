/*
 * check_broker_timeout: Produce's timeout_ms with acks=all against a real
 * quire-broker (and the harness's real ZooKeeper).
 *
 * The broker runs with quire.test.flush.delay.ms, a test-only key that
 * makes its flusher threads sleep before each group commit. That holds
 * every fdatasync back for FLUSH_DELAY_MS, so a request whose timeout_ms is
 * 0 cannot see its flush complete first: it must be answered
 * REQUEST_TIMED_OUT, deterministically. Nothing is timed: the assertions
 * are about answers, offsets and the broker's exit status (the sanitizers
 * make it non-zero on a use-after-free or a leak when the late flush
 * completion arrives).
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

#define START_MS       30000
#define IO_MS          20000
#define TOPIC_MS       20000
#define FLUSH_DELAY_MS 1000

static qt_client_t *connect_ok(const qt_broker_t *b)
{
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);

    ck_assert_ptr_nonnull(c);
    return c;
}

/* Sends one produce of @p nrec records "<prefix>-<first>".. to
 * topic-partition 0 with acks=all and @p timeout_ms; returns the
 * correlation id. */
static int32_t send_produce(qt_client_t *c, const char *topic, int timeout_ms,
                            int nrec, const char *prefix, int first)
{
    uint8_t buf[8192];
    size_t len = qt_batch(buf, sizeof(buf), nrec, prefix, first);
    qr_produce_part_t part = {0, (uint32_t)len, NULL};
    qr_produce_topic_t t = {topic, 1, &part};
    qr_req_t req = {0};
    int32_t cid;

    ck_assert_uint_gt(len, 0);
    req.api = QR_API_PRODUCE;
    req.client_id = "timeout";
    req.u.produce.acks = -1;
    req.u.produce.timeout_ms = timeout_ms;
    req.u.produce.topic_count = 1;
    req.u.produce.topics = &t;
    cid = qt_client_send(c, &req, buf, len);
    ck_assert_int_ge(cid, 0);
    return cid;
}

/* Receives the answer to @p cid: its one partition's error and offset. */
static quire_err_t recv_produce(qt_client_t *c, int32_t cid, int64_t *base)
{
    qr_resp_t resp;
    quire_err_t err;

    ck_assert_int_eq(qt_client_recv(c, &resp, IO_MS), QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.correlation_id, cid);
    ck_assert_int_eq(resp.error_code, QUIRE_ERR_NONE);
    ck_assert_uint_eq(resp.u.produce.topic_count, 1);
    ck_assert_uint_eq(resp.u.produce.topics[0].partition_count, 1);
    err = resp.u.produce.topics[0].partitions[0].error_code;
    *base = resp.u.produce.topics[0].partitions[0].base_offset;
    qr_wire_resp_free(&resp);
    return err;
}

/* Records from offset 0 to the log end, checking values run p-0, p-1.. */
static long fetch_count(qt_client_t *c, const char *topic)
{
    qr_resp_t resp;
    const qr_fetch_part_resp_t *fp;
    int64_t last = -1;
    long n;

    ck_assert_int_eq(
        qt_fetch(c, topic, 0, 0, 0, 0, 1 << 20, 1 << 20, &resp, &fp, IO_MS),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(fp->error_code, QUIRE_ERR_NONE);
    n = qt_count_records(fp->records, fp->records_length, "p", 0, &last);
    ck_assert_int_eq(last + 1, n);
    qr_wire_resp_free(&resp);
    return n;
}

START_TEST(test_acks_all_timeout)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    char topic[64], extra[128];
    qt_broker_t *b;
    qt_client_t *c, *gone;
    int32_t cid[3];
    int64_t base;

    ck_assert_ptr_nonnull(chroot);
    snprintf(extra, sizeof(extra),
             "num.partitions=1\nquire.test.flush.delay.ms=%d\n",
             FLUSH_DELAY_MS);
    b = qt_broker_new(1, chroot, extra);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    c = connect_ok(b);
    snprintf(topic, sizeof(topic), "timeout-%d", (int)getpid());
    ck_assert_int_eq(qt_wait_topic(c, topic, 1, TOPIC_MS), 0);

    /* timeout_ms 0: the held-back flush cannot have finished, so the
     * answer is REQUEST_TIMED_OUT; the records are appended all the same. */
    cid[0] = send_produce(c, topic, 0, 5, "p", 0);
    ck_assert_int_eq(recv_produce(c, cid[0], &base),
                     QUIRE_ERR_REQUEST_TIMED_OUT);
    ck_assert_int_eq(base, -1);

    /* Pipelined on one connection: a timed-out request, one that waits
     * out the delayed group commit, another timed-out one; answered in
     * order, each with its own outcome. */
    cid[0] = send_produce(c, topic, 0, 5, "p", 5);
    cid[1] = send_produce(c, topic, IO_MS, 5, "p", 10);
    cid[2] = send_produce(c, topic, 0, 5, "p", 15);
    ck_assert_int_eq(recv_produce(c, cid[0], &base),
                     QUIRE_ERR_REQUEST_TIMED_OUT);
    ck_assert_int_eq(recv_produce(c, cid[1], &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 10);
    ck_assert_int_eq(recv_produce(c, cid[2], &base),
                     QUIRE_ERR_REQUEST_TIMED_OUT);

    /* A client that leaves before its answer: the late flush completion
     * must find nothing to send to and free what it holds. Its records
     * are waited for (bounded), so the offsets below stay known. */
    gone = connect_ok(b);
    (void)send_produce(gone, topic, IO_MS, 5, "p", 20);
    for (int i = 0; i < 400; i++) {
        ck_assert_int_eq(
            qt_list_offset(c, topic, 0, QR_OFFSET_LATEST, &base, IO_MS),
            QUIRE_ERR_NONE);
        if (base == 25)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(base, 25);
    qt_client_close(gone);

    /* Every record is there, timed out or not, in offset order; an
     * acks=all request that waits out the delayed flush still works. */
    cid[0] = send_produce(c, topic, IO_MS, 5, "p", 25);
    ck_assert_int_eq(recv_produce(c, cid[0], &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 25);
    ck_assert_int_eq(fetch_count(c, topic), 30);

    /* Shutdown with a timed-out request's flush still out: the broker
     * waits for it, then exits cleanly (0, no sanitizer report). */
    cid[0] = send_produce(c, topic, 0, 5, "p", 30);
    ck_assert_int_eq(recv_produce(c, cid[0], &base),
                     QUIRE_ERR_REQUEST_TIMED_OUT);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_client_close(c);

    /* The records of the timed-out request were flushed at shutdown. */
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    c = connect_ok(b);
    ck_assert_int_eq(qt_wait_topic(c, topic, 1, TOPIC_MS), 0);
    ck_assert_int_eq(fetch_count(c, topic), 35);
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

/* Negative timeout_ms is refused as a malformed request. */
START_TEST(test_negative_timeout_refused)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    qt_broker_t *b;
    qt_client_t *c;
    qr_resp_t resp;
    int32_t cid;
    char topic[64];

    ck_assert_ptr_nonnull(chroot);
    b = qt_broker_new(1, chroot, "num.partitions=1\n");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    c = connect_ok(b);
    snprintf(topic, sizeof(topic), "negative-%d", (int)getpid());
    ck_assert_int_eq(qt_wait_topic(c, topic, 1, TOPIC_MS), 0);
    cid = send_produce(c, topic, -1, 1, "p", 0);
    ck_assert_int_eq(qt_client_recv(c, &resp, IO_MS), QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.correlation_id, cid);
    ck_assert_int_ne(resp.error_code, QUIRE_ERR_NONE);
    qr_wire_resp_free(&resp);
    ck_assert_int_eq(fetch_count(c, topic), 0);
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

static Suite *timeout_suite(void)
{
    Suite *s = suite_create("broker_timeout");
    TCase *tc = tcase_create("produce timeout_ms");

    tcase_set_timeout(tc, 120);
    tcase_set_tags(tc, "integration zk");
    tcase_add_test(tc, test_acks_all_timeout);
    tcase_add_test(tc, test_negative_timeout_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env();
    sr = srunner_create(timeout_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
