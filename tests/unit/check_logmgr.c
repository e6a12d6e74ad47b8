/* check_logmgr: several log dirs, placement, checkpoints and the
 * clean-shutdown marker, recovery after a crash, dir locks, an offline
 * dir, close/reopen/delete of partitions, the janitor, a clean stop of
 * many partitions (closed side by side) (logmgr.h). */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"
#include "checkpoint.h"
#include "logging.h"
#include "logmgr.h"
#include "plog_testlib.h"

static char *root;
static char d1[PATH_MAX], d2[PATH_MAX];

static void setup(void)
{
    root = tl_tmpdir();
    snprintf(d1, sizeof(d1), "%s/a", root);
    snprintf(d2, sizeof(d2), "%s/b/c", root); /* created with parents */
}

static void teardown(void)
{
    tl_rmtree(d1);
    tl_rmtree(d2);
    char b[PATH_MAX + 8];
    snprintf(b, sizeof(b), "%s/b", root);
    rmdir(b);
    tl_rmtree(root);
    free(root);
}

/* @p threads: the flushers, and the threads that open and close the
 * partitions (0: the default) */
static qr_logmgr_t *mgr_open_threads(const char *const *dirs, size_t n,
                                     int threads)
{
    qr_logmgr_conf_t conf;
    qr_logmgr_t *mgr = NULL;
    char errstr[256] = "";
    qr_logmgr_conf_defaults(&conf);
    conf.dirs = dirs;
    conf.ndirs = n;
    if (threads > 0)
        conf.recovery_threads = threads;
    tl_conf(&conf.defaults, 8192, 512);
    quire_err_t err = qr_logmgr_open(&conf, &mgr, errstr, sizeof(errstr));
    ck_assert_msg(err == QUIRE_ERR_NONE, "%s: %s", quire_err2name(err), errstr);
    return mgr;
}

static qr_logmgr_t *mgr_open(const char *const *dirs, size_t n)
{
    return mgr_open_threads(dirs, n, 0);
}

static void put(qr_plog_t *part, int n)
{
    uint8_t buf[1024];
    for (int i = 0; i < n; i++) {
        size_t len = tl_batch(buf, 2, 1000 + i, 300, (uint8_t)i);
        int64_t b, l;
        ck_assert_int_eq(qr_plog_append(part, buf, len, &b, &l),
                         QUIRE_ERR_NONE);
    }
}

static int exists(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

START_TEST(test_dirs_and_clean_restart)
{
    const char *dirs[] = {d1, d2};
    char errstr[128];
    qr_logmgr_t *mgr = mgr_open(dirs, 2);
    qr_plog_t *part;
    for (int p = 0; p < 4; p++) {
        ck_assert_int_eq(qr_logmgr_open_part(mgr, "t", p, NULL, &part, errstr,
                                             sizeof(errstr)),
                         QUIRE_ERR_NONE);
        put(part, 10 + p);
        qr_plog_release(part);
    }
    /* fewest partitions first: two in each dir */
    ck_assert(exists(d1, "t-0") && exists(d2, "t-1"));
    ck_assert(exists(d1, "t-2") && exists(d2, "t-3"));
    ck_assert_uint_eq(qr_logmgr_count(mgr), 4);
    ck_assert_int_eq(qr_logmgr_get(mgr, "t", 9, &part),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    ck_assert_int_eq(qr_logmgr_open_part(mgr, "../etc", 0, NULL, &part, errstr,
                                         sizeof(errstr)),
                     QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
    ck_assert(!exists(d1, QR_CKPT_CLEAN_FILE));
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
    ck_assert(exists(d1, QR_CKPT_CLEAN_FILE));
    ck_assert(exists(d2, QR_CKPT_CLEAN_FILE));
    /* the checkpoints hold every partition's end */
    qr_ckpt_t ck = {0};
    char path[PATH_MAX + 64];
    int64_t off;
    snprintf(path, sizeof(path), "%s/%s", d2, QR_CKPT_RECOVERY_FILE);
    ck_assert_int_eq(qr_ckpt_read(path, &ck, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert(qr_ckpt_get(&ck, "t", 3, &off));
    ck_assert_int_eq(off, 26);
    qr_ckpt_clear(&ck);
    /* restart: everything loaded, marker taken away */
    mgr = mgr_open(dirs, 2);
    ck_assert_uint_eq(qr_logmgr_count(mgr), 4);
    ck_assert(!exists(d1, QR_CKPT_CLEAN_FILE));
    for (int p = 0; p < 4; p++) {
        ck_assert_int_eq(qr_logmgr_get(mgr, "t", p, &part), QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_plog_log_end(part), 2 * (10 + p));
        ck_assert_int_eq(qr_plog_recovery_point(part), 2 * (10 + p));
        qr_plog_release(part);
    }
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_crash_then_recover)
{
    const char *dirs[] = {d1};
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* a broker that dies without shutting down */
        qr_logmgr_conf_t conf;
        qr_logmgr_t *mgr;
        qr_plog_t *part;
        char errstr[256];
        uint8_t buf[1024];
        qr_logmgr_conf_defaults(&conf);
        conf.dirs = dirs;
        conf.ndirs = 1;
        tl_conf(&conf.defaults, 8192, 512);
        if (qr_logmgr_open(&conf, &mgr, errstr, sizeof(errstr)) ||
            qr_logmgr_open_part(mgr, "c", 0, NULL, &part, errstr,
                                sizeof(errstr)))
            _exit(2);
        for (int i = 0; i < 100; i++) {
            size_t len = tl_batch(buf, 2, 1000 + i, 300, (uint8_t)i);
            int64_t b, l;
            if (qr_plog_append(part, buf, len, &b, &l))
                _exit(3);
        }
        if (qr_plog_flush(part))
            _exit(4);
        kill(getpid(), SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status));
    ck_assert(!exists(d1, QR_CKPT_CLEAN_FILE));
    qr_logmgr_t *mgr = mgr_open(dirs, 1);
    qr_plog_t *part;
    ck_assert_int_eq(qr_logmgr_get(mgr, "c", 0, &part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_log_end(part), 200);
    qr_plog_release(part);
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_lock_and_offline_dir)
{
    const char *dirs[] = {d1};
    qr_logmgr_t *mgr = mgr_open(dirs, 1), *other = NULL;
    qr_logmgr_conf_t conf;
    char errstr[256] = "";
    qr_logmgr_conf_defaults(&conf);
    conf.dirs = dirs;
    conf.ndirs = 1;
    ck_assert_int_eq(qr_logmgr_open(&conf, &other, errstr, sizeof(errstr)),
                     QUIRE_ERR_KAFKA_STORAGE_ERROR);
    ck_assert_ptr_nonnull(strstr(errstr, "in use"));
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
    /* a dir under a regular file cannot be made: offline, the other is
     * used */
    char bad[PATH_MAX + 32], file[PATH_MAX + 16];
    snprintf(file, sizeof(file), "%s/file", root);
    close(open(file, O_CREAT | O_WRONLY, 0644));
    snprintf(bad, sizeof(bad), "%s/sub", file);
    const char *two[] = {bad, d2};
    mgr = mgr_open(two, 2);
    ck_assert(!qr_logmgr_dir_online(mgr, 0));
    ck_assert(qr_logmgr_dir_online(mgr, 1));
    qr_plog_t *part;
    for (int p = 0; p < 3; p++) {
        ck_assert_int_eq(qr_logmgr_open_part(mgr, "o", p, NULL, &part, errstr,
                                             sizeof(errstr)),
                         QUIRE_ERR_NONE);
        qr_plog_release(part);
    }
    ck_assert(exists(d2, "o-2"));
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
    unlink(file);
    /* no usable dir at all */
    const char *none[] = {bad};
    snprintf(file, sizeof(file), "%s/file", root);
    close(open(file, O_CREAT | O_WRONLY, 0644));
    conf.dirs = none;
    ck_assert_int_eq(qr_logmgr_open(&conf, &other, errstr, sizeof(errstr)),
                     QUIRE_ERR_KAFKA_STORAGE_ERROR);
    conf.ndirs = 0;
    ck_assert_int_eq(qr_logmgr_open(&conf, &other, errstr, sizeof(errstr)),
                     QUIRE_ERR_INVALID_CONFIG);
    unlink(file);
}
END_TEST

START_TEST(test_close_reopen_delete_janitor)
{
    const char *dirs[] = {d1};
    char errstr[128];
    qr_logmgr_t *mgr = mgr_open(dirs, 1);
    qr_plog_t *part;
    qr_plog_conf_t conf;
    tl_conf(&conf, 8192, 512);
    ck_assert_int_eq(
        qr_logmgr_open_part(mgr, "k", 0, &conf, &part, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    put(part, 100); /* ~ 8 segments */
    qr_plog_release(part);
    ck_assert_int_eq(qr_logmgr_close_part(mgr, "k", 0), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_logmgr_get(mgr, "k", 0, &part),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    ck_assert_int_eq(qr_logmgr_close_part(mgr, "k", 0),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* reopened with a per-topic override: retention by size */
    conf.retention_bytes = 20000;
    conf.segment_delete_delay_ms = 0;
    ck_assert_int_eq(
        qr_logmgr_open_part(mgr, "k", 0, &conf, &part, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_log_end(part), 200);
    ck_assert_int_eq(qr_plog_log_start(part), 0);
    /* a janitor pass runs retention only once the check interval (300 s
     * by default) has passed since open; test_janitor_thread covers it */
    qr_logmgr_tick(mgr, qr_plog_now_ms());
    ck_assert_int_eq(qr_plog_log_start(part), 0);
    qr_plog_release(part);
    ck_assert_int_eq(qr_logmgr_delete_part(mgr, "k", 0), QUIRE_ERR_NONE);
    ck_assert(!exists(d1, "k-0"));
    ck_assert_int_eq(qr_logmgr_delete_part(mgr, "k", 0),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
}
END_TEST

static const char *read_text(const char *dir, const char *name)
{
    static char buf[1024];
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* replication-offset-checkpoint (issue 16 item 3): the replicated high
 * watermarks written with the recovery points, in Kafka's format, only
 * for partitions that have one; reloaded at open, clamped to the log
 * end. */
START_TEST(test_replication_checkpoint)
{
    const char *dirs[] = {d1};
    char errstr[128];
    qr_logmgr_t *mgr = mgr_open(dirs, 1);
    qr_plog_t *p0, *p1;
    ck_assert_int_eq(
        qr_logmgr_open_part(mgr, "t", 0, NULL, &p0, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qr_logmgr_open_part(mgr, "t", 1, NULL, &p1, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    put(p0, 5); /* offsets 0..9 */
    put(p1, 2);
    qr_plog_set_replicated_hw(p0, 6);
    qr_plog_release(p0);
    qr_plog_release(p1);
    ck_assert_int_eq(qr_logmgr_checkpoint(mgr), QUIRE_ERR_NONE);
    ck_assert_str_eq(read_text(d1, QR_CKPT_REPLICATION_FILE), "0\n1\nt 0 6\n");
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);

    /* reloaded: t-0 serves up to its high watermark, t-1 has none */
    mgr = mgr_open(dirs, 1);
    ck_assert_int_eq(qr_logmgr_get(mgr, "t", 0, &p0), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_replicated_hw(p0), 6);
    ck_assert_int_eq(qr_plog_high_watermark(p0), 6);
    ck_assert_int_eq(qr_plog_log_end(p0), 10);
    qr_plog_release(p0);
    ck_assert_int_eq(qr_logmgr_get(mgr, "t", 1, &p1), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_replicated_hw(p1), -1);
    ck_assert_int_eq(qr_plog_high_watermark(p1), 4);
    qr_plog_release(p1);
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);

    /* past the log end (the log lost its tail): clamped to it */
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/%s", d1, QR_CKPT_REPLICATION_FILE);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("0\n2\nt 0 500\nt 1 3\n", f);
    fclose(f);
    mgr = mgr_open(dirs, 1);
    ck_assert_int_eq(qr_logmgr_get(mgr, "t", 0, &p0), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_replicated_hw(p0), 10);
    ck_assert_int_eq(qr_plog_high_watermark(p0), 10);
    qr_plog_release(p0);
    ck_assert_int_eq(qr_logmgr_get(mgr, "t", 1, &p1), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_high_watermark(p1), 3);
    qr_plog_release(p1);
    /* a deleted partition leaves the file */
    ck_assert_int_eq(qr_logmgr_delete_part(mgr, "t", 1), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
    ck_assert_str_eq(read_text(d1, QR_CKPT_REPLICATION_FILE), "0\n1\nt 0 10\n");
}
END_TEST

START_TEST(test_janitor_thread)
{
    const char *dirs[] = {d1};
    qr_logmgr_conf_t mc;
    qr_logmgr_t *mgr;
    qr_plog_t *part;
    char errstr[256];
    qr_logmgr_conf_defaults(&mc);
    mc.dirs = dirs;
    mc.ndirs = 1;
    tl_conf(&mc.defaults, 8192, 512);
    mc.defaults.retention_bytes = 20000;
    mc.defaults.retention_check_interval_ms = 20;
    mc.defaults.segment_delete_delay_ms = 0;
    mc.defaults.flush_interval_ms = 20;
    mc.checkpoint_interval_ms = 20;
    ck_assert_int_eq(qr_logmgr_open(&mc, &mgr, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qr_logmgr_open_part(mgr, "j", 0, NULL, &part, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    put(part, 100);
    /* within a few ticks: retention ran, the flush by time ran, the
     * checkpoint was written */
    for (int i = 0; i < 500 && (qr_plog_log_start(part) == 0 ||
                                qr_plog_recovery_point(part) < 200);
         i++)
        usleep(10000);
    ck_assert_int_gt(qr_plog_log_start(part), 0);
    ck_assert_int_eq(qr_plog_recovery_point(part), 200);
    qr_ckpt_t ck = {0};
    char path[PATH_MAX + 64];
    int64_t off = -1;
    snprintf(path, sizeof(path), "%s/%s", d1, QR_CKPT_RECOVERY_FILE);
    for (int i = 0; i < 500 && off != 200; i++) {
        usleep(10000);
        if (qr_ckpt_read(path, &ck, errstr, sizeof(errstr)) == 0)
            qr_ckpt_get(&ck, "j", 0, &off);
    }
    ck_assert_int_eq(off, 200);
    qr_ckpt_clear(&ck);
    qr_plog_release(part);
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
}
END_TEST

/* ---- a clean stop of many partitions (issue 14: closed side by side) ---- */

#define MANY_PARTS   200
#define MANY_BATCHES 4 /* per partition: 3 acknowledged, 1 not waited for */

typedef struct many_ack {
    atomic_int acked; /* flush callbacks that reported success */
    atomic_int failed;
} many_ack_t;

static void on_many_ack(void *opaque, qr_plog_t *part, int64_t last,
                        quire_err_t err)
{
    many_ack_t *a = opaque;
    (void)part;
    (void)last;
    atomic_fetch_add(err == QUIRE_ERR_NONE ? &a->acked : &a->failed, 1);
}

/* Counts the lines of a recovery at open ("no clean shutdown"), logged on
 * the thread that opens the logs. */
typedef struct recov_sink {
    qr_log_ctx_t ctx; /* first: the logger hands this back */
    atomic_int recovered;
} recov_sink_t;

static void recov_sink(qr_log_ctx_t *ctx, int level, const char *fac,
                       const char *msg)
{
    recov_sink_t *rs = (recov_sink_t *)ctx;
    (void)level;
    (void)fac;
    if (strstr(msg, "no clean shutdown"))
        atomic_fetch_add(&rs->recovered, 1);
}

/* The batches of a partition read back, byte for byte as appended (with
 * the offsets the append wrote into them). */
static void many_check(qr_plog_t *part, uint8_t *const *batch,
                       const size_t *len)
{
    int64_t off = 0;
    for (int b = 0; b < MANY_BATCHES; b++) {
        qr_plog_slice_t sl;
        ck_assert_int_eq(qr_plog_read(part, off, len[b], &sl), QUIRE_ERR_NONE);
        ck_assert_uint_eq(sl.len, len[b]);
        uint8_t *got = malloc(sl.len);
        ck_assert_int_eq(pread(sl.fd, got, sl.len, (off_t)sl.pos),
                         (ssize_t)sl.len);
        ck_assert_msg(!memcmp(got, batch[b], len[b]), "%s: batch %d differs",
                      qr_plog_name(part), b);
        free(got);
        qr_plog_slice_release(&sl);
        off += 2;
    }
}

/* A clean stop of 200 partitions over two dirs closes every one cleanly:
 * both dirs get the clean-shutdown marker and a checkpoint naming every
 * partition at its end, the restart recovers none of them, and every
 * record (acknowledged or only appended) reads back as written. */
START_TEST(test_clean_stop_many)
{
    const char *dirs[] = {d1, d2};
    static uint8_t *batch[MANY_PARTS][MANY_BATCHES];
    static size_t len[MANY_PARTS][MANY_BATCHES];
    many_ack_t ack = {0};
    char errstr[256];
    qr_plog_t *part;
    qr_logmgr_t *mgr = mgr_open_threads(dirs, 2, 8); /* 8 at once */
    int want = 0;

    for (int p = 0; p < MANY_PARTS; p++) {
        ck_assert_int_eq(qr_logmgr_open_part(mgr, "many", p, NULL, &part,
                                             errstr, sizeof(errstr)),
                         QUIRE_ERR_NONE);
        for (int b = 0; b < MANY_BATCHES; b++) {
            int64_t base, last;
            int durable;
            batch[p][b] = malloc(1024);
            len[p][b] = tl_batch(batch[p][b], 2, 1000 + b, 100 + p % 50,
                                 (uint8_t)(p + b));
            ck_assert_int_eq(
                qr_plog_append(part, batch[p][b], len[p][b], &base, &last),
                QUIRE_ERR_NONE);
            if (b + 1 == MANY_BATCHES)
                continue; /* the last is never waited for */
            ck_assert_int_eq(
                qr_plog_flush_request(part, last, on_many_ack, &ack, &durable),
                QUIRE_ERR_NONE);
            want += !durable;
        }
        qr_plog_release(part);
    }
    for (int i = 0; i < 3000 && atomic_load(&ack.acked) < want; i++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&ack.acked), want);
    ck_assert_int_eq(atomic_load(&ack.failed), 0);

    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
    ck_assert(exists(d1, QR_CKPT_CLEAN_FILE));
    ck_assert(exists(d2, QR_CKPT_CLEAN_FILE));
    /* every partition in its dir's checkpoint, at its end */
    int found = 0;
    for (int i = 0; i < 2; i++) {
        qr_ckpt_t ck = {0};
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", dirs[i], QR_CKPT_RECOVERY_FILE);
        ck_assert_int_eq(qr_ckpt_read(path, &ck, errstr, sizeof(errstr)),
                         QUIRE_ERR_NONE);
        for (int p = 0; p < MANY_PARTS; p++) {
            char pd[64];
            int64_t off;
            snprintf(pd, sizeof(pd), "many-%d", p);
            if (!exists(dirs[i], pd))
                continue;
            ck_assert_msg(qr_ckpt_get(&ck, "many", p, &off),
                          "many-%d not in %s", p, path);
            ck_assert_int_eq(off, 2 * MANY_BATCHES);
            found++;
        }
        qr_ckpt_clear(&ck);
    }
    ck_assert_int_eq(found, MANY_PARTS);

    /* the restart: no partition recovered, every batch as written */
    recov_sink_t rs = {.ctx = {.level = QR_LOG_LVL_INFO, .sink = recov_sink}};
    qr_log_ctx_t *was = qr_log_ctx_swap(&rs.ctx);
    mgr = mgr_open_threads(dirs, 2, 8);
    qr_log_ctx_swap(was);
    int recovered = atomic_load(&rs.recovered);
    ck_assert_int_eq(recovered, 0);
    ck_assert_uint_eq(qr_logmgr_count(mgr), MANY_PARTS);
    for (int p = 0; p < MANY_PARTS; p++) {
        ck_assert_int_eq(qr_logmgr_get(mgr, "many", p, &part), QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_plog_log_end(part), 2 * MANY_BATCHES);
        ck_assert_int_eq(qr_plog_recovery_point(part), 2 * MANY_BATCHES);
        many_check(part, batch[p], len[p]);
        qr_plog_release(part);
        for (int b = 0; b < MANY_BATCHES; b++)
            free(batch[p][b]);
    }
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
}
END_TEST

static Suite *logmgr_suite(void)
{
    Suite *s = suite_create("logmgr");
    TCase *tc = tcase_create("logmgr");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dirs_and_clean_restart);
    tcase_add_test(tc, test_crash_then_recover);
    tcase_add_test(tc, test_lock_and_offline_dir);
    tcase_add_test(tc, test_close_reopen_delete_janitor);
    tcase_add_test(tc, test_janitor_thread);
    tcase_add_test(tc, test_replication_checkpoint);
    tcase_add_test(tc, test_clean_stop_many);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(logmgr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
