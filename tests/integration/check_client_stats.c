/*
 * check_client_stats: libquire's statistics callback (issue 15 item 2)
 * against a real ZooKeeper and a real broker: documents come every
 * statistics.interval.ms (counted over a window, within bounds), each one
 * line of JSON that jansson parses, with librdkafka's fields; the
 * producer's txmsgs equal the records it delivered, per partition too;
 * the consumer's positions, high watermark and lag are what the test
 * consumed; every broker has its round-trip times; interval 0 never calls.
 */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qt_broker.h"
#include "qt_zk.h"
#include "quire.h"

#define START_MS    20000
#define MAX_DOCS    512
#define INTERVAL_MS 200

static char *zk_connect;
static qt_broker_t *broker;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void cluster_start(void)
{
    zk_connect = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(zk_connect);
    broker = qt_broker_new(1, zk_connect, "num.partitions=2\n");
    ck_assert_ptr_nonnull(broker);
    ck_assert_int_eq(qt_broker_start(broker, START_MS), 0);
}

static void cluster_stop(void)
{
    qt_broker_destroy(broker);
    broker = NULL;
    free(zk_connect);
    zk_connect = NULL;
}

/* ---- what the callback saw ---- */

typedef struct docs {
    pthread_mutex_t lock;
    int n;   /* documents received */
    int bad; /* not one line of valid JSON */
    json_t *doc[MAX_DOCS];
    int64_t at[MAX_DOCS];
} docs_t;

static void on_stats(const char *json, size_t json_len, void *opaque)
{
    docs_t *d = opaque;
    json_error_t jerr;
    json_t *doc = json_loadb(json, json_len, 0, &jerr);

    pthread_mutex_lock(&d->lock);
    if (!doc || !json_is_object(doc) || strlen(json) != json_len ||
        memchr(json, '\n', json_len))
        d->bad++;
    if (d->n < MAX_DOCS) {
        d->doc[d->n] = doc;
        d->at[d->n] = now_ms();
        doc = NULL;
    }
    d->n++;
    pthread_mutex_unlock(&d->lock);
    json_decref(doc);
}

static docs_t *docs_new(void)
{
    docs_t *d = calloc(1, sizeof(*d));

    ck_assert_ptr_nonnull(d);
    pthread_mutex_init(&d->lock, NULL);
    return d;
}

static void docs_free(docs_t *d)
{
    for (int i = 0; i < d->n && i < MAX_DOCS; i++)
        json_decref(d->doc[i]);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int docs_count(docs_t *d)
{
    int n;

    pthread_mutex_lock(&d->lock);
    n = d->n;
    pthread_mutex_unlock(&d->lock);
    return n;
}

/* Waits until @p more documents came after the @p since'th; @returns a
 * new reference to the last one. */
static json_t *docs_wait(docs_t *d, int since, int more)
{
    int64_t deadline = now_ms() + 10000;
    json_t *doc = NULL;

    while (docs_count(d) < since + more && now_ms() < deadline)
        sleep_ms(20);
    pthread_mutex_lock(&d->lock);
    ck_assert_int_ge(d->n, since + more);
    ck_assert_int_le(d->n, MAX_DOCS);
    doc = json_incref(d->doc[d->n - 1]);
    pthread_mutex_unlock(&d->lock);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static quire_conf_t *conf_new(docs_t *d, const char *interval)
{
    quire_conf_t *conf = quire_conf_new();
    char errstr[256];

    ck_assert_ptr_nonnull(conf);
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers", broker->addr,
                                    errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_conf_set(conf, "statistics.interval.ms", interval,
                                    errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_conf_set(conf, "client.id", "statsclient", errstr,
                                    sizeof(errstr)),
                     QUIRE_ERR_NONE);
    quire_conf_set_stats_cb(conf, on_stats, d);
    return conf;
}

static json_int_t jint(json_t *obj, const char *path)
{
    /* "a.b.c": nested objects */
    char buf[256], *save = NULL, *tok;
    json_t *cur = obj;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, tok);
    ck_assert_msg(json_is_integer(cur), "%s is not an integer", path);
    return json_integer_value(cur);
}

/* Every broker entry has librdkafka's fields; @returns how many have
 * round trips counted. */
static int check_brokers(json_t *doc)
{
    json_t *brokers = json_object_get(doc, "brokers"), *b;
    const char *name;
    int with_rtt = 0;

    ck_assert(json_is_object(brokers));
    ck_assert_int_ge(json_object_size(brokers), 1);
    json_object_foreach(brokers, name, b)
    {
        json_t *rtt = json_object_get(b, "rtt");

        ck_assert_str_eq(json_string_value(json_object_get(b, "name")), name);
        ck_assert(json_is_integer(json_object_get(b, "nodeid")));
        ck_assert(json_is_string(json_object_get(b, "state")));
        ck_assert_int_ge(jint(b, "outbuf_cnt"), 0);
        ck_assert_int_ge(jint(b, "waitresp_cnt"), 0);
        ck_assert_int_ge(jint(b, "tx"), 0);
        ck_assert_int_ge(jint(b, "rx"), 0);
        ck_assert(json_is_object(rtt));
        ck_assert_int_ge(jint(rtt, "cnt"), 0);
        ck_assert_int_le(jint(rtt, "min"), jint(rtt, "max"));
        ck_assert_int_le(jint(rtt, "p50"), jint(rtt, "p99"));
        ck_assert_int_le(jint(rtt, "p99"), jint(rtt, "max"));
        if (jint(rtt, "cnt") > 0) {
            ck_assert_int_gt(jint(rtt, "max"), 0);
            with_rtt++;
        }
    }
    return with_rtt;
}

/* The documents came every INTERVAL_MS: over a 2 s window, 10 expected;
 * a loaded machine may delay some but the timer does not pile up. */
static void check_rate(docs_t *d)
{
    int n0 = docs_count(d), n;

    sleep_ms(2000);
    n = docs_count(d) - n0;
    ck_assert_msg(n >= 5 && n <= 13,
                  "%d documents in 2 s at statistics.interval.ms=%d", n,
                  INTERVAL_MS);
}

/* A producer's documents: txmsgs equal the records delivered, per
 * partition as well; the broker's round trips are counted. */
START_TEST(producer_stats)
{
    docs_t *d = docs_new();
    quire_producer_t *p;
    char errstr[256];
    json_t *doc, *topic;
    int n, with_rtt = 0;

    cluster_start();
    ck_assert_int_eq(
        quire_producer_new(conf_new(d, "200"), &p, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    for (int i = 0; i < 1000; i++) {
        char v[32];

        snprintf(v, sizeof(v), "value-%d", i);
        ck_assert_int_eq(quire_producer_send(p, "st", i < 600 ? 0 : 1, NULL, 0,
                                             v, strlen(v), NULL, 0, 0, NULL),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(quire_producer_flush(p, 30000), QUIRE_ERR_NONE);
    check_rate(d);
    n = docs_count(d);
    doc = docs_wait(d, n, 1); /* counted after the flush */
    ck_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                     "producer");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "client_id")),
                     "statsclient");
    ck_assert(json_is_string(json_object_get(doc, "name")));
    ck_assert_int_gt(jint(doc, "ts"), 0);
    ck_assert_int_gt(jint(doc, "time"), 1600000000);
    ck_assert_int_eq(jint(doc, "txmsgs"), 1000);
    ck_assert_int_eq(jint(doc, "msg_cnt"), 0);
    ck_assert_int_gt(jint(doc, "tx"), 0);
    ck_assert_int_gt(jint(doc, "rx"), 0);
    topic = json_object_get(json_object_get(doc, "topics"), "st");
    ck_assert_ptr_nonnull(topic);
    ck_assert_int_eq(jint(topic, "partitions.0.txmsgs"), 600);
    ck_assert_int_eq(jint(topic, "partitions.1.txmsgs"), 400);
    ck_assert_int_eq(jint(topic, "partitions.0.leader"), 1);
    ck_assert(json_is_number(json_object_get(topic, "compression_ratio")));
    ck_assert(json_is_object(json_object_get(topic, "batchsize")));
    json_decref(doc);
    /* every document parsed; the broker's round trips were counted in
     * the intervals the records went */
    pthread_mutex_lock(&d->lock);
    ck_assert_int_eq(d->bad, 0);
    for (int i = 0; i < d->n && i < MAX_DOCS; i++)
        with_rtt += check_brokers(d->doc[i]) > 0;
    pthread_mutex_unlock(&d->lock);
    ck_assert_int_gt(with_rtt, 0);
    ck_assert_int_eq(quire_producer_close(p, 10000), QUIRE_ERR_NONE);
    docs_free(d);
    cluster_stop();
}
END_TEST

/* A consumer's documents: the position is what was polled, the high
 * watermark what was produced, the lag the difference. */
START_TEST(consumer_stats)
{
    docs_t *d = docs_new(), *pd = docs_new();
    quire_producer_t *p;
    quire_consumer_t *c;
    const quire_record_t *rec;
    char errstr[256];
    json_t *doc, *part;
    int got = 0, n;
    int64_t deadline;

    cluster_start();
    ck_assert_int_eq(
        quire_producer_new(conf_new(pd, "0"), &p, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(
            quire_producer_send(p, "sc", 0, NULL, 0, "v", 1, NULL, 0, 0, NULL),
            QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
    ck_assert_int_eq(
        quire_consumer_new(conf_new(d, "200"), &c, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_consumer_assign(c, "sc", 0, QUIRE_OFFSET_BEGINNING),
                     QUIRE_ERR_NONE);
    deadline = now_ms() + 20000;
    while (got < 60 && now_ms() < deadline)
        if (quire_consumer_poll(c, 100, &rec) == QUIRE_ERR_NONE)
            ck_assert_int_eq(rec->offset, got++);
    ck_assert_int_eq(got, 60);
    check_rate(d);
    n = docs_count(d);
    doc = docs_wait(d, n, 1);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                     "consumer");
    part = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "topics"), "sc"),
                        "partitions"),
        "0");
    ck_assert_ptr_nonnull(part);
    ck_assert_int_eq(jint(part, "partition"), 0);
    ck_assert_int_eq(jint(part, "leader"), 1);
    ck_assert_int_eq(jint(part, "app_offset"), 60);
    ck_assert_int_eq(jint(part, "fetch_offset"), 100);
    ck_assert_int_eq(jint(part, "hi_offset"), 100);
    ck_assert_int_eq(jint(part, "lo_offset"), 0);
    ck_assert_int_eq(jint(part, "committed_offset"), -1);
    ck_assert_int_eq(jint(part, "consumer_lag"), 40);
    ck_assert_int_eq(jint(part, "rxmsgs"), 100);
    ck_assert_int_eq(jint(doc, "rxmsgs"), 100);
    ck_assert_int_gt(check_brokers(doc) + 1, 0);
    json_decref(doc);
    /* the rest consumed: no lag left */
    deadline = now_ms() + 20000;
    while (got < 100 && now_ms() < deadline)
        if (quire_consumer_poll(c, 100, &rec) == QUIRE_ERR_NONE)
            ck_assert_int_eq(rec->offset, got++);
    ck_assert_int_eq(got, 100);
    n = docs_count(d);
    doc = docs_wait(d, n, 1);
    part = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "topics"), "sc"),
                        "partitions"),
        "0");
    ck_assert_int_eq(jint(part, "app_offset"), 100);
    ck_assert_int_eq(jint(part, "consumer_lag"), 0);
    json_decref(doc);
    pthread_mutex_lock(&d->lock);
    ck_assert_int_eq(d->bad, 0);
    pthread_mutex_unlock(&d->lock);
    ck_assert_int_eq(docs_count(pd), 0); /* interval 0: never */
    quire_consumer_close(c);
    docs_free(d);
    docs_free(pd);
    cluster_stop();
}
END_TEST

/* Sends @p n records of 1,000 bytes to @p topic, the first @p n0 to
 * partition 0 and the rest to partition 1, and waits until every one is
 * delivered. */
static void produce_split(docs_t *pd, const char *topic, int n, int n0)
{
    quire_producer_t *p;
    char errstr[256], value[1000];

    memset(value, 'v', sizeof(value));
    ck_assert_int_eq(
        quire_producer_new(conf_new(pd, "0"), &p, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(quire_producer_send(p, topic, i < n0 ? 0 : 1, NULL, 0,
                                             value, sizeof(value), NULL, 0, 0,
                                             NULL),
                         QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
}

/* A consumer of @p conf (taken) on partitions 0 and 1 of @p topic from
 * the beginning. */
static quire_consumer_t *consumer_both(quire_conf_t *conf, const char *topic)
{
    quire_consumer_t *c;
    char errstr[256];

    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    for (int32_t part = 0; part < 2; part++)
        ck_assert_int_eq(
            quire_consumer_assign(c, topic, part, QUIRE_OFFSET_BEGINNING),
            QUIRE_ERR_NONE);
    return c;
}

/* Polls until @p *got is @p want or @p ms passed; every record in order
 * of its partition (@p next: the next offset of partitions 0 and 1) and,
 * when @p value_len is not 0, of that length. */
static void poll_in_order(quire_consumer_t *c, int64_t next[2], int *got,
                          int want, int ms, size_t value_len)
{
    int64_t deadline = now_ms() + ms;
    const quire_record_t *rec;

    while (*got < want && now_ms() < deadline)
        if (quire_consumer_poll(c, 100, &rec) == QUIRE_ERR_NONE) {
            ck_assert_int_eq(rec->offset, next[rec->partition]++);
            if (value_len)
                ck_assert_uint_eq(rec->value_len, value_len);
            (*got)++;
        }
    ck_assert_int_eq(*got, want);
}

/* queued.max.messages.kbytes bounds what waits for poll over all the
 * partitions (issue 14): with 256 KiB, a consumer that stops polling holds
 * about that much, not max.partition.fetch.bytes twice per partition (4
 * MiB here), and still reads every record in order afterwards. */
START_TEST(queue_bounded_over_partitions)
{
    docs_t *d = docs_new(), *pd = docs_new();
    quire_consumer_t *c;
    quire_conf_t *cconf;
    char errstr[256];
    int64_t next[2] = {0, 0};
    json_int_t most = 0;
    int got = 0, n0;

    cluster_start();
    produce_split(pd, "sq", 8000, 4000);
    cconf = conf_new(d, "100");
    ck_assert_int_eq(quire_conf_set(cconf, "queued.max.messages.kbytes", "256",
                                    errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    c = consumer_both(cconf, "sq");
    poll_in_order(c, next, &got, 1, 20000, 0);
    /* not polling: the fetcher fills the queue as far as it may */
    n0 = docs_count(d);
    sleep_ms(1500);
    ck_assert_int_ge(docs_count(d), n0 + 5);
    pthread_mutex_lock(&d->lock);
    for (int i = n0; i < d->n && i < MAX_DOCS; i++) {
        json_int_t q = jint(d->doc[i], "fetchq_size");

        if (q > most)
            most = q;
    }
    pthread_mutex_unlock(&d->lock);
    /* a fetch asks for what is left; the broker may add one batch (16 KiB
     * of records here) beyond it */
    ck_assert_int_ge(most, 128 * 1024);
    ck_assert_int_le(most, 256 * 1024 + 64 * 1024);
    poll_in_order(c, next, &got, 8000, 30000, 1000);
    ck_assert_int_eq(next[0], 4000);
    ck_assert_int_eq(next[1], 4000);
    quire_consumer_close(c);
    docs_free(d);
    docs_free(pd);
    cluster_stop();
}
END_TEST

/* A partition held back by its own full queue must not wait behind a
 * Fetch of caught-up partitions that the broker parks for
 * fetch.max.wait.ms (issue 14: one read in three of 4 equal partitions
 * stalled 500 ms at its end). p0 is read to its end at once; p1 fills its
 * queue (2 x max.partition.fetch.bytes) while the application does not
 * poll. With fetch.max.wait.ms at 30 s, a Fetch of p0 alone, had one been
 * sent, would hold p1's next Fetch for 30 s; every record arrives well
 * before. */
START_TEST(held_back_not_behind_parked_fetch)
{
    docs_t *d = docs_new(), *pd = docs_new();
    quire_consumer_t *c;
    quire_conf_t *cconf;
    char errstr[256];
    int64_t next[2] = {0, 0};
    int got = 0;

    cluster_start();
    produce_split(pd, "sh", 610, 10);
    cconf = conf_new(d, "0");
    ck_assert_int_eq(quire_conf_set(cconf, "max.partition.fetch.bytes", "65536",
                                    errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_conf_set(cconf, "fetch.max.wait.ms", "30000", errstr,
                                    sizeof(errstr)),
                     QUIRE_ERR_NONE);
    c = consumer_both(cconf, "sh");
    poll_in_order(c, next, &got, 1, 20000, 0);
    /* not polling: p0 is read to its end, p1's queue fills */
    sleep_ms(1000);
    poll_in_order(c, next, &got, 610, 10000, 1000);
    ck_assert_int_eq(next[0], 10);
    ck_assert_int_eq(next[1], 600);
    quire_consumer_close(c);
    docs_free(d);
    docs_free(pd);
    cluster_stop();
}
END_TEST

/* statistics.interval.ms=0 (the default) never calls, even with a
 * callback set and records flowing. */
START_TEST(interval_zero_never)
{
    docs_t *d = docs_new();
    quire_producer_t *p;
    char errstr[256];
    char v[8];
    size_t vn = sizeof(v);
    quire_conf_t *conf = quire_conf_new();

    ck_assert_int_eq(quire_conf_get(conf, "statistics.interval.ms", v, &vn),
                     QUIRE_ERR_NONE);
    ck_assert_str_eq(v, "0");
    quire_conf_destroy(conf);
    cluster_start();
    ck_assert_int_eq(
        quire_producer_new(conf_new(d, "0"), &p, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(
            quire_producer_send(p, "sz", 0, NULL, 0, "v", 1, NULL, 0, 0, NULL),
            QUIRE_ERR_NONE);
        sleep_ms(50);
    }
    ck_assert_int_eq(quire_producer_close(p, 10000), QUIRE_ERR_NONE);
    ck_assert_int_eq(docs_count(d), 0);
    docs_free(d);
    cluster_stop();
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("client_stats");
    TCase *tc = tcase_create("cluster");

    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, producer_stats);
    tcase_add_test(tc, consumer_stats);
    tcase_add_test(tc, queue_bounded_over_partitions);
    tcase_add_test(tc, held_back_not_behind_parked_fetch);
    tcase_add_test(tc, interval_zero_never);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env(); /* exits 99 when the harness gave no ZooKeeper */
    sr = srunner_create(stats_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
