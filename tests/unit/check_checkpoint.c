/* check_checkpoint: recovery-point files (Kafka's format), atomic writes,
 * bad files refused, the clean-shutdown marker. */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "plog_testlib.h"

static char *dir;
static char path[PATH_MAX];

static void setup(void)
{
    dir = tl_tmpdir();
    snprintf(path, sizeof(path), "%s/%s", dir, QR_CKPT_RECOVERY_FILE);
}

static void teardown(void)
{
    tl_rmtree(dir);
    free(dir);
}

static void put_file(const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

START_TEST(test_roundtrip)
{
    qr_ckpt_t ck = {0}, back = {0};
    char errstr[128];
    int64_t off;
    qr_ckpt_set(&ck, "orders", 0, 42);
    qr_ckpt_set(&ck, "orders", 1, 7);
    qr_ckpt_set(&ck, "a.b_c-d", 12, 9000000000LL);
    qr_ckpt_set(&ck, "orders", 0, 43); /* replaces */
    ck_assert_uint_eq(ck.n, 3);
    ck_assert_int_eq(qr_ckpt_write(path, &ck), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_ckpt_read(path, &back, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(back.n, 3);
    ck_assert(qr_ckpt_get(&back, "orders", 0, &off));
    ck_assert_int_eq(off, 43);
    ck_assert(qr_ckpt_get(&back, "a.b_c-d", 12, &off));
    ck_assert_int_eq(off, 9000000000LL);
    ck_assert(!qr_ckpt_get(&back, "orders", 2, &off));
    qr_ckpt_remove(&back, "orders", 1);
    ck_assert(!qr_ckpt_get(&back, "orders", 1, &off));
    /* Kafka's layout, byte for byte */
    qr_ckpt_clear(&ck);
    qr_ckpt_set(&ck, "t", 3, 5);
    ck_assert_int_eq(qr_ckpt_write(path, &ck), QUIRE_ERR_NONE);
    char buf[64] = "";
    FILE *fp = fopen(path, "r");
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "0\n1\nt 3 5\n");
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ck_assert_int_eq(access(tmp, F_OK), -1); /* no temp left */
    qr_ckpt_clear(&ck);
    qr_ckpt_clear(&back);
}
END_TEST

static const char *const bad_files[] = {
    "",                        /* empty */
    "1\n0\n",                  /* version */
    "0\n",                     /* no count */
    "0\n2\nt 0 1\n",           /* fewer entries than counted */
    "0\n1\nt 0 1\nx 1 2\n",    /* more */
    "0\n1\nt 0\n",             /* missing offset */
    "0\n1\nt -1 5\n",          /* negative partition */
    "0\n1\nt 0 -5\n",          /* negative offset */
    "0\n1\n../x 0 5\n",        /* bad topic */
    "0\n1\nt 0 5",             /* torn last line */
    "0\n1\nt 0 5x\n",          /* junk */
    "0\n99999999999\n",        /* absurd count */
    "0\n1\nt 99999999999 5\n", /* partition out of range */
};

START_TEST(test_bad_file)
{
    qr_ckpt_t ck = {0};
    char errstr[128] = "";
    put_file(bad_files[_i]);
    ck_assert_int_eq(qr_ckpt_read(path, &ck, errstr, sizeof(errstr)),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_uint_eq(ck.n, 0);
    ck_assert_int_gt(strlen(errstr), 0);
}
END_TEST

START_TEST(test_missing_and_marker)
{
    qr_ckpt_t ck = {0};
    char errstr[128];
    int clean = -1;
    ck_assert_int_eq(qr_ckpt_read(path, &ck, errstr, sizeof(errstr)),
                     QUIRE_ERR_NOT_FOUND);
    ck_assert_int_eq(qr_ckpt_take_clean(dir, &clean), QUIRE_ERR_NONE);
    ck_assert_int_eq(clean, 0);
    ck_assert_int_eq(qr_ckpt_mark_clean(dir), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_ckpt_take_clean(dir, &clean), QUIRE_ERR_NONE);
    ck_assert_int_eq(clean, 1);
    ck_assert_int_eq(qr_ckpt_take_clean(dir, &clean), QUIRE_ERR_NONE);
    ck_assert_int_eq(clean, 0); /* taken away */
    char sub[PATH_MAX + 16];
    snprintf(sub, sizeof(sub), "%s/nodir/x", dir);
    ck_assert_int_eq(qr_ckpt_write(sub, &ck), QUIRE_ERR_KAFKA_STORAGE_ERROR);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_loop_test(tc, test_bad_file, 0,
                        (int)(sizeof(bad_files) / sizeof(bad_files[0])));
    tcase_add_test(tc, test_missing_and_marker);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(checkpoint_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
