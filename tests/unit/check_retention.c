/* check_retention: deleting old segments by size and by time, the delete
 * delay, and a pinned reader that outlives the deletion (retention.h). */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "partlog.h"
#include "plog_testlib.h"
#include "retention.h"

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

/* Counts files in the partition dir ending with `suffix`. */
static int count_files(const char *topic, const char *suffix)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s-0", dir, topic);
    DIR *d = opendir(p);
    struct dirent *de;
    int n = 0;
    size_t sl = strlen(suffix);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > sl && !strcmp(de->d_name + l - sl, suffix))
            n++;
    }
    closedir(d);
    return n;
}

/* 10 batches of ~1 KiB per segment of 10 KiB. */
static void fill(qr_plog_t *part, int nbatches, int64_t ts)
{
    uint8_t buf[2048];
    for (int i = 0; i < nbatches; i++) {
        size_t n = tl_batch(buf, 1, ts, 900, (uint8_t)i);
        int64_t b, l;
        ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l), QUIRE_ERR_NONE);
    }
}

START_TEST(test_by_size_with_delay)
{
    qr_plog_conf_t conf;
    int deleted;
    int64_t now = qr_plog_now_ms();
    tl_conf(&conf, 10000, 1000);
    conf.retention_bytes = 30000;
    conf.segment_delete_delay_ms = 60000;
    qr_plog_t *part = tl_open(dir, "size", &conf, 1, -1, NULL);
    fill(part, 100, now);
    size_t before = qr_plog_segment_count(part);
    ck_assert_uint_ge(before, 10);
    ck_assert_int_eq(qr_retention_run(part, now, &deleted), QUIRE_ERR_NONE);
    ck_assert_int_gt(deleted, 0);
    ck_assert_uint_eq(qr_plog_segment_count(part), before - (size_t)deleted);
    /* what is left still holds at least retention.bytes, and one segment
     * fewer would not */
    uint64_t left = qr_plog_size_bytes(part);
    ck_assert_uint_ge(left, 30000);
    ck_assert_uint_lt(left, 30000 + 10000);
    int64_t start = qr_plog_log_start(part);
    ck_assert_int_gt(start, 0);
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, start - 1, 100, &s),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    ck_assert_int_eq(qr_plog_read(part, start, 100, &s), QUIRE_ERR_NONE);
    tl_check_slice(&s, start);
    qr_plog_slice_release(&s);
    int64_t off;
    ck_assert_int_eq(qr_plog_offset_for_time(part, QR_PLOG_TS_EARLIEST, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, start);
    /* renamed, not yet removed */
    ck_assert_int_eq(count_files("size", ".log.deleted"), deleted);
    ck_assert_int_eq(count_files("size", ".index.deleted"), deleted);
    ck_assert_int_eq(qr_retention_pending(part), deleted);
    ck_assert_int_eq(qr_retention_reap(part, now + 59999, 0), 0);
    ck_assert_int_eq(count_files("size", ".log.deleted"), deleted);
    ck_assert_int_eq(qr_retention_reap(part, now + 60000, 0), deleted);
    ck_assert_int_eq(count_files("size", ".deleted"), 0);
    /* nothing more to delete */
    ck_assert_int_eq(qr_retention_run(part, now, &deleted), QUIRE_ERR_NONE);
    ck_assert_int_eq(deleted, 0);
    qr_plog_close(part);
    /* reopened: the log starts where retention left it */
    part = tl_open(dir, "size", &conf, 1, -1, NULL);
    ck_assert_int_eq(qr_plog_log_start(part), start);
    ck_assert_int_eq(qr_plog_log_end(part), 100);
    qr_plog_close(part);
}
END_TEST

START_TEST(test_by_time_and_active)
{
    qr_plog_conf_t conf;
    int deleted;
    int64_t now = qr_plog_now_ms();
    tl_conf(&conf, 10000, 1000);
    conf.retention_ms = 3600 * 1000;
    conf.segment_delete_delay_ms = 0;
    qr_plog_t *part = tl_open(dir, "time", &conf, 1, -1, NULL);
    fill(part, 50, now - 2 * 3600 * 1000); /* two hours old */
    fill(part, 30, now - 1000);            /* fresh */
    int64_t end = qr_plog_log_end(part);
    ck_assert_int_eq(qr_retention_run(part, now, &deleted), QUIRE_ERR_NONE);
    ck_assert_int_ge(deleted, 4);
    /* the first kept segment is the one where fresh data begins */
    int64_t start = qr_plog_log_start(part);
    ck_assert_int_le(start, 50);
    ck_assert_int_gt(start, 30);
    ck_assert_int_eq(qr_plog_log_end(part), end);
    /* an hour later everything is old, the active segment too: it is
     * rolled and deleted, and the log is empty but keeps its end */
    ck_assert_int_eq(qr_retention_run(part, now + 2 * 3600 * 1000, &deleted),
                     QUIRE_ERR_NONE);
    ck_assert_int_gt(deleted, 0);
    ck_assert_int_eq(qr_plog_log_start(part), end);
    ck_assert_int_eq(qr_plog_log_end(part), end);
    ck_assert_uint_eq(qr_plog_segment_count(part), 1);
    ck_assert_uint_eq(qr_plog_size_bytes(part), 0);
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, end, 100, &s), QUIRE_ERR_NONE);
    ck_assert_uint_eq(s.len, 0);
    int pending = qr_retention_pending(part);
    ck_assert_int_eq(qr_retention_reap(part, now + 2 * 3600 * 1000, 0),
                     pending);
    fill(part, 3, now);
    ck_assert_int_eq(qr_plog_log_end(part), end + 3);
    ck_assert_int_eq(qr_plog_read(part, end, 100, &s), QUIRE_ERR_NONE);
    tl_check_slice(&s, end);
    qr_plog_slice_release(&s);
    qr_plog_close(part);
}
END_TEST

START_TEST(test_pinned_reader)
{
    qr_plog_conf_t conf;
    int deleted;
    int64_t now = qr_plog_now_ms();
    tl_conf(&conf, 10000, 1000);
    conf.retention_bytes = 0;
    conf.segment_delete_delay_ms = 0;
    qr_plog_t *part = tl_open(dir, "pin", &conf, 1, -1, NULL);
    fill(part, 40, now);
    /* a fetch in flight holds the first segment */
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, 0, 1 << 20, &s), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_retention_run(part, now, &deleted), QUIRE_ERR_NONE);
    ck_assert_int_ge(deleted, 3);
    ck_assert_int_eq(qr_retention_reap(part, now, 0), deleted);
    ck_assert_int_eq(count_files("pin", ".deleted"), 0);
    ck_assert_int_eq(count_files("pin", ".log"), 1);
    /* the files are gone, the data is not: sendfile would complete */
    tl_check_slice(&s, 0);
    qr_plog_slice_t s2;
    ck_assert_int_eq(qr_plog_read(part, 0, 100, &s2),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    qr_plog_slice_release(&s);
    qr_plog_close(part);
}
END_TEST

START_TEST(test_off_by_default)
{
    qr_plog_conf_t conf;
    int deleted;
    tl_conf(&conf, 10000, 1000);
    qr_plog_t *part = tl_open(dir, "keep", &conf, 1, -1, NULL);
    fill(part, 40, qr_plog_now_ms());
    size_t n = qr_plog_segment_count(part);
    ck_assert_int_eq(qr_retention_run(part, qr_plog_now_ms(), &deleted),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(deleted, 0);
    ck_assert_uint_eq(qr_plog_segment_count(part), n);
    qr_plog_close(part);
}
END_TEST

static Suite *retention_suite(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("retention");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_by_size_with_delay);
    tcase_add_test(tc, test_by_time_and_active);
    tcase_add_test(tc, test_pinned_reader);
    tcase_add_test(tc, test_off_by_default);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(retention_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
