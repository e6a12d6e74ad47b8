/*
 * check_plfs: the power-loss filesystem (tests/harness/plfs.c) forgets
 * exactly what was not made durable: file data not fsync'd, directory
 * entries (creates, renames, unlinks, mkdirs) not covered by an fsync of
 * their directory; and keeps what was. Its fsync failure behaves as Linux
 * after a failed writeback. The power-loss test of the broker
 * (check_powerloss) trusts these.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qt_plfs.h"

static qt_plfs_t fs;
static char root[256];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/qt-plfs-XXXXXX", tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_int_eq(qt_plfs_init(&fs, QT_PLFS, root), 0);
}

static void teardown(void)
{
    qt_plfs_destroy(&fs);
}

static void powerloss(void)
{
    qt_plfs_powercut(&fs);
    ck_assert_int_eq(qt_plfs_mount(&fs, QT_PLFS), 0);
}

static const char *p(const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", fs.mnt, rel);
    return buf[k];
}

static void put(const char *rel, const char *data, int flags, int do_sync)
{
    int fd = open(p(rel), O_WRONLY | O_CREAT | flags, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    if (do_sync)
        ck_assert_int_eq(fsync(fd), 0);
    close(fd);
}

static void sync_dir(const char *rel)
{
    int fd = open(rel ? p(rel) : fs.mnt, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fsync(fd), 0);
    close(fd);
}

/* The file's contents, or "<missing>". */
static const char *get(const char *rel)
{
    static char buf[70000];
    int fd = open(p(rel), O_RDONLY);
    if (fd < 0)
        return "<missing>";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

START_TEST(test_file_data)
{
    put("f", "durable", 0, 1);
    sync_dir(NULL);
    put("f", "+lost", O_APPEND, 0);
    ck_assert_str_eq(get("f"), "durable+lost");
    put("g", "never synced", 0, 0);
    sync_dir(NULL); /* g's entry is durable, its data is not */
    powerloss();
    ck_assert_str_eq(get("f"), "durable");
    ck_assert_str_eq(get("g"), "");

    /* a truncation not synced is undone; a synced one stays */
    ck_assert_int_eq(truncate(p("f"), 3), 0);
    ck_assert_str_eq(get("f"), "dur");
    powerloss();
    ck_assert_str_eq(get("f"), "durable");
    int fd = open(p("f"), O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 3), 0);
    ck_assert_int_eq(ftruncate(fd, 6), 0); /* grows with zeros */
    ck_assert_int_eq(pwrite(fd, "X", 1, 5), 1);
    ck_assert_int_eq(fdatasync(fd), 0);
    close(fd);
    powerloss();
    ck_assert_int_eq(memcmp(get("f"), "dur\0\0X", 6), 0);
}
END_TEST

START_TEST(test_large_file_blocks)
{
    char *big = malloc(65536);
    memset(big, 'a', 65535);
    big[65535] = '\0';
    put("big", big, 0, 1);
    sync_dir(NULL);
    int fd = open(p("big"), O_WRONLY);
    ck_assert_int_eq(pwrite(fd, "BBBB", 4, 5000), 4);
    ck_assert_int_eq(pwrite(fd, "CCCC", 4, 40000), 4);
    ck_assert_int_eq(fsync(fd), 0);
    ck_assert_int_eq(pwrite(fd, "DDDD", 4, 20000), 4);
    close(fd);
    powerloss();
    const char *s = get("big");
    ck_assert_uint_eq(strlen(s), 65535);
    ck_assert_int_eq(memcmp(s + 5000, "BBBB", 4), 0);
    ck_assert_int_eq(memcmp(s + 40000, "CCCC", 4), 0);
    ck_assert_int_eq(memcmp(s + 20000, "aaaa", 4), 0);
    free(big);
}
END_TEST

START_TEST(test_directory_entries)
{
    ck_assert_int_eq(mkdir(p("d"), 0755), 0);
    sync_dir(NULL);
    put("d/kept", "1", 0, 1);
    put("d/gone", "2", 0, 1); /* data synced, entry not */
    sync_dir("d");
    put("d/late", "3", 0, 1);
    ck_assert_int_eq(rename(p("d/kept"), p("d/moved")), 0);
    ck_assert_int_eq(unlink(p("d/gone")), 0);
    ck_assert_int_eq(mkdir(p("d2"), 0755), 0);
    powerloss();
    ck_assert_str_eq(get("d/kept"), "1"); /* rename undone */
    ck_assert_str_eq(get("d/moved"), "<missing>");
    ck_assert_str_eq(get("d/gone"), "2"); /* unlink undone */
    ck_assert_str_eq(get("d/late"), "<missing>");
    ck_assert_int_ne(access(p("d2"), F_OK), 0);

    /* the same, each followed by an fsync of the directory: durable */
    ck_assert_int_eq(rename(p("d/kept"), p("d/moved")), 0);
    ck_assert_int_eq(unlink(p("d/gone")), 0);
    put("d/late", "3", 0, 1);
    sync_dir("d");
    ck_assert_int_eq(rename(p("d"), p("d.123-delete")), 0);
    sync_dir(NULL);
    powerloss();
    ck_assert_str_eq(get("d.123-delete/moved"), "1");
    ck_assert_str_eq(get("d.123-delete/kept"), "<missing>");
    ck_assert_str_eq(get("d.123-delete/gone"), "<missing>");
    ck_assert_str_eq(get("d.123-delete/late"), "3");
    ck_assert_int_ne(access(p("d"), F_OK), 0);
    /* no rename across directories (not modelled) */
    ck_assert_int_eq(mkdir(p("e"), 0755), 0);
    ck_assert_int_eq(rename(p("d.123-delete/late"), p("e/late")), -1);
    ck_assert_int_eq(errno, EXDEV);
}
END_TEST

/* A file open and unlinked keeps working (the broker's deleted segments). */
START_TEST(test_open_unlinked)
{
    put("u", "abc", 0, 1);
    sync_dir(NULL);
    int fd = open(p("u"), O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(unlink(p("u")), 0);
    char buf[8] = "";
    ck_assert_int_eq(pread(fd, buf, 3, 0), 3);
    ck_assert_str_eq(buf, "abc");
    close(fd);
    sync_dir(NULL);
    powerloss();
    ck_assert_str_eq(get("u"), "<missing>");
}
END_TEST

/* Shared writable mappings (the broker's indexes) reach the file through
 * msync, and only synced ones survive. */
START_TEST(test_mmap)
{
    int fd = open(p("m"), O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 8192), 0);
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    memcpy(m, "mapped", 6);
    ck_assert_int_eq(msync(m, 8192, MS_SYNC), 0);
    ck_assert_int_eq(fsync(fd), 0);
    sync_dir(NULL);
    memcpy(m + 4096, "notsync", 7);
    munmap(m, 8192);
    close(fd);
    powerloss();
    const char *s = get("m");
    ck_assert_int_eq(memcmp(s, "mapped", 6), 0);
    fd = open(p("m"), O_RDONLY);
    char buf[8] = "";
    ck_assert_int_eq(pread(fd, buf, 7, 4096), 7);
    close(fd);
    ck_assert_int_eq(memcmp(buf, "\0\0\0\0\0\0\0", 7), 0);
}
END_TEST

/* After a failed fsync the data stays readable, a later fsync "succeeds"
 * without writing it, and a power loss drops it; what is written again
 * is written. */
START_TEST(test_failed_fsync)
{
    char *blk = malloc(8193);
    memset(blk, 'x', 8192);
    blk[8192] = '\0';
    put("s", "ok", 0, 1);
    sync_dir(NULL);
    int fd = open(p("s"), O_WRONLY | O_APPEND);
    ck_assert_int_eq(write(fd, blk, 8192), 8192);
    ck_assert_int_eq(qt_plfs_fail_next_fsync(&fs), 0);
    usleep(100000); /* the signal reaches the daemon */
    ck_assert_int_eq(fsync(fd), -1);
    ck_assert_int_eq(errno, EIO);
    ck_assert_uint_eq(strlen(get("s")), 8194); /* still readable */
    ck_assert_int_eq(fsync(fd), 0);            /* "success" */
    close(fd);
    fd = open(p("s"), O_WRONLY);
    ck_assert_int_eq(pwrite(fd, "yy", 2, 4096 + 100), 2); /* block 1 */
    ck_assert_int_eq(fsync(fd), 0);
    close(fd);
    powerloss();
    const char *s = get("s");
    ck_assert_uint_eq(strlen(s), 2); /* block 0 (with "ok") lost its x's */
    fd = open(p("s"), O_RDONLY);
    char buf[4] = "";
    ck_assert_int_eq(pread(fd, buf, 2, 4096 + 100), 2);
    ck_assert_int_eq(memcmp(buf, "yy", 2), 0);
    ck_assert_int_eq(pread(fd, buf, 1, 4096), 1);
    ck_assert_int_eq(buf[0], 'x'); /* written again with the block */
    close(fd);
    free(blk);
}
END_TEST

static Suite *plfs_suite(void)
{
    Suite *s = suite_create("plfs");
    TCase *tc = tcase_create("powerloss");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_file_data);
    tcase_add_test(tc, test_large_file_blocks);
    tcase_add_test(tc, test_directory_entries);
    tcase_add_test(tc, test_open_unlinked);
    tcase_add_test(tc, test_mmap);
    tcase_add_test(tc, test_failed_fsync);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_plfs_require();
    SRunner *sr = srunner_create(plfs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
