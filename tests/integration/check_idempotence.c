/* check_idempotence: the idempotent producer end to end (issue 22).
 *
 * A real broker behind tests/harness/brokerproxy.py, which drops every
 * Nth response and closes the connection (the request was written, its
 * answer lost), so the producer retries requests the broker already
 * wrote; the broker advertises the proxy's port, so every connection goes
 * through it. Meanwhile the broker is stopped cleanly once (its producer
 * state goes to a snapshot) and killed with SIGKILL KILLS times while
 * records are in flight (the state is rebuilt from the last snapshot and
 * the log). With idempotence up to 5 batches per partition are in flight
 * (max.in.flight.requests.per.connection, checked to have happened). The
 * topic is then read back: with idempotence every record is there exactly
 * once, in the order sent, at the offset its delivery report gave, with
 * no hole; with
 * enable.idempotence=false the same run writes duplicates (what quire(3)
 * documents). A fenced producer (an older epoch of the same id) is
 * refused with INVALID_PRODUCER_EPOCH; InitProducerId hands out ids from
 * blocks of /latest_producer_id_block, Kafka's JSON.
 */
#include "config.h"

#include <check.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "producer_int.h"
#include "qt_broker.h"
#include "qt_cluster.h"
#include "qt_client.h"
#include "qt_zk.h"
#include "qt_zkproxy.h"
#include "quire.h"
#include "wire.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif

#define START_MS  20000
#define PARTS     2
#define NREC      6000
#define CUT_EVERY 3
#define KILLS     3

static qt_cluster_t cluster;
static qt_zkproxy_t *proxy;
static char bootstrap[64];

/* ---- the broker behind its proxy ---- */

static void setup_cluster(void)
{
    char extra[256], up[64];
    int bport = qt_free_port();

    ck_assert_int_eq(qt_cluster_init(&cluster, 10000), 0);
    snprintf(up, sizeof(up), "127.0.0.1:%d", bport);
    proxy = qt_proxy_start(QT_HARNESS_DIR "/brokerproxy.py", up, 10000);
    ck_assert_ptr_nonnull(proxy);
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", proxy->port);
    /* a fixed port so a restart is found at the same address */
    snprintf(extra, sizeof(extra),
             "listeners=PLAINTEXT://127.0.0.1:%d\n"
             "advertised.listeners=PLAINTEXT://127.0.0.1:%d\n"
             "zookeeper.session.timeout.ms=2000\n",
             bport, proxy->port);
    ck_assert_int_eq(
        qt_cluster_start_brokers(&cluster, 1, NULL, extra, START_MS), 0);
}

static void teardown_cluster(void)
{
    qt_cluster_stop(&cluster);
    qt_zkproxy_stop(proxy);
    proxy = NULL;
}

static void conf_set(quire_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];

    ck_assert_msg(quire_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s: %s", key, errstr);
}

/* ---- producing through the cuts, the broker restarted twice ---- */

typedef struct dstate {
    atomic_int done;
    int reports[NREC]; /* exactly one delivery report per record */
    quire_err_t err[NREC];
    int32_t part[NREC];
    int64_t offset[NREC];
} dstate_t;

static dstate_t ds;
static quire_producer_t *producing; /* for on_dr's look at the counters */
static int part_in_flight_max;      /* what it saw */

static void on_dr(const quire_delivery_t *dr, void *opaque)
{
    int i = (int)(intptr_t)dr->opaque;

    (void)opaque;
    if (ds.reports[i]++ > 0) {
        fprintf(stderr,
                "record %d reported twice: p%d offset %lld (%s), "
                "then p%d offset %lld (%s)\n",
                i, ds.part[i], (long long)ds.offset[i],
                quire_err2name(ds.err[i]), dr->partition, (long long)dr->offset,
                quire_err2name(dr->err));
        return;
    }
    ds.err[i] = dr->err;
    ds.part[i] = dr->partition;
    ds.offset[i] = dr->offset;
    if (producing) { /* the loop thread: the producer is alive */
        qr_producer_stats_t st;

        qr_producer_stats(producing, &st);
        if (st.acc.part_in_flight_max > part_in_flight_max)
            part_in_flight_max = st.acc.part_in_flight_max;
    }
    atomic_fetch_add(&ds.done, 1);
}

static void send_range(quire_producer_t *p, const char *topic, int from, int to)
{
    for (int i = from; i < to; i++) {
        char value[32];
        int n = snprintf(value, sizeof(value), "value-%d", i);

        ck_assert_int_eq(quire_producer_send(p, topic, i % PARTS, NULL, 0,
                                             value, (size_t)n, NULL, 0, 0,
                                             (void *)(intptr_t)i),
                         QUIRE_ERR_NONE);
        if (i % 50 == 49)
            qt_sleep_ms(2); /* many requests, not a few large ones */
    }
}

static void wait_delivered(int n)
{
    int64_t deadline = qt_now_ms() + 120000;

    while (atomic_load(&ds.done) < n && qt_now_ms() < deadline)
        qt_sleep_ms(20);
    ck_assert_int_eq(atomic_load(&ds.done), n);
}

/* Kills the broker with SIGKILL while records @p from..@p to are being
 * sent, and starts it again once ZooKeeper has let its session go. */
static void crash_while_sending(quire_producer_t *p, const char *topic,
                                int from, int to)
{
    int mid = from + (to - from) / 2;
    zhandle_t *zh;

    send_range(p, topic, from, mid);
    qt_sleep_ms(50);
    ck_assert_int_eq(qt_broker_kill(cluster.b[0]), 0);
    send_range(p, topic, mid, to);
    /* the dead broker's session must expire before it can register */
    zh = qt_zk_connect(cluster.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/1", false, 30000));
    qt_zk_close(zh);
    ck_assert_int_eq(qt_broker_start(cluster.b[0], START_MS), 0);
    wait_delivered(to);
}

static void produce_through_faults(const char *topic, const char *idem)
{
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *p = NULL;
    char errstr[256];

    memset(&ds, 0, sizeof(ds));
    part_in_flight_max = 0;
    ck_assert_ptr_nonnull(conf);
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "enable.idempotence", idem);
    conf_set(conf, "acks", "all");
    conf_set(conf, "linger.ms", "2");
    conf_set(conf, "batch.size", "1024");
    conf_set(conf, "max.request.size", "4096");
    conf_set(conf, "retry.backoff.ms", "20");
    conf_set(conf, "reconnect.backoff.ms", "20");
    conf_set(conf, "max.in.flight.requests.per.connection", "5");
    quire_conf_set_delivery_cb(conf, on_dr, NULL);
    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    producing = p;
    ck_assert(qt_zkproxy_cmd(proxy, 5000, "cut-every %d", CUT_EVERY));
    send_range(p, topic, 0, NREC / 3);
    wait_delivered(NREC / 3);
    /* a clean restart: the producer state goes through a snapshot */
    ck_assert_int_eq(qt_broker_stop(cluster.b[0], 20000), 0);
    send_range(p, topic, NREC / 3, NREC / 2);
    ck_assert_int_eq(qt_broker_start(cluster.b[0], START_MS), 0);
    wait_delivered(NREC / 2);
    /* crashes: rebuilt from the last snapshot and the log each time */
    for (int k = 0; k < KILLS; k++)
        crash_while_sending(
            p, topic, NREC / 2 + k * (NREC / 2) / KILLS,
            k == KILLS - 1 ? NREC : NREC / 2 + (k + 1) * (NREC / 2) / KILLS);
    ck_assert_int_eq(quire_producer_flush(p, 60000), QUIRE_ERR_NONE);
    ck_assert(qt_zkproxy_cmd(proxy, 5000, "cut-every 0"));
    producing = NULL;
    quire_producer_close(p, 10000);
    fprintf(stderr, "%s: at most %d batches of a partition in flight\n", topic,
            part_in_flight_max);
}

/* Reads the topic back. @returns how many records appear more than once;
 * a record missing, out of its partition's order, or not where its report
 * said fails the test. */
static int read_back(const char *topic, int *reorderedp)
{
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *c = NULL;
    quire_topic_partition_t tps[PARTS];
    char errstr[256];
    static int seen[NREC], at_reported[NREC];
    int64_t pos[PARTS], left = 0, deadline = qt_now_ms() + 60000;
    int last[PARTS], reordered = 0;
    int dups = 0, failed = 0;

    memset(seen, 0, sizeof(seen));
    memset(at_reported, 0, sizeof(at_reported));
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "fetch.max.wait.ms", "100");
    ck_assert_msg(quire_consumer_new(conf, &c, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    for (int p = 0; p < PARTS; p++)
        tps[p] = (quire_topic_partition_t){topic, p, QUIRE_OFFSET_END};
    ck_assert_int_eq(quire_consumer_offsets_for_times(c, tps, PARTS, 20000),
                     QUIRE_ERR_NONE);
    for (int p = 0; p < PARTS; p++) {
        left += tps[p].offset;
        pos[p] = 0;
        last[p] = -1;
        ck_assert_int_eq(
            quire_consumer_assign(c, topic, p, QUIRE_OFFSET_BEGINNING),
            QUIRE_ERR_NONE);
    }
    while (left > 0 && qt_now_ms() < deadline) {
        const quire_record_t *r;
        quire_err_t err = quire_consumer_poll(c, 200, &r);
        char value[32];
        int i, n;

        if (err == QUIRE_ERR_TIMED_OUT)
            continue;
        ck_assert_msg(err == QUIRE_ERR_NONE, "poll: %s", quire_err2str(err));
        /* no hole: offsets 0, 1, 2, ... */
        ck_assert_int_eq(r->offset, pos[r->partition]);
        pos[r->partition]++;
        if (r->offset < tps[r->partition].offset)
            left--;
        n = snprintf(value, sizeof(value), "%.*s", (int)r->value_len,
                     (const char *)r->value);
        ck_assert_msg(
            sscanf(value, "value-%d%n", &i, &n) == 1 && i >= 0 && i < NREC,
            "p%d offset %lld: '%s'", r->partition, (long long)r->offset, value);
        if (++seen[i] > 1)
            dups++;
        else if (i < last[r->partition])
            reordered++; /* first seen after one sent later */
        if (i > last[r->partition])
            last[r->partition] = i;
        if (ds.err[i] == QUIRE_ERR_NONE && ds.part[i] == r->partition &&
            ds.offset[i] == r->offset)
            at_reported[i] = 1;
    }
    ck_assert_msg(left == 0, "%lld records not read", (long long)left);
    for (int i = 0; i < NREC; i++) {
        if (ds.err[i] != QUIRE_ERR_NONE) {
            failed++;
            continue;
        }
        /* every record where its delivery report said */
        ck_assert_msg(at_reported[i],
                      "record %d is not at p%d offset %lld, where it was "
                      "reported (read %d times)",
                      i, ds.part[i], (long long)ds.offset[i], seen[i]);
    }
    quire_consumer_close(c);
    fprintf(stderr,
            "%s: %d records read more than once, %d out of the order sent, "
            "%d reported failed\n",
            topic, dups, reordered, failed);
    ck_assert_int_eq(failed, 0);
    if (reorderedp)
        *reorderedp = reordered;
    return dups;
}

static int proxy_cuts(void)
{
    char line[256];
    int cuts = -1, resps = -1;

    ck_assert(qt_zkproxy_cmd(proxy, 5000, "stats"));
    ck_assert(qt_zkproxy_wait_event(proxy, "stats", 5000, line, sizeof(line)));
    ck_assert_int_eq(sscanf(line, "stats cuts=%d responses=%d", &cuts, &resps),
                     2);
    return cuts;
}

START_TEST(no_duplicates_no_gaps)
{
    setup_cluster();
    ck_assert_int_eq(qt_cluster_topic_create(&cluster, "idem", PARTS, 1, 20000),
                     0);
    int reordered = -1;

    produce_through_faults("idem", "true");
    ck_assert_int_gt(proxy_cuts(), 10); /* the retries did happen */
    /* and several batches of a partition were in flight at once */
    ck_assert_int_gt(part_in_flight_max, 1);
    ck_assert_int_eq(read_back("idem", &reordered), 0);
    ck_assert_int_eq(reordered, 0);
    teardown_cluster();
}
END_TEST

START_TEST(without_idempotence_duplicates)
{
    setup_cluster();
    ck_assert_int_eq(
        qt_cluster_topic_create(&cluster, "plain", PARTS, 1, 20000), 0);
    produce_through_faults("plain", "false");
    ck_assert_int_gt(proxy_cuts(), 10);
    /* what quire(3) documents for enable.idempotence=false */
    ck_assert_int_gt(read_back("plain", NULL), 0);
    teardown_cluster();
}
END_TEST

/* ---- raw requests: ids, fencing ---- */

static int64_t init_pid(qt_client_t *cl)
{
    qr_req_t req = {.api = QR_API_INIT_PRODUCER_ID};
    qr_resp_t resp;
    int64_t pid = -1;

    for (int tries = 0; tries < 100 && pid < 0; tries++) {
        ck_assert_int_eq(qt_client_call(cl, &req, NULL, 0, &resp, 10000),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(resp.error_code, QUIRE_ERR_NONE);
        if (resp.u.init_pid.error_code == QUIRE_ERR_NONE) {
            pid = resp.u.init_pid.producer_id;
            ck_assert_int_eq(resp.u.init_pid.producer_epoch, 0);
        } else {
            ck_assert_int_eq(resp.u.init_pid.error_code,
                             QUIRE_ERR_COORDINATOR_LOAD_IN_PROGRESS);
            qt_sleep_ms(50);
        }
        qr_wire_resp_free(&resp);
    }
    ck_assert_int_ge(pid, 0);
    return pid;
}

/* One batch of producer (pid, epoch) at sequence seq to t-0. */
static quire_err_t produce_idem(qt_client_t *cl, int64_t pid, int16_t epoch,
                                int32_t seq, int64_t *base)
{
    uint8_t buf[512], out[512];
    qr_batch_builder_t b;
    const uint8_t *data;
    size_t len;

    ck_assert_int_eq(qr_batch_builder_init(&b, buf, sizeof(buf), 0),
                     QUIRE_ERR_NONE);
    qr_batch_builder_set_producer(&b, pid, epoch, seq);
    /* a wall-clock timestamp, as a producer's: the broker forgets
     * producers whose last batch is older than producer.id.expiration.ms */
    ck_assert_int_eq(qr_batch_builder_append(&b, (int64_t)time(NULL) * 1000,
                                             NULL, 0, "v", 1, NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &data, &len),
                     QUIRE_ERR_NONE);
    memcpy(out, data, len);
    return qt_produce(cl, "t", 0, -1, out, len, base, 10000);
}

START_TEST(fencing_and_id_blocks)
{
    qt_client_t *cl;
    int64_t a, b2, base, base2;
    char *data = NULL;
    int len = 0;
    int32_t by = -1;
    int64_t start = -1, end = -1;

    setup_cluster();
    ck_assert_int_eq(qt_cluster_topic_create(&cluster, "t", 1, 1, 20000), 0);
    cl = qt_client_connect(cluster.b[0]->addr, 10000);
    ck_assert_ptr_nonnull(cl);
    ck_assert_int_eq(qt_wait_topic(cl, "t", 1, 20000), 0);
    a = init_pid(cl);
    b2 = init_pid(cl);
    ck_assert_int_ne(a, b2);
    /* the block is Kafka's JSON in /latest_producer_id_block */
    {
        zhandle_t *zh = qt_zk_connect(cluster.zk_connect, 10000);
        ck_assert_ptr_nonnull(zh);
        ck_assert_int_eq(qt_zk_get(zh, "/latest_producer_id_block", &data, &len,
                                   NULL, false, 10000),
                         ZOK);
        ck_assert_msg(strstr(data, "\"block_start\":\"") != NULL, "%s", data);
        ck_assert_int_eq(sscanf(strstr(data, "block_start"),
                                "block_start\":\"%" SCNd64, &start),
                         1);
        ck_assert_int_eq(
            sscanf(strstr(data, "block_end"), "block_end\":\"%" SCNd64, &end),
            1);
        ck_assert_int_eq(end - start + 1, 1000);
        ck_assert(a >= start && a <= end);
        (void)by;
        free(data);
        qt_zk_close(zh);
    }
    /* epoch 1 of producer a writes; epoch 0 is then fenced */
    ck_assert_int_eq(produce_idem(cl, a, 1, 0, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(produce_idem(cl, a, 0, 1, &base2),
                     QUIRE_ERR_INVALID_PRODUCER_EPOCH);
    /* the same batch again: its offset, nothing written */
    ck_assert_int_eq(produce_idem(cl, a, 1, 0, &base2), QUIRE_ERR_NONE);
    ck_assert_int_eq(base2, base);
    /* a gap */
    ck_assert_int_eq(produce_idem(cl, a, 1, 5, &base2),
                     QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    qt_client_close(cl);
    teardown_cluster();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("idempotence");
    TCase *tc = tcase_create("idempotence");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, no_duplicates_no_gaps);
    tcase_add_test(tc, without_idempotence_duplicates);
    tcase_add_test(tc, fencing_and_id_blocks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env(); /* exits 99 without QUIRE_TEST_ZK */
    sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
