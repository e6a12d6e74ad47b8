/* check_epochcache: leader epoch -> start offset (issue 16 item 6): Kafka's
 * assign / truncation rules, KIP-279's end-offset answers, and the
 * leader-epoch-checkpoint file (Kafka's text format, refused whole when
 * corrupt). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epochcache.h"
#include "plog_testlib.h"

static char *dir;
static char path[PATH_MAX + 64];

static void setup(void)
{
    dir = tl_tmpdir();
    snprintf(path, sizeof(path), "%s/%s", dir, QR_EPOCHCACHE_FILE);
}

static void teardown(void)
{
    tl_rmtree(dir);
    free(dir);
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static const char *read_file(void)
{
    static char buf[1024];
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* "e:s e:s ..." of the entries */
static const char *dump(qr_epochcache_t *ec)
{
    static char out[512];
    qr_epoch_entry_t v[16];
    size_t n = qr_epochcache_entries(ec, v, 16), len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && i < 16; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%d:%lld",
                                i ? " " : "", (int)v[i].epoch,
                                (long long)v[i].start_offset);
    return out;
}

START_TEST(test_assign_rules)
{
    qr_epochcache_t *ec = qr_epochcache_new(dir, "t-0");
    ck_assert_int_eq(qr_epochcache_latest(ec), QR_EPOCH_UNDEFINED);
    ck_assert_int_eq(qr_epochcache_assign(ec, 0, 0), 1);
    ck_assert_int_eq(qr_epochcache_assign(ec, 0, 5), 0); /* same epoch */
    ck_assert_int_eq(qr_epochcache_assign(ec, 2, 10), 1);
    ck_assert_int_eq(qr_epochcache_assign(ec, -1, 12), 0); /* undefined */
    ck_assert_int_eq(qr_epochcache_assign(ec, 4, 20), 1);
    ck_assert_str_eq(dump(ec), "0:0 2:10 4:20");
    ck_assert_int_eq(qr_epochcache_latest(ec), 4);
    /* an older epoch or an earlier offset drops the entries it conflicts
     * with (Kafka's assign) */
    ck_assert_int_eq(qr_epochcache_assign(ec, 3, 15), 1);
    ck_assert_str_eq(dump(ec), "0:0 2:10 3:15");
    ck_assert_int_eq(qr_epochcache_assign(ec, 5, 12), 1);
    ck_assert_str_eq(dump(ec), "0:0 2:10 5:12");
    qr_epochcache_destroy(ec);
}
END_TEST

START_TEST(test_truncations)
{
    qr_epochcache_t *ec = qr_epochcache_new(dir, "t-0");
    qr_epochcache_assign(ec, 1, 0);
    qr_epochcache_assign(ec, 2, 10);
    qr_epochcache_assign(ec, 3, 20);
    qr_epochcache_assign(ec, 5, 30);
    ck_assert_int_eq(qr_epochcache_truncate_from_end(ec, 31), 0);
    ck_assert_int_eq(qr_epochcache_truncate_from_end(ec, 30), 1);
    ck_assert_str_eq(dump(ec), "1:0 2:10 3:20");
    ck_assert_int_eq(qr_epochcache_truncate_from_end(ec, 15), 1);
    ck_assert_str_eq(dump(ec), "1:0 2:10");
    qr_epochcache_assign(ec, 3, 20);
    /* retention: the entry covering the new start moves to it */
    ck_assert_int_eq(qr_epochcache_truncate_from_start(ec, 0), 0);
    ck_assert_int_eq(qr_epochcache_truncate_from_start(ec, 12), 1);
    ck_assert_str_eq(dump(ec), "2:12 3:20");
    ck_assert_int_eq(qr_epochcache_truncate_from_start(ec, 20), 1);
    ck_assert_str_eq(dump(ec), "3:20");
    ck_assert_int_eq(qr_epochcache_truncate_from_start(ec, 25), 1);
    ck_assert_str_eq(dump(ec), "3:25");
    ck_assert_int_eq(qr_epochcache_clear(ec), 1);
    ck_assert_int_eq(qr_epochcache_clear(ec), 0);
    ck_assert_str_eq(dump(ec), "");
    qr_epochcache_destroy(ec);
}
END_TEST

/* KIP-279 (Kafka's LeaderEpochFileCacheTest cases): epochs 2 at 5, 4 at
 * 10, 5 at 15 (epochs 0, 1, 3 never led this log), log end 20. */
static const struct {
    int32_t ask, epoch;
    int64_t end;
} kip279[] = {
    {5, 5, 20}, /* the latest */
    {4, 4, 15}, /* ends where 5 starts */
    {3, 2, 10}, /* a gap: 2's end */
    {2, 2, 10}, /* the first one */
    {1, 1, 5},  /* older than all */
    {0, 0, 5},  /* older than all */
    {6, QR_EPOCH_UNDEFINED, QR_EPOCH_UNDEFINED_OFFSET}, /* unknown, newer */
    {QR_EPOCH_UNDEFINED, QR_EPOCH_UNDEFINED, QR_EPOCH_UNDEFINED_OFFSET},
};

START_TEST(test_kip279)
{
    qr_epochcache_t *ec = qr_epochcache_new(dir, "t-0");
    int32_t e = 99;
    int64_t o = 99;

    /* empty: nothing is known */
    qr_epochcache_end_offset_for(ec, 0, 20, &e, &o);
    ck_assert_int_eq(e, QR_EPOCH_UNDEFINED);
    ck_assert_int_eq(o, QR_EPOCH_UNDEFINED_OFFSET);
    qr_epochcache_assign(ec, 2, 5);
    qr_epochcache_assign(ec, 4, 10);
    qr_epochcache_assign(ec, 5, 15);
    qr_epochcache_end_offset_for(ec, kip279[_i].ask, 20, &e, &o);
    ck_assert_msg(e == kip279[_i].epoch && o == kip279[_i].end,
                  "epoch %d: got (%d, %lld), want (%d, %lld)",
                  (int)kip279[_i].ask, (int)e, (long long)o,
                  (int)kip279[_i].epoch, (long long)kip279[_i].end);
    qr_epochcache_destroy(ec);
}
END_TEST

START_TEST(test_file_roundtrip)
{
    qr_epochcache_t *ec = qr_epochcache_new(dir, "t-0");
    char err[256];

    ck_assert_int_eq(qr_epochcache_load(ec, err, sizeof(err)),
                     QUIRE_ERR_NOT_FOUND);
    /* nothing changed: nothing written */
    ck_assert_int_eq(qr_epochcache_persist(ec), QUIRE_ERR_NONE);
    ck_assert_int_eq(access(path, F_OK), -1);
    qr_epochcache_assign(ec, 0, 0);
    qr_epochcache_assign(ec, 7, 123456789012LL);
    ck_assert_int_eq(qr_epochcache_persist(ec), QUIRE_ERR_NONE);
    ck_assert_str_eq(read_file(), "0\n2\n0 0\n7 123456789012\n");
    qr_epochcache_destroy(ec);
    ec = qr_epochcache_new(dir, "t-0");
    ck_assert_int_eq(qr_epochcache_load(ec, err, sizeof(err)), QUIRE_ERR_NONE);
    ck_assert_str_eq(dump(ec), "0:0 7:123456789012");
    /* a file as Kafka writes it loads as well */
    write_file("0\n3\n0 0\n1 100\n3 250\n");
    ck_assert_int_eq(qr_epochcache_load(ec, err, sizeof(err)), QUIRE_ERR_NONE);
    ck_assert_str_eq(dump(ec), "0:0 1:100 3:250");
    /* no temp file left behind */
    char tmp[PATH_MAX + 80];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    qr_epochcache_destroy(ec);
}
END_TEST

static const char *const corrupt[] = {
    "",                     /* empty */
    "1\n0\n",               /* version */
    "0\n",                  /* no count */
    "0\n2\n0 0\n",          /* fewer entries */
    "0\n1\n0 0\n1 5\n",     /* more entries */
    "0\n1\n0 0",            /* torn last line */
    "0\n2\n3 0\n2 5\n",     /* epochs going back */
    "0\n2\n2 10\n3 5\n",    /* offsets going back */
    "0\n1\n-1 0\n",         /* negative epoch */
    "0\n1\n0 -5\n",         /* negative offset */
    "0\n1\n2147483648 0\n", /* epoch past int32 */
    "0\n1\n0  0\n",         /* two spaces */
    "0\n1\nx 0\n",          /* not a number */
    "0\n99999999\n0 0\n",   /* a count no file of this size holds */
};

START_TEST(test_corrupt_refused)
{
    qr_epochcache_t *ec = qr_epochcache_new(dir, "t-0");
    char err[256] = "";
    qr_epochcache_assign(ec, 9, 9);
    write_file(corrupt[_i]);
    ck_assert_int_eq(qr_epochcache_load(ec, err, sizeof(err)),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_ptr_nonnull(strstr(err, QR_EPOCHCACHE_FILE));
    ck_assert_str_eq(dump(ec), ""); /* refused as a whole */
    qr_epochcache_destroy(ec);
}
END_TEST

static Suite *epochcache_suite(void)
{
    Suite *s = suite_create("epochcache");
    TCase *tc = tcase_create("cache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_assign_rules);
    tcase_add_test(tc, test_truncations);
    tcase_add_loop_test(tc, test_kip279, 0,
                        (int)(sizeof(kip279) / sizeof(kip279[0])));
    tcase_add_test(tc, test_file_roundtrip);
    tcase_add_loop_test(tc, test_corrupt_refused, 0,
                        (int)(sizeof(corrupt) / sizeof(corrupt[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(epochcache_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
