/*
 * logbench: the partition log's figures (issue 3, "Benchmark bench/log"):
 *
 *   append   1 MiB batches through qr_plog_append() against a plain write()
 *            loop of the same bytes to the same disk, alternating rounds;
 *            MB/s of each and the ratio (target >= 0.9)
 *   commit   8 appenders with acks=all (each waits for its flush callback):
 *            MB/s, batches per fdatasync (group commit)
 *   lookup   qr_plog_read() (64 KiB fetch) at random offsets with 1, 100
 *            and 10,000 segments, two ways: "data grows" (16 batches per
 *            segment, so 14 KB, 1.4 MB, 144 MB) and "same data" (160,000
 *            batches cut into 1, 100 or 10,000 segments). All logs are
 *            built first, then measured in interleaved rounds (one pass
 *            over each log per round, the same random offsets); reported:
 *            the median over rounds of each pass's p50 with its
 *            [min..max], mean and p99, and the 10,000 / 1 ratios (target
 *            <= 2). Each round has a warm pass (lookups back to back) and
 *            a cold pass (the CPU caches emptied before each lookup).
 *            --perf-ctl records the lookup passes alone with perf.
 *   big      append MB/s with 1 GB and with --big-gb GB already stored
 *            (within 10%); off unless --big-gb is given. Two logs kept at
 *            those sizes by retention.bytes, measured in alternating
 *            windows (after a warm-up window each), each from a synced
 *            file system with both logs' pages dropped from the page
 *            cache: median, [min..max] and the ratio, for the appends alone
 *            (per wall and per CPU second) and with the fdatasync.
 *   stop     a clean stop and start of --stop-parts partitions (2,000)
 *            through the log manager, as the broker's shutdown and start-up
 *            do (issue 14): each round appends a batch to every partition,
 *            waits until the background syncs covered them
 *            (log.write.caching=false), then times qr_logmgr_close() and
 *            the next qr_logmgr_open(); rounds alternate 1 closer thread
 *            and --stop-threads (10, the default of
 *            num.recovery.threads.per.data.dir); the ratio is the stop
 *            time with many over the stop time with one.
 *
 * bench/README.md has the recipe and the last figures.
 *
 * A program, never a timed test. Everything it writes goes under --dir
 * (default: a new directory in /tmp) and is deleted before it exits.
 * Build it without sanitizers for real figures.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "logging.h"
#include "logmgr.h"
#include "partlog.h"
#include "retention.h"

#define MIB (1024.0 * 1024.0)

typedef struct opts {
    const char *dir;
    int append_mb;   /* bytes per append round */
    int rounds;      /* append rounds of each kind */
    int commit_secs; /* group-commit run */
    int lookups;     /* per segment count */
    int big_gb;      /* 0: skip */
    const char *only;
    const char *perf_ctl; /* "CTL,ACK": perf record --control fifos */
    int big_rounds;       /* windows on each big log */
    int big_window_mb;    /* MiB per window */
    int cold_lookups;     /* per cold pass */
    int evict_mb;         /* read before each cold lookup */
    int lookup_rounds;    /* interleaved passes over the lookup logs */
    int lk_segs, lk_per;  /* --lookup-one SEGS,PER: one configuration */
    int stop_parts;       /* partitions of the stop bench */
    int stop_threads;     /* its closers (and flushers) */
    int stop_rounds;      /* rounds of each thread count */
} opts_t;

/* perf record -D -1 --control fifo:CTL,ACK: the lookup loops alone are
 * recorded (enable before, disable after), not the building of the logs. */
static FILE *perf_ctl_f, *perf_ack_f;

static void perf_ctl_open(const char *spec)
{
    char ctl[PATH_MAX];
    const char *comma = strchr(spec, ',');
    if (!comma || (size_t)(comma - spec) >= sizeof(ctl)) {
        fprintf(stderr, "logbench: --perf-ctl CTL,ACK\n");
        exit(2);
    }
    memcpy(ctl, spec, (size_t)(comma - spec));
    ctl[comma - spec] = '\0';
    perf_ctl_f = fopen(ctl, "w");
    perf_ack_f = fopen(comma + 1, "r");
    if (!perf_ctl_f || !perf_ack_f) {
        perror("logbench: --perf-ctl");
        exit(1);
    }
}

static void perf_cmd(const char *cmd)
{
    char ack[16];
    if (!perf_ctl_f)
        return;
    fprintf(perf_ctl_f, "%s\n", cmd);
    fflush(perf_ctl_f);
    if (!fgets(ack, sizeof(ack), perf_ack_f)) /* perf answers "ack" */
        fprintf(stderr, "logbench: perf did not acknowledge %s\n", cmd);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This thread's CPU time: the work of a window without the time spent
 * waiting for a CPU on a machine shared with other jobs. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The machine's load, printed with the figures: their noise. */
static void print_load(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            snprintf(buf, sizeof(buf), "?\n");
        fclose(f);
    }
    printf("%s: load average %s", when, buf);
}

static void die(const char *what, quire_err_t err)
{
    fprintf(stderr, "logbench: %s: %s\n", what, quire_err2str(err));
    exit(1);
}

/* A batch of `nrec` records of `vlen` bytes each, uncompressed. */
static size_t make_batch(uint8_t *buf, size_t cap, int nrec, size_t vlen)
{
    qr_batch_builder_t b;
    const uint8_t **out = NULL;
    const uint8_t *batch;
    size_t len;
    uint8_t *value = qr_malloc(vlen);
    memset(value, 'v', vlen);
    (void)out;
    if (qr_batch_builder_init(&b, buf, cap, 0) != QUIRE_ERR_NONE)
        die("builder", QUIRE_ERR_BAD_ARG);
    for (int i = 0; i < nrec; i++)
        if (qr_batch_builder_append(&b, 1700000000000 + i, NULL, 0, value, vlen,
                                    NULL, 0) != QUIRE_ERR_NONE)
            die("builder append", QUIRE_ERR_BUF_FULL);
    if (qr_batch_builder_finish(&b, NULL, 0, &batch, &len) != QUIRE_ERR_NONE)
        die("builder finish", QUIRE_ERR_STATE);
    free(value);
    return len;
}

static void rm_rf(const char *path)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "logbench: could not remove %s\n", path);
}

static qr_plog_t *open_log(const char *dir, const char *topic,
                           const qr_plog_conf_t *conf, qr_flusher_t *fl)
{
    qr_plog_open_opts_t o = {
        .clean = 1, .recovery_point = -1, .create = 1, .flusher = fl};
    qr_plog_t *part;
    char errstr[256];
    quire_err_t err =
        qr_plog_open(dir, topic, 0, conf, &o, &part, errstr, sizeof(errstr));
    if (err != QUIRE_ERR_NONE) {
        fprintf(stderr, "logbench: open %s: %s\n", topic, errstr);
        exit(1);
    }
    return part;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- append vs write ---- */

static double round_write(const opts_t *o, const uint8_t *batch, size_t n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/plain.dat", o->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    double t0 = now_s();
    for (int i = 0; i < o->append_mb; i++)
        if (write(fd, batch, n) != (ssize_t)n) {
            perror("write");
            exit(1);
        }
    double t = now_s() - t0;
    fdatasync(fd); /* not timed: leaves the next round a clean cache */
    close(fd);
    unlink(path);
    return (double)n * o->append_mb / MIB / t;
}

static double round_append(const opts_t *o, uint8_t *batch, size_t n)
{
    qr_plog_conf_t conf;
    char sub[PATH_MAX];
    qr_plog_conf_defaults(&conf);
    snprintf(sub, sizeof(sub), "%s/append-0", o->dir);
    qr_plog_t *part = open_log(o->dir, "append", &conf, NULL);
    double t0 = now_s();
    for (int i = 0; i < o->append_mb; i++) {
        int64_t b, l;
        quire_err_t err = qr_plog_append(part, batch, n, &b, &l);
        if (err != QUIRE_ERR_NONE)
            die("append", err);
    }
    double t = now_s() - t0;
    qr_plog_flush(part); /* not timed */
    qr_plog_close(part);
    rm_rf(sub);
    return (double)n * o->append_mb / MIB / t;
}

static void bench_append(const opts_t *o)
{
    size_t cap = (1u << 20) + 4096;
    uint8_t *batch = qr_malloc(cap);
    /* 1 MiB: 1013 records of 1024-byte values (+ framing) */
    size_t n = make_batch(batch, cap, 1013, 1024);
    double *w = qr_calloc((size_t)o->rounds, sizeof(double));
    double *a = qr_calloc((size_t)o->rounds, sizeof(double));

    printf("append: %d x %.2f MiB batches per round, %d rounds each\n",
           o->append_mb, (double)n / MIB, o->rounds);
    for (int r = 0; r < o->rounds; r++) {
        /* alternate which goes first, so neither always meets the other's
         * writeback */
        if (r % 2) {
            a[r] = round_append(o, batch, n);
            w[r] = round_write(o, batch, n);
        } else {
            w[r] = round_write(o, batch, n);
            a[r] = round_append(o, batch, n);
        }
        printf("  round %d: write() %.0f MB/s, qr_plog_append %.0f MB/s\n", r,
               w[r], a[r]);
    }
    qsort(w, (size_t)o->rounds, sizeof(double), cmp_dbl);
    qsort(a, (size_t)o->rounds, sizeof(double), cmp_dbl);
    double mw = w[o->rounds / 2], ma = a[o->rounds / 2];
    printf("append: median write() %.0f MB/s, append %.0f MB/s, ratio %.3f "
           "(target >= 0.9)\n",
           mw, ma, ma / mw);
    free(w);
    free(a);
    free(batch);
}

/* ---- group commit ---- */

typedef struct committer {
    qr_plog_t *part;
    const uint8_t *proto;
    size_t len;
    atomic_int *stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int64_t acked;
    long batches;
} committer_t;

static void on_durable(void *opaque, qr_plog_t *part, int64_t last,
                       quire_err_t err)
{
    committer_t *c = opaque;
    (void)part;
    if (err != QUIRE_ERR_NONE)
        die("flush", err);
    pthread_mutex_lock(&c->lock);
    c->acked = last;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void *committer_main(void *arg)
{
    committer_t *c = arg;
    uint8_t *buf = qr_malloc(c->len);
    while (!atomic_load(c->stop)) {
        int64_t b, last;
        int durable;
        memcpy(buf, c->proto, c->len);
        quire_err_t err = qr_plog_append(c->part, buf, c->len, &b, &last);
        if (err != QUIRE_ERR_NONE)
            die("append", err);
        pthread_mutex_lock(&c->lock);
        c->acked = -1;
        pthread_mutex_unlock(&c->lock);
        err = qr_plog_flush_request(c->part, last, on_durable, c, &durable);
        if (err != QUIRE_ERR_NONE)
            die("flush request", err);
        if (!durable) {
            pthread_mutex_lock(&c->lock);
            while (c->acked != last)
                pthread_cond_wait(&c->cond, &c->lock);
            pthread_mutex_unlock(&c->lock);
        }
        c->batches++;
    }
    free(buf);
    return NULL;
}

static void commit_run(const opts_t *o, int nthreads, size_t batch_bytes)
{
    qr_plog_conf_t conf;
    qr_flusher_t *fl;
    char sub[PATH_MAX];
    atomic_int stop = 0;
    uint8_t *proto = qr_malloc(batch_bytes + 4096);
    size_t len =
        make_batch(proto, batch_bytes + 4096, (int)(batch_bytes / 1024), 1000);
    committer_t *c = qr_calloc((size_t)nthreads, sizeof(*c));
    pthread_t *th = qr_calloc((size_t)nthreads, sizeof(*th));

    qr_plog_conf_defaults(&conf);
    if (qr_flusher_new(2, &fl) != QUIRE_ERR_NONE)
        die("flusher", QUIRE_ERR_STATE);
    qr_plog_t *part = open_log(o->dir, "commit", &conf, fl);
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        c[i].part = part;
        c[i].proto = proto;
        c[i].len = len;
        c[i].stop = &stop;
        pthread_mutex_init(&c[i].lock, NULL);
        pthread_cond_init(&c[i].cond, NULL);
        pthread_create(&th[i], NULL, committer_main, &c[i]);
    }
    sleep((unsigned)o->commit_secs);
    atomic_store(&stop, 1);
    long total = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        total += c[i].batches;
    }
    double t = now_s() - t0;
    unsigned long long syncs = qr_plog_sync_count(part);
    printf("commit: %d appenders, %zu-byte batches, acks=all: %.0f "
           "batches/s, %.1f MB/s, %llu fdatasync, %.2f batches per "
           "fdatasync\n",
           nthreads, len, (double)total / t, (double)total * len / MIB / t,
           syncs, syncs ? (double)total / (double)syncs : 0.0);
    qr_plog_close(part);
    qr_flusher_destroy(fl);
    snprintf(sub, sizeof(sub), "%s/commit-0", o->dir);
    rm_rf(sub);
    free(c);
    free(th);
    free(proto);
}

static void bench_commit(const opts_t *o)
{
    commit_run(o, 1, 16384);
    commit_run(o, 8, 16384);
    commit_run(o, 8, 1 << 20);
}

/* ---- lookup ---- */

/* Per round figures of one way of measuring (warm or cold) on one log. */
typedef struct lk_stats {
    double *p50, *mean, *p99;
} lk_stats_t;

/* A log of nsegs segments of per_seg batches (~900 bytes) each, with an
 * index entry every 4096 bytes. */
typedef struct lk_log {
    int nsegs, per_seg;
    char topic[32];
    qr_plog_t *part;
    lk_stats_t warm, cold;
} lk_log_t;

static double median(const double *v, int n)
{
    double *c = qr_malloc((size_t)n * sizeof(double));
    memcpy(c, v, (size_t)n * sizeof(double));
    qsort(c, (size_t)n, sizeof(double), cmp_dbl);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

static double vmin(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double vmax(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static void stats_alloc(lk_stats_t *st, int rounds)
{
    st->p50 = qr_calloc((size_t)rounds, sizeof(double));
    st->mean = qr_calloc((size_t)rounds, sizeof(double));
    st->p99 = qr_calloc((size_t)rounds, sizeof(double));
}

static void stats_free(lk_stats_t *st)
{
    free(st->p50);
    free(st->mean);
    free(st->p99);
}

static void lookup_build(const opts_t *o, lk_log_t *lg)
{
    qr_plog_conf_t conf;
    uint8_t batch[4096];
    size_t n = make_batch(batch, sizeof(batch), 2, 400); /* ~900 bytes */

    qr_plog_conf_defaults(&conf);
    conf.segment_bytes = (int64_t)n * lg->per_seg;
    conf.index_interval_bytes = 4096;
    conf.index_size_max_bytes = 1 << 20;
    snprintf(lg->topic, sizeof(lg->topic), "lookup%d-%d", lg->nsegs,
             lg->per_seg);
    lg->part = open_log(o->dir, lg->topic, &conf, NULL);
    for (long i = 0; i < (long)lg->nsegs * lg->per_seg; i++) {
        int64_t b, l;
        quire_err_t err = qr_plog_append(lg->part, batch, n, &b, &l);
        if (err != QUIRE_ERR_NONE)
            die("append", err);
    }
    if (qr_plog_segment_count(lg->part) != (size_t)lg->nsegs) {
        fprintf(stderr, "logbench: %s: %zu segments, wanted %d\n", lg->topic,
                qr_plog_segment_count(lg->part), lg->nsegs);
        exit(1);
    }
    stats_alloc(&lg->warm, o->lookup_rounds);
    stats_alloc(&lg->cold, o->lookup_rounds);
}

static void lookup_drop(const opts_t *o, lk_log_t *lg)
{
    char sub[PATH_MAX];
    qr_plog_close(lg->part);
    snprintf(sub, sizeof(sub), "%s/%s-0", o->dir, lg->topic);
    rm_rf(sub);
    stats_free(&lg->warm);
    stats_free(&lg->cold);
}

/* Cold lookups: before each one, a read of every cache line of a buffer
 * twice the size of a large last-level cache (and 16,384 pages, more than
 * any TLB holds), so that the lookup finds nothing of the log, of the
 * kernel's file structures or of the page cache in a CPU cache: the state
 * of a partition on a broker busy with many others. */
static uint8_t *evict_buf;
static size_t evict_len;

static void evict_caches(void)
{
    volatile uint8_t sink;
    uint8_t acc = 0;
    for (size_t i = 0; i < evict_len; i += 64)
        acc = (uint8_t)(acc + evict_buf[i]);
    sink = acc;
    (void)sink;
}

/* One pass of qr_plog_read() calls (the fetch path: 64 KiB of whole
 * batches from a uniformly random offset; the same seed, so the same
 * pattern, for every log), recorded as round r. Warm: back to back, as
 * many as o->lookups. Cold: o->cold_lookups, each after evict_caches(). */
static void lookup_pass(const opts_t *o, lk_log_t *lg, int r, double *lat,
                        int cold)
{
    int64_t end = qr_plog_log_end(lg->part);
    unsigned seed = 12345;
    double sum = 0;
    int n = cold ? o->cold_lookups : o->lookups;
    lk_stats_t *st = cold ? &lg->cold : &lg->warm;

    perf_cmd("enable");
    for (int i = 0; i < n; i++) {
        int64_t off = (int64_t)((((uint64_t)rand_r(&seed) << 31) ^
                                 (uint64_t)rand_r(&seed)) %
                                (uint64_t)end);
        qr_plog_slice_t s;
        if (cold) {
            perf_cmd("disable");
            evict_caches();
            perf_cmd("enable");
        }
        double t0 = now_s();
        quire_err_t err = qr_plog_read(lg->part, off, 65536, &s);
        qr_plog_slice_release(&s);
        lat[i] = (now_s() - t0) * 1e9;
        if (err != QUIRE_ERR_NONE)
            die("read", err);
        sum += lat[i];
    }
    perf_cmd("disable");
    qsort(lat, (size_t)n, sizeof(double), cmp_dbl);
    st->p50[r] = lat[n / 2];
    st->mean[r] = sum / n;
    st->p99[r] = lat[(size_t)n * 99 / 100];
}

static void lookup_report(const opts_t *o, const char *how, const lk_log_t *lg,
                          const lk_stats_t *st)
{
    int n = o->lookup_rounds;
    printf("lookup %s: %5d segments x %6d batches: p50 %5.0f ns "
           "[%.0f..%.0f], mean %5.0f ns, p99 %5.0f ns\n",
           how, lg->nsegs, lg->per_seg, median(st->p50, n), vmin(st->p50, n),
           vmax(st->p50, n), median(st->mean, n), median(st->p99, n));
}

/* The ratio of the medians of p50, and its range over the rounds (the
 * ratio of the two logs' p50 measured in the same round). */
static void lookup_ratio(const opts_t *o, const char *how, const char *what,
                         const lk_log_t *la, const lk_stats_t *a,
                         const lk_log_t *lb, const lk_stats_t *b)
{
    int n = o->lookup_rounds;
    double *r = qr_malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++)
        r[i] = b->p50[i] / a->p50[i];
    double m = median(b->p50, n) / median(a->p50, n);
    printf("lookup %s: %s: %d segments / %d: p50 ratio %.2f "
           "[%.2f..%.2f per round] (target <= 2): %s\n",
           how, what, lb->nsegs, la->nsegs, m, vmin(r, n), vmax(r, n),
           m <= 2 ? "ok" : "NOT within 2x");
    free(r);
}

static void lookup_summary(const opts_t *o, const char *how, lk_log_t *logs,
                           int nlogs, int cold)
{
#define ST(k) (cold ? &logs[k].cold : &logs[k].warm)
    for (int k = 0; k < nlogs; k++)
        lookup_report(o, how, &logs[k], ST(k));
    if (nlogs < 5)
        return;
    lookup_ratio(o, how, "data grows", &logs[0], ST(0), &logs[2], ST(2));
    lookup_ratio(o, how, "data grows", &logs[0], ST(0), &logs[1], ST(1));
    lookup_ratio(o, how, "same data", &logs[3], ST(3), &logs[2], ST(2));
    lookup_ratio(o, how, "same data", &logs[3], ST(3), &logs[4], ST(4));
#undef ST
}

static void bench_lookup(const opts_t *o)
{
    /* grows: the same segment size (16 batches, 14 KB), so the data grows
     * with the segments (14 KB, 1.4 MB, 144 MB); same: the same 160,000
     * batches (144 MB) cut into 1, 100 or 10,000 segments. The 10,000
     * segment log is the same in both. */
    lk_log_t logs[] = {
        {.nsegs = 1, .per_seg = 16},     {.nsegs = 100, .per_seg = 16},
        {.nsegs = 10000, .per_seg = 16}, {.nsegs = 1, .per_seg = 160000},
        {.nsegs = 100, .per_seg = 1600},
    };
    int nlogs = (int)QR_ARRAY_LEN(logs);
    int most = o->lookups > o->cold_lookups ? o->lookups : o->cold_lookups;
    double *lat = qr_malloc((size_t)most * sizeof(double));

    if (o->lk_segs > 0) { /* one configuration (profiling) */
        logs[0].nsegs = o->lk_segs;
        logs[0].per_seg = o->lk_per;
        nlogs = 1;
    }
    evict_len = (size_t)o->evict_mb << 20;
    evict_buf = qr_malloc(evict_len);
    memset(evict_buf, 1, evict_len); /* real pages, not the zero page */
    for (int k = 0; k < nlogs; k++)
        lookup_build(o, &logs[k]);
    printf("lookup: %d rounds; each round one warm pass (%d lookups back to "
           "back) and one cold pass (%d lookups, each after reading %d MiB "
           "to empty the CPU caches) over every log, starting at a "
           "different log each round\n",
           o->lookup_rounds, o->lookups, o->cold_lookups, o->evict_mb);
    print_load("lookup: before");
    for (int r = 0; r < o->lookup_rounds; r++) {
        for (int k = 0; k < nlogs; k++)
            lookup_pass(o, &logs[(k + r) % nlogs], r, lat, 0);
        for (int k = 0; k < nlogs && o->cold_lookups > 0; k++)
            lookup_pass(o, &logs[(k + r) % nlogs], r, lat, 1);
    }
    print_load("lookup: after");
    printf("lookup: p50 is the median over rounds of each pass's median, "
           "[min..max] over rounds\n");
    lookup_summary(o, "warm", logs, nlogs, 0);
    if (o->cold_lookups > 0)
        lookup_summary(o, "cold", logs, nlogs, 1);
    for (int k = 0; k < nlogs; k++)
        lookup_drop(o, &logs[k]);
    free(evict_buf);
    free(lat);
}

/* ---- big: 1 GB vs N GB stored ---- */

/* Two logs, A with 1 GB and B with --big-gb GB stored, kept at those sizes
 * by their own log.retention.bytes (run between windows, not timed): the
 * steady state of a log that keeps a fixed amount. Each round measures one
 * window of appends on each, in alternating order, each window starting
 * from a synced file system (no dirty pages of the fill or of the other
 * log's window left to write back), so both logs meet the same page cache
 * and disk. */
typedef struct big_log {
    const char *topic;
    double gb;
    qr_plog_t *part;
    double *mbs, *durable, *stored; /* one per round */
    double *cpu_mbs; /* MB per second of this thread's CPU time */
} big_log_t;

static void fill_to(qr_plog_t *part, uint8_t *batch, size_t n, double gb)
{
    while ((double)qr_plog_size_bytes(part) < gb * 1e9) {
        int64_t b, l;
        quire_err_t err = qr_plog_append(part, batch, n, &b, &l);
        if (err != QUIRE_ERR_NONE)
            die("append", err);
    }
    qr_plog_flush(part);
}

/* Drops the page cache of every .log under `dir`/`sub` (synced first, so
 * every page is clean and goes): the window then writes into free memory
 * instead of reclaiming pages of the fill or of the last window, whichever
 * log they belong to. Only our files: nothing else's cache is touched. */
static void drop_log_cache(const char *dir, const char *sub)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    DIR *d = opendir(path);
    struct dirent *de;
    if (!d) {
        perror(path);
        exit(1);
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 4, ".log") != 0)
            continue;
        char file[PATH_MAX + 256];
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        int fd = open(file, O_RDONLY);
        if (fd < 0)
            continue; /* deleted by retention meanwhile */
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    closedir(d);
}

/* Between windows, not timed: retention brings the log back to its size,
 * everything is synced (no dirty pages of the fill or of the other log's
 * window left to write back) and the logs' cached pages are dropped. */
static void settle(const opts_t *o, big_log_t *logs, int nlogs, big_log_t *lg)
{
    int deleted = 0;
    if (qr_retention_run(lg->part, qr_plog_now_ms(), &deleted) !=
        QUIRE_ERR_NONE)
        die("retention", QUIRE_ERR_KAFKA_STORAGE_ERROR);
    qr_retention_reap(lg->part, qr_plog_now_ms(), 1);
    int fd = open(o->dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || syncfs(fd) != 0) {
        perror("logbench: syncfs");
        exit(1);
    }
    close(fd);
    for (int k = 0; k < nlogs; k++) {
        char sub[64];
        snprintf(sub, sizeof(sub), "%s-0", logs[k].topic);
        drop_log_cache(o->dir, sub);
    }
}

/* One window of `mib` 1 MiB appends: MB/s of the appends alone, and with
 * the closing fdatasync counted. */
static void big_window(const opts_t *o, big_log_t *logs, big_log_t *lg, int r,
                       uint8_t *batch, size_t n, int mib)
{
    settle(o, logs, 2, lg);
    lg->stored[r] = (double)qr_plog_size_bytes(lg->part) / 1e9;
    double c0 = cpu_s();
    double t0 = now_s();
    for (int i = 0; i < mib; i++) {
        int64_t b, l;
        quire_err_t err = qr_plog_append(lg->part, batch, n, &b, &l);
        if (err != QUIRE_ERR_NONE)
            die("append", err);
    }
    double t1 = now_s();
    double c1 = cpu_s();
    if (qr_plog_flush(lg->part) != QUIRE_ERR_NONE)
        die("flush", QUIRE_ERR_KAFKA_STORAGE_ERROR);
    double t2 = now_s();
    lg->mbs[r] = (double)n * mib / MIB / (t1 - t0);
    lg->cpu_mbs[r] = (double)n * mib / MIB / (c1 - c0);
    lg->durable[r] = (double)n * mib / MIB / (t2 - t0);
}

static void big_ratio(const opts_t *o, const char *what, const double *a,
                      const double *b)
{
    int n = o->big_rounds;
    double *r = qr_malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++)
        r[i] = b[i] / a[i];
    double m = median(b, n) / median(a, n);
    printf("big: %s: %d GB / 1 GB: ratio of medians %.3f [%.3f..%.3f per "
           "round] (target 0.9..1.1): %s\n",
           what, o->big_gb, m, vmin(r, n), vmax(r, n),
           m >= 0.9 && m <= 1.1 ? "ok" : "NOT within 10%");
    free(r);
}

static void bench_big(const opts_t *o)
{
    size_t cap = (1u << 20) + 4096;
    uint8_t *batch = qr_malloc(cap);
    size_t n = make_batch(batch, cap, 1013, 1024);
    big_log_t logs[2] = {{.topic = "big1", .gb = 1.0},
                         {.topic = "bigN", .gb = (double)o->big_gb}};
    char sub[PATH_MAX];

    for (int k = 0; k < 2; k++) {
        big_log_t *lg = &logs[k];
        qr_plog_conf_t conf;
        qr_plog_conf_defaults(&conf); /* 1 GiB segments */
        conf.retention_ms = -1;       /* the batches carry 2023 timestamps */
        conf.retention_bytes = (int64_t)(lg->gb * 1e9);
        conf.segment_delete_delay_ms = 0;
        lg->part = open_log(o->dir, lg->topic, &conf, NULL);
        fill_to(lg->part, batch, n, lg->gb);
        lg->mbs = qr_calloc((size_t)o->big_rounds, sizeof(double));
        lg->durable = qr_calloc((size_t)o->big_rounds, sizeof(double));
        lg->stored = qr_calloc((size_t)o->big_rounds, sizeof(double));
        lg->cpu_mbs = qr_calloc((size_t)o->big_rounds, sizeof(double));
    }
    printf("big: %d rounds of one %d MiB window on each log, alternating "
           "which goes first, after a warm-up window on each (shown, not "
           "counted: the first window after the fill meets the page "
           "reclaim the fill left); before each window the file system is "
           "synced and both logs' cached pages dropped\n",
           o->big_rounds, o->big_window_mb);
    print_load("big: before");
    for (int r = -1; r < o->big_rounds; r++) {
        for (int j = 0; j < 2; j++) {
            big_log_t *lg = &logs[(j + (r < 0 ? 0 : r)) % 2];
            int slot = r < 0 ? 0 : r; /* the warm-up is overwritten */
            big_window(o, logs, lg, slot, batch, n, o->big_window_mb);
            printf("  %s %d: %4.1f GB stored (%3zu segments): append "
                   "%5.0f MB/s (%5.0f per CPU second), with fdatasync "
                   "%5.0f MB/s\n",
                   r < 0 ? "warm-up" : "round", slot, lg->stored[slot],
                   qr_plog_segment_count(lg->part), lg->mbs[slot],
                   lg->cpu_mbs[slot], lg->durable[slot]);
        }
    }
    for (int k = 0; k < 2; k++) {
        big_log_t *lg = &logs[k];
        int m = o->big_rounds;
        printf("big: %4.1f..%4.1f GB stored: append median %5.0f MB/s "
               "[%.0f..%.0f], per CPU second %5.0f [%.0f..%.0f], with "
               "fdatasync %5.0f MB/s [%.0f..%.0f]\n",
               vmin(lg->stored, m), vmax(lg->stored, m), median(lg->mbs, m),
               vmin(lg->mbs, m), vmax(lg->mbs, m), median(lg->cpu_mbs, m),
               vmin(lg->cpu_mbs, m), vmax(lg->cpu_mbs, m),
               median(lg->durable, m), vmin(lg->durable, m),
               vmax(lg->durable, m));
    }
    big_ratio(o, "append", logs[0].mbs, logs[1].mbs);
    big_ratio(o, "append per CPU second", logs[0].cpu_mbs, logs[1].cpu_mbs);
    big_ratio(o, "with fdatasync", logs[0].durable, logs[1].durable);
    print_load("big: after");
    for (int k = 0; k < 2; k++) {
        qr_plog_close(logs[k].part);
        snprintf(sub, sizeof(sub), "%s/%s-0", o->dir, logs[k].topic);
        rm_rf(sub);
        free(logs[k].mbs);
        free(logs[k].durable);
        free(logs[k].stored);
        free(logs[k].cpu_mbs);
    }
    free(batch);
}

/* ---- stop: a clean stop and start of many partitions ---- */

static qr_logmgr_t *stop_open(const opts_t *o, const char *dir, int threads,
                              double *secs)
{
    const char *dirs[1] = {dir};
    qr_logmgr_conf_t conf;
    qr_logmgr_t *mgr;
    char errstr[256];
    double t0 = now_s();

    qr_logmgr_conf_defaults(&conf);
    conf.dirs = dirs;
    conf.ndirs = 1;
    conf.flusher_threads = threads;
    conf.defaults.write_caching = 0; /* the broker's log.write.caching */
    quire_err_t err = qr_logmgr_open(&conf, &mgr, errstr, sizeof(errstr));
    if (err != QUIRE_ERR_NONE) {
        fprintf(stderr, "logbench: logmgr open: %s\n", errstr);
        exit(1);
    }
    *secs = now_s() - t0;
    if (qr_logmgr_count(mgr) != (size_t)o->stop_parts && qr_logmgr_count(mgr))
        die("not every partition loaded", QUIRE_ERR_STATE);
    return mgr;
}

/* A batch appended to every partition (created the first time), then
 * the wait for the background syncs to cover them all. */
static void stop_fill(const opts_t *o, qr_logmgr_t *mgr)
{
    uint8_t batch[4096];
    size_t len = make_batch(batch, sizeof(batch), 2, 100);
    char errstr[256];
    double deadline = now_s() + 600;

    for (int p = 0; p < o->stop_parts; p++) {
        qr_plog_t *part;
        uint8_t copy[4096];
        int64_t base, last;
        quire_err_t err = qr_logmgr_open_part(mgr, "stop", p, NULL, &part,
                                              errstr, sizeof(errstr));
        if (err != QUIRE_ERR_NONE)
            die(errstr, err);
        memcpy(copy, batch, len);
        if ((err = qr_plog_append(part, copy, len, &base, &last)))
            die("append", err);
        qr_plog_release(part);
    }
    for (int p = 0; p < o->stop_parts; p++) {
        qr_plog_t *part;
        if (qr_logmgr_get(mgr, "stop", p, &part) != QUIRE_ERR_NONE)
            die("get", QUIRE_ERR_STATE);
        while (qr_plog_recovery_point(part) < qr_plog_log_end(part)) {
            if (now_s() > deadline)
                die("the background syncs did not finish", QUIRE_ERR_STATE);
            usleep(10000);
        }
        qr_plog_release(part);
    }
}

static void bench_stop(const opts_t *o)
{
    char dir[PATH_MAX];
    double stop[2], start[2], secs;
    int nth[2] = {1, o->stop_threads};
    double *st[2], *sp[2];

    snprintf(dir, sizeof(dir), "%s/stop", o->dir);
    printf("stop: %d partitions, rounds of 1 and %d closer threads\n",
           o->stop_parts, o->stop_threads);
    print_load("stop, before");
    for (int k = 0; k < 2; k++) {
        st[k] = qr_calloc((size_t)o->stop_rounds, sizeof(double));
        sp[k] = qr_calloc((size_t)o->stop_rounds, sizeof(double));
    }
    qr_logmgr_t *mgr = stop_open(o, dir, nth[0], &secs);
    for (int r = 0; r < o->stop_rounds; r++) {
        for (int k = 0; k < 2; k++) {
            stop_fill(o, mgr);
            double t0 = now_s();
            quire_err_t err = qr_logmgr_close(mgr);
            st[k][r] = now_s() - t0;
            if (err != QUIRE_ERR_NONE)
                die("close", err);
            mgr = stop_open(o, dir, nth[1 - k], &sp[1 - k][r]);
            printf("  round %d: stop with %2d threads %.2f s, then start "
                   "with %2d %.2f s\n",
                   r + 1, nth[k], st[k][r], nth[1 - k], sp[1 - k][r]);
        }
    }
    if (qr_logmgr_close(mgr) != QUIRE_ERR_NONE)
        die("close", QUIRE_ERR_STATE);
    for (int k = 0; k < 2; k++) {
        stop[k] = median(st[k], o->stop_rounds);
        start[k] = median(sp[k], o->stop_rounds);
        printf("stop with %2d threads: median %.2f s [%.2f..%.2f] (%.0f us "
               "per partition); start %.2f s [%.2f..%.2f]\n",
               nth[k], stop[k], vmin(st[k], o->stop_rounds),
               vmax(st[k], o->stop_rounds), stop[k] * 1e6 / o->stop_parts,
               start[k], vmin(sp[k], o->stop_rounds),
               vmax(sp[k], o->stop_rounds));
        free(st[k]);
        free(sp[k]);
    }
    printf("stop: %d threads / 1 thread: %.2f of the time\n", nth[1],
           stop[0] > 0 ? stop[1] / stop[0] : 0);
    print_load("stop, after");
    rm_rf(dir);
}

/* ---- main ---- */

static const char usage_text[] =
    "Usage: logbench [OPTION...]\n"
    "  --dir DIR        where to write (default: a new dir in /tmp; all of\n"
    "                   it is deleted at the end)\n"
    "  --append-mb N    MiB per append round (default 2048)\n"
    "  --rounds N       rounds of each kind (default 3)\n"
    "  --commit-secs N  seconds per group-commit run (default 5)\n"
    "  --lookups N      random lookups per pass (default 200000)\n"
    "  --lookup-rounds N  passes over each lookup log, interleaved (default "
    "5)\n"
    "  --lookup-one S,B only a log of S segments of B batches (profiling)\n"
    "  --perf-ctl C,A   perf record -D -1 --control fifo:C,A: record the\n"
    "                   lookup passes only\n"
    "  --big-gb N       also the 1 GB vs N GB stored run (default: off)\n"
    "  --big-rounds N   windows on each of the two logs (default 9)\n"
    "  --big-window-mb N  MiB appended per window (default 1024)\n"
    "  --stop-parts N   partitions of the stop bench (default 2000)\n"
    "  --stop-threads N its closer threads against 1 (default 10)\n"
    "  --stop-rounds N  rounds of each (default 3)\n"
    "  --only NAME      append, commit, lookup, big or stop\n";

static void parse(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {
        {"dir", required_argument, NULL, 'd'},
        {"append-mb", required_argument, NULL, 'a'},
        {"rounds", required_argument, NULL, 'r'},
        {"commit-secs", required_argument, NULL, 'c'},
        {"lookups", required_argument, NULL, 'l'},
        {"big-gb", required_argument, NULL, 'b'},
        {"only", required_argument, NULL, 'o'},
        {"lookup-rounds", required_argument, NULL, 'R'},
        {"lookup-one", required_argument, NULL, 'O'},
        {"perf-ctl", required_argument, NULL, 'p'},
        {"big-rounds", required_argument, NULL, 'B'},
        {"cold-lookups", required_argument, NULL, 'C'},
        {"evict-mb", required_argument, NULL, 'E'},
        {"big-window-mb", required_argument, NULL, 'W'},
        {"stop-parts", required_argument, NULL, 'P'},
        {"stop-threads", required_argument, NULL, 'T'},
        {"stop-rounds", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case 'a':
            o->append_mb = atoi(optarg);
            break;
        case 'r':
            o->rounds = atoi(optarg);
            break;
        case 'c':
            o->commit_secs = atoi(optarg);
            break;
        case 'l':
            o->lookups = atoi(optarg);
            break;
        case 'b':
            o->big_gb = atoi(optarg);
            break;
        case 'o':
            o->only = optarg;
            break;
        case 'R':
            o->lookup_rounds = atoi(optarg);
            break;
        case 'O':
            if (sscanf(optarg, "%d,%d", &o->lk_segs, &o->lk_per) != 2 ||
                o->lk_segs < 1 || o->lk_per < 1) {
                fputs(usage_text, stderr);
                exit(2);
            }
            break;
        case 'p':
            o->perf_ctl = optarg;
            break;
        case 'C':
            o->cold_lookups = atoi(optarg);
            break;
        case 'E':
            o->evict_mb = atoi(optarg);
            break;
        case 'B':
            o->big_rounds = atoi(optarg);
            break;
        case 'W':
            o->big_window_mb = atoi(optarg);
            break;
        case 'P':
            o->stop_parts = atoi(optarg);
            break;
        case 'T':
            o->stop_threads = atoi(optarg);
            break;
        case 'S':
            o->stop_rounds = atoi(optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        default:
            fputs(usage_text, stderr);
            exit(2);
        }
    }
    if (o->append_mb < 1 || o->rounds < 1 || o->commit_secs < 1 ||
        o->lookups < 100 || o->lookup_rounds < 1 || o->big_gb < 0 ||
        o->big_rounds < 1 || o->big_window_mb < 1 || o->cold_lookups < 0 ||
        o->evict_mb < 1 || o->stop_parts < 1 || o->stop_threads < 1 ||
        o->stop_threads > 64 || o->stop_rounds < 1) {
        fputs(usage_text, stderr);
        exit(2);
    }
}

static int want(const opts_t *o, const char *name)
{
    return !o->only || !strcmp(o->only, name);
}

int main(int argc, char **argv)
{
    opts_t o = {.append_mb = 2048,
                .rounds = 3,
                .commit_secs = 5,
                .lookups = 200000,
                .lookup_rounds = 5,
                .big_rounds = 9,
                .big_window_mb = 1024,
                .cold_lookups = 300,
                .evict_mb = 64,
                .stop_parts = 2000,
                .stop_threads = 10,
                .stop_rounds = 3};
    char tmpl[] = "/tmp/logbench-XXXXXX";
    int made = 0;

    parse(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress as it comes */
    qr_log_setup(QR_LOG_LVL_WARNING, 0, -1);
    if (!o.dir) {
        o.dir = mkdtemp(tmpl);
        if (!o.dir) {
            perror("mkdtemp");
            return 1;
        }
        made = 1;
    }
    if (o.perf_ctl)
        perf_ctl_open(o.perf_ctl);
    printf("logbench in %s\n", o.dir);
    if (want(&o, "append"))
        bench_append(&o);
    if (want(&o, "commit"))
        bench_commit(&o);
    if (want(&o, "lookup"))
        bench_lookup(&o);
    if (o.big_gb > 0 && want(&o, "big"))
        bench_big(&o);
    if (want(&o, "stop"))
        bench_stop(&o);
    if (made)
        rmdir(o.dir);
    return 0;
}
