/* check_index: the offset index and the time index (index.h,
 * timeindex.h): append rules, lookups, full, trim, reopen, checks. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index.h"
#include "plog_testlib.h"
#include "timeindex.h"

static char *dir;
static char ipath[PATH_MAX], tpath[PATH_MAX];

static void setup(void)
{
    dir = tl_tmpdir();
    snprintf(ipath, sizeof(ipath), "%s/00000000000000000100.index", dir);
    snprintf(tpath, sizeof(tpath), "%s/00000000000000000100.timeindex", dir);
}

static void teardown(void)
{
    tl_rmtree(dir);
    free(dir);
}

static off_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

START_TEST(test_index_append_lookup)
{
    qr_index_t idx;
    int64_t o;
    uint32_t p;
    ck_assert_int_eq(qr_index_open(&idx, ipath, 100, 80, 1, 1), QUIRE_ERR_NONE);
    ck_assert_int_eq(file_size(ipath), 80); /* preallocated */
    /* empty: the segment start, and no bound */
    qr_index_lookup(&idx, 500, &o, &p);
    ck_assert_int_eq(o, 100);
    ck_assert_uint_eq(p, 0);
    uint32_t bound = 1;
    qr_index_lookup_bound(&idx, 500, &o, &p, &bound);
    ck_assert_uint_eq(bound, 0);
    for (int i = 1; i <= 10; i++)
        ck_assert_int_eq(qr_index_append(&idx, 100 + 10 * i, 1000u * i),
                         QUIRE_ERR_NONE);
    ck_assert(qr_index_full(&idx));
    ck_assert_int_eq(qr_index_append(&idx, 300, 20000), QUIRE_ERR_BUF_FULL);
    for (int64_t off = 100; off < 250; off++) {
        qr_index_lookup(&idx, off, &o, &p);
        int64_t k = (off - 100) / 10; /* entries with offset <= off */
        if (k > 10)
            k = 10;
        ck_assert_int_eq(o, k ? 100 + 10 * k : 100);
        ck_assert_uint_eq(p, 1000u * (uint32_t)k);
        /* and the bound: the next entry's position, 0 past the last */
        uint32_t next = 1;
        int64_t o2;
        uint32_t p2;
        qr_index_lookup_bound(&idx, off, &o2, &p2, &next);
        ck_assert_int_eq(o2, o);
        ck_assert_uint_eq(p2, p);
        ck_assert_uint_eq(next, k < 10 ? 1000u * (uint32_t)(k + 1) : 0);
    }
    qr_index_lookup_pos(&idx, 4500, &o, &p);
    ck_assert_uint_eq(p, 4000);
    ck_assert_int_eq(o, 140);
    qr_index_lookup_pos(&idx, 999, &o, &p);
    ck_assert_uint_eq(p, 0);
    ck_assert_int_eq(qr_index_check(&idx, 20000, NULL), QUIRE_ERR_NONE);
    const char *why = NULL;
    ck_assert_int_eq(qr_index_check(&idx, 5000, &why),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(qr_index_trim(&idx), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_index_sync(&idx), QUIRE_ERR_NONE);
    /* the mapping survives the trim */
    qr_index_lookup(&idx, 1000, &o, &p);
    ck_assert_uint_eq(p, 10000);
    qr_index_close(&idx);
    ck_assert_int_eq(file_size(ipath), 80);
}
END_TEST

/* A fresh 10 MiB index takes one entry: only the page written is read
 * into memory, not a readahead window of the sparse file around it (with
 * 1,000 partitions, zeroing those windows took 90% of the broker's CPU;
 * issue 14). On tmpfs there is no readahead: the check then holds
 * anyway. */
START_TEST(test_index_first_touch_one_page)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), pages, resident = 0;
    unsigned char *vec;
    qr_index_t idx;

    ck_assert_int_eq(qr_index_open(&idx, ipath, 100, 10 << 20, 1, 1),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_index_append(&idx, 110, 4096), QUIRE_ERR_NONE);
    pages = (idx.f.map_size + page - 1) / page;
    vec = calloc(pages, 1);
    ck_assert_ptr_nonnull(vec);
    ck_assert_int_eq(mincore(idx.f.map, idx.f.map_size, vec), 0);
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    free(vec);
    ck_assert_msg(resident <= 2, "%zu of %zu pages resident", resident, pages);
    qr_index_close(&idx);
}
END_TEST

START_TEST(test_index_rules)
{
    qr_index_t idx;
    ck_assert_int_eq(qr_index_open(&idx, ipath, 100, 4096, 1, 1),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_index_append(&idx, 110, 0), QUIRE_ERR_STATE);
    ck_assert_int_eq(qr_index_append(&idx, 99, 10), QUIRE_ERR_STATE);
    ck_assert_int_eq(qr_index_append(&idx, 100 + (int64_t)INT32_MAX + 1, 10),
                     QUIRE_ERR_STATE);
    ck_assert_int_eq(qr_index_append(&idx, 110, 50), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_index_append(&idx, 110, 60), QUIRE_ERR_STATE);
    ck_assert_int_eq(qr_index_append(&idx, 111, 50), QUIRE_ERR_STATE);
    ck_assert_int_eq(qr_index_append(&idx, 120, 70), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_index_entries(&idx), 2);
    qr_index_close(&idx);
    /* reopened writable: the entries are counted up to the unused tail */
    ck_assert_int_eq(qr_index_open(&idx, ipath, 100, 4096, 0, 1),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_index_entries(&idx), 2);
    ck_assert_int_eq(qr_index_append(&idx, 130, 90), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_index_trim(&idx), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_index_append(&idx, 140, 95), QUIRE_ERR_STATE);
    qr_index_close(&idx);
    ck_assert_int_eq(file_size(ipath), 24);
    /* read-only reopen of a trimmed file */
    ck_assert_int_eq(qr_index_open(&idx, ipath, 100, 4096, 0, 0),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_index_entries(&idx), 3);
    qr_index_close(&idx);
    /* a size that is not a whole number of entries is refused */
    ck_assert_int_eq(truncate(ipath, 13), 0);
    ck_assert_int_eq(qr_index_open(&idx, ipath, 100, 4096, 0, 0),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    unlink(ipath);
    ck_assert_int_eq(qr_index_open(&idx, ipath, 100, 4096, 0, 0),
                     QUIRE_ERR_NOT_FOUND);
    /* entries going backwards are caught by the check */
    int fd = open(ipath, O_CREAT | O_WRONLY, 0644);
    uint8_t e[16];
    tl_put32(e, 20);
    tl_put32(e + 4, 500);
    tl_put32(e + 8, 10);
    tl_put32(e + 12, 600);
    ck_assert_int_eq(write(fd, e, 16), 16);
    close(fd);
    ck_assert_int_eq(qr_index_open(&idx, ipath, 100, 4096, 0, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_index_check(&idx, 10000, NULL),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    qr_index_close(&idx);
}
END_TEST

START_TEST(test_timeindex)
{
    qr_tindex_t t;
    int64_t ts, o;
    ck_assert_int_eq(qr_tindex_open(&t, tpath, 100, 12 * 4, 1, 1),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_tindex_lookup_below(&t, 5, &ts, &o), 0);
    ck_assert_int_eq(qr_tindex_maybe_append(&t, 1000, 100), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_tindex_maybe_append(&t, 1000, 110), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_tindex_maybe_append(&t, 900, 120), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_tindex_entries(&t), 1); /* not greater: skipped */
    ck_assert_int_eq(qr_tindex_maybe_append(&t, 2000, 130), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_tindex_maybe_append(&t, 3000, 125), QUIRE_ERR_STATE);
    ck_assert_int_eq(qr_tindex_maybe_append(&t, 3000, 140), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_tindex_maybe_append(&t, 4000, 150), QUIRE_ERR_NONE);
    ck_assert(qr_tindex_full(&t));
    ck_assert_int_eq(qr_tindex_maybe_append(&t, 5000, 160), QUIRE_ERR_BUF_FULL);
    ck_assert_int_eq(qr_tindex_lookup_below(&t, 1000, &ts, &o), 0);
    ck_assert_int_eq(qr_tindex_lookup_below(&t, 1001, &ts, &o), 1);
    ck_assert_int_eq(ts, 1000);
    ck_assert_int_eq(o, 100);
    ck_assert_int_eq(qr_tindex_lookup_below(&t, 3500, &ts, &o), 1);
    ck_assert_int_eq(ts, 3000);
    ck_assert_int_eq(o, 140);
    ck_assert_int_eq(qr_tindex_check(&t, 151, NULL), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_tindex_check(&t, 150, NULL), QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_int_eq(qr_tindex_trim(&t), QUIRE_ERR_NONE);
    qr_tindex_close(&t);
    ck_assert_int_eq(qr_tindex_open(&t, tpath, 100, 4096, 0, 0),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_tindex_entries(&t), 4);
    qr_tindex_entry(&t, 3, &ts, &o);
    ck_assert_int_eq(ts, 4000);
    ck_assert_int_eq(o, 150);
    qr_tindex_close(&t);
}
END_TEST

/* Issue 17 item 4: an index is sparse, its blocks come as entries are
 * written: 10 MiB long, kilobytes on disk. */
START_TEST(test_sparse)
{
    qr_index_t idx;
    qr_tindex_t tidx;
    struct stat st;

    ck_assert_int_eq(qr_index_open(&idx, ipath, 0, 10 << 20, 1, 1),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_tindex_open(&tidx, tpath, 0, 10 << 20, 1, 1),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(stat(ipath, &st), 0);
    ck_assert_int_eq(st.st_size, 10 << 20);
    ck_assert_int_le((long long)st.st_blocks * 512, 4096);
    ck_assert_int_eq(stat(tpath, &st), 0);
    ck_assert_int_le((long long)st.st_blocks * 512, 4096);
    /* 1,000 entries: 8,000 bytes, so about two pages, not ten megabytes */
    for (int i = 1; i <= 1000; i++) {
        ck_assert_int_eq(qr_index_append(&idx, i, (uint32_t)i * 100),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_tindex_maybe_append(&tidx, 1000 + i, i),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(stat(ipath, &st), 0);
    ck_assert_int_ge((long long)st.st_blocks * 512, 8000);
    ck_assert_int_le((long long)st.st_blocks * 512, 64 << 10);
    ck_assert_int_eq(stat(tpath, &st), 0);
    ck_assert_int_le((long long)st.st_blocks * 512, 64 << 10);
    /* reopened writable (a restart), it goes on where it was */
    qr_index_close(&idx);
    ck_assert_int_eq(qr_index_open(&idx, ipath, 0, 10 << 20, 0, 1),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_index_entries(&idx), 1000);
    ck_assert_int_eq(qr_index_append(&idx, 1001, 100100), QUIRE_ERR_NONE);
    ck_assert_int_eq(stat(ipath, &st), 0);
    ck_assert_int_le((long long)st.st_blocks * 512, 64 << 10);
    qr_index_close(&idx);
    qr_tindex_close(&tidx);
}
END_TEST

static Suite *index_suite(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("index");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_index_append_lookup);
    tcase_add_test(tc, test_index_rules);
    tcase_add_test(tc, test_index_first_touch_one_page);
    tcase_add_test(tc, test_timeindex);
    tcase_add_test(tc, test_sparse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(index_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
