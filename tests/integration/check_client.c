/*
 * check_client: libquire against real brokers and a real ZooKeeper
 * (issue 6, "Tests"): every delivery report exactly once, consecutive
 * offsets, keyed records where Kafka's murmur2 puts them, each codec round
 * trip, a broker killed mid-run (retried or failed, never lost silently or
 * reordered: read back, every record reported delivered is in the topic at
 * its reported offset, once), each record read back checked by identity,
 * key and value, buffer.memory exhaustion, request.timeout.ms, and a broker
 * that never answers not hanging close().
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_client.h"
#include "qt_cluster.h"
#include "qt_zk.h"
#include "qt_zkproxy.h"
#include "quire.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif
#ifndef QT_PRODUCER_BIN
#error "QT_PRODUCER_BIN must name tools/quire-console-producer"
#endif
#ifndef QT_PERF_BIN
#error "QT_PERF_BIN must name tools/quire-perf"
#endif
#ifndef QT_REASSIGN_BIN
#error "QT_REASSIGN_BIN must name tools/quire-reassign-partitions"
#endif

#define START_MS 20000

static qt_cluster_t cl;

static quire_conf_t *conf_new(const char *servers)
{
    quire_conf_t *conf = quire_conf_new();
    char errstr[256];

    ck_assert_ptr_nonnull(conf);
    ck_assert_msg(quire_conf_set(conf, "bootstrap.servers", servers, errstr,
                                 sizeof(errstr)) == QUIRE_ERR_NONE,
                  "%s", errstr);
    return conf;
}

static void conf_set(quire_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];

    ck_assert_msg(quire_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
}

/* ---- delivery bookkeeping ---- */

#define MAXREC 40000

typedef struct dstate {
    atomic_int reports[MAXREC];
    int32_t part[MAXREC];
    int64_t offset[MAXREC];
    quire_err_t err[MAXREC];
    atomic_int total;
    char why[64][512]; /* the last failure's errstr per partition */
} dstate_t;

static dstate_t *ds;

static void on_dr(const quire_delivery_t *dr, void *opaque)
{
    int i = (int)(intptr_t)dr->opaque;

    ck_assert_ptr_eq(opaque, ds);
    ck_assert(i >= 0 && i < MAXREC);
    atomic_fetch_add(&ds->reports[i], 1);
    ds->part[i] = dr->partition;
    ds->offset[i] = dr->offset;
    ds->err[i] = dr->err;
    if (dr->err != QUIRE_ERR_NONE && dr->partition >= 0 && dr->partition < 64)
        snprintf(ds->why[dr->partition], sizeof(ds->why[0]), "%s",
                 dr->errstr ? dr->errstr : "(no errstr)");
    atomic_fetch_add(&ds->total, 1);
}

static quire_producer_t *producer_new(quire_conf_t *conf)
{
    quire_producer_t *p = NULL;
    char errstr[256];

    ds = calloc(1, sizeof(*ds));
    ck_assert_ptr_nonnull(ds);
    quire_conf_set_delivery_cb(conf, on_dr, ds);
    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return p;
}

static void send_keyed(quire_producer_t *p, const char *topic, int i)
{
    char key[32], value[64];

    snprintf(key, sizeof(key), "key-%d", i % 997);
    snprintf(value, sizeof(value), "value-%d", i);
    ck_assert_int_eq(quire_producer_send(p, topic, QUIRE_PARTITION_ANY, key,
                                         strlen(key), value, strlen(value),
                                         NULL, 0, 0, (void *)(intptr_t)i),
                     QUIRE_ERR_NONE);
}

/* Reads every partition of @p topic from the beginning to its log end and
 * checks each record's identity: its value names a record sent (i), its
 * key is that record's key, and a record reported delivered is exactly
 * where the report said (partition, offset). Every record reported
 * delivered must be there exactly once; records reported failed may be
 * there (a write whose answer was lost), at most once each. @returns how
 * many records the topic holds. */
static int consume_check(const char *topic, int parts, int sent)
{
    quire_conf_t *conf = conf_new(cl.bootstrap);
    quire_consumer_t *c = NULL;
    quire_topic_partition_t tps[64];
    char errstr[256];
    int got = 0, delivered = 0, stray = 0;
    int64_t pos[64], left = 0, deadline = qt_now_ms() + 30000;
    static int seen[MAXREC];

    ck_assert(parts <= 64 && sent <= MAXREC);
    memset(seen, 0, sizeof(seen));
    conf_set(conf, "fetch.max.wait.ms", "100");
    ck_assert_msg(quire_consumer_new(conf, &c, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    /* where each partition ends: read up to there, not to a count */
    for (int p = 0; p < parts; p++)
        tps[p] = (quire_topic_partition_t){topic, p, QUIRE_OFFSET_END};
    ck_assert_int_eq(
        quire_consumer_offsets_for_times(c, tps, (size_t)parts, 20000),
        QUIRE_ERR_NONE);
    for (int p = 0; p < parts; p++) {
        ck_assert_int_ge(tps[p].offset, 0);
        left += tps[p].offset;
        pos[p] = 0;
        ck_assert_int_eq(
            quire_consumer_assign(c, topic, p, QUIRE_OFFSET_BEGINNING),
            QUIRE_ERR_NONE);
    }
    while (left > 0 && qt_now_ms() < deadline) {
        const quire_record_t *r;
        quire_err_t err = quire_consumer_poll(c, 200, &r);
        char key[32], value[32];
        int i, n;

        if (err == QUIRE_ERR_TIMED_OUT)
            continue;
        ck_assert_msg(err == QUIRE_ERR_NONE, "poll: %s", quire_err2str(err));
        ck_assert(r->partition >= 0 && r->partition < parts);
        /* each partition in order, from 0, without a hole */
        ck_assert_int_eq(r->offset, pos[r->partition]);
        pos[r->partition]++;
        if (r->offset < tps[r->partition].offset)
            left--;
        got++;
        ck_assert_ptr_nonnull(r->value);
        n = snprintf(value, sizeof(value), "%.*s", (int)r->value_len,
                     (const char *)r->value);
        ck_assert_msg(sscanf(value, "value-%d%n", &i, &n) == 1 &&
                          (size_t)n == r->value_len && i >= 0 && i < sent,
                      "p%d offset %lld: value '%s' is no record sent",
                      r->partition, (long long)r->offset, value);
        snprintf(key, sizeof(key), "key-%d", i % 997);
        ck_assert_msg(r->key && r->key_len == strlen(key) &&
                          memcmp(r->key, key, r->key_len) == 0,
                      "p%d offset %lld: record %d with key '%.*s', not '%s'",
                      r->partition, (long long)r->offset, i,
                      r->key ? (int)r->key_len : 4,
                      r->key ? (const char *)r->key : "null", key);
        ck_assert_msg(++seen[i] == 1,
                      "record %d in the topic twice (again at p%d offset "
                      "%lld)",
                      i, r->partition, (long long)r->offset);
        if (ds->err[i] != QUIRE_ERR_NONE) {
            stray++;
            continue;
        }
        /* where the producer was told it went */
        ck_assert_msg(ds->part[i] == r->partition && ds->offset[i] == r->offset,
                      "record %d at p%d offset %lld, reported delivered at "
                      "p%d offset %lld",
                      i, r->partition, (long long)r->offset, ds->part[i],
                      (long long)ds->offset[i]);
    }
    ck_assert_msg(left == 0, "%lld records of %s not read in 30 s",
                  (long long)left, topic);
    for (int i = 0; i < sent; i++) {
        if (ds->err[i] != QUIRE_ERR_NONE)
            continue;
        delivered++;
        ck_assert_msg(seen[i] == 1,
                      "record %d reported delivered at p%d offset %lld is "
                      "not in the topic",
                      i, ds->part[i], (long long)ds->offset[i]);
    }
    ck_assert_int_eq(got, delivered + stray);
    if (stray)
        fprintf(stderr, "%s: %d records reported failed are in the topic\n",
                topic, stray);
    quire_consumer_close(c);
    return got;
}

/* Per partition, the reported offsets of delivered records, taken in send
 * order, are 0, 1, 2, ... (consecutive, nothing reordered). */
static void check_offsets_consecutive(int n, int parts)
{
    int64_t next[64] = {0};

    ck_assert_int_le(parts, 64);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(atomic_load(&ds->reports[i]), 1);
        ck_assert_int_eq(ds->err[i], QUIRE_ERR_NONE);
        ck_assert(ds->part[i] >= 0 && ds->part[i] < parts);
        ck_assert_int_eq(ds->offset[i], next[ds->part[i]]);
        next[ds->part[i]]++;
    }
}

/* ---- tests ---- */

START_TEST(produce_keyed_three_brokers)
{
    const int n = 20000, parts = 6;
    quire_conf_t *conf;
    quire_producer_t *p;

    ck_assert_int_eq(qt_cluster_start(&cl, 3, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "keyed", parts, 1, 20000), 0);
    conf = conf_new(cl.bootstrap);
    conf_set(conf, "linger.ms", "5");
    p = producer_new(conf);
    for (int i = 0; i < n; i++)
        send_keyed(p, "keyed", i);
    ck_assert_int_eq(quire_producer_flush(p, 30000), QUIRE_ERR_NONE);
    ck_assert_int_eq(atomic_load(&ds->total), n);
    check_offsets_consecutive(n, parts);
    /* keyed records land where Kafka's murmur2 puts them */
    for (int i = 0; i < n; i++) {
        char key[32];

        snprintf(key, sizeof(key), "key-%d", i % 997);
        ck_assert_int_eq(ds->part[i],
                         quire_partition_for_key(key, strlen(key), parts));
    }
    ck_assert_int_eq(quire_producer_close(p, 10000), QUIRE_ERR_NONE);
    consume_check("keyed", parts, n);
    /* close() is idempotent-safe on NULL; reports came exactly once */
    ck_assert_int_eq(quire_producer_close(NULL, 0), QUIRE_ERR_NONE);
    qt_cluster_stop(&cl);
    free(ds);
}
END_TEST

static const char *const codecs[] = {"gzip", "lz4", "zstd", "none"};

START_TEST(compression_round_trip)
{
    const int n = 5000;
    quire_conf_t *conf;
    quire_producer_t *p;
    char topic[32];

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    snprintf(topic, sizeof(topic), "codec-%s", codecs[_i]);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, topic, 2, 1, 20000), 0);
    conf = conf_new(cl.bootstrap);
    conf_set(conf, "compression.type", codecs[_i]);
    conf_set(conf, "linger.ms", "20");
    conf_set(conf, "acks", "all");
    p = producer_new(conf);
    for (int i = 0; i < n; i++)
        send_keyed(p, topic, i);
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
    ck_assert_int_eq(atomic_load(&ds->total), n);
    check_offsets_consecutive(n, 2);
    consume_check(topic, 2, n);
    qt_cluster_stop(&cl);
    free(ds);
}
END_TEST

START_TEST(headers_null_key_and_value)
{
    quire_conf_t *conf;
    quire_consumer_t *c = NULL;
    quire_producer_t *p;
    const quire_record_t *r;
    quire_header_t h[2] = {{"trace", "abc", 3}, {"empty", NULL, 0}};
    char errstr[256];
    int64_t pos;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "hdr", 1, 1, 20000), 0);
    conf = conf_new(cl.bootstrap);
    conf_set(conf, "max.block.ms", "10000");
    p = producer_new(conf);
    /* the first question about a topic comes after the client's loop has
     * settled (its first housekeeping pass found nothing to ask): it must
     * still be asked at once */
    qt_sleep_ms(300);
    ck_assert_int_eq(quire_producer_send(p, "hdr", 0, NULL, 0, "v", 1, h, 2,
                                         1234567, (void *)(intptr_t)0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_send(p, "hdr", 0, "k", 1, NULL, 0, NULL, 0,
                                         0, (void *)(intptr_t)1),
                     QUIRE_ERR_NONE);
    /* bad arguments are refused before anything is queued */
    ck_assert_int_eq(
        quire_producer_send(p, "hdr", 5, NULL, 0, "v", 1, NULL, 0, 0, NULL),
        QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    ck_assert_int_eq(quire_producer_send(p, "bad/name", 0, NULL, 0, "v", 1,
                                         NULL, 0, 0, NULL),
                     QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
    ck_assert_int_eq(
        quire_producer_send(p, "hdr", -2, NULL, 0, "v", 1, NULL, 0, 0, NULL),
        QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(quire_producer_close(p, 10000), QUIRE_ERR_NONE);
    ck_assert_int_eq(atomic_load(&ds->total), 2);

    conf = conf_new(cl.bootstrap);
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    qt_sleep_ms(300);
    ck_assert_int_eq(quire_consumer_assign(c, "hdr", 0, 1), QUIRE_ERR_NONE);
    /* seek back: the first record comes first */
    ck_assert_int_eq(quire_consumer_seek(c, "hdr", 0, 0), QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_poll(c, 10000, &r), QUIRE_ERR_NONE);
    ck_assert_int_eq(r->offset, 0);
    ck_assert_int_eq(r->timestamp, 1234567);
    ck_assert_ptr_null(r->key);
    ck_assert_uint_eq(r->value_len, 1);
    ck_assert_uint_eq(r->header_cnt, 2);
    ck_assert_str_eq(r->headers[0].key, "trace");
    ck_assert_uint_eq(r->headers[0].value_len, 3);
    ck_assert(memcmp(r->headers[0].value, "abc", 3) == 0);
    ck_assert_str_eq(r->headers[1].key, "empty");
    ck_assert_ptr_null(r->headers[1].value);
    ck_assert_int_eq(quire_consumer_poll(c, 10000, &r), QUIRE_ERR_NONE);
    ck_assert_int_eq(r->offset, 1);
    ck_assert_ptr_null(r->value);
    ck_assert_uint_eq(r->key_len, 1);
    ck_assert_int_eq(quire_consumer_position(c, "hdr", 0, &pos),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(pos, 2);
    /* past the end: OFFSET_OUT_OF_RANGE, naming the partition */
    ck_assert_int_eq(quire_consumer_seek(c, "hdr", 0, 100), QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_poll(c, 10000, &r),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    ck_assert_str_eq(r->topic, "hdr");
    ck_assert_int_eq(r->offset, 100);
    ck_assert_int_eq(quire_consumer_unassign(c, "hdr", 0), QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_unassign(c, "hdr", 0), QUIRE_ERR_NOT_FOUND);
    quire_consumer_close(c);
    qt_cluster_stop(&cl);
    free(ds);
}
END_TEST

START_TEST(broker_killed_mid_run)
{
    const int n = 30000, parts = 6;
    quire_conf_t *conf;
    quire_producer_t *p;
    int delivered = 0, failed = 0, stored;
    int64_t next[6] = {0};
    zhandle_t *zh;

    ck_assert_int_eq(qt_cluster_start(&cl, 3, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "survive", parts, 1, 20000),
                     0);
    conf = conf_new(cl.bootstrap);
    conf_set(conf, "linger.ms", "2");
    conf_set(conf, "retry.backoff.ms", "50");
    conf_set(conf, "request.timeout.ms", "3000");
    conf_set(conf, "delivery.timeout.ms", "30000");
    p = producer_new(conf);
    for (int i = 0; i < n; i++) {
        send_keyed(p, "survive", i);
        /* the broker holding some leaders dies mid-run */
        if (i == n / 3)
            ck_assert_int_eq(qt_broker_kill(cl.b[1]), 0);
    }
    /* and comes back once ZooKeeper has dropped its registration
     * (replication factor 1: its partitions wait for it meanwhile, their
     * records retried) */
    zh = qt_zk_connect(cl.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/2", false, 20000));
    qt_zk_close(zh);
    ck_assert_int_eq(qt_broker_start(cl.b[1], START_MS), 0);
    ck_assert_int_eq(quire_producer_close(p, 60000), QUIRE_ERR_NONE);
    /* every record reported exactly once: delivered or failed, and the
     * delivered ones of each partition in send order at increasing
     * offsets */
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(atomic_load(&ds->reports[i]), 1);
        if (ds->err[i] != QUIRE_ERR_NONE) {
            failed++;
            continue;
        }
        delivered++;
        ck_assert_int_ge(ds->offset[i], next[ds->part[i]]);
        next[ds->part[i]] = ds->offset[i] + 1;
    }
    ck_assert_int_eq(delivered + failed, n);
    ck_assert_int_gt(delivered, n / 2);
    /* never lost silently: every record reported delivered is in the
     * topic, at its reported offset, once */
    stored = consume_check("survive", parts, n);
    fprintf(stderr,
            "broker killed mid-run: %d of %d delivered, %d failed; %d in "
            "the topic\n",
            delivered, n, failed, stored);
    qt_cluster_stop(&cl);
    free(ds);
}
END_TEST

/* kill(SIGSTOP) returns before the target has stopped: a broker thread on
 * the other core may still answer a request sent right after it. Wait
 * until every thread of @p pid shows state T in /proc. */
static int all_threads_stopped(pid_t pid)
{
    char path[64], line[512];
    struct dirent *de;
    DIR *dir;
    int stopped = 1;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if (!(dir = opendir(path)))
        return 0;
    while (stopped && (de = readdir(dir))) {
        FILE *fp;
        char *rp;
        if (de->d_name[0] == '.')
            continue;
        snprintf(line, sizeof(line), "%s/%s/stat", path, de->d_name);
        if (!(fp = fopen(line, "r")))
            continue; /* the thread just went away */
        if (!fgets(line, sizeof(line), fp) || !(rp = strrchr(line, ')')) ||
            (rp[2] != 'T' && rp[2] != 't'))
            stopped = 0;
        fclose(fp);
    }
    closedir(dir);
    return stopped;
}

static void stop_process(pid_t pid)
{
    int64_t t0 = qt_now_ms();

    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    while (!all_threads_stopped(pid)) {
        ck_assert_msg(qt_now_ms() - t0 < 5000, "pid %d did not stop", (int)pid);
        usleep(1000);
    }
}

START_TEST(buffer_memory_and_request_timeout)
{
    quire_conf_t *conf;
    quire_producer_t *p;
    char value[1000];
    quire_err_t err = QUIRE_ERR_NONE;
    int sent = 0;
    int64_t t0;

    memset(value, 'x', sizeof(value));
    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "stall", 1, 1, 20000), 0);
    conf = conf_new(cl.bootstrap);
    conf_set(conf, "buffer.memory", "200000");
    conf_set(conf, "batch.size", "16384");
    conf_set(conf, "max.block.ms", "300");
    conf_set(conf, "request.timeout.ms", "500");
    conf_set(conf, "delivery.timeout.ms", "1500");
    conf_set(conf, "retry.backoff.ms", "50");
    p = producer_new(conf);
    /* metadata first, while the broker answers (a new topic's leaders
     * may take longer than max.block.ms: then send says TIMED_OUT and
     * queues nothing) */
    t0 = qt_now_ms();
    do
        err = quire_producer_send(p, "stall", 0, NULL, 0, "x", 1, NULL, 0, 0,
                                  (void *)(intptr_t)sent);
    while (err == QUIRE_ERR_TIMED_OUT && qt_now_ms() - t0 < 10000);
    ck_assert_int_eq(err, QUIRE_ERR_NONE);
    sent++;
    ck_assert_int_eq(quire_producer_flush(p, 10000), QUIRE_ERR_NONE);
    /* the broker stops answering (but keeps its sockets) */
    stop_process(cl.b[0]->pid);
    t0 = qt_now_ms();
    while (sent < MAXREC && qt_now_ms() - t0 < 20000) {
        err = quire_producer_send(p, "stall", 0, NULL, 0, value, sizeof(value),
                                  NULL, 0, 0, (void *)(intptr_t)sent);
        if (err != QUIRE_ERR_NONE)
            break;
        sent++;
    }
    /* buffer.memory is used up: send blocked max.block.ms, then failed */
    ck_assert_int_eq(err, QUIRE_ERR_QUEUE_FULL);
    ck_assert_int_lt(sent, 400);
    /* in flight requests time out (request.timeout.ms), records are
     * retried until delivery.timeout.ms and then reported failed */
    ck_assert_int_eq(quire_producer_flush(p, 20000), QUIRE_ERR_NONE);
    ck_assert_int_eq(atomic_load(&ds->total), sent);
    for (int i = 1; i < sent; i++) {
        ck_assert_int_eq(atomic_load(&ds->reports[i]), 1);
        /* expired in the producer: its own code (issue 18 item 9) */
        ck_assert_int_eq(ds->err[i], QUIRE_ERR_MSG_TIMED_OUT);
    }
    kill(cl.b[0]->pid, SIGCONT);
    ck_assert_int_eq(quire_producer_close(p, 10000), QUIRE_ERR_NONE);
    qt_cluster_stop(&cl);
    free(ds);
}
END_TEST

/* A listening socket that accepts connections and never reads. */
static int silent_listener(int *portp)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *portp = ntohs(sa.sin_port);
    return fd;
}

START_TEST(silent_broker_does_not_hang)
{
    quire_conf_t *conf;
    quire_producer_t *p;
    quire_consumer_t *c = NULL;
    const quire_record_t *r;
    char addr[64], errstr[256];
    int port, fd = silent_listener(&port);
    int64_t t0;

    (void)qt_zk_env(); /* integration tests need the harness: 99 without */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    conf = conf_new(addr);
    conf_set(conf, "max.block.ms", "500");
    conf_set(conf, "request.timeout.ms", "300");
    p = producer_new(conf);
    t0 = qt_now_ms();
    /* no metadata ever comes: send gives up after max.block.ms */
    ck_assert_int_eq(quire_producer_send(p, "t", QUIRE_PARTITION_ANY, NULL, 0,
                                         "v", 1, NULL, 0, 0, NULL),
                     QUIRE_ERR_TIMED_OUT);
    /* (deadlines use the coarse clock: a tick of slack) */
    ck_assert_int_ge(qt_now_ms() - t0, 480);
    t0 = qt_now_ms();
    ck_assert_int_eq(quire_producer_close(p, 1000), QUIRE_ERR_NONE);
    ck_assert_int_lt(qt_now_ms() - t0, 5000);
    ck_assert_int_eq(atomic_load(&ds->total), 0);
    free(ds);

    conf = conf_new(addr);
    conf_set(conf, "request.timeout.ms", "300");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_assign(c, "t", 0, 0), QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_poll(c, 700, &r), QUIRE_ERR_TIMED_OUT);
    t0 = qt_now_ms();
    quire_consumer_close(c);
    ck_assert_int_lt(qt_now_ms() - t0, 5000);
    close(fd);
}
END_TEST

START_TEST(bad_configuration)
{
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *p = NULL;
    quire_consumer_t *c = NULL;
    char errstr[256];

    (void)qt_zk_env();
    ck_assert_int_eq(quire_producer_new(conf, &p, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_str_eq(errstr,
                     "bootstrap.servers (or zookeeper.connect) is not set");
    ck_assert_int_eq(
        quire_conf_set(conf, "bootstrap.servers", "nohostport", NULL, 0),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_str_eq(errstr,
                     "bootstrap.servers: expected host:port, got nohostport");
    ck_assert_int_eq(
        quire_conf_set(conf, "bootstrap.servers", "h:70000", NULL, 0),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_new(conf, &p, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_str_eq(errstr, "bootstrap.servers: bad port in h:70000");
    /* the conf stays the caller's on error */
    quire_conf_destroy(conf);
    ck_assert_int_eq(quire_producer_new(NULL, &p, NULL, 0), QUIRE_ERR_BAD_ARG);
}
END_TEST

START_TEST(zookeeper_connect)
{
    const int n = 2000, parts = 4;
    quire_conf_t *conf;
    quire_producer_t *p, *p2 = NULL;
    char errstr[256], *empty, addr[64];
    int64_t t0;

    ck_assert_int_eq(qt_cluster_start(&cl, 2, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "viazk", parts, 1, 20000), 0);
    /* no bootstrap.servers: the brokers come from /brokers/ids */
    conf = quire_conf_new();
    conf_set(conf, "zookeeper.connect", cl.zk_connect);
    p = producer_new(conf);
    for (int i = 0; i < n; i++)
        send_keyed(p, "viazk", i);
    ck_assert_int_eq(quire_producer_close(p, 20000), QUIRE_ERR_NONE);
    check_offsets_consecutive(n, parts);
    free(ds);

    /* a chroot where no broker registered */
    empty = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(empty);
    conf = quire_conf_new();
    conf_set(conf, "zookeeper.connect", empty);
    ck_assert_int_eq(quire_producer_new(conf, &p2, errstr, sizeof(errstr)),
                     QUIRE_ERR_ALL_BROKERS_DOWN);
    /* issue 18 item 11: the likely cause named */
    ck_assert_msg(strstr(errstr, "is the chroot missing?") != NULL, "%s",
                  errstr);
    quire_conf_destroy(conf);
    free(empty);

    /* no ZooKeeper there: gives up after the connection timeout */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", qt_free_port());
    conf = quire_conf_new();
    conf_set(conf, "zookeeper.connect", addr);
    conf_set(conf, "zookeeper.connection.timeout.ms", "1000");
    t0 = qt_now_ms();
    ck_assert_int_eq(quire_producer_new(conf, &p2, errstr, sizeof(errstr)),
                     QUIRE_ERR_ZK_CONNECTION_LOSS);
    ck_assert_int_lt(qt_now_ms() - t0, 5000);
    quire_conf_destroy(conf);
    qt_cluster_stop(&cl);
}
END_TEST

/* ---- failover (issue 16 items 11 and 12) ----
 * Replication factor 1: a partition whose broker is down has no leader
 * (or, until ZooKeeper notices, or when it cannot, a leader nobody can
 * reach). Records without a key must go around it; keyed records for it
 * fail with a message naming the partition and the reason; a partition
 * whose leadership moves (the broker stopped, its partition reassigned in
 * ZooKeeper) gets every record at the new leader, in order. */

#define FO_PARTS 6

/* The leader of @p topic-@p p in its state znode, and its epochs. */
static int zk_leader(zhandle_t *zh, const char *topic, int p, int *epochp,
                     int *ctl_epochp)
{
    char path[256], *data = NULL, *at;
    int leader = -1, len;

    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state",
             topic, p);
    ck_assert_int_eq(qt_zk_get(zh, path, &data, &len, NULL, false, 10000), ZOK);
    ck_assert_ptr_nonnull(data);
    ck_assert((at = strstr(data, "\"leader\":")) != NULL);
    leader = atoi(at + 9);
    if (epochp && (at = strstr(data, "\"leader_epoch\":")))
        *epochp = atoi(at + 15);
    if (ctl_epochp && (at = strstr(data, "\"controller_epoch\":")))
        *ctl_epochp = atoi(at + 19);
    free(data);
    return leader;
}

/* Waits until every partition of @p topic has a leader in ZooKeeper;
 * fills @p dead[p] with whether broker @p victim leads it. @returns how
 * many it leads. */
static int partitions_of(zhandle_t *zh, const char *topic, int victim,
                         int dead[FO_PARTS])
{
    char path[256];
    int n = 0;

    for (int p = 0; p < FO_PARTS; p++) {
        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state",
                 topic, p);
        ck_assert(qt_zk_wait_exists(zh, path, true, 20000));
        dead[p] = zk_leader(zh, topic, p, NULL, NULL) == victim;
        n += dead[p];
    }
    return n;
}

/* `seq 1 N | quire-console-producer --topic T`, as the user ran
 * it, with a delivery timeout short enough for a test: every record must
 * be delivered (exit 0, no failure on stderr). */
static void console_produce_all(const char *topic, int n)
{
    char *input = malloc((size_t)n * 8 + 1), *at;
    char *argv[] = {QT_PRODUCER_BIN,
                    "--topic",
                    (char *)topic,
                    "--bootstrap-server",
                    cl.bootstrap,
                    "--producer-property",
                    "delivery.timeout.ms=20000",
                    "--producer-property",
                    "request.timeout.ms=5000",
                    NULL};
    qt_run_result_t res;

    ck_assert_ptr_nonnull(input);
    at = input;
    for (int i = 1; i <= n; i++)
        at += sprintf(at, "%d\n", i);
    ck_assert_int_eq(qt_run(argv, input, 90000, &res), 0);
    free(input);
    ck_assert_msg(!res.timed_out, "quire-console-producer hung");
    ck_assert_msg(res.status == 0, "quire-console-producer exited %d:\n%s",
                  res.status, res.err);
    ck_assert_msg(strstr(res.err, "not delivered") == NULL &&
                      strstr(res.err, "destroyed") == NULL,
                  "%s", res.err);
    qt_run_free(&res);
}

/* Keyed records for every partition: those of the partitions in @p dead
 * fail after delivery.timeout.ms with a message naming the partition and
 * @p reason; the others are delivered. */
static void keyed_fail_clearly(const char *topic, const int dead[FO_PARTS],
                               const char *reason)
{
    const int n = 600;
    quire_conf_t *conf = conf_new(cl.bootstrap);
    quire_producer_t *p;
    int failed = 0;

    conf_set(conf, "request.timeout.ms", "1000");
    conf_set(conf, "delivery.timeout.ms", "3000");
    p = producer_new(conf);
    for (int i = 0; i < n; i++)
        send_keyed(p, topic, i);
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
    for (int i = 0; i < n; i++) {
        char key[32];
        int32_t part;

        snprintf(key, sizeof(key), "key-%d", i % 997);
        part = quire_partition_for_key(key, strlen(key), FO_PARTS);
        ck_assert_int_eq(atomic_load(&ds->reports[i]), 1);
        ck_assert_int_eq(ds->part[i], part);
        if (!dead[part]) {
            ck_assert_int_eq(ds->err[i], QUIRE_ERR_NONE);
            continue;
        }
        failed++;
        ck_assert_int_eq(ds->err[i], QUIRE_ERR_MSG_TIMED_OUT);
    }
    ck_assert_int_gt(failed, 0);
    for (int q = 0; q < FO_PARTS; q++) {
        char name[64];

        if (!dead[q])
            continue;
        snprintf(name, sizeof(name), "Expiring");
        ck_assert_msg(strstr(ds->why[q], name) != NULL, "%s", ds->why[q]);
        snprintf(name, sizeof(name), " for %s-%d: ", topic, q);
        ck_assert_msg(strstr(ds->why[q], name) != NULL, "%s", ds->why[q]);
        ck_assert_msg(strstr(ds->why[q], reason) != NULL, "%s", ds->why[q]);
        fprintf(stderr, "%s-%d: %s\n", topic, q, ds->why[q]);
    }
    free(ds);
}

/* quire-perf produce with one broker down: the library's partitioner
 * (the default) delivers everything; round robin over every partition
 * fails the dead ones' records, naming them. */
static void perf_both_partitioners(const char *topic)
{
    char parts[16];
    char *argv[] = {QT_PERF_BIN,
                    "produce",
                    "--topic",
                    (char *)topic,
                    "--bootstrap-server",
                    cl.bootstrap,
                    "--num-records",
                    "20000",
                    "--timeout-ms",
                    "60000",
                    "--producer-property",
                    "delivery.timeout.ms=5000",
                    "--producer-property",
                    "request.timeout.ms=2000",
                    NULL,
                    NULL,
                    NULL};
    qt_run_result_t res;
    char name[64];

    ck_assert_int_eq(qt_run(argv, NULL, 90000, &res), 0);
    ck_assert_msg(res.status == 0, "quire-perf exited %d:\n%s", res.status,
                  res.err);
    ck_assert_msg(strstr(res.out, "20000 records delivered") != NULL, "%s",
                  res.out);
    qt_run_free(&res);
    snprintf(parts, sizeof(parts), "%d", FO_PARTS);
    argv[14] = "--partitions";
    argv[15] = parts;
    ck_assert_int_eq(qt_run(argv, NULL, 90000, &res), 0);
    ck_assert_msg(res.status == 1, "quire-perf exited %d:\n%s", res.status,
                  res.err);
    snprintf(name, sizeof(name), " for %s-", topic);
    ck_assert_msg(strstr(res.err, "record(s) failed; the first: Expiring") &&
                      strstr(res.err, name),
                  "%s", res.err);
    qt_run_free(&res);
}

START_TEST(unkeyed_go_around_a_dead_broker)
{
    int dead[FO_PARTS];
    zhandle_t *zh;

    ck_assert_int_eq(qt_cluster_start(&cl, 3, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "avail", FO_PARTS, 1, 20000),
                     0);
    zh = qt_zk_connect(cl.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert_int_gt(partitions_of(zh, "avail", 2, dead), 0);
    ck_assert_int_eq(qt_broker_kill(cl.b[1]), 0);
    /* before ZooKeeper notices: the metadata still names broker 2, which
     * refuses connections */
    console_produce_all("avail", 20000);
    keyed_fail_clearly("avail", dead, "is unreachable");
    perf_both_partitioners("avail");
    /* after: its partitions have no leader. A new handle: nothing pumped
     * this one while the tools ran, and on a loaded machine its session
     * can expire meanwhile */
    qt_zk_close(zh);
    zh = qt_zk_connect(cl.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/2", false, 20000));
    console_produce_all("avail", 20000);
    keyed_fail_clearly("avail", dead, "has no leader");
    qt_zk_close(zh);
    qt_cluster_stop(&cl);
}
END_TEST

START_TEST(unkeyed_go_around_with_zookeeper_down)
{
    qt_zkproxy_t *proxy = qt_zkproxy_start(qt_zk_env(), 10000);
    int dead[FO_PARTS];
    zhandle_t *zh;
    char *broker_zk;

    ck_assert_msg(proxy != NULL, "zkproxy did not start");
    ck_assert_int_eq(qt_cluster_init(&cl, 10000), 0);
    broker_zk = qt_zkproxy_connect_string(proxy, strchr(cl.zk_connect, '/'));
    ck_assert_ptr_nonnull(broker_zk);
    ck_assert_int_eq(
        qt_cluster_start_brokers(&cl, 3, broker_zk, NULL, START_MS), 0);
    free(broker_zk);
    ck_assert_int_eq(
        qt_cluster_topic_create(&cl, "availzk", FO_PARTS, 1, 20000), 0);
    zh = qt_zk_connect(cl.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert_int_gt(partitions_of(zh, "availzk", 2, dead), 0);
    qt_zk_close(zh);
    /* the state znodes exist before the brokers have read them: a broker
     * cut from ZooKeeper in between never learns the leaders, and its
     * Metadata says "no leader" for every partition */
    for (int i = 0; i < 3; i++) {
        qt_client_t *c = qt_client_connect(cl.b[i]->addr, 5000);

        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(qt_wait_topic(c, "availzk", FO_PARTS, 20000), 0);
        qt_client_close(c);
    }
    /* the brokers lose ZooKeeper, then broker 2 dies: nobody can tell the
     * others, whose metadata keeps naming it */
    qt_zkproxy_stop(proxy);
    ck_assert_int_eq(qt_broker_kill(cl.b[1]), 0);
    console_produce_all("availzk", 5000);
    keyed_fail_clearly("availzk", dead, "is unreachable");
    qt_cluster_stop(&cl);
}
END_TEST

/* Runs quire-reassign-partitions @p mode (--execute, --verify) on the
 * request "replicas of @p topic-@p p: [@p to]", given on its stdin as an
 * operator's file. @returns the tool's exit status (--verify: 0 done, 3
 * still moving). */
static int reassign(const char *mode, const char *topic, int p, int to)
{
    char json[256];
    char *argv[] = {QT_REASSIGN_BIN,
                    "--zookeeper",
                    cl.zk_connect,
                    (char *)mode,
                    "--reassignment-json-file",
                    "/dev/stdin",
                    NULL};
    qt_run_result_t res;
    int status;

    snprintf(json, sizeof(json),
             "{\"version\":1,\"partitions\":[{\"topic\":\"%s\","
             "\"partition\":%d,\"replicas\":[%d]}]}",
             topic, p, to);
    ck_assert_int_eq(qt_run(argv, json, 30000, &res), 0);
    status = res.status;
    ck_assert_msg(status == 0 || (status == 3 && !strcmp(mode, "--verify")),
                  "quire-reassign-partitions %s exited %d: %s%s", mode, status,
                  res.out, res.err);
    qt_run_free(&res);
    return status;
}

/* Polls once (200 ms): 0 when nothing came, else 1 after checking the
 * record is at @p offset with value "value-<@p i>". */
static int poll_expect(quire_consumer_t *c, int64_t offset, int i)
{
    const quire_record_t *r;
    quire_err_t err = quire_consumer_poll(c, 200, &r);
    char want[32];

    if (err == QUIRE_ERR_TIMED_OUT)
        return 0;
    ck_assert_msg(err == QUIRE_ERR_NONE, "poll: %s", quire_err2str(err));
    ck_assert_int_eq(r->offset, offset);
    snprintf(want, sizeof(want), "value-%d", i);
    ck_assert_msg(r->value_len == strlen(want) &&
                      !memcmp(r->value, want, r->value_len),
                  "offset %lld: '%.*s', not '%s'", (long long)offset,
                  (int)r->value_len, (const char *)r->value, want);
    return 1;
}

/* Reads @p topic-@p part from 0 to @p end: each offset holds the record
 * reported delivered there (records i = @p part mod @p parts). */
static void read_back(const char *topic, int part, int n, int parts,
                      int64_t end)
{
    quire_conf_t *conf = conf_new(cl.bootstrap);
    quire_consumer_t *c = NULL;
    char errstr[256];
    int *at = calloc((size_t)end, sizeof(int));
    int64_t next = 0, deadline = qt_now_ms() + 30000;

    ck_assert_ptr_nonnull(at);
    for (int i = part; i < n; i += parts)
        at[ds->offset[i]] = i;
    conf_set(conf, "fetch.max.wait.ms", "100");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_assign(c, topic, part, 0), QUIRE_ERR_NONE);
    while (next < end && qt_now_ms() < deadline)
        if (poll_expect(c, next, at[next]))
            next++;
    ck_assert_int_eq(next, end);
    quire_consumer_close(c);
    free(at);
}

/* Sends "value-@p i" keyed "key-<@p i mod 997>" to partition @p i mod
 * @p parts of "moved". */
static void send_moved(quire_producer_t *p, int i, int parts)
{
    char key[32], value[64];

    snprintf(key, sizeof(key), "key-%d", i % 997);
    snprintf(value, sizeof(value), "value-%d", i);
    ck_assert_int_eq(quire_producer_send(p, "moved", i % parts, key,
                                         strlen(key), value, strlen(value),
                                         NULL, 0, 0, (void *)(intptr_t)i),
                     QUIRE_ERR_NONE);
}

/* An operator moves a partition to another broker with
 * quire-reassign-partitions while a producer (acks=all) writes to it and
 * its neighbours: the controller adds the new replica, waits until it has
 * caught up, makes it the leader at the next leader epoch and drops the
 * old one (coordinator/reassign.h); the producer follows the new leader.
 * Every record is reported once and without error, each partition's
 * offsets in send order are exactly 0, 1, 2, ... (nothing lost or written
 * twice across the move), and each partition reads back record by record,
 * the moved one on its new leader, the records its old leader took
 * included. The move happens by the controller's own hand: a test that
 * wrote the assignment and state znodes itself raced the controller, which
 * answered the new assignment by taking the partition offline. */
START_TEST(leader_moved_while_producing)
{
    const int n = 9000, parts = 3, moved_part = 0;
    int victim, target, i = 0, moved = 0;
    int64_t last[3] = {-1, -1, -1}, deadline;
    quire_conf_t *conf;
    quire_producer_t *p;
    zhandle_t *zh;

    ck_assert_int_eq(qt_cluster_start(&cl, 3, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "moved", parts, 1, 20000), 0);
    zh = qt_zk_connect(cl.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    victim = zk_leader(zh, "moved", moved_part, NULL, NULL);
    ck_assert(victim >= 1 && victim <= 3);
    target = victim % 3 + 1;
    conf = conf_new(cl.bootstrap);
    conf_set(conf, "linger.ms", "2");
    conf_set(conf, "acks", "all");
    conf_set(conf, "retry.backoff.ms", "50");
    conf_set(conf, "request.timeout.ms", "3000");
    conf_set(conf, "delivery.timeout.ms", "60000");
    p = producer_new(conf);
    for (; i <= n / 3; i++)
        send_moved(p, i, parts);
    reassign("--execute", "moved", moved_part, target);
    /* a record a millisecond until the move is done, so that records are
     * in flight all through it; the last third waits for the new leader */
    deadline = qt_now_ms() + 60000;
    for (int tick = 1; !moved; tick++, qt_sleep_ms(1)) {
        if (i < n - n / 3)
            send_moved(p, i++, parts);
        if (tick % 50 == 0 &&
            zk_leader(zh, "moved", moved_part, NULL, NULL) == target)
            moved = reassign("--verify", "moved", moved_part, target) == 0;
        ck_assert_msg(qt_now_ms() < deadline,
                      "the reassignment did not complete in 60 s");
    }
    qt_zk_close(zh); /* not pumped while the producer drains */
    for (; i < n; i++)
        send_moved(p, i, parts);
    ck_assert_int_eq(quire_producer_close(p, 90000), QUIRE_ERR_NONE);
    for (i = 0; i < n; i++) {
        int q = i % parts;

        ck_assert_int_eq(atomic_load(&ds->reports[i]), 1);
        ck_assert_msg(ds->err[i] == QUIRE_ERR_NONE, "record %d: %s", i,
                      ds->why[q]);
        ck_assert_int_eq(ds->part[i], q);
        ck_assert_msg(ds->offset[i] == last[q] + 1,
                      "record %d (partition %d) at offset %lld after %lld", i,
                      q, (long long)ds->offset[i], (long long)last[q]);
        last[q] = ds->offset[i];
    }
    zh = qt_zk_connect(cl.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert_int_eq(zk_leader(zh, "moved", moved_part, NULL, NULL), target);
    qt_zk_close(zh);
    for (int q = 0; q < parts; q++)
        read_back("moved", q, n, parts, last[q] + 1);
    free(ds);
    qt_cluster_stop(&cl);
}
END_TEST

/* A simple consumer keeps its position across its leader's restart: it
 * reads on from where it was, nothing skipped or repeated. */
START_TEST(consumer_follows_leader_restart)
{
    const int n = 2000;
    quire_conf_t *conf;
    quire_producer_t *p;
    quire_consumer_t *c = NULL;
    char errstr[256];
    int leader, got = 0;
    int64_t deadline;
    zhandle_t *zh;

    ck_assert_int_eq(qt_cluster_start(&cl, 2, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "follow", 1, 1, 20000), 0);
    zh = qt_zk_connect(cl.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/topics/follow/partitions/0/state",
                                true, 20000));
    leader = zk_leader(zh, "follow", 0, NULL, NULL);
    conf = conf_new(cl.bootstrap);
    p = producer_new(conf);
    for (int i = 0; i < n; i++)
        send_keyed(p, "follow", i);
    ck_assert_int_eq(quire_producer_flush(p, 20000), QUIRE_ERR_NONE);
    conf = conf_new(cl.bootstrap);
    conf_set(conf, "fetch.max.wait.ms", "100");
    conf_set(conf, "retry.backoff.ms", "50");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_assign(c, "follow", 0, 0), QUIRE_ERR_NONE);
    deadline = qt_now_ms() + 60000;
    while (got < 2 * n && qt_now_ms() < deadline) {
        if (!poll_expect(c, got, got))
            continue;
        got++;
        if (got == n / 2) {
            /* the leader restarts under the consumer (and the producer) */
            char path[64];

            snprintf(path, sizeof(path), "/brokers/ids/%d", leader);
            ck_assert_int_eq(qt_broker_kill(cl.b[leader - 1]), 0);
            ck_assert(qt_zk_wait_exists(zh, path, false, 20000));
            ck_assert_int_eq(qt_broker_start(cl.b[leader - 1], START_MS), 0);
            for (int i = n; i < 2 * n; i++)
                send_keyed(p, "follow", i);
        }
    }
    ck_assert_int_eq(got, 2 * n);
    quire_consumer_close(c);
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
    for (int i = 0; i < 2 * n; i++)
        ck_assert_int_eq(ds->err[i], QUIRE_ERR_NONE);
    free(ds);
    qt_zk_close(zh);
    qt_cluster_stop(&cl);
}
END_TEST

START_TEST(delivery_timeout_checked)
{
    quire_conf_t *conf = conf_new("127.0.0.1:1");
    quire_producer_t *p = NULL;
    char errstr[256];

    (void)qt_zk_env();
    conf_set(conf, "linger.ms", "100");
    conf_set(conf, "request.timeout.ms", "1000");
    conf_set(conf, "delivery.timeout.ms", "1000");
    ck_assert_int_eq(quire_producer_new(conf, &p, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_str_eq(errstr, "delivery.timeout.ms (1000) should be equal to "
                             "or larger than linger.ms (100) + "
                             "request.timeout.ms (1000)");
    conf_set(conf, "delivery.timeout.ms", "1100");
    ck_assert_int_eq(quire_producer_new(conf, &p, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_close(p, 0), QUIRE_ERR_NONE);
}
END_TEST

/* quire-perf consume --group: two members in one process read a topic's
 * records together, each member's count and rate printed (issue 14). */
START_TEST(perf_group_members)
{
    char *prod[] = {QT_PERF_BIN,
                    "produce",
                    "--topic",
                    "pgroup",
                    "--bootstrap-server",
                    cl.bootstrap,
                    "--num-records",
                    "20000",
                    NULL};
    char *cons[] = {QT_PERF_BIN,
                    "consume",
                    "--topic",
                    "pgroup",
                    "--zookeeper",
                    NULL,
                    "--group",
                    "pg",
                    "--members",
                    "2",
                    "--num-records",
                    "20000",
                    "--timeout-ms",
                    "60000",
                    NULL};
    qt_run_result_t res;
    long long a = 0, b = 0;
    const char *m;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "pgroup", 4, 1, 20000), 0);
    ck_assert_int_eq(qt_run(prod, NULL, 60000, &res), 0);
    ck_assert_msg(res.status == 0, "quire-perf produce: %s", res.err);
    qt_run_free(&res);
    cons[5] = cl.zk_connect;
    ck_assert_int_eq(qt_run(cons, NULL, 90000, &res), 0);
    ck_assert_msg(res.status == 0, "quire-perf consume --group exited %d:\n%s",
                  res.status, res.err);
    m = strstr(res.out, "member 0: ");
    ck_assert_msg(m && sscanf(m, "member 0: %lld records", &a) == 1, "%s",
                  res.out);
    m = strstr(res.out, "member 1: ");
    ck_assert_msg(m && sscanf(m, "member 1: %lld records", &b) == 1, "%s",
                  res.out);
    /* every record once at least (a rebalance may hand a few over twice) */
    ck_assert_msg(a + b >= 20000, "%lld + %lld:\n%s", a, b, res.out);
    ck_assert_msg(strstr(res.out, " records received in ") != NULL, "%s",
                  res.out);
    qt_run_free(&res);
    qt_cluster_stop(&cl);
}
END_TEST

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc;

    tc = tcase_create("cluster");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, produce_keyed_three_brokers);
    tcase_add_loop_test(tc, compression_round_trip, 0,
                        sizeof(codecs) / sizeof(codecs[0]));
    tcase_add_test(tc, headers_null_key_and_value);
    tcase_add_test(tc, broker_killed_mid_run);
    tcase_add_test(tc, buffer_memory_and_request_timeout);
    tcase_add_test(tc, zookeeper_connect);
    tcase_add_test(tc, perf_group_members);
    suite_add_tcase(s, tc);

    tc = tcase_create("no broker");
    tcase_set_tags(tc, "integration");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, silent_broker_does_not_hang);
    tcase_add_test(tc, bad_configuration);
    tcase_add_test(tc, delivery_timeout_checked);
    suite_add_tcase(s, tc);

    tc = tcase_create("failover");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, unkeyed_go_around_a_dead_broker);
    tcase_add_test(tc, unkeyed_go_around_with_zookeeper_down);
    tcase_add_test(tc, leader_moved_while_producing);
    tcase_add_test(tc, consumer_follows_leader_restart);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env(); /* exits 99 when the harness gave no ZooKeeper */
    sr = srunner_create(client_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
