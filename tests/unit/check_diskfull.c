/* check_diskfull: a full disk fails the append with KAFKA_STORAGE_ERROR,
 * leaves no partial batch visible or on disk, damages nothing already
 * written, and the next append after space returns works (issue 3, §7);
 * so does a roll that cannot create its segment.
 *
 * Built twice. check_diskfull fills up through RLIMIT_FSIZE (EFBIG),
 * which needs no privilege: a write past the limit, and a roll whose
 * preallocated indexes are larger than the limit. check_diskfull_tmpfs
 * (QT_DISKFULL_TMPFS) fills a small tmpfs mount (size=), unmounted
 * afterwards; it needs root, and when it cannot mount it exits 77, which
 * the harness reports as SKIP (with the reason in its log), never as a
 * pass (issue 20). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partlog.h"
#include "plog_testlib.h"

#define FS_BYTES (512 * 1024)

static char *root; /* the test directory; with QT_DISKFULL_TMPFS the
                      mount point, mounted and unmounted by main() */

static off_t log_file_size(qr_plog_t *part)
{
    /* the active segment is the newest .log; with one segment, base 0 */
    char p[PATH_MAX + 64];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%020d.log", qr_plog_dir(part), 0);
    ck_assert_int_eq(stat(p, &st), 0);
    return st.st_size;
}

static void check_log(qr_plog_t *part)
{
    int64_t end = qr_plog_log_end(part);
    for (int64_t o = 0; o < end;) {
        qr_plog_slice_t s;
        ck_assert_int_eq(qr_plog_read(part, o, 1, &s), QUIRE_ERR_NONE);
        tl_check_slice(&s, o);
        uint8_t h[QR_BATCH_HEADER_SIZE];
        qr_batch_hdr_t hdr;
        ck_assert_int_eq(pread(s.fd, h, sizeof(h), (off_t)s.pos),
                         (ssize_t)sizeof(h));
        qr_batch_hdr_read(h, sizeof(h), &hdr);
        o = qr_batch_last_offset(&hdr) + 1;
        qr_plog_slice_release(&s);
    }
}

/* Appends 10 KiB batches until the append fails; returns that error. */
static quire_err_t fill_up(qr_plog_t *part, uint8_t *buf)
{
    for (int i = 0; i < 1000; i++) {
        size_t n = tl_batch(buf, 4, 1000, 2500, (uint8_t)i);
        int64_t before = qr_plog_log_end(part), b, l;
        quire_err_t err = qr_plog_append(part, buf, n, &b, &l);
        if (err != QUIRE_ERR_NONE) {
            ck_assert_int_eq(qr_plog_log_end(part), before);
            return err;
        }
    }
    ck_abort_msg("the disk never filled up");
    return QUIRE_ERR_NONE;
}

#ifndef QT_DISKFULL_TMPFS
/* The names in directory @p path, sorted, one a line (for comparing). */
static char *dir_list(const char *path)
{
    char cmd[PATH_MAX + 32], *out = calloc(1, 4096);
    FILE *f;
    size_t n;

    snprintf(cmd, sizeof(cmd), "ls -1 '%s'", path);
    ck_assert_ptr_nonnull(out);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(out, 1, 4095, f);
    out[n] = 0;
    ck_assert_int_eq(pclose(f), 0);
    return out;
}
#endif

static void full_then_space(int use_rlimit, const char *topic)
{
    static uint8_t buf[16384];
    qr_plog_conf_t conf;
    char ballast[PATH_MAX + 16];
    int64_t b, l;
    struct rlimit rl, old;

    tl_conf(&conf, 1 << 20, 4096);
    qr_plog_t *part = tl_open(root, topic, &conf, 1, -1, NULL);
    snprintf(ballast, sizeof(ballast), "%s/ballast", root);
    if (use_rlimit) {
        signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of the signal */
        getrlimit(RLIMIT_FSIZE, &old);
        rl = old;
        rl.rlim_cur = 300 * 1024;
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    } else {
        int fd = open(ballast, O_CREAT | O_WRONLY, 0644);
        memset(buf, 1, sizeof(buf));
        for (int i = 0; i < 8; i++) /* 128 KiB to give back later */
            ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
        close(fd);
    }
    ck_assert_int_eq(fill_up(part, buf), QUIRE_ERR_KAFKA_STORAGE_ERROR);
    ck_assert(!qr_plog_offline(part)); /* full is not broken */
    int64_t end = qr_plog_log_end(part);
    ck_assert_int_gt(end, 0);
    /* no partial batch on disk either */
    ck_assert_uint_eq((uint64_t)log_file_size(part), qr_plog_size_bytes(part));
    check_log(part);
    /* still full: still an error, still nothing visible */
    size_t n = tl_batch(buf, 4, 1000, 2500, 7);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l),
                     QUIRE_ERR_KAFKA_STORAGE_ERROR);
    ck_assert_int_eq(qr_plog_log_end(part), end);
    /* space comes back */
    if (use_rlimit)
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    else
        ck_assert_int_eq(unlink(ballast), 0);
    n = tl_batch(buf, 4, 1000, 2500, 8);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l), QUIRE_ERR_NONE);
    ck_assert_int_eq(b, end);
    check_log(part);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    /* and recovery finds exactly that */
    part = tl_open(root, topic, &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), end + 4);
    check_log(part);
    ck_assert_int_eq(qr_plog_delete(part), QUIRE_ERR_NONE); /* room back */
}

#ifdef QT_DISKFULL_TMPFS
START_TEST(test_tmpfs_full)
{
    full_then_space(0, "full");
}
END_TEST

START_TEST(test_roll_on_full_disk)
{
    /* Segments whose preallocated indexes (2 x 64 KiB) do not fit once
     * the disk fills: the failing append is a roll or a write, and either
     * way nothing changes and the next append after space returns works. */
    static uint8_t buf[16384];
    qr_plog_conf_t conf;
    char ballast[PATH_MAX + 16];
    int64_t b, l;
    tl_conf(&conf, 40000, 4096);
    conf.index_size_max_bytes = 64 * 1024;
    qr_plog_t *part = tl_open(root, "roll", &conf, 1, -1, NULL);
    snprintf(ballast, sizeof(ballast), "%s/ballast", root);
    int fd = open(ballast, O_CREAT | O_WRONLY, 0644);
    memset(buf, 1, sizeof(buf));
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    close(fd);
    ck_assert_int_eq(fill_up(part, buf), QUIRE_ERR_KAFKA_STORAGE_ERROR);
    int64_t end = qr_plog_log_end(part);
    ck_assert_uint_ge(qr_plog_segment_count(part), 2);
    check_log(part);
    ck_assert_int_eq(unlink(ballast), 0);
    for (int i = 0; i < 3; i++) {
        size_t n = tl_batch(buf, 4, 1000, 2500, (uint8_t)i);
        ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l), QUIRE_ERR_NONE);
        ck_assert_int_eq(b, end + 4 * i);
    }
    check_log(part);
    ck_assert_int_eq(qr_plog_delete(part), QUIRE_ERR_NONE);
}
END_TEST
#else
START_TEST(test_rlimit_fsize)
{
    full_then_space(1, "big");
}
END_TEST

START_TEST(test_roll_rlimit)
{
    /* Segments of 40000 bytes under a 50 KiB file size limit: the
     * segments fit, the 64 KiB the roll preallocates for a new segment's
     * indexes do not. So the append that fails is the roll: it changes
     * nothing (no segment, no file left of it) and the next append after
     * the limit goes works. */
    static uint8_t buf[16384];
    qr_plog_conf_t conf;
    struct rlimit rl, old;
    int64_t b, l, end;
    char dirp[PATH_MAX], *before, *after;

    tl_conf(&conf, 40000, 4096);
    conf.index_size_max_bytes = 64 * 1024;
    qr_plog_t *part = tl_open(root, "rollf", &conf, 1, -1, NULL);
    snprintf(dirp, sizeof(dirp), "%s", qr_plog_dir(part));
    before = dir_list(dirp);
    signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of the signal */
    getrlimit(RLIMIT_FSIZE, &old);
    rl = old;
    rl.rlim_cur = 50 * 1024;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ck_assert_int_eq(fill_up(part, buf), QUIRE_ERR_KAFKA_STORAGE_ERROR);
    end = qr_plog_log_end(part);
    ck_assert_int_gt(end, 0);
    ck_assert(!qr_plog_offline(part));
    /* the roll failed: the first segment is still the only one, whole,
     * and the directory holds what it held before the appends */
    ck_assert_int_eq(qr_plog_segment_count(part), 1);
    ck_assert_uint_eq((uint64_t)log_file_size(part), qr_plog_size_bytes(part));
    ck_assert_uint_gt(qr_plog_size_bytes(part) + 10000, 40000);
    after = dir_list(dirp);
    ck_assert_str_eq(after, before);
    free(after);
    check_log(part);
    /* still over the limit: the same failure, nothing visible */
    size_t n = tl_batch(buf, 4, 1000, 2500, 7);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l),
                     QUIRE_ERR_KAFKA_STORAGE_ERROR);
    ck_assert_int_eq(qr_plog_log_end(part), end);
    ck_assert_int_eq(qr_plog_segment_count(part), 1);
    /* the limit goes: the roll and the appends work, offsets go on */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    for (int i = 0; i < 3; i++) {
        n = tl_batch(buf, 4, 1000, 2500, (uint8_t)i);
        ck_assert_int_eq(qr_plog_append(part, buf, n, &b, &l), QUIRE_ERR_NONE);
        ck_assert_int_eq(b, end + 4 * i);
    }
    ck_assert_int_eq(qr_plog_segment_count(part), 2);
    check_log(part);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    part = tl_open(root, "rollf", &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), end + 12);
    check_log(part);
    ck_assert_int_eq(qr_plog_delete(part), QUIRE_ERR_NONE);
    free(before);
}
END_TEST
#endif

static Suite *diskfull_suite(void)
{
    Suite *s = suite_create("diskfull");
    TCase *tc = tcase_create("diskfull");
    tcase_set_timeout(tc, 30);
#ifdef QT_DISKFULL_TMPFS
    tcase_add_test(tc, test_tmpfs_full);
    tcase_add_test(tc, test_roll_on_full_disk);
#else
    tcase_add_test(tc, test_rlimit_fsize);
    tcase_add_test(tc, test_roll_rlimit);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];

    /* not tl_tmpdir(): Check's asserts work only inside the runner */
    snprintf(tmpl, sizeof(tmpl), "%s/qr-plog-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl) || !(root = strdup(tmpl))) {
        fprintf(stderr, "check_diskfull: %s: %s\n", tmpl, strerror(errno));
        return 99;
    }
#ifdef QT_DISKFULL_TMPFS
    /* mounted here, in the runner, so it is undone even when a test dies */
    if (geteuid() != 0 ||
        mount("tmpfs", root, "tmpfs", 0, "size=512k,mode=0755") != 0) {
        fprintf(stderr,
                "SKIP check_diskfull_tmpfs: cannot mount a tmpfs on %s "
                "(%s): the full-disk cases did not run\n",
                root, geteuid() != 0 ? "not root" : strerror(errno));
        tl_rmtree(root);
        free(root);
        return 77;
    }
#endif
    SRunner *sr = srunner_create(diskfull_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
#ifdef QT_DISKFULL_TMPFS
    if (umount(root) != 0) {
        fprintf(stderr, "umount %s: %s\n", root, strerror(errno));
        failed++;
    }
#endif
    tl_rmtree(root);
    free(root);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
