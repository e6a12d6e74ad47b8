/*
 * check_durable: what the partition log promises across syncs (issue 19):
 * the visible end never runs ahead of the synced end without write
 * caching; after a failed sync nothing is acknowledged, made visible or
 * checkpointed, and the next open truncates back to the recovery point; a
 * roll syncs in the background; overlapping segments are resolved by rule;
 * a partition that failed to load is recovered later and keeps its dir
 * from the clean-shutdown marker. The power-loss side (directory fsyncs)
 * is tested on a filesystem that forgets (tests/integration/
 * check_powerloss.c).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "flusher.h"
#include "logmgr.h"
#include "partlog_int.h"
#include "plog_testlib.h"

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

/* Appends one batch of @p nrec records; returns its last offset. */
static int64_t put(qr_plog_t *part, int nrec)
{
    uint8_t buf[4096];
    int64_t base, last;
    size_t n = tl_batch(buf, nrec, 1000, 20, 'x');
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_NONE);
    return last;
}

/* Offsets a fetch from @p from sees (0 when none). */
static size_t visible_len(qr_plog_t *part, int64_t from)
{
    qr_plog_slice_t sl;
    ck_assert_int_eq(qr_plog_read(part, from, 1 << 20, &sl), QUIRE_ERR_NONE);
    size_t len = sl.len;
    qr_plog_slice_release(&sl);
    return len;
}

static void wait_until_rp(qr_plog_t *part, int64_t rp)
{
    for (int i = 0; i < 1000 && qr_plog_recovery_point(part) < rp; i++)
        usleep(10000);
    ck_assert_int_ge(qr_plog_recovery_point(part), rp);
}

static int marker_exists(const char *topic)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s-0/%s", dir, topic,
             QR_PLOG_FSYNC_FAILED_FILE);
    return access(path, F_OK) == 0;
}

START_TEST(test_visible_end_waits_for_sync)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 4096);
    conf.write_caching = 0;
    qr_plog_t *part = tl_open(dir, "vis", &conf, 0, -1, NULL);
    int64_t last = put(part, 5);

    /* appended, not synced: nobody sees it */
    ck_assert_int_eq(qr_plog_log_end(part), last + 1);
    ck_assert_int_eq(qr_plog_high_watermark(part), 0);
    ck_assert_uint_eq(visible_len(part, 0), 0);
    int64_t off = 0;
    ck_assert_int_eq(qr_plog_offset_for_time(part, QR_PLOG_TS_LATEST, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(qr_plog_offset_for_time(part, 1000, &off), QUIRE_ERR_NONE);
    ck_assert_int_eq(off, -1);

    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_high_watermark(part), last + 1);
    ck_assert_uint_gt(visible_len(part, 0), 0);

    /* a second batch stays hidden past the first */
    size_t first = visible_len(part, 0);
    int64_t last2 = put(part, 3);
    ck_assert_uint_eq(visible_len(part, 0), first);
    ck_assert_uint_eq(visible_len(part, last + 1), 0);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_high_watermark(part), last2 + 1);
    ck_assert_uint_gt(visible_len(part, last + 1), 0);
    qr_plog_close(part);

    /* after a crash the visible end restarts at the recovery point */
    part = tl_open(dir, "vis", &conf, 0, last + 1, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), last2 + 1);
    ck_assert_int_eq(qr_plog_high_watermark(part), last + 1);
    ck_assert_uint_eq(visible_len(part, last + 1), 0);
    qr_plog_close(part);
}
END_TEST

/* Issue 14: a new partition's directory (its mkdir in the log dir, its
 * first segment's files) is made durable by the first sync of its data,
 * before anything in it is acknowledged, not by an fsync at open (10,000
 * partitions created at once paid two fsyncs each). */
START_TEST(test_new_dir_synced_by_first_sync)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 4096);
    conf.write_caching = 0;
    qr_plog_t *part = tl_open(dir, "nd", &conf, 1, -1, NULL);

    ck_assert_int_eq(atomic_load(&part->parent_dirty), 1);
    ck_assert_int_eq(atomic_load(&part->dir_dirty), 1);
    int64_t last = put(part, 3);
    ck_assert_int_eq(qr_plog_high_watermark(part), 0);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(atomic_load(&part->parent_dirty), 0);
    ck_assert_int_eq(atomic_load(&part->dir_dirty), 0);
    ck_assert_int_eq(qr_plog_high_watermark(part), last + 1);
    qr_plog_close(part);
    /* an existing directory reopened owes nothing */
    part = tl_open(dir, "nd", &conf, 1, -1, NULL);
    ck_assert_int_eq(atomic_load(&part->parent_dirty), 0);
    ck_assert_int_eq(atomic_load(&part->dir_dirty), 0);
    qr_plog_close(part);
}
END_TEST

START_TEST(test_write_caching_shows_at_append)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 4096);
    conf.write_caching = 1;
    qr_plog_t *part = tl_open(dir, "wc", &conf, 0, -1, NULL);
    int64_t last = put(part, 5);
    ck_assert_int_eq(qr_plog_high_watermark(part), last + 1);
    ck_assert_uint_gt(visible_len(part, 0), 0);
    qr_plog_close(part);
}
END_TEST

/* Without write caching, the flusher makes appends visible on its own. */
START_TEST(test_background_sync_makes_visible)
{
    qr_flusher_t *fl;
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 4096);
    conf.write_caching = 0;
    ck_assert_int_eq(qr_flusher_new(1, &fl), QUIRE_ERR_NONE);
    qr_plog_t *part = tl_open(dir, "bg", &conf, 0, -1, fl);
    int64_t last = put(part, 4);
    wait_until_rp(part, last + 1);
    for (int i = 0; i < 1000 && qr_plog_high_watermark(part) <= last; i++)
        usleep(10000);
    ck_assert_int_eq(qr_plog_high_watermark(part), last + 1);
    qr_plog_close(part);
    qr_flusher_destroy(fl);
}
END_TEST

static void on_flushed(void *opaque, qr_plog_t *part, int64_t last,
                       quire_err_t err)
{
    (void)part;
    (void)last;
    atomic_store((atomic_int *)opaque, (int)err + 1000);
}

/* fsyncgate: a failed sync, then syncs that "succeed" on the same fd. */
START_TEST(test_failed_sync_never_acknowledged)
{
    qr_flusher_t *fl;
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 4096);
    conf.write_caching = 0;
    conf.flush_interval_ms = 0; /* the periodic flush is due every tick */
    ck_assert_int_eq(qr_flusher_new(1, &fl), QUIRE_ERR_NONE);
    qr_plog_t *part = tl_open(dir, "fg", &conf, 0, -1, fl);
    int64_t good = put(part, 5);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_recovery_point(part), good + 1);

    qr_plog_test_fail_syncs(part, 1);
    int64_t bad = put(part, 5);
    wait_until_rp(part, good + 1);
    for (int i = 0; i < 1000 && !qr_plog_offline(part); i++)
        usleep(10000);
    ck_assert(qr_plog_offline(part));
    /* The partition goes offline first (nothing more is acknowledged),
     * then the flusher writes the marker: wait for it. */
    for (int i = 0; i < 1000 && !marker_exists("fg"); i++)
        usleep(10000);
    ck_assert(marker_exists("fg"));

    /* every later sync would succeed: none may move anything */
    qr_plog_periodic(part, qr_plog_now_ms() + 1000);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_KAFKA_STORAGE_ERROR);
    int durable = 0;
    atomic_int got = 0;
    ck_assert_int_eq(
        qr_plog_flush_request(part, bad, on_flushed, &got, &durable),
        QUIRE_ERR_KAFKA_STORAGE_ERROR);
    ck_assert_int_eq(qr_plog_recovery_point(part), good + 1);
    ck_assert_int_le(qr_plog_high_watermark(part), good + 1);
    qr_plog_close(part);

    /* a reopen, even one told the log was closed cleanly, truncates back
     * to the recovery point of the failure and removes the marker */
    part = tl_open(dir, "fg", &conf, 1, -1, fl);
    ck_assert_int_eq(qr_plog_log_end(part), good + 1);
    ck_assert_int_eq(qr_plog_recovery_point(part), good + 1);
    ck_assert(!marker_exists("fg"));
    ck_assert(!qr_plog_offline(part));
    int64_t next = put(part, 2);
    ck_assert_int_eq(next, good + 2);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    qr_plog_close(part);
    qr_flusher_destroy(fl);
}
END_TEST

/* A waiter queued before the failure is failed, never acknowledged, even
 * by a second sync (shutdown's flush) racing the failing one: the error
 * is reported to one fdatasync only, so the second would see success. */
START_TEST(test_waiter_fails_with_sync)
{
    qr_flusher_t *fl;
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 4096);
    ck_assert_int_eq(qr_flusher_new(1, &fl), QUIRE_ERR_NONE);
    qr_plog_t *part = tl_open(dir, "fw", &conf, 0, -1, fl);
    qr_plog_test_fail_syncs(part, 1); /* the flusher's sync, 100 ms long */
    int64_t last = put(part, 3);
    int durable = 0;
    atomic_int got = 0;
    ck_assert_int_eq(
        qr_plog_flush_request(part, last, on_flushed, &got, &durable),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(durable, 0);
    usleep(30000); /* the flusher is inside its failing sync */
    quire_err_t err = qr_plog_flush(part);
    for (int i = 0; i < 1000 && atomic_load(&got) == 0; i++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&got), QUIRE_ERR_KAFKA_STORAGE_ERROR + 1000);
    ck_assert_int_eq(err, QUIRE_ERR_KAFKA_STORAGE_ERROR);
    ck_assert_int_eq(qr_plog_recovery_point(part), 0);
    qr_plog_close(part);
    qr_flusher_destroy(fl);
}
END_TEST

/* A roll syncs the sealed segment in the background (Kafka's flush on
 * roll): the recovery point moves with no flush request. */
START_TEST(test_roll_syncs_in_background)
{
    qr_flusher_t *fl;
    qr_plog_conf_t conf;
    tl_conf(&conf, 600, 4096);
    conf.write_caching = 1;
    ck_assert_int_eq(qr_flusher_new(1, &fl), QUIRE_ERR_NONE);
    qr_plog_t *part = tl_open(dir, "roll", &conf, 0, -1, fl);
    int64_t last = 0;
    for (int i = 0; i < 6; i++)
        last = put(part, 5);
    ck_assert_uint_gt(qr_plog_segment_count(part), 1);
    wait_until_rp(part, 10);
    ck_assert_int_le(qr_plog_recovery_point(part), last + 1);
    qr_plog_close(part);
    qr_flusher_destroy(fl);
}
END_TEST

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT, 0644);
    ssize_t n;
    ck_assert_int_ge(in, 0);
    ck_assert_int_ge(out, 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

/* Two segments claiming the same offsets: the earlier wins, loudly. */
START_TEST(test_overlapping_segments_resolved)
{
    qr_plog_conf_t conf;
    char a[PATH_MAX], b[PATH_MAX];
    tl_conf(&conf, 1 << 20, 4096);
    qr_plog_t *part = tl_open(dir, "ov", &conf, 0, -1, NULL);
    for (int i = 0; i < 4; i++)
        put(part, 5); /* offsets 0..19 in segment 0 */
    qr_plog_close(part);
    /* a stale segment based at 10, as if a deletion had come back */
    snprintf(a, sizeof(a), "%s/ov-0/%020d.log", dir, 0);
    snprintf(b, sizeof(b), "%s/ov-0/%020d.log", dir, 10);
    copy_file(a, b);
    part = tl_open(dir, "ov", &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 20);
    /* offsets 10.. come from the earlier segment; the stale one serves
     * nothing (hstore's rule: emptied, then deleted) */
    qr_plog_slice_t sl;
    ck_assert_int_eq(qr_plog_read(part, 10, 1 << 20, &sl), QUIRE_ERR_NONE);
    ck_assert_ptr_nonnull(sl.seg);
    ck_assert_int_eq(sl.seg->base_offset, 0);
    qr_plog_slice_release(&sl);
    qr_plog_close(part);
}
END_TEST

/* A partition that failed to load is recovered when opened later, and its
 * dir gets no clean-shutdown marker. */
START_TEST(test_failed_load_not_clean)
{
    qr_logmgr_conf_t lc;
    qr_logmgr_t *mgr;
    qr_plog_t *part;
    char errstr[256], path[PATH_MAX];
    const char *dirs[1] = {dir};

    qr_logmgr_conf_defaults(&lc);
    lc.dirs = dirs;
    lc.ndirs = 1;
    ck_assert_int_eq(qr_logmgr_open(&lc, &mgr, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qr_logmgr_open_part(mgr, "fl", 0, NULL, &part, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    put(part, 5);
    qr_plog_release(part);
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
    snprintf(path, sizeof(path), "%s/%s", dir, QR_CKPT_CLEAN_FILE);
    ck_assert_int_eq(access(path, F_OK), 0);

    /* make the load fail: the segment's .log becomes unreadable */
    snprintf(path, sizeof(path), "%s/fl-0/%020d.log", dir, 0);
    ck_assert_int_eq(chmod(path, 0), 0);
    int root = geteuid() == 0;
    char moved[PATH_MAX + 16];
    snprintf(moved, sizeof(moved), "%s.away", path);
    if (root) /* root reads anything: take the file away instead */
        ck_assert_int_eq(rename(path, moved), 0);
    char dummy[PATH_MAX];
    snprintf(dummy, sizeof(dummy), "%s/fl-0/%020d.log", dir, 0);
    if (root)
        ck_assert_int_eq(mkdir(dummy, 0755), 0); /* open(O_RDWR): EISDIR */
    ck_assert_int_eq(qr_logmgr_open(&lc, &mgr, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_logmgr_count(mgr), 0);
    ck_assert_int_eq(qr_logmgr_close(mgr), QUIRE_ERR_NONE);
    snprintf(path, sizeof(path), "%s/%s", dir, QR_CKPT_CLEAN_FILE);
    ck_assert_int_ne(access(path, F_OK), 0);
    if (root) {
        ck_assert_int_eq(rmdir(dummy), 0);
        ck_assert_int_eq(rename(moved, dummy), 0);
    } else {
        ck_assert_int_eq(chmod(dummy, 0644), 0);
    }
}
END_TEST

static Suite *durable_suite(void)
{
    Suite *s = suite_create("durable");
    TCase *tc = tcase_create("plog");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_visible_end_waits_for_sync);
    tcase_add_test(tc, test_write_caching_shows_at_append);
    tcase_add_test(tc, test_background_sync_makes_visible);
    tcase_add_test(tc, test_failed_sync_never_acknowledged);
    tcase_add_test(tc, test_waiter_fails_with_sync);
    tcase_add_test(tc, test_roll_syncs_in_background);
    tcase_add_test(tc, test_overlapping_segments_resolved);
    tcase_add_test(tc, test_failed_load_not_clean);
    tcase_add_test(tc, test_new_dir_synced_by_first_sync);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(durable_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
