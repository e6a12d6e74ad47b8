/*
 * quire-perf: throughput and latency of producing, consuming, and end to
 * end (man/quire-perf.1), in the spirit of Kafka's producer and consumer
 * perf tests. A progress line every second; a final line with msg/s, MB/s
 * and latency percentiles; --csv for machines (bench/compare).
 *
 *   produce  N records of S bytes; latency = send() to delivery report
 *   consume  N records from the beginning of the partitions
 *   e2e      a producer at --throughput and a consumer from the end;
 *            latency = send() to poll() (the send time travels in the
 *            first 8 bytes of each value)
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cli.h"
#include "clientcli.h"
#include "clock.h"
#include "quire.h"

#define PROG "quire-perf"

/* produce mode measures the latency of one record in this many */
#define LAT_SAMPLE 8

static const char usage_text[] =
    "Usage: quire-perf produce|consume|e2e --topic TOPIC [OPTION...]\n"
    "Measure quire's throughput and latency.\n"
    "\n"
    "Modes:\n"
    "  produce                send --num-records records; latency is send\n"
    "                         to delivery report\n"
    "  consume                read --num-records records from the "
    "beginning\n"
    "                         (with --group: as group members, from the\n"
    "                         group's offsets, else the earliest)\n"
    "  e2e                    produce at --throughput while consuming from\n"
    "                         the end; latency is send to poll\n"
    "\n"
    "Options:\n"
    "  --topic TOPIC          the topic (required; it must exist)\n"
    "  --bootstrap-server LIST  host:port[,host:port...] of brokers\n"
    "  --zookeeper CONNECT    find the brokers in ZooKeeper (default:\n"
    "                         $QUIRE_ZOOKEEPER, else localhost:2181)\n"
    "  --num-records N        records to send or read (default 1000000)\n"
    "  --record-size BYTES    value size (default 100; e2e: at least 8)\n"
    "  --throughput MSG/S     cap on the send rate (default: none; e2e:\n"
    "                         100000)\n"
    "  --acks ACKS            0, 1 or all (default 1)\n"
    "  --compression CODEC    none, gzip, lz4 or zstd (default none)\n"
    "  --partitions P         use partitions 0..P-1 only (default: all;\n"
    "                         produce: round robin over them)\n"
    "  --partitioner NAME     produce: default (the library chooses, as\n"
    "                         Kafka's perf test: one partition per batch,\n"
    "                         only partitions with a reachable leader;\n"
    "                         the default without --partitions) or\n"
    "                         round-robin (partition i mod P, P from\n"
    "                         --partitions; the default with it)\n"
    "  --group GROUP          consume: join GROUP (through ZooKeeper,\n"
    "                         --zookeeper) instead of assigning partitions\n"
    "  --members M            consume --group: M members in this process,\n"
    "                         each with its own consumer; the run ends when\n"
    "                         they received --num-records together; each\n"
    "                         member's rate is printed (default 1)\n"
    "  --producer-property KEY=VALUE  any libquire producer setting\n"
    "  --consumer-property KEY=VALUE  any libquire consumer setting\n"
    "  --timeout-ms MS        give up when nothing moved for MS ms\n"
    "                         (default 30000)\n"
    "  --stats FILE           append the client's statistics (JSON, one\n"
    "                         document a line) to FILE ('-': stdout) every\n"
    "                         statistics.interval.ms (default here 1000)\n"
    "  --csv                  print the result as CSV (header and one "
    "row)\n"
    "  -v, --verbose          log debugging information\n"
    "  -h, --help             show this help and exit\n"
    "  -V, --version          show the version and exit\n";

enum { MODE_PRODUCE, MODE_CONSUME, MODE_E2E };
static const char *const mode_names[] = {"produce", "consume", "e2e"};

typedef struct opts {
    int mode;
    const char *topic, *group;
    int64_t num, size, rate, timeout_ms, members;
    int32_t partitions;
    int partitioner; /* PART_* */
    int csv;
    qr_cli_common_t cli; /* --bootstrap-server, --zookeeper, --verbose */
    const char *stats;   /* --stats FILE: statistics documents, one a line */
} opts_t;

/* --partitioner */
enum { PART_UNSET, PART_DEFAULT, PART_ROUND_ROBIN };

/* ---- latency histogram: 64 sub-buckets per power of two (1.6%) ---- */

#define HIST_BUCKETS (128 + 64 * 58)

typedef struct hist {
    uint64_t n[HIST_BUCKETS];
    uint64_t count, max;
} hist_t;

static int hist_index(uint64_t v)
{
    int e;

    if (v < 128)
        return (int)v;
    e = 63 - __builtin_clzll(v);
    return 128 + (e - 7) * 64 + (int)((v >> (e - 6)) - 64);
}

static uint64_t hist_value(int i)
{
    int e;

    if (i < 128)
        return (uint64_t)i;
    e = (i - 128) / 64 + 7;
    return ((uint64_t)((i - 128) % 64 + 64) << (e - 6)) +
           ((uint64_t)1 << (e - 6)) / 2;
}

static void hist_add(hist_t *h, uint64_t us)
{
    h->n[hist_index(us)]++;
    h->count++;
    if (us > h->max)
        h->max = us;
}

static double hist_pct_ms(const hist_t *h, double pct)
{
    uint64_t want = (uint64_t)((double)h->count * pct / 100.0 + 0.5), seen = 0;

    if (!h->count)
        return 0;
    if (want == 0)
        want = 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= want)
            return (double)hist_value(i) / 1000.0;
    }
    return (double)h->max / 1000.0;
}

/* ---- shared state ---- */

typedef struct perf {
    opts_t o;
    /* sent is written by the sending thread for every record, acked and
     * received by the client's thread: each on a cache line of its own,
     * or every record moves one line between the two cores */
    _Alignas(QR_CACHE_LINE) atomic_llong sent;
    _Alignas(QR_CACHE_LINE) atomic_llong acked;
    _Alignas(QR_CACHE_LINE) atomic_llong received;
    _Alignas(QR_CACHE_LINE) atomic_llong failed;
    atomic_llong bytes;
    atomic_int done;
    hist_t *hist; /* written by one thread: the delivery callback or poll */
    int64_t t0_ns;
    quire_err_t first_err;
    char first_errstr[512];
    FILE *stats_fp;             /* --stats */
    pthread_mutex_t stats_lock; /* handles write to it from their threads */
} perf_t;

/* --stats: each document on a line of its own (issue 15). */
static void on_stats(const char *json, size_t json_len, void *opaque)
{
    perf_t *pf = opaque;

    pthread_mutex_lock(&pf->stats_lock);
    fwrite(json, 1, json_len, pf->stats_fp);
    fputc('\n', pf->stats_fp);
    fflush(pf->stats_fp);
    pthread_mutex_unlock(&pf->stats_lock);
}

/* --stats: the callback on both configurations, every second unless
 * statistics.interval.ms was set. @returns 0, or -1 when FILE cannot be
 * opened (said). */
static int stats_setup(perf_t *pf, quire_conf_t *pconf, quire_conf_t *cconf)
{
    quire_conf_t *confs[2] = {pconf, cconf};

    if (!pf->o.stats)
        return 0;
    pf->stats_fp = strcmp(pf->o.stats, "-") ? fopen(pf->o.stats, "a") : stdout;
    if (!pf->stats_fp) {
        qr_cli_error(PROG, "--stats %s: %s", pf->o.stats, strerror(errno));
        return -1;
    }
    pthread_mutex_init(&pf->stats_lock, NULL);
    for (int i = 0; i < 2; i++) {
        char v[32];
        size_t n = sizeof(v);

        if (quire_conf_get(confs[i], "statistics.interval.ms", v, &n) ==
                QUIRE_ERR_NONE &&
            !strcmp(v, "0"))
            quire_conf_set(confs[i], "statistics.interval.ms", "1000", NULL, 0);
        quire_conf_set_stats_cb(confs[i], on_stats, pf);
    }
    return 0;
}

static void on_delivery(const quire_delivery_t *dr, void *opaque)
{
    perf_t *pf = opaque;

    if (dr->err != QUIRE_ERR_NONE) {
        if (atomic_fetch_add(&pf->failed, 1) == 0) {
            pf->first_err = dr->err;
            snprintf(pf->first_errstr, sizeof(pf->first_errstr), "%s",
                     dr->errstr ? dr->errstr : quire_err2str(dr->err));
        }
        return;
    }
    /* reports come from the producer's one background thread: a plain
     * store, not a locked add for every record */
    atomic_store_explicit(
        &pf->acked,
        atomic_load_explicit(&pf->acked, memory_order_relaxed) + 1,
        memory_order_relaxed);
    if (pf->o.mode == MODE_PRODUCE && dr->opaque)
        hist_add(pf->hist, (uint64_t)(qr_clock_mono_ns() -
                                      (int64_t)(intptr_t)dr->opaque) /
                               1000);
}

/* Below this much ahead of schedule the sender goes on sending. */
#define THROTTLE_MIN_SLEEP_NS 1000000

/* Sleeps as needed so that @p sent records took at least sent / rate s,
 * as Kafka's ThroughputThrottler does: only when a whole millisecond
 * ahead, never spinning. A spinning sender took a core of the two this
 * benchmark shares with the broker and the consumer, and the end-to-end
 * tail it measured was partly its own (issue 14). */
static void throttle(const opts_t *o, int64_t t0_ns, int64_t sent)
{
    int64_t due, now;

    if (o->rate <= 0)
        return;
    due = t0_ns + (int64_t)((double)sent * 1e9 / (double)o->rate);
    now = qr_clock_mono_ns();
    if (due - now >= THROTTLE_MIN_SLEEP_NS) {
        struct timespec ts = {(time_t)((due - now) / 1000000000),
                              (long)((due - now) % 1000000000)};
        nanosleep(&ts, NULL);
    }
}

/* Progress line every second (stderr, so CSV stays clean). */
static void *reporter(void *arg)
{
    perf_t *pf = arg;
    long long last = 0;
    int sec = 0;

    while (!atomic_load(&pf->done)) {
        struct timespec ts = {0, 100000000};
        long long now_cnt;

        for (int i = 0; i < 10 && !atomic_load(&pf->done); i++)
            nanosleep(&ts, NULL);
        if (atomic_load(&pf->done))
            break;
        sec++;
        now_cnt = pf->o.mode == MODE_PRODUCE ? atomic_load(&pf->acked)
                                             : atomic_load(&pf->received);
        fprintf(stderr,
                "%3ds: %lld %s, %lld msg/s, %.1f MB/s, %lld sent, %lld "
                "failed\n",
                sec, now_cnt, pf->o.mode == MODE_PRODUCE ? "acked" : "received",
                now_cnt - last,
                (double)(now_cnt - last) * (double)pf->o.size / 1e6,
                atomic_load(&pf->sent), atomic_load(&pf->failed));
        last = now_cnt;
    }
    return NULL;
}

/* ---- modes ---- */

static quire_producer_t *new_producer(perf_t *pf, quire_conf_t *conf)
{
    quire_producer_t *p = NULL;
    char errstr[256];

    quire_conf_set_delivery_cb(conf, on_delivery, pf);
    if (quire_producer_new(conf, &p, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "%s", errstr);
        quire_conf_destroy(conf);
        return NULL;
    }
    return p;
}

/* Sends the records; in e2e the first 8 bytes carry the send time. */
static int produce_all(perf_t *pf, quire_producer_t *p)
{
    const opts_t *o = &pf->o;
    uint8_t *value = malloc((size_t)o->size);
    int64_t t0 = qr_clock_mono_ns();

    if (!value)
        return -1;
    for (int64_t i = 0; i < o->size; i++)
        value[i] = (uint8_t)('a' + (i * 7 + 3) % 26);
    for (int64_t i = 0; i < o->num; i++) {
        int32_t part = o->partitioner == PART_ROUND_ROBIN
                           ? (int32_t)(i % o->partitions)
                           : QUIRE_PARTITION_ANY;
        int64_t now;
        quire_err_t err;

        throttle(o, t0, i);
        /* produce latency is sampled, one record in LAT_SAMPLE (as Kafka's
         * producer perf test samples), so reading the clock does not cost
         * the measured rate much; e2e timestamps every record */
        now =
            o->mode == MODE_E2E || i % LAT_SAMPLE == 0 ? qr_clock_mono_ns() : 0;
        if (o->mode == MODE_E2E)
            memcpy(value, &now, sizeof(now));
        err = quire_producer_send(p, o->topic, part, NULL, 0, value,
                                  (size_t)o->size, NULL, 0, 0,
                                  (void *)(intptr_t)now);
        if (err != QUIRE_ERR_NONE) {
            qr_cli_error(PROG, "send: %s", quire_err2str(err));
            free(value);
            return -1;
        }
        /* this thread is the only writer: a plain store, not a locked
         * add (a full barrier for every record) */
        atomic_store_explicit(&pf->sent, i + 1, memory_order_relaxed);
    }
    free(value);
    return 0;
}

static void print_result(const perf_t *pf, int64_t count, double secs,
                         int has_latency)
{
    const opts_t *o = &pf->o;
    double rate = secs > 0 ? (double)count / secs : 0;
    double mb = rate * (double)o->size / 1e6;
    const hist_t *h = pf->hist;

    if (o->csv) {
        printf("mode,records,record_size,seconds,msg_per_sec,mb_per_sec,"
               "p50_ms,p99_ms,p999_ms,max_ms\n");
        printf("%s,%lld,%lld,%.3f,%.1f,%.2f", mode_names[o->mode],
               (long long)count, (long long)o->size, secs, rate, mb);
        if (has_latency)
            printf(",%.3f,%.3f,%.3f,%.3f\n", hist_pct_ms(h, 50),
                   hist_pct_ms(h, 99), hist_pct_ms(h, 99.9),
                   (double)h->max / 1000.0);
        else
            printf(",,,,\n");
        return;
    }
    printf("%lld records %s in %.2f s: %.1f msg/s, %.2f MB/s", (long long)count,
           o->mode == MODE_CONSUME ? "received" : "delivered", secs, rate, mb);
    if (has_latency)
        printf(", latency p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max "
               "%.3f ms",
               hist_pct_ms(h, 50), hist_pct_ms(h, 99), hist_pct_ms(h, 99.9),
               (double)h->max / 1000.0);
    putchar('\n');
}

static int run_produce(perf_t *pf, quire_conf_t *conf)
{
    quire_producer_t *p = new_producer(pf, conf);
    int64_t t0, t1;
    int rc;

    if (!p)
        return QR_CLI_EXIT_ERROR;
    t0 = qr_clock_mono_ns();
    rc = produce_all(pf, p);
    quire_producer_flush(p, (int)pf->o.timeout_ms);
    t1 = qr_clock_mono_ns();
    quire_producer_close(p, (int)pf->o.timeout_ms);
    if (atomic_load(&pf->failed)) {
        qr_cli_error(PROG, "%lld record(s) failed; the first: %s",
                     atomic_load(&pf->failed), pf->first_errstr);
        rc = -1;
    }
    print_result(pf, atomic_load(&pf->acked), (double)(t1 - t0) / 1e9, 1);
    return rc ? QR_CLI_EXIT_ERROR : QR_CLI_EXIT_OK;
}

static quire_consumer_t *new_consumer(perf_t *pf, quire_conf_t *conf,
                                      int64_t start)
{
    quire_consumer_t *c = NULL;
    char errstr[256];
    int32_t cnt;
    quire_err_t err;

    if (quire_consumer_new(conf, &c, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "%s", errstr);
        quire_conf_destroy(conf);
        return NULL;
    }
    err = quire_consumer_partition_count(c, pf->o.topic, (int)pf->o.timeout_ms,
                                         &cnt);
    if (err == QUIRE_ERR_NONE && pf->o.partitions > 0) {
        if (pf->o.partitions > cnt)
            err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        cnt = pf->o.partitions;
    }
    for (int32_t i = 0; err == QUIRE_ERR_NONE && i < cnt; i++)
        err = quire_consumer_assign(c, pf->o.topic, i, start);
    /* wait until every start offset is resolved (e2e measures from now) */
    for (int32_t i = 0; err == QUIRE_ERR_NONE && i < cnt; i++) {
        int64_t pos = -1, deadline = qr_clock_mono_ms() + pf->o.timeout_ms;

        while (err == QUIRE_ERR_NONE && pos < 0 &&
               qr_clock_mono_ms() < deadline) {
            struct timespec ts = {0, 5000000};

            err = quire_consumer_position(c, pf->o.topic, i, &pos);
            if (pos < 0)
                nanosleep(&ts, NULL);
        }
        if (err == QUIRE_ERR_NONE && pos < 0)
            err = QUIRE_ERR_TIMED_OUT;
    }
    if (err != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "cannot read %s: %s", pf->o.topic,
                     quire_err2str(err));
        quire_consumer_close(c);
        return NULL;
    }
    return c;
}

/* Polls until --num-records arrived (from every member together) or
 * nothing came for --timeout-ms; counts this member's records in @p mine
 * when not NULL. */
static int consume_all(perf_t *pf, quire_consumer_t *c, int64_t *t_first,
                       int64_t *t_last, int64_t *mine)
{
    int64_t idle_since = qr_clock_mono_ms(), seen = 0;

    while (atomic_load(&pf->received) < pf->o.num) {
        const quire_record_t *r;
        quire_err_t err = quire_consumer_poll(c, 100, &r);
        int64_t now = 0;

        if (err == QUIRE_ERR_TIMED_OUT) {
            if (atomic_load(&pf->received) >= pf->o.num)
                break; /* the other members read the rest */
            if (qr_clock_mono_ms() - idle_since > pf->o.timeout_ms) {
                qr_cli_error(PROG, "only %lld of %lld records arrived",
                             atomic_load(&pf->received), (long long)pf->o.num);
                return -1;
            }
            continue;
        }
        if (err != QUIRE_ERR_NONE) {
            qr_cli_error(PROG, "%s-%d: %s", r->topic, r->partition,
                         quire_err2str(err));
            return -1;
        }
        /* the clock for every record in e2e (its latency); else for the
         * first, every 256th and the last of all (the rate's ends): a
         * clock read costs about as much as the rest of a record here */
        if (pf->o.mode == MODE_E2E || !*t_first || (++seen & 255) == 0 ||
            atomic_load(&pf->received) + 1 >= pf->o.num) {
            now = qr_clock_mono_ns();
            if (!*t_first)
                *t_first = now;
            *t_last = now;
            idle_since = now / 1000000;
        }
        if (pf->o.mode == MODE_E2E && r->value_len >= 8) {
            int64_t sent;

            memcpy(&sent, r->value, sizeof(sent));
            hist_add(pf->hist, (uint64_t)(now - sent) / 1000);
        }
        if (mine)
            (*mine)++;
        atomic_fetch_add(&pf->received, 1);
    }
    return 0;
}

static int run_group(perf_t *pf, quire_conf_t *conf);

static int run_consume(perf_t *pf, quire_conf_t *conf)
{
    quire_consumer_t *c;
    int64_t t0 = 0, t1 = 0;
    int rc;

    if (pf->o.group)
        return run_group(pf, conf);
    c = new_consumer(pf, conf, QUIRE_OFFSET_BEGINNING);
    if (!c)
        return QR_CLI_EXIT_ERROR;
    t0 = qr_clock_mono_ns();
    rc = consume_all(pf, c, &t1, &t1, NULL);
    quire_consumer_close(c);
    print_result(pf, atomic_load(&pf->received), (double)(t1 - t0) / 1e9, 0);
    return rc ? QR_CLI_EXIT_ERROR : QR_CLI_EXIT_OK;
}

/* ---- consume --group: M members, one thread and consumer each ---- */

typedef struct member {
    perf_t *pf;
    quire_consumer_t *c;
    int64_t t_first, t_last, count;
    int rc;
    pthread_t th;
} member_t;

static void *member_main(void *arg)
{
    member_t *m = arg;
    const char *topics[1] = {m->pf->o.topic};
    char errstr[256];
    quire_err_t err;

    err = quire_consumer_subscribe(m->c, topics, 1, errstr, sizeof(errstr));
    if (err != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "cannot join group %s: %s", m->pf->o.group,
                     errstr[0] ? errstr : quire_err2str(err));
        m->rc = -1;
        return NULL;
    }
    m->rc = consume_all(m->pf, m->c, &m->t_first, &m->t_last, &m->count);
    return NULL;
}

/* The group's rate is every record over the time from the first record
 * any member received to the last; each member's over its own first to
 * last record (members that join later start later). Records read twice
 * across a rebalance (at-least-once) count for both. */
static int run_group(perf_t *pf, quire_conf_t *conf)
{
    int64_t n = pf->o.members, t0 = 0, t1 = 0, started = 0;
    member_t *ms = calloc((size_t)n, sizeof(*ms));
    int rc = 0;

    if (!ms) {
        quire_conf_destroy(conf);
        qr_cli_error(PROG, "out of memory");
        return QR_CLI_EXIT_ERROR;
    }
    for (int64_t i = 0; i < n && rc == 0; i++) {
        quire_conf_t *mc = i == n - 1 ? conf : quire_conf_dup(conf);
        char errstr[256];

        ms[i].pf = pf;
        if (!mc || quire_consumer_new(mc, &ms[i].c, errstr, sizeof(errstr)) !=
                       QUIRE_ERR_NONE) {
            qr_cli_error(PROG, "%s", mc ? errstr : "out of memory");
            if (mc)
                quire_conf_destroy(mc);
            if (mc != conf)
                quire_conf_destroy(conf);
            rc = -1;
            break;
        }
        if (pthread_create(&ms[i].th, NULL, member_main, &ms[i]) != 0) {
            qr_cli_error(PROG, "cannot start member %lld", (long long)i);
            quire_consumer_close(ms[i].c);
            ms[i].c = NULL;
            if (i != n - 1)
                quire_conf_destroy(conf);
            rc = -1;
            break;
        }
        started++;
    }
    if (rc != 0)
        atomic_store(&pf->received, pf->o.num); /* stops the others */
    for (int64_t i = 0; i < started; i++) {
        pthread_join(ms[i].th, NULL);
        if (ms[i].rc)
            rc = -1;
        if (ms[i].count && (!t0 || ms[i].t_first < t0))
            t0 = ms[i].t_first;
        if (ms[i].t_last > t1)
            t1 = ms[i].t_last;
    }
    for (int64_t i = 0; i < started; i++) {
        double secs = (double)(ms[i].t_last - ms[i].t_first) / 1e9;

        fprintf(pf->o.csv ? stderr : stdout,
                "member %lld: %lld records, %.1f msg/s\n", (long long)i,
                (long long)ms[i].count,
                secs > 0 ? (double)ms[i].count / secs : 0.0);
        quire_consumer_close(ms[i].c);
    }
    free(ms);
    print_result(pf, atomic_load(&pf->received), (double)(t1 - t0) / 1e9, 0);
    return rc ? QR_CLI_EXIT_ERROR : QR_CLI_EXIT_OK;
}

typedef struct e2e_prod {
    perf_t *pf;
    quire_producer_t *p;
    int rc;
} e2e_prod_t;

static void *e2e_producer(void *arg)
{
    e2e_prod_t *ep = arg;

    ep->rc = produce_all(ep->pf, ep->p);
    quire_producer_flush(ep->p, (int)ep->pf->o.timeout_ms);
    return NULL;
}

static int run_e2e(perf_t *pf, quire_conf_t *pconf, quire_conf_t *cconf)
{
    quire_consumer_t *c = new_consumer(pf, cconf, QUIRE_OFFSET_END);
    e2e_prod_t ep = {pf, NULL, 0};
    int64_t t_first = 0, t_last = 0;
    pthread_t th;
    int rc;

    if (!c) {
        quire_conf_destroy(pconf);
        return QR_CLI_EXIT_ERROR;
    }
    ep.p = new_producer(pf, pconf);
    if (!ep.p) {
        quire_consumer_close(c);
        return QR_CLI_EXIT_ERROR;
    }
    if (pthread_create(&th, NULL, e2e_producer, &ep) != 0) {
        quire_producer_close(ep.p, 0);
        quire_consumer_close(c);
        return QR_CLI_EXIT_ERROR;
    }
    rc = consume_all(pf, c, &t_first, &t_last, NULL);
    pthread_join(th, NULL);
    quire_producer_close(ep.p, (int)pf->o.timeout_ms);
    quire_consumer_close(c);
    print_result(pf, atomic_load(&pf->received),
                 (double)(t_last - t_first) / 1e9, 1);
    return rc || ep.rc || atomic_load(&pf->failed) ? QR_CLI_EXIT_ERROR
                                                   : QR_CLI_EXIT_OK;
}

/* ---- arguments ---- */

static int parse_num(const char *opt, const char *s, int64_t min, int64_t *out)
{
    if (qr_cli_parse_int(s, min, INT64_MAX, out) != 0) {
        qr_cli_usage_error(PROG, "--%s: bad value '%s'", opt, s);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o, quire_conf_t *pconf,
                      quire_conf_t *cconf)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"num-records", required_argument, NULL, 'n'},
        {"record-size", required_argument, NULL, 's'},
        {"throughput", required_argument, NULL, 'r'},
        {"acks", required_argument, NULL, 'a'},
        {"compression", required_argument, NULL, 'c'},
        {"partitions", required_argument, NULL, 'p'},
        {"partitioner", required_argument, NULL, 'R'},
        {"group", required_argument, NULL, 'g'},
        {"members", required_argument, NULL, 'm'},
        {"producer-property", required_argument, NULL, 'P'},
        {"consumer-property", required_argument, NULL, 'C'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"csv", no_argument, NULL, 'x'},
        {"stats", required_argument, NULL, 'S'},
        QR_CLI_BROKER_LONG_OPTS_END,
    };
    int64_t v;
    int c;

    static const qr_cli_tool_t tool = {PROG, usage_text, "vhV", longopts, NULL};

    while ((c = qr_cli_next(&tool, argc, argv, &o->cli)) > QR_CLI_OPTS_DONE) {
        switch (c) {
        case 't':
            o->topic = optarg;
            break;
        case 'n':
            if (parse_num("num-records", optarg, 1, &o->num))
                return QR_CLI_EXIT_USAGE;
            break;
        case 's':
            if (parse_num("record-size", optarg, 0, &o->size))
                return QR_CLI_EXIT_USAGE;
            break;
        case 'r':
            if (parse_num("throughput", optarg, 1, &o->rate))
                return QR_CLI_EXIT_USAGE;
            break;
        case 'T':
            if (parse_num("timeout-ms", optarg, 1, &o->timeout_ms))
                return QR_CLI_EXIT_USAGE;
            break;
        case 'p':
            if (parse_num("partitions", optarg, 1, &v))
                return QR_CLI_EXIT_USAGE;
            o->partitions = v > INT32_MAX ? INT32_MAX : (int32_t)v;
            break;
        case 'g':
            o->group = optarg;
            break;
        case 'm':
            if (parse_num("members", optarg, 1, &o->members))
                return QR_CLI_EXIT_USAGE;
            if (o->members > 1000) {
                qr_cli_usage_error(PROG, "--members: at most 1000");
                return QR_CLI_EXIT_USAGE;
            }
            break;
        case 'R':
            if (!strcmp(optarg, "default"))
                o->partitioner = PART_DEFAULT;
            else if (!strcmp(optarg, "round-robin"))
                o->partitioner = PART_ROUND_ROBIN;
            else {
                qr_cli_usage_error(PROG,
                                   "--partitioner: unknown '%s' (known: "
                                   "default, round-robin)",
                                   optarg);
                return QR_CLI_EXIT_USAGE;
            }
            break;
        case 'a':
        case 'c':
            if (qr_ccli_conf_set(pconf, PROG,
                                 c == 'a' ? "acks" : "compression.type",
                                 optarg) != 0)
                return QR_CLI_EXIT_USAGE;
            break;
        case 'P':
        case 'C':
            if (qr_ccli_conf_kv(c == 'P' ? pconf : cconf, PROG, optarg))
                return QR_CLI_EXIT_USAGE;
            break;
        case 'x':
            o->csv = 1;
            break;
        case 'S':
            o->stats = optarg;
            break;
        }
    }
    if (c != QR_CLI_OPTS_END) /* -1 here: nothing more to do */
        return c == QR_CLI_OPTS_DONE ? -1 : QR_CLI_EXIT_USAGE;
    if (optind != argc - 1) {
        qr_cli_usage_error(PROG, "expected one mode: produce, consume or "
                                 "e2e");
        return QR_CLI_EXIT_USAGE;
    }
    for (o->mode = 0; o->mode < 3; o->mode++)
        if (!strcmp(argv[optind], mode_names[o->mode]))
            break;
    if (o->mode == 3) {
        qr_cli_usage_error(PROG, "unknown mode '%s'", argv[optind]);
        return QR_CLI_EXIT_USAGE;
    }
    if (!o->topic) {
        qr_cli_usage_error(PROG, "--topic is required");
        return QR_CLI_EXIT_USAGE;
    }
    if (o->mode == MODE_E2E && o->size < 8) {
        qr_cli_usage_error(PROG, "e2e needs --record-size of 8 or more");
        return QR_CLI_EXIT_USAGE;
    }
    if ((o->group || o->members) && o->mode != MODE_CONSUME) {
        qr_cli_usage_error(PROG, "--group and --members are for consume");
        return QR_CLI_EXIT_USAGE;
    }
    if (o->members && !o->group) {
        qr_cli_usage_error(PROG, "--members needs --group");
        return QR_CLI_EXIT_USAGE;
    }
    if (o->group && o->partitions > 0) {
        qr_cli_usage_error(PROG, "--group reads every partition (the group "
                                 "assigns them): drop --partitions");
        return QR_CLI_EXIT_USAGE;
    }
    if (!o->members)
        o->members = 1;
    if (o->mode == MODE_E2E && o->rate <= 0)
        o->rate = 100000;
    if (o->partitioner == PART_UNSET)
        o->partitioner = o->partitions > 0 ? PART_ROUND_ROBIN : PART_DEFAULT;
    if (o->partitioner == PART_ROUND_ROBIN && o->partitions <= 0) {
        qr_cli_usage_error(PROG, "--partitioner round-robin needs "
                                 "--partitions P");
        return QR_CLI_EXIT_USAGE;
    }
    if (o->partitioner == PART_DEFAULT && o->partitions > 0 &&
        o->mode != MODE_CONSUME) {
        qr_cli_usage_error(PROG, "--partitioner default chooses among all "
                                 "partitions: drop --partitions, or use "
                                 "round-robin");
        return QR_CLI_EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static perf_t pf; /* large (the histogram): not on the stack */
    static hist_t hist;
    quire_conf_t *pconf = quire_conf_new(), *cconf = quire_conf_new();
    int rc, exit_code = QR_CLI_EXIT_OK;
    char errstr[256];
    pthread_t rep;

    pf.o = (opts_t){.num = 1000000, .size = 100, .timeout_ms = 30000};
    pf.hist = &hist;
    if (!pconf || !cconf) {
        qr_cli_error(PROG, "out of memory");
        return QR_CLI_EXIT_ERROR;
    }
    quire_conf_set(pconf, "client.id", PROG, NULL, 0);
    quire_conf_set(cconf, "client.id", PROG, NULL, 0);
    /* a new group reads from the beginning, as consume does without one
     * (--consumer-property auto.offset.reset=... overrides) */
    quire_conf_set(cconf, "auto.offset.reset", "earliest", NULL, 0);
    rc = parse_args(argc, argv, &pf.o, pconf, cconf);
    if (rc == 0) {
        qr_cli_log_setup(pf.o.cli.verbose);
        if (qr_ccli_set_brokers(pconf, PROG, pf.o.cli.bootstrap,
                                pf.o.cli.zookeeper, &exit_code) != 0 ||
            qr_ccli_set_brokers(cconf, PROG, pf.o.cli.bootstrap,
                                pf.o.cli.zookeeper, &exit_code) != 0)
            rc = exit_code;
    }
    if (rc == 0 && pf.o.group &&
        (quire_conf_set(cconf, "group.id", pf.o.group, errstr,
                        sizeof(errstr)) != QUIRE_ERR_NONE ||
         quire_conf_set(cconf, "zookeeper.connect",
                        pf.o.cli.zookeeper ? pf.o.cli.zookeeper
                                           : qr_cli_zookeeper_default(),
                        errstr, sizeof(errstr)) != QUIRE_ERR_NONE)) {
        qr_cli_usage_error(PROG, "--group: %s", errstr);
        rc = QR_CLI_EXIT_USAGE;
    }
    if (rc == 0 && stats_setup(&pf, pconf, cconf) != 0)
        rc = QR_CLI_EXIT_ERROR;
    if (rc != 0) {
        quire_conf_destroy(pconf);
        quire_conf_destroy(cconf);
        return rc < 0 ? QR_CLI_EXIT_OK : rc;
    }
    pthread_create(&rep, NULL, reporter, &pf);
    switch (pf.o.mode) {
    case MODE_PRODUCE:
        quire_conf_destroy(cconf);
        rc = run_produce(&pf, pconf);
        break;
    case MODE_CONSUME:
        quire_conf_destroy(pconf);
        rc = run_consume(&pf, cconf);
        break;
    default:
        rc = run_e2e(&pf, pconf, cconf);
        break;
    }
    atomic_store(&pf.done, 1);
    pthread_join(rep, NULL);
    if (pf.stats_fp && pf.stats_fp != stdout)
        fclose(pf.stats_fp);
    return rc;
}
