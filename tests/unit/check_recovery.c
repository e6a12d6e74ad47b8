/* check_recovery: recovery at open (recovery.h, partlog.h).
 *
 * Fixtures in tests/data/plog/ (made by `check_recovery --make-fixtures
 * DIR`): a torn tail, a flipped byte mid-segment, a truncated index, a
 * missing index. test_generator_matches runs the generator and compares
 * its output with the committed fixtures byte for byte, so they cannot
 * drift from it (or from the format the log writes today).
 *
 * And process crash tests: a forked child appends with acks=all flushes
 * and reports each flushed offset through a pipe; the parent SIGKILLs it
 * at a random moment, reopens, and checks every reported offset is there
 * and intact and that nothing corrupt is readable. A killed process
 * leaves its writes in the page cache, so these test recovery after a
 * crash of the broker process, not that a flush reached the disk: they
 * pass with every fsync removed. Syncs are tested where the disk can
 * forget (check_durable, tests/integration/check_powerloss.c). */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "logging.h"
#include "partlog.h"
#include "plog_testlib.h"

#define FIX_TOPIC     "fix"
#define FIX_BATCHES   40
#define FIX_PER_BATCH 2

static char *dir;

static void setup(void)
{
    dir = tl_tmpdir();
}

static void teardown(void)
{
    tl_rmtree(dir);
    free(dir);
}

static void fix_conf(qr_plog_conf_t *conf)
{
    tl_conf(conf, 4096, 256);
}

/* The generator: batch i has 2 records, ts 1000 + 10 i, values of 100
 * bytes of (uint8_t)i. 40 batches over 3 segments (bases 0, 28, 56). */
static void make_base(const char *log_dir)
{
    qr_plog_conf_t conf;
    uint8_t buf[1024];
    fix_conf(&conf);
    qr_plog_t *part = tl_open(log_dir, FIX_TOPIC, &conf, 1, -1, NULL);
    for (int i = 0; i < FIX_BATCHES; i++) {
        size_t n = tl_batch(buf, FIX_PER_BATCH, 1000 + 10 * i, 100, (uint8_t)i);
        int64_t b, l;
        ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l), QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}

static void seg_file(char *out, size_t size, const char *log_dir, int64_t base,
                     const char *suffix)
{
    snprintf(out, size, "%s/" FIX_TOPIC "-0/%020lld%s", log_dir,
             (long long)base, suffix);
}

static void make_fixtures(const char *out)
{
    char d[PATH_MAX], f[PATH_MAX + 64];
    static const char *const cases[] = {"torn-tail", "flipped-byte",
                                        "truncated-index", "missing-index"};
    mkdir(out, 0755);
    for (int c = 0; c < 4; c++) {
        snprintf(d, sizeof(d), "%s/%s", out, cases[c]);
        mkdir(d, 0755);
        make_base(d);
        snprintf(f, sizeof(f), "%s/" FIX_TOPIC "-0/%s", d, ".quire_fixture");
        switch (c) {
        case 0: {
            struct stat st;
            seg_file(f, sizeof(f), d, 56, ".log");
            ck_assert_int_eq(stat(f, &st), 0);
            ck_assert_int_eq(truncate(f, st.st_size - 30), 0);
            break;
        }
        case 1: {
            /* a byte inside the 5th batch (offsets 36-37) of segment 28 */
            uint8_t hdr[12];
            seg_file(f, sizeof(f), d, 28, ".log");
            int fd = open(f, O_RDWR);
            off_t pos = 0;
            for (int i = 0; i < 4; i++) {
                ck_assert_int_eq(pread(fd, hdr, 12, pos), 12);
                pos += 12 + tl_get32(hdr + 8);
            }
            uint8_t b;
            ck_assert_int_eq(pread(fd, &b, 1, pos + 150), 1);
            b ^= 0x5a;
            ck_assert_int_eq(pwrite(fd, &b, 1, pos + 150), 1);
            close(fd);
            break;
        }
        case 2:
            seg_file(f, sizeof(f), d, 0, ".index");
            ck_assert_int_eq(truncate(f, 13), 0);
            break;
        case 3:
            seg_file(f, sizeof(f), d, 28, ".index");
            ck_assert_int_eq(unlink(f), 0);
            seg_file(f, sizeof(f), d, 28, ".timeindex");
            ck_assert_int_eq(unlink(f), 0);
            break;
        }
    }
}

/* cp -r of <data>/plog/<name>/fix-0 into dir/fix-0 */
static void copy_fixture(const char *name)
{
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof(from), "%s/%s/" FIX_TOPIC "-0", QR_PLOG_DATA, name);
    snprintf(to, sizeof(to), "%s/" FIX_TOPIC "-0", dir);
    ck_assert_int_eq(mkdir(to, 0755), 0);
    DIR *d = opendir(from);
    ck_assert_msg(d != NULL, "fixture %s missing", from);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char a[PATH_MAX + 256], b[PATH_MAX + 256];
        static uint8_t buf[1 << 16];
        if (de->d_name[0] == '.')
            continue;
        snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
        int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT, 0644);
        ck_assert_int_ge(in, 0);
        ck_assert_int_ge(out, 0);
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0)
            ck_assert_int_eq(write(out, buf, (size_t)n), n);
        close(in);
        close(out);
    }
    closedir(d);
}

/* Every batch below the log end is the generator's, intact; offsets a
 * recovery cut left missing are skipped. Returns how many were. */
static int64_t check_content(qr_plog_t *part)
{
    int64_t end = qr_plog_log_end(part), missing = 0;
    for (int64_t o = 0; o < end; o += FIX_PER_BATCH) {
        qr_plog_slice_t s;
        uint8_t got[1024], want[1024];
        ck_assert_int_eq(qr_plog_read(part, o, 1, &s), QUIRE_ERR_NONE);
        if (s.base_offset > o) { /* a gap: the read goes on after it */
            missing += s.base_offset - o;
            o = s.base_offset;
        }
        tl_check_slice(&s, o);
        int i = (int)(o / FIX_PER_BATCH);
        size_t n =
            tl_batch(want, FIX_PER_BATCH, 1000 + 10 * i, 100, (uint8_t)i);
        ck_assert_uint_eq(s.len, n);
        ck_assert_int_eq(pread(s.fd, got, n, (off_t)s.pos), (ssize_t)n);
        /* identical but for the baseOffset the broker wrote */
        ck_assert_int_eq(memcmp(got + 8, want + 8, n - 8), 0);
        qr_plog_slice_release(&s);
    }
    return missing;
}

static off_t fsize(int64_t base, const char *suffix)
{
    char f[PATH_MAX + 64];
    struct stat st;
    seg_file(f, sizeof(f), dir, base, suffix);
    if (stat(f, &st) != 0)
        return -1;
    return st.st_size;
}

/* The names in directory @p d, sorted, NUL-separated in @p out; the
 * count. */
static int dir_names(const char *d, char out[][64], int max)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    int n = 0;

    ck_assert_msg(dd != NULL, "%s: %s", d, strerror(errno));
    while ((de = readdir(dd)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        ck_assert_int_lt(n, max);
        ck_assert_uint_lt(strlen(de->d_name), 64);
        strcpy(out[n++], de->d_name);
    }
    closedir(dd);
    qsort(out, (size_t)n, sizeof(out[0]),
          (int (*)(const void *, const void *))strcmp);
    return n;
}

/* The bytes of file @p path (owned), its size in *lenp. */
static uint8_t *slurp(const char *path, size_t *lenp)
{
    struct stat st;
    uint8_t *b;
    int fd = open(path, O_RDONLY);

    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fstat(fd, &st), 0);
    b = malloc((size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *lenp = (size_t)st.st_size;
    return b;
}

START_TEST(test_generator_matches)
{
    static const char *const cases[] = {"torn-tail", "flipped-byte",
                                        "truncated-index", "missing-index"};
    char gen[PATH_MAX - 64];

    /* the generator's log, before the damage: what the content checks of
     * the fixture tests compare against */
    make_base(dir);
    qr_plog_conf_t conf;
    fix_conf(&conf);
    qr_plog_t *part = tl_open(dir, FIX_TOPIC, &conf, 1, -1, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 80);
    ck_assert_uint_eq(qr_plog_segment_count(part), 3);
    check_content(part);
    qr_plog_close(part);
    /* and the committed fixtures are exactly what it makes: the same
     * files, byte for byte */
    snprintf(gen, sizeof(gen), "%s/gen", dir);
    make_fixtures(gen);
    for (int c = 0; c < 4; c++) {
        char a[PATH_MAX + 64], b[PATH_MAX + 64];
        static char want[16][64], got[16][64];
        int nw, ng;

        snprintf(a, sizeof(a), "%s/%s/" FIX_TOPIC "-0", gen, cases[c]);
        snprintf(b, sizeof(b), "%s/%s/" FIX_TOPIC "-0", QR_PLOG_DATA, cases[c]);
        ng = dir_names(a, got, 16);
        nw = dir_names(b, want, 16);
        ck_assert_msg(ng == nw,
                      "%s: the generator makes %d files, %d are "
                      "committed",
                      cases[c], ng, nw);
        for (int i = 0; i < nw; i++) {
            char fa[PATH_MAX + 1200], fb[PATH_MAX + 1200];
            size_t la, lb;
            uint8_t *ba, *bb;

            ck_assert_msg(!strcmp(got[i], want[i]),
                          "%s: the generator makes %s, committed is %s",
                          cases[c], got[i], want[i]);
            snprintf(fa, sizeof(fa), "%s/%s", a, got[i]);
            snprintf(fb, sizeof(fb), "%s/%s", b, want[i]);
            ba = slurp(fa, &la);
            bb = slurp(fb, &lb);
            ck_assert_msg(la == lb && memcmp(ba, bb, la) == 0,
                          "%s/%s: the committed fixture (%zu bytes) is not "
                          "what the generator makes (%zu bytes); "
                          "regenerate with check_recovery --make-fixtures",
                          cases[c], want[i], lb, la);
            free(ba);
            free(bb);
        }
    }
}
END_TEST

START_TEST(test_torn_tail)
{
    qr_plog_conf_t conf;
    fix_conf(&conf);
    copy_fixture("torn-tail");
    off_t before = fsize(56, ".log");
    qr_plog_t *part = tl_open(dir, FIX_TOPIC, &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 78);
    /* nothing synced by recovery: the point moves with the next flush */
    ck_assert_int_eq(qr_plog_recovery_point(part), 0);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_recovery_point(part), 78);
    ck_assert_int_lt(fsize(56, ".log"), before);
    check_content(part);
    /* appends continue at the cut */
    uint8_t buf[1024];
    int64_t b, l;
    size_t n = tl_batch(buf, FIX_PER_BATCH, 1390, 100, 39);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l), QUIRE_ERR_NONE);
    ck_assert_int_eq(b, 78);
    check_content(part);
    qr_plog_close(part);
}
END_TEST

START_TEST(test_flipped_byte)
{
    qr_plog_conf_t conf;
    fix_conf(&conf);
    copy_fixture("flipped-byte");
    qr_plog_t *part = tl_open(dir, FIX_TOPIC, &conf, 0, 0, NULL);
    /* segment 28 cut at the damaged batch (offsets 36-37), segment 56
     * kept: its batches are valid (issue 17: a cut no longer deletes what
     * follows it) */
    ck_assert_int_eq(qr_plog_log_end(part), 80);
    ck_assert_uint_eq(qr_plog_segment_count(part), 3);
    ck_assert_int_gt(fsize(56, ".log"), 0);
    ck_assert_int_eq(check_content(part), 56 - 36);
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, 37, 100, &s), QUIRE_ERR_NONE);
    ck_assert_int_eq(s.base_offset, 56);
    qr_plog_slice_release(&s);
    qr_plog_close(part);
}
END_TEST

/* Flips a byte @p at bytes into batch @p nth of segment @p base. */
static void flip(int64_t base, int nth, off_t at)
{
    char f[PATH_MAX + 64];
    uint8_t hdr[12], b;
    off_t pos = 0;
    int fd;

    seg_file(f, sizeof(f), dir, base, ".log");
    fd = open(f, O_RDWR);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < nth; i++) {
        ck_assert_int_eq(pread(fd, hdr, 12, pos), 12);
        pos += 12 + tl_get32(hdr + 8);
    }
    ck_assert_int_eq(pread(fd, &b, 1, pos + at), 1);
    b ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &b, 1, pos + at), 1);
    close(fd);
}

/* The recovery rule (broker/recovery.c): after a cut, each later segment
 * is checked on its own; one with no valid batch left is deleted (and the
 * log says so), the ones after it are kept. */
START_TEST(test_cut_keeps_later_segments)
{
    qr_plog_conf_t conf;
    uint8_t buf[1024];

    fix_conf(&conf);
    make_base(dir);
    qr_plog_t *part = tl_open(dir, FIX_TOPIC, &conf, 1, -1, NULL);
    for (int i = FIX_BATCHES; i < FIX_BATCHES + 20; i++) {
        size_t n = tl_batch(buf, FIX_PER_BATCH, 1000 + 10 * i, 100, (uint8_t)i);
        int64_t b, l;
        ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l), QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    ck_assert_int_gt(fsize(84, ".log"), 0);
    flip(28, 4, 150); /* offsets 36-37 */
    flip(56, 0, 150); /* the first batch of segment 56 */
    part = tl_open(dir, FIX_TOPIC, &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 120);
    ck_assert_int_eq(fsize(56, ".log"), -1);
    ck_assert_int_gt(fsize(84, ".log"), 0);
    ck_assert_int_eq(check_content(part), 84 - 36);
    qr_plog_close(part);
    /* and a second open finds nothing more to do */
    part = tl_open(dir, FIX_TOPIC, &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 120);
    ck_assert_int_eq(check_content(part), 84 - 36);
    qr_plog_close(part);
}
END_TEST

START_TEST(test_flipped_byte_below_recovery_point)
{
    /* With a clean shutdown the damage is not looked for (Kafka's rule:
     * only unflushed data is scanned); the batch is served as it is and
     * the client's CRC check catches it. Recovery from the point before it
     * does find it. */
    qr_plog_conf_t conf;
    fix_conf(&conf);
    copy_fixture("flipped-byte");
    qr_plog_t *part = tl_open(dir, FIX_TOPIC, &conf, 0, 60, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 80);
    qr_plog_close(part);
    part = tl_open(dir, FIX_TOPIC, &conf, 0, 28, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 80);
    ck_assert_int_eq(check_content(part), 56 - 36);
    qr_plog_close(part);
}
END_TEST

START_TEST(test_truncated_index)
{
    qr_plog_conf_t conf;
    int64_t off;
    fix_conf(&conf);
    copy_fixture("truncated-index");
    ck_assert_int_eq(fsize(0, ".index"), 13);
    qr_plog_t *part = tl_open(dir, FIX_TOPIC, &conf, 1, 80, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 80);
    off_t isz = fsize(0, ".index");
    ck_assert_int_gt(isz, 0);
    ck_assert_int_eq(isz % 8, 0);
    check_content(part);
    ck_assert_int_eq(qr_plog_offset_for_time(part, 1055, &off), QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 12);
    qr_plog_close(part);
}
END_TEST

START_TEST(test_missing_index)
{
    qr_plog_conf_t conf;
    int64_t off;
    fix_conf(&conf);
    copy_fixture("missing-index");
    ck_assert_int_eq(fsize(28, ".index"), -1);
    qr_plog_t *part = tl_open(dir, FIX_TOPIC, &conf, 1, 80, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 80);
    ck_assert_int_gt(fsize(28, ".index"), 0);
    ck_assert_int_gt(fsize(28, ".timeindex"), 0);
    check_content(part);
    for (int i = 0; i < FIX_BATCHES; i++) {
        ck_assert_int_eq(qr_plog_offset_for_time(part, 1000 + 10 * i, &off),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(off, FIX_PER_BATCH * i);
    }
    qr_plog_close(part);
}
END_TEST

START_TEST(test_leftovers)
{
    /* *.deleted files and indexes without a log are removed at open */
    char f[PATH_MAX + 64];
    qr_plog_conf_t conf;
    fix_conf(&conf);
    make_base(dir);
    snprintf(f, sizeof(f), "%s/" FIX_TOPIC "-0/%020d.log.deleted", dir, 5);
    close(open(f, O_CREAT | O_WRONLY, 0644));
    seg_file(f, sizeof(f), dir, 999, ".index");
    close(open(f, O_CREAT | O_WRONLY, 0644));
    qr_plog_t *part = tl_open(dir, FIX_TOPIC, &conf, 1, -1, NULL);
    ck_assert_int_eq(fsize(999, ".index"), -1);
    snprintf(f, sizeof(f), "%s/" FIX_TOPIC "-0/%020d.log.deleted", dir, 5);
    ck_assert_int_eq(access(f, F_OK), -1);
    ck_assert_int_eq(qr_plog_log_end(part), 80);
    qr_plog_close(part);
}
END_TEST

/* ---- crash tests ---- */

#define CRASH_CYCLES 60
#define CRASH_TOPIC  "crash"
#define CRASH_READY  (-2) /* first message: the child has recovered */

/* One producer thread of the child: acks=all with one request in flight,
 * as a producer with max.in.flight 1 waits for each answer. */
typedef struct {
    int fd;
    qr_plog_t *part;
    unsigned seed;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int64_t acked;
} child_ctx_t;

static void on_durable(void *opaque, qr_plog_t *part, int64_t last,
                       quire_err_t err)
{
    child_ctx_t *c = opaque;
    (void)part;
    if (err != QUIRE_ERR_NONE)
        _exit(6);
    /* reported before the producer is told: it is durable already */
    if (write(c->fd, &last, sizeof(last)) != (ssize_t)sizeof(last))
        _exit(3);
    pthread_mutex_lock(&c->lock);
    c->acked = last;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void crash_conf(qr_plog_conf_t *conf)
{
    tl_conf(conf, 256 * 1024, 1024);
}

/* Appends batches of 1-8 records with 0-600-byte values, 1-3 batches per
 * request, and waits for each to be durable. Runs until killed. */
static void *child_producer(void *arg)
{
    child_ctx_t *c = arg;
    static _Thread_local uint8_t buf[65536];
    for (;;) {
        size_t n = 0;
        int nb = 1 + (int)(rand_r(&c->seed) % 3);
        for (int b = 0; b < nb; b++) {
            int nrec = 1 + (int)(rand_r(&c->seed) % 8);
            size_t vlen = rand_r(&c->seed) % 600;
            n += tl_batch(buf + n, nrec, 1000, vlen, (uint8_t)rand_r(&c->seed));
        }
        int64_t base, last;
        int durable;
        if (qr_plog_append(c->part, buf, n, &base, &last) != QUIRE_ERR_NONE)
            _exit(4);
        pthread_mutex_lock(&c->lock);
        c->acked = -1;
        pthread_mutex_unlock(&c->lock);
        if (qr_plog_flush_request(c->part, last, on_durable, c, &durable) !=
            QUIRE_ERR_NONE)
            _exit(5);
        if (durable) {
            on_durable(c, c->part, last, QUIRE_ERR_NONE);
            continue;
        }
        pthread_mutex_lock(&c->lock);
        while (c->acked != last)
            pthread_cond_wait(&c->cond, &c->lock);
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

#define CRASH_PRODUCERS 3

/* The child: reopen (recover) from rp, then three acks=all producers. */
static void crash_child(int wfd, unsigned seed, int64_t rp)
{
    qr_plog_conf_t conf;
    qr_flusher_t *fl;
    child_ctx_t ctx[CRASH_PRODUCERS];
    pthread_t th[CRASH_PRODUCERS];
    char errstr[256];
    qr_plog_t *part;
    qr_plog_open_opts_t o = {.clean = 0, .recovery_point = rp, .create = 1};

    qr_log_setup(QR_LOG_LVL_ERR, 0, -1);
    crash_conf(&conf);
    if (qr_flusher_new(2, &fl) != QUIRE_ERR_NONE)
        _exit(2);
    o.flusher = fl;
    if (qr_plog_open(dir, CRASH_TOPIC, 0, &conf, &o, &part, errstr,
                     sizeof(errstr)) != QUIRE_ERR_NONE)
        _exit(2);
    int64_t ready = CRASH_READY; /* recovery done: the clock starts */
    if (write(wfd, &ready, sizeof(ready)) != (ssize_t)sizeof(ready))
        _exit(3);
    for (int i = 0; i < CRASH_PRODUCERS; i++) {
        ctx[i].fd = wfd;
        ctx[i].part = part;
        ctx[i].seed = seed * 7 + (unsigned)i;
        ctx[i].acked = -1;
        pthread_mutex_init(&ctx[i].lock, NULL);
        pthread_cond_init(&ctx[i].cond, NULL);
        if (pthread_create(&th[i], NULL, child_producer, &ctx[i]) != 0)
            _exit(2);
    }
    for (;;)
        pause();
}

/* Reads what the child reported; returns the greatest offset. */
static int64_t drain(int rfd, int64_t best)
{
    int64_t v;
    ssize_t n;
    while ((n = read(rfd, &v, sizeof(v))) == (ssize_t)sizeof(v))
        if (v > best)
            best = v;
    return best;
}

/* Every batch from the start to the end is valid and contiguous. */
static void check_whole_log(qr_plog_t *part)
{
    int64_t end = qr_plog_log_end(part), o = qr_plog_log_start(part);
    while (o < end) {
        qr_plog_slice_t s;
        ck_assert_int_eq(qr_plog_read(part, o, 1 << 20, &s), QUIRE_ERR_NONE);
        ck_assert_int_eq(s.base_offset, o);
        uint8_t *buf = malloc(s.len);
        ck_assert_int_eq(pread(s.fd, buf, s.len, (off_t)s.pos), (ssize_t)s.len);
        for (size_t off = 0; off < s.len;) {
            qr_batch_hdr_t hdr;
            const char *why = NULL;
            ck_assert_int_eq(qr_batch_validate(buf + off, s.len - off,
                                               QR_BATCH_CHECK_RECORDS, &hdr,
                                               &why),
                             QUIRE_ERR_NONE);
            ck_assert_int_eq(hdr.base_offset, o);
            o = qr_batch_last_offset(&hdr) + 1;
            off += qr_batch_size(&hdr);
        }
        free(buf);
        qr_plog_slice_release(&s);
    }
    ck_assert_int_eq(o, end);
}

START_TEST(test_process_crash_cycles)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int64_t durable = -1;
    qr_plog_conf_t conf;
    crash_conf(&conf);
    fprintf(stderr, "crash test seed %u\n", seed);
    for (int cycle = 0; cycle < CRASH_CYCLES; cycle++) {
        /* Reopen as the broker would after a crash: from the recovery
         * point its checkpoint would hold (here: what was reported), and
         * every tenth time from nothing (no checkpoint: scan it all). */
        int64_t rp = cycle % 10 == 9 ? -1 : durable + 1;
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(p[1], seed + (unsigned)cycle, rp);
            _exit(1);
        }
        close(p[1]);
        struct timespec ts0, ts1, ts2;
        clock_gettime(CLOCK_MONOTONIC, &ts0);
        /* wait until it has recovered the log (slow under sanitizers on a
         * busy machine), then let it run 5-80 ms, reading reports */
        int64_t first = 0;
        ck_assert_int_eq(read(p[0], &first, sizeof(first)),
                         (ssize_t)sizeof(first));
        ck_assert_int_eq(first, CRASH_READY);
        clock_gettime(CLOCK_MONOTONIC, &ts1);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        int wait_ms = 5 + (int)(rand_r(&seed) % 76);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            struct pollfd pfd = {.fd = p[0], .events = POLLIN};
            poll(&pfd, 1, 2);
            durable = drain(p[0], durable);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if ((t1.tv_sec - t0.tv_sec) * 1000 +
                    (t1.tv_nsec - t0.tv_nsec) / 1000000 >=
                wait_ms)
                break;
        }
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "child died by itself (status %d)",
                      status);
        durable = drain(p[0], durable); /* reported before it died */
        close(p[0]);
        rp = cycle % 10 == 4 ? -1 : durable + 1;
        qr_plog_t *part = tl_open(dir, CRASH_TOPIC, &conf, 0, rp, NULL);
        ck_assert_msg(qr_plog_log_end(part) > durable,
                      "cycle %d: durable offset %lld lost (log end %lld)",
                      cycle, (long long)durable,
                      (long long)qr_plog_log_end(part));
        check_whole_log(part);
        int64_t end = qr_plog_log_end(part);
        qr_plog_close(part);
        clock_gettime(CLOCK_MONOTONIC, &ts2);
        fprintf(stderr,
                "crash cycle %d: child recovered in %ld ms, killed after "
                "%d ms; log end %lld, durable %lld; checked in %ld ms\n",
                cycle,
                (long)((ts1.tv_sec - ts0.tv_sec) * 1000 +
                       (ts1.tv_nsec - ts0.tv_nsec) / 1000000),
                wait_ms, (long long)end, (long long)durable,
                (long)((ts2.tv_sec - t1.tv_sec) * 1000 +
                       (ts2.tv_nsec - t1.tv_nsec) / 1000000));
    }
    ck_assert_int_gt(durable, 0);
}
END_TEST

static Suite *recovery_suite(void)
{
    Suite *s = suite_create("recovery");
    TCase *tc = tcase_create("fixtures");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_generator_matches);
    tcase_add_test(tc, test_torn_tail);
    tcase_add_test(tc, test_flipped_byte);
    tcase_add_test(tc, test_flipped_byte_below_recovery_point);
    tcase_add_test(tc, test_cut_keeps_later_segments);
    tcase_add_test(tc, test_truncated_index);
    tcase_add_test(tc, test_missing_index);
    tcase_add_test(tc, test_leftovers);
    suite_add_tcase(s, tc);
    tc = tcase_create("process_crash");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_set_tags(tc, "slow");
    tcase_add_test(tc, test_process_crash_cycles);
    suite_add_tcase(s, tc);
    return s;
}

static const char *fixtures_out;

START_TEST(test_make_fixtures)
{
    make_fixtures(fixtures_out);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s;
    if (argc == 3 && !strcmp(argv[1], "--make-fixtures")) {
        /* inside a Check test, where ck_assert works */
        fixtures_out = argv[2];
        s = suite_create("make-fixtures");
        TCase *tc = tcase_create("make");
        tcase_add_test(tc, test_make_fixtures);
        suite_add_tcase(s, tc);
    } else {
        s = recovery_suite();
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
