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
 *            <= 2). --perf-ctl records the lookup passes alone with perf.
 *   big      append MB/s with 1 GB and with --big-gb GB already stored
 *            (within 10%); off unless --big-gb is given
 *
 * A program, never a timed test. Everything it writes goes under --dir
 * (default: a new directory in /tmp) and is deleted before it exits.
 * Build it without sanitizers for real figures.
 */
#include "config.h"

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
#include "partlog.h"

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
    int lookup_rounds;    /* interleaved passes over the lookup logs */
    int lk_segs, lk_per;  /* --lookup-one SEGS,PER: one configuration */
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

/* A log of nsegs segments of per_seg batches (~900 bytes) each, with an
 * index entry every 4096 bytes. */
typedef struct lk_log {
    int nsegs, per_seg;
    char topic[32];
    qr_plog_t *part;
    double *p50, *mean, *p99; /* one per round */
} lk_log_t;

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
    lg->p50 = qr_calloc((size_t)o->lookup_rounds, sizeof(double));
    lg->mean = qr_calloc((size_t)o->lookup_rounds, sizeof(double));
    lg->p99 = qr_calloc((size_t)o->lookup_rounds, sizeof(double));
}

static void lookup_drop(const opts_t *o, lk_log_t *lg)
{
    char sub[PATH_MAX];
    qr_plog_close(lg->part);
    snprintf(sub, sizeof(sub), "%s/%s-0", o->dir, lg->topic);
    rm_rf(sub);
    free(lg->p50);
    free(lg->mean);
    free(lg->p99);
}

/* One pass of o->lookups qr_plog_read() calls (the fetch path: 64 KiB of
 * whole batches from a uniformly random offset; the same seed, so the same
 * pattern, for every log), recorded as round r. */
static void lookup_pass(const opts_t *o, lk_log_t *lg, int r, double *lat)
{
    int64_t end = qr_plog_log_end(lg->part);
    unsigned seed = 12345;
    double sum = 0;

    perf_cmd("enable");
    for (int i = 0; i < o->lookups; i++) {
        int64_t off = (int64_t)((((uint64_t)rand_r(&seed) << 31) ^
                                 (uint64_t)rand_r(&seed)) %
                                (uint64_t)end);
        qr_plog_slice_t s;
        double t0 = now_s();
        quire_err_t err = qr_plog_read(lg->part, off, 65536, &s);
        qr_plog_slice_release(&s);
        lat[i] = (now_s() - t0) * 1e9;
        if (err != QUIRE_ERR_NONE)
            die("read", err);
        sum += lat[i];
    }
    perf_cmd("disable");
    qsort(lat, (size_t)o->lookups, sizeof(double), cmp_dbl);
    lg->p50[r] = lat[o->lookups / 2];
    lg->mean[r] = sum / o->lookups;
    lg->p99[r] = lat[(size_t)o->lookups * 99 / 100];
}

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

static void lookup_report(const opts_t *o, const lk_log_t *lg)
{
    int n = o->lookup_rounds;
    printf("lookup: %5d segments x %6d batches: p50 %5.0f ns "
           "[%.0f..%.0f], mean %5.0f ns, p99 %5.0f ns\n",
           lg->nsegs, lg->per_seg, median(lg->p50, n), vmin(lg->p50, n),
           vmax(lg->p50, n), median(lg->mean, n), median(lg->p99, n));
}

/* The ratio of the medians of p50, and its range over the rounds (the
 * ratio of the two logs' p50 measured in the same round). */
static void lookup_ratio(const opts_t *o, const char *what, const lk_log_t *a,
                         const lk_log_t *b)
{
    int n = o->lookup_rounds;
    double *r = qr_malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++)
        r[i] = b->p50[i] / a->p50[i];
    printf("lookup: %s: %d segments / %d segments: p50 ratio %.2f "
           "[%.2f..%.2f per round] (target <= 2)\n",
           what, b->nsegs, a->nsegs, median(b->p50, n) / median(a->p50, n),
           vmin(r, n), vmax(r, n));
    free(r);
}

static void bench_lookup(const opts_t *o)
{
    /* grows: the same segment size (16 batches, 14 KB), so the data grows
     * with the segments (14 KB, 1.4 MB, 144 MB); same: the same 160,000
     * batches (144 MB) cut into 1, 100 or 10,000 segments. The 10,000
     * segment log is the same in both. */
    lk_log_t logs[] = {
        {1, 16, "", NULL, NULL, NULL, NULL},
        {100, 16, "", NULL, NULL, NULL, NULL},
        {10000, 16, "", NULL, NULL, NULL, NULL},
        {1, 160000, "", NULL, NULL, NULL, NULL},
        {100, 1600, "", NULL, NULL, NULL, NULL},
    };
    int nlogs = (int)QR_ARRAY_LEN(logs);
    double *lat = qr_malloc((size_t)o->lookups * sizeof(double));

    if (o->lk_segs > 0) { /* one configuration (profiling) */
        logs[0].nsegs = o->lk_segs;
        logs[0].per_seg = o->lk_per;
        nlogs = 1;
    }
    for (int k = 0; k < nlogs; k++)
        lookup_build(o, &logs[k]);
    printf("lookup: %d lookups per pass, %d rounds; each round one pass "
           "over every log, starting at a different log\n",
           o->lookups, o->lookup_rounds);
    for (int r = 0; r < o->lookup_rounds; r++)
        for (int k = 0; k < nlogs; k++)
            lookup_pass(o, &logs[(k + r) % nlogs], r, lat);
    printf("lookup: p50 is the median over rounds of each pass's median, "
           "[min..max] over rounds\n");
    for (int k = 0; k < nlogs; k++)
        lookup_report(o, &logs[k]);
    if (nlogs == (int)QR_ARRAY_LEN(logs)) {
        lookup_ratio(o, "data grows", &logs[0], &logs[2]);
        lookup_ratio(o, "data grows", &logs[0], &logs[1]);
        lookup_ratio(o, "same data", &logs[3], &logs[2]);
        lookup_ratio(o, "same data", &logs[3], &logs[4]);
    }
    for (int k = 0; k < nlogs; k++)
        lookup_drop(o, &logs[k]);
    free(lat);
}

/* ---- big: 1 GB vs N GB stored ---- */

/* Appends `mib` MiB; returns MB/s of the appends alone, and in *durable
 * MB/s with the closing fdatasync counted. */
static double window(qr_plog_t *part, uint8_t *batch, size_t n, int mib,
                     double *durable)
{
    double t0 = now_s();
    for (int i = 0; i < mib; i++) {
        int64_t b, l;
        quire_err_t err = qr_plog_append(part, batch, n, &b, &l);
        if (err != QUIRE_ERR_NONE)
            die("append", err);
    }
    double t1 = now_s();
    qr_plog_flush(part);
    double t2 = now_s();
    *durable = (double)n * mib / MIB / (t2 - t0);
    return (double)n * mib / MIB / (t1 - t0);
}

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

static void bench_big(const opts_t *o)
{
    qr_plog_conf_t conf;
    char sub[PATH_MAX];
    size_t cap = (1u << 20) + 4096;
    uint8_t *batch = qr_malloc(cap);
    size_t n = make_batch(batch, cap, 1013, 1024);
    const int win = 2048; /* MiB per measured window */
    double d1, dn;

    qr_plog_conf_defaults(&conf);
    qr_plog_t *part = open_log(o->dir, "big", &conf, NULL);
    fill_to(part, batch, n, 1.0);
    double a1 = window(part, batch, n, win, &d1);
    printf("big: with %.1f GB stored: append %.0f MB/s, with fdatasync "
           "%.0f MB/s\n",
           1.0, a1, d1);
    fill_to(part, batch, n, (double)o->big_gb);
    double stored = (double)qr_plog_size_bytes(part) / 1e9;
    double an = window(part, batch, n, win, &dn);
    printf("big: with %.1f GB stored (%zu segments): append %.0f MB/s, with "
           "fdatasync %.0f MB/s\n",
           stored, qr_plog_segment_count(part), an, dn);
    printf("big: ratio %.3f append, %.3f with fdatasync (target within "
           "10%%)\n",
           an / a1, dn / d1);
    qr_plog_close(part);
    snprintf(sub, sizeof(sub), "%s/big-0", o->dir);
    rm_rf(sub);
    free(batch);
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
    "  --only NAME      append, commit, lookup or big\n";

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
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        default:
            fputs(usage_text, stderr);
            exit(2);
        }
    }
    if (o->append_mb < 1 || o->rounds < 1 || o->commit_secs < 1 ||
        o->lookups < 100 || o->lookup_rounds < 1 || o->big_gb < 0) {
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
                .lookup_rounds = 5};
    char tmpl[] = "/tmp/logbench-XXXXXX";
    int made = 0;

    parse(argc, argv, &o);
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
    if (made)
        rmdir(o.dir);
    return 0;
}
