/* check_partlog: append, read, roll, lookup, ListOffsets, reopen, the
 * batching of syncs (concurrent flush requests share them), bad input
 * (DESIGN.md §3; issue 3). Real files in temp dirs. That a sync reaches
 * the disk is not seen here (a test passes with every fsync removed):
 * check_durable and tests/integration/check_powerloss.c test that. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* Appends `nbatches` batches of `nrec` records each (values 100 bytes);
 * timestamps 1000 + 10 * i. */
static void append_many(qr_plog_t *part, int nbatches, int nrec,
                        int64_t first_expected)
{
    uint8_t buf[8192];
    int64_t expect = first_expected;
    for (int i = 0; i < nbatches; i++) {
        size_t n = tl_batch(buf, nrec, 1000 + 10 * (int64_t)i, 100, (uint8_t)i);
        int64_t base, last;
        ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(base, expect);
        ck_assert_int_eq(last, expect + nrec - 1);
        /* the baseOffset was written in place */
        qr_batch_hdr_t hdr;
        qr_batch_hdr_read(buf, n, &hdr);
        ck_assert_int_eq(hdr.base_offset, base);
        expect += nrec;
    }
}

static void read_all(qr_plog_t *part, size_t max_bytes)
{
    int64_t end = qr_plog_log_end(part);
    for (int64_t o = qr_plog_log_start(part); o < end; o++) {
        qr_plog_slice_t s;
        ck_assert_int_eq(qr_plog_read(part, o, max_bytes, &s), QUIRE_ERR_NONE);
        size_t len = tl_check_slice(&s, o);
        /* whole batches up to max_bytes, the first one always */
        if (len > max_bytes) {
            qr_batch_hdr_t hdr;
            uint8_t h[QR_BATCH_HEADER_SIZE];
            ck_assert_int_eq(pread(s.fd, h, sizeof(h), (off_t)s.pos),
                             (ssize_t)sizeof(h));
            qr_batch_hdr_read(h, sizeof(h), &hdr);
            ck_assert_uint_eq(qr_batch_size(&hdr), len);
        }
        qr_plog_slice_release(&s);
    }
}

START_TEST(test_roundtrip_rolls)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 4096, 300);
    qr_plog_t *part = tl_open(dir, "orders", &conf, 1, -1, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 0);
    append_many(part, 400, 3, 0);
    ck_assert_int_eq(qr_plog_log_end(part), 1200);
    ck_assert_int_eq(qr_plog_high_watermark(part), 1200);
    ck_assert_int_gt(qr_plog_segment_count(part), 20);
    read_all(part, 1);
    read_all(part, 1000);
    read_all(part, 1 << 20);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_ranges)
{
    qr_plog_conf_t conf;
    qr_plog_slice_t s;
    tl_conf(&conf, 1 << 20, 4096);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);
    /* empty log: offset 0 is the end: an empty slice */
    ck_assert_int_eq(qr_plog_read(part, 0, 100, &s), QUIRE_ERR_NONE);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_ptr_null(s.seg);
    ck_assert_int_eq(qr_plog_read(part, 1, 100, &s),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    ck_assert_int_eq(qr_plog_read(part, -1, 100, &s),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    append_many(part, 10, 5, 0);
    ck_assert_int_eq(qr_plog_read(part, 50, 100, &s), QUIRE_ERR_NONE);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_int_eq(qr_plog_read(part, 51, 100, &s),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    /* an offset inside a batch gets the whole batch */
    ck_assert_int_eq(qr_plog_read(part, 13, 1, &s), QUIRE_ERR_NONE);
    ck_assert_int_eq(s.base_offset, 10);
    tl_check_slice(&s, 13);
    qr_plog_slice_release(&s);
    qr_plog_slice_release(&s); /* twice is harmless */
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_timestamps)
{
    qr_plog_conf_t conf;
    int64_t off;
    tl_conf(&conf, 2048, 200);
    qr_plog_t *part = tl_open(dir, "ts", &conf, 1, -1, NULL);
    append_many(part, 200, 2, 0); /* batch i: ts 1000+10i .. 1001+10i */
    ck_assert_int_eq(qr_plog_offset_for_time(part, QR_PLOG_TS_EARLIEST, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(qr_plog_offset_for_time(part, QR_PLOG_TS_LATEST, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 400);
    for (int i = 0; i < 200; i++) {
        int64_t ts = 1000 + 10 * (int64_t)i;
        ck_assert_int_eq(qr_plog_offset_for_time(part, ts, &off),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(off, 2 * i);
        ck_assert_int_eq(qr_plog_offset_for_time(part, ts + 1, &off),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(off, 2 * i);
        ck_assert_int_eq(qr_plog_offset_for_time(part, ts + 5, &off),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(off, i == 199 ? -1 : 2 * (i + 1));
    }
    ck_assert_int_eq(qr_plog_offset_for_time(part, 0, &off), QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(qr_plog_offset_for_time(part, -3, &off),
                     QUIRE_ERR_INVALID_REQUEST);
    /* the same after a clean reopen (time indexes from disk) */
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    part = tl_open(dir, "ts", &conf, 1, -1, NULL);
    for (int i = 0; i < 200; i += 7) {
        ck_assert_int_eq(
            qr_plog_offset_for_time(part, 1000 + 10 * (int64_t)i + 3, &off),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(off, i == 199 ? -1 : 2 * (i + 1));
    }
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_reopen_clean)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 4096, 256);
    qr_plog_t *part = tl_open(dir, "re", &conf, 1, -1, NULL);
    append_many(part, 100, 2, 0);
    size_t nseg = qr_plog_segment_count(part);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    part = tl_open(dir, "re", &conf, 1, 200, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 200);
    ck_assert_int_eq(qr_plog_recovery_point(part), 200);
    ck_assert_uint_eq(qr_plog_segment_count(part), nseg);
    read_all(part, 500);
    append_many(part, 50, 2, 200);
    read_all(part, 500);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    /* and after a "crash" (no clean marker, recovery point 0) */
    part = tl_open(dir, "re", &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 300);
    read_all(part, 500);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* An empty batch (recordCount 0) taking @p delta + 1 offsets: what
 * Produce refuses now, and what a log written before could hold. */
static size_t empty_batch(uint8_t *out, int32_t delta)
{
    size_t n = tl_batch(out, 0, 1000, 0, 0);
    tl_put32(out + QR_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)delta);
    tl_put64(out + QR_BATCH_OFF_MAX_TIMESTAMP, 1000);
    tl_put32(out + QR_BATCH_OFF_CRC, qr_crc32c(0, out + QR_BATCH_OFF_ATTRIBUTES,
                                               n - QR_BATCH_OFF_ATTRIBUTES));
    return n;
}

/* Issue 17 item 1: two empty batches in one append (lastOffsetDelta
 * INT32_MAX, then 0) put offsets INT32_MAX past one segment's base; after
 * a crash recovery cut that segment and deleted the next one, with a
 * later acknowledged record. Each batch must land in a segment it fits
 * (offset span <= INT32_MAX), and that record survive the crash. */
START_TEST(test_offset_span_per_batch)
{
    uint8_t buf[1024];
    qr_plog_conf_t conf;
    int64_t base, last, acked;
    qr_plog_slice_t s;
    size_t n;

    tl_conf(&conf, 1 << 20, 4096);
    qr_plog_t *part = tl_open(dir, "span", &conf, 1, -1, NULL);
    append_many(part, 1, 1, 0);
    n = empty_batch(buf, INT32_MAX);
    n += empty_batch(buf + n, 0);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 1);
    ck_assert_int_eq(last, 1 + (int64_t)INT32_MAX + 1);
    acked = last + 1;
    append_many(part, 1, 1, acked);
    /* the first segment, the two empty batches apart, the record's own */
    ck_assert_uint_ge(qr_plog_segment_count(part), 3);
    /* a crash: no close, no clean marker, nothing known durable */
    qr_plog_release(part);
    part = tl_open(dir, "span", &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), acked + 1);
    ck_assert_int_eq(qr_plog_read(part, acked, 1 << 20, &s), QUIRE_ERR_NONE);
    tl_check_slice(&s, acked);
    qr_plog_slice_release(&s);
    ck_assert_int_eq(qr_plog_read(part, 0, 1 << 20, &s), QUIRE_ERR_NONE);
    tl_check_slice(&s, 0);
    qr_plog_slice_release(&s);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* Issue 17 item 4: an empty partition (default 10 MiB indexes) costs
 * kilobytes of disk, not 20 MiB of preallocated index blocks. */
START_TEST(test_empty_partition_disk)
{
    qr_plog_conf_t conf;
    char pdir[PATH_MAX];
    long long bytes = 0, length = 0;
    struct dirent *de;
    DIR *d;

    qr_plog_conf_defaults(&conf);
    qr_plog_t *part = tl_open(dir, "sparse", &conf, 1, -1, NULL);
    snprintf(pdir, sizeof(pdir), "%s/sparse-0", dir);
    ck_assert_ptr_nonnull(d = opendir(pdir));
    while ((de = readdir(d)) != NULL) {
        char f[PATH_MAX + 256];
        struct stat st;
        snprintf(f, sizeof(f), "%s/%s", pdir, de->d_name);
        if (de->d_name[0] == '.' || stat(f, &st) != 0)
            continue;
        bytes += (long long)st.st_blocks * 512;
        length += st.st_size;
    }
    closedir(d);
    ck_assert_int_gt(length, 20000000); /* the two indexes: 10 MiB long */
    ck_assert_int_le(bytes, 16 << 10);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* Entries of /proc/self/fd, or lines of /proc/self/maps. */
static long proc_count(const char *what)
{
    long n = 0;

    if (strcmp(what, "fd") == 0) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)) != NULL)
            n += de->d_name[0] != '.';
        closedir(d);
    } else {
        FILE *f = fopen("/proc/self/maps", "r");
        int c;
        ck_assert_ptr_nonnull(f);
        while ((c = fgetc(f)) != EOF)
            n += c == '\n';
        fclose(f);
    }
    return n;
}

#define MANY_SEGS 1500
#define OPEN_MAX  8

/* fds and maps within what OPEN_MAX sealed segments and the active one
 * hold (3 fds, 2 maps each at most), plus slack for the process */
static void check_bounded(long fds0, long maps0, const char *when)
{
    long fds = proc_count("fd"), maps = proc_count("maps");

    ck_assert_msg(fds <= fds0 + 3 * (OPEN_MAX + 1) + 8,
                  "%s: %ld fds (%ld before)", when, fds, fds0);
    /* slack for the allocator's own mappings (ASan adds some per heap
     * growth); without the bound there are 2 per segment: ~3,000 */
    ck_assert_msg(maps <= maps0 + 2 * (OPEN_MAX + 1) + 300,
                  "%s: %ld maps (%ld before)", when, maps, maps0);
    ck_assert_uint_le(qr_seg_cache_open_count(), OPEN_MAX);
}

/* Reads every 37th offset (each in a segment of its own) and checks it. */
static void read_spread(qr_plog_t *part)
{
    for (int64_t o = 0; o < MANY_SEGS; o += 37) {
        qr_plog_slice_t s;
        ck_assert_int_eq(qr_plog_read(part, o, 1 << 16, &s), QUIRE_ERR_NONE);
        tl_check_slice(&s, o);
        qr_plog_slice_release(&s);
    }
}

/* Issue 17 item 2: thousands of segments on disk; the open fds and maps
 * stay bounded by log.open.segments.max, while appending, reading old
 * segments, and after reopening (with and without recovery). */
START_TEST(test_open_files_bounded)
{
    qr_plog_conf_t conf;
    long fds0, maps0;

    qr_seg_cache_set_max(OPEN_MAX);
    tl_conf(&conf, 200, 4096); /* one ~170-byte batch per segment */
    fds0 = proc_count("fd");
    maps0 = proc_count("maps");
    qr_plog_t *part = tl_open(dir, "many", &conf, 1, -1, NULL);
    append_many(part, MANY_SEGS, 1, 0);
    ck_assert_uint_eq(qr_plog_segment_count(part), MANY_SEGS);
    check_bounded(fds0, maps0, "after appending");
    read_spread(part);
    check_bounded(fds0, maps0, "after reading");
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    /* a crash: every segment scanned at open, one at a time */
    part = tl_open(dir, "many", &conf, 0, 0, NULL);
    check_bounded(fds0, maps0, "after recovery");
    ck_assert_int_eq(qr_plog_log_end(part), MANY_SEGS);
    read_spread(part);
    check_bounded(fds0, maps0, "after reading, recovered");
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    part = tl_open(dir, "many", &conf, 1, MANY_SEGS, NULL);
    check_bounded(fds0, maps0, "after a clean open");
    read_spread(part);
    append_many(part, 10, 1, MANY_SEGS);
    check_bounded(fds0, maps0, "after more appends");
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* Issue 14: a partition's active segment holds one descriptor, its log;
 * its two indexes are reached through their mappings, opened by name for
 * the rare call that needs a descriptor. 10,000 partitions fit a limit of
 * 20,000 open files. Appends that allocate index blocks (3,000 entries:
 * several 4 KiB blocks) and reopening keep it so. */
START_TEST(test_one_fd_per_partition)
{
    enum { NPART = 20 };
    qr_plog_conf_t conf;
    qr_plog_t *parts[NPART];
    long fds0;
    char name[32];

    tl_conf(&conf, 16 << 20, 64);        /* an index entry every batch */
    conf.index_size_max_bytes = 1 << 20; /* no roll: one active segment */
    fds0 = proc_count("fd");
    for (int i = 0; i < NPART; i++) {
        snprintf(name, sizeof(name), "fd%d", i);
        parts[i] = tl_open(dir, name, &conf, 1, -1, NULL);
    }
    ck_assert_int_eq(proc_count("fd"), fds0 + NPART);
    /* enough entries to allocate several 4 KiB blocks of each index */
    for (int i = 0; i < NPART; i++)
        append_many(parts[i], 3000, 1, 0);
    ck_assert_int_eq(proc_count("fd"), fds0 + NPART);
    for (int i = 0; i < NPART; i++) {
        ck_assert_int_eq(qr_plog_flush(parts[i]), QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_plog_close(parts[i]), QUIRE_ERR_NONE);
        snprintf(name, sizeof(name), "fd%d", i);
        parts[i] = tl_open(dir, name, &conf, 1, -1, NULL);
        ck_assert_int_eq(qr_plog_log_end(parts[i]), 3000);
    }
    ck_assert_int_eq(proc_count("fd"), fds0 + NPART);
    for (int i = 0; i < NPART; i++) {
        append_many(parts[i], 10, 1, 3000);
        ck_assert_int_eq(qr_plog_log_end(parts[i]), 3010);
        ck_assert_int_eq(qr_plog_close(parts[i]), QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(proc_count("fd"), fds0);
}
END_TEST

/* The slice a fetch must get, found by walking the segment file itself:
 * the batch holding `offset` (from the slice's position, checked by
 * tl_check_slice), then every following batch that still fits in
 * `max_bytes`, up to the file's end. */
static size_t expected_len(const qr_plog_slice_t *s, size_t max_bytes)
{
    struct stat st;
    uint64_t p = s->pos, total = 0;
    ck_assert_int_eq(fstat(s->fd, &st), 0);
    while (p < (uint64_t)st.st_size) {
        uint8_t h[QR_BATCH_HEADER_SIZE];
        qr_batch_hdr_t hdr;
        ck_assert_int_eq(pread(s->fd, h, sizeof(h), (off_t)p),
                         (ssize_t)sizeof(h));
        ck_assert_int_eq(qr_batch_hdr_read(h, sizeof(h), &hdr), QUIRE_ERR_NONE);
        if (total > 0 && total + qr_batch_size(&hdr) > max_bytes)
            break;
        total += qr_batch_size(&hdr);
        p += qr_batch_size(&hdr);
    }
    return (size_t)total;
}

/* Batches of varying sizes, index entries sparse or at every batch: every
 * offset read with limits around the rest of its segment (the slice to the
 * segment end needs no header read) and around batch sizes. */
START_TEST(test_slice_lengths)
{
    static const int64_t intervals[] = {0, 700, 4096};
    qr_plog_conf_t conf;
    uint8_t buf[8192];

    tl_conf(&conf, 6000, intervals[_i]);
    qr_plog_t *part = tl_open(dir, "sl", &conf, 1, -1, NULL);
    for (int i = 0; i < 120; i++) {
        int nrec = 1 + (i * 7) % 9;
        size_t n = tl_batch(buf, nrec, 1000 + i, 20 + (size_t)(i % 5) * 90,
                            (uint8_t)i);
        int64_t base, last;
        ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_gt(qr_plog_segment_count(part), 5);
    int64_t end = qr_plog_log_end(part);
    for (int64_t o = 0; o < end; o++) {
        qr_plog_slice_t s;
        struct stat st;
        ck_assert_int_eq(qr_plog_read(part, o, 1 << 20, &s), QUIRE_ERR_NONE);
        tl_check_slice(&s, o);
        ck_assert_int_eq(fstat(s.fd, &st), 0);
        size_t rest = (size_t)((uint64_t)st.st_size - s.pos);
        /* no limit: the rest of the segment */
        ck_assert_uint_eq(s.len, rest);
        qr_plog_slice_release(&s);
        size_t limits[] = {1, 100, 333, 1000, 2500, rest - 1, rest, rest + 1};
        for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
            ck_assert_int_eq(qr_plog_read(part, o, limits[k], &s),
                             QUIRE_ERR_NONE);
            tl_check_slice(&s, o);
            ck_assert_uint_eq(s.len, expected_len(&s, limits[k]));
            qr_plog_slice_release(&s);
        }
    }
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* One batch per segment, 700 segments: the segment search tree (4 levels
 * of 8-key groups, the last group of each level partial) finds every
 * offset, also after retention removed segments from the front and after
 * a reopen (the tree rebuilt from what is on disk). */
START_TEST(test_many_segments_lookup)
{
    qr_plog_conf_t conf;
    qr_plog_slice_t s;
    char errstr[128];
    int deleted = 0;

    tl_conf(&conf, 300, 4096);
    conf.retention_ms = -1;
    qr_plog_t *part = tl_open(dir, "many", &conf, 1, -1, NULL);
    append_many(part, 700, 2, 0);
    ck_assert_uint_eq(qr_plog_segment_count(part), 700);
    read_all(part, 1 << 20);
    read_all(part, 1);
    conf.retention_bytes = 250 * 300;
    ck_assert_int_eq(qr_plog_set_conf(part, &conf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_retention_run(part, qr_plog_now_ms(), &deleted),
                     QUIRE_ERR_NONE);
    ck_assert_int_gt(deleted, 400);
    ck_assert_int_eq(qr_plog_log_start(part), 2 * deleted);
    ck_assert_uint_eq(qr_plog_segment_count(part), 700 - (size_t)deleted);
    read_all(part, 1 << 20);
    ck_assert_int_eq(qr_plog_read(part, qr_plog_log_start(part) - 1, 100, &s),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    part = tl_open(dir, "many", &conf, 1, -1, NULL);
    ck_assert_uint_eq(qr_plog_segment_count(part), 700 - (size_t)deleted);
    read_all(part, 1000);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* Reads leave the .log files' access times alone (O_NOATIME: a lookup
 * never touches a segment's inode for it). An access time two days old
 * would be updated by a plain read even on a relatime mount. */
START_TEST(test_reads_keep_atime)
{
    qr_plog_conf_t conf;
    char path[PATH_MAX + 64];
    struct stat st;

    tl_conf(&conf, 4096, 256);
    qr_plog_t *part = tl_open(dir, "at", &conf, 1, -1, NULL);
    append_many(part, 60, 2, 0);
    ck_assert_int_gt(qr_plog_segment_count(part), 2);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    snprintf(path, sizeof(path), "%s/at-0/%020d.log", dir, 0);
    struct timespec old[2] = {{time(NULL) - 2 * 86400, 0}, {0, UTIME_OMIT}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);
    part = tl_open(dir, "at", &conf, 1, -1, NULL);
    read_all(part, 500);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_atim.tv_sec, old[0].tv_sec);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* A batch header damaged below the published end (a disk that went bad
 * after a clean shutdown): a lookup whose scan crosses it fails with
 * KAFKA_STORAGE_ERROR, never a slice that starts at a wrong position;
 * lookups that do not cross it still work. */
START_TEST(test_corrupt_header_below_end)
{
    qr_plog_conf_t conf;
    qr_plog_slice_t s;
    uint8_t buf[1024];
    char path[PATH_MAX + 64];
    size_t bsz = tl_batch(buf, 2, 0, 100, 0);

    /* ~14 batches a segment, an index entry about every 4th batch */
    tl_conf(&conf, 4096, 1000);
    qr_plog_t *part = tl_open(dir, "cz", &conf, 1, -1, NULL);
    append_many(part, 40, 2, 0);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    snprintf(path, sizeof(path), "%s/cz-0/%020d.log", dir, 0);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, (long)(2 * bsz + QR_BATCH_OFF_MAGIC), SEEK_SET),
                     0);
    ck_assert_int_eq(fputc(7, f), 7); /* batch 2: offsets 4 and 5 */
    ck_assert_int_eq(fclose(f), 0);
    part = tl_open(dir, "cz", &conf, 1, -1, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 80);
    /* batch 0, the first batch only: nothing crossed */
    ck_assert_int_eq(qr_plog_read(part, 1, 1, &s), QUIRE_ERR_NONE);
    ck_assert_int_eq(s.base_offset, 0);
    ck_assert_uint_eq(s.len, bsz);
    qr_plog_slice_release(&s);
    /* batches 2 and 3: the scan from the segment start crosses batch 2 */
    ck_assert_int_eq(qr_plog_read(part, 4, 1, &s),
                     QUIRE_ERR_KAFKA_STORAGE_ERROR);
    ck_assert_ptr_null(s.seg);
    ck_assert_int_eq(qr_plog_read(part, 7, 1 << 20, &s),
                     QUIRE_ERR_KAFKA_STORAGE_ERROR);
    /* past the next index entry: found without crossing it */
    ck_assert_int_eq(qr_plog_read(part, 20, 1 << 20, &s), QUIRE_ERR_NONE);
    tl_check_slice(&s, 20);
    qr_plog_slice_release(&s);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

static const struct {
    const char *what;
    size_t cut; /* bytes of the batch kept (0: all) */
    int field;  /* 1 magic, 2 length small, 3 length huge, 4 delta<0 */
    quire_err_t want;
} bad_inputs[] = {
    {"empty", 1, 0, QUIRE_ERR_CORRUPT_MESSAGE},
    {"header cut", 30, 0, QUIRE_ERR_CORRUPT_MESSAGE},
    {"batch cut", 100, 0, QUIRE_ERR_CORRUPT_MESSAGE},
    {"magic", 0, 1, QUIRE_ERR_CORRUPT_MESSAGE},
    {"length below header", 0, 2, QUIRE_ERR_CORRUPT_MESSAGE},
    {"length past payload", 0, 3, QUIRE_ERR_CORRUPT_MESSAGE},
    {"negative delta", 0, 4, QUIRE_ERR_CORRUPT_MESSAGE},
};

START_TEST(test_bad_payload)
{
    qr_plog_conf_t conf;
    uint8_t buf[4096];
    int64_t base, last;
    tl_conf(&conf, 1 << 20, 4096);
    qr_plog_t *part = tl_open(dir, "bad", &conf, 1, -1, NULL);
    size_t n = tl_batch(buf, 3, 5, 40, 1);
    size_t len = bad_inputs[_i].cut ? bad_inputs[_i].cut - 1 : n;
    if (bad_inputs[_i].cut == 1)
        len = 0;
    switch (bad_inputs[_i].field) {
    case 1:
        buf[QR_BATCH_OFF_MAGIC] = 1;
        break;
    case 2:
        tl_put32(buf + QR_BATCH_OFF_LENGTH, 10);
        break;
    case 3:
        tl_put32(buf + QR_BATCH_OFF_LENGTH, 100000);
        break;
    case 4:
        tl_put32(buf + QR_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)-2);
        break;
    }
    ck_assert_msg(qr_plog_append(part, buf, len, &base, &last) ==
                      bad_inputs[_i].want,
                  "%s", bad_inputs[_i].what);
    ck_assert_int_eq(qr_plog_log_end(part), 0);
    /* a good batch still goes in at offset 0 */
    n = tl_batch(buf, 3, 5, 40, 1);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 0);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_too_large_and_names)
{
    qr_plog_conf_t conf;
    static uint8_t buf[1 << 16];
    int64_t base, last;
    char errstr[128];
    qr_plog_t *part = NULL;
    qr_plog_open_opts_t o = {.clean = 1, .recovery_point = -1, .create = 1};
    tl_conf(&conf, 4096, 4096);
    part = tl_open(dir, "big", &conf, 1, -1, NULL);
    size_t n = tl_batch(buf, 50, 5, 100, 1); /* > 4096 bytes */
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_MESSAGE_TOO_LARGE);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    static const char *const bad[] = {"..", ".", "a/b", "", "../../etc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        part = NULL;
        ck_assert_int_eq(qr_plog_open(dir, bad[i], 0, &conf, &o, &part, errstr,
                                      sizeof(errstr)),
                         QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
        ck_assert_ptr_null(part);
    }
    ck_assert_int_eq(
        qr_plog_open(dir, "x", -1, &conf, &o, &part, errstr, sizeof(errstr)),
        QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    o.create = 0;
    ck_assert_int_eq(qr_plog_open(dir, "absent", 0, &conf, &o, &part, errstr,
                                  sizeof(errstr)),
                     QUIRE_ERR_NOT_FOUND);
    conf.segment_bytes = 10;
    o.create = 1;
    ck_assert_int_eq(
        qr_plog_open(dir, "x", 0, &conf, &o, &part, errstr, sizeof(errstr)),
        QUIRE_ERR_INVALID_CONFIG);
    ck_assert_ptr_nonnull(strstr(errstr, "log.segment.bytes"));
}
END_TEST

START_TEST(test_several_batches_one_append)
{
    qr_plog_conf_t conf;
    uint8_t buf[16384];
    size_t n = 0;
    int64_t base, last;
    tl_conf(&conf, 1 << 20, 100);
    qr_plog_t *part = tl_open(dir, "multi", &conf, 1, -1, NULL);
    for (int i = 0; i < 10; i++)
        n += tl_batch(buf + n, i + 1, 100, 50, (uint8_t)i);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 0);
    ck_assert_int_eq(last, 54);
    read_all(part, 1);
    /* a payload larger than a segment is split over segments */
    conf.segment_bytes = 2048;
    char errstr[64];
    ck_assert_int_eq(qr_plog_set_conf(part, &conf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    n = 0;
    for (int i = 0; i < 20; i++)
        n += tl_batch(buf + n, 2, 100, 200, (uint8_t)i);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 55);
    ck_assert_int_eq(last, 94);
    ck_assert_int_ge(qr_plog_segment_count(part), 3);
    read_all(part, 3000);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* ---- concurrency: readers during appends ---- */

typedef struct {
    qr_plog_t *part;
    atomic_int stop;
    atomic_long reads;
} conc_t;

static void *reader_main(void *arg)
{
    conc_t *c = arg;
    unsigned seed = 7;
    while (!atomic_load(&c->stop)) {
        int64_t end = qr_plog_log_end(c->part);
        if (end == 0)
            continue;
        int64_t o = rand_r(&seed) % end;
        qr_plog_slice_t s;
        quire_err_t err = qr_plog_read(c->part, o, 3000, &s);
        ck_assert_int_eq(err, QUIRE_ERR_NONE);
        tl_check_slice(&s, o);
        qr_plog_slice_release(&s);
        atomic_fetch_add(&c->reads, 1);
    }
    return NULL;
}

START_TEST(test_concurrent_readers)
{
    qr_plog_conf_t conf;
    conc_t c = {0};
    pthread_t th[2];
    tl_conf(&conf, 8192, 500);
    c.part = tl_open(dir, "conc", &conf, 1, -1, NULL);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, reader_main, &c);
    append_many(c.part, 2000, 2, 0);
    atomic_store(&c.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_gt(atomic_load(&c.reads), 0);
    ck_assert_int_eq(qr_plog_close(c.part), QUIRE_ERR_NONE);
}
END_TEST

/* ---- batching of syncs (group commit) ----
 * Four threads append and ask for flushes: every request is answered once,
 * after the recovery point passed it, and the requests share fewer syncs
 * than there are requests (qr_plog_sync_count, the log's own count: this
 * says nothing of whether the syncs reached the disk). */

typedef struct {
    qr_plog_t *part;
    atomic_int done;
    atomic_int bad;
} gc_t;

static void on_flushed(void *opaque, qr_plog_t *part, int64_t last,
                       quire_err_t err)
{
    gc_t *g = opaque;
    if (err != QUIRE_ERR_NONE || qr_plog_recovery_point(part) <= last)
        atomic_fetch_add(&g->bad, 1);
    atomic_fetch_add(&g->done, 1);
}

static void *producer_main(void *arg)
{
    gc_t *g = arg;
    uint8_t buf[2048];
    for (int i = 0; i < 200; i++) {
        size_t n = tl_batch(buf, 2, 1, 200, 3);
        int64_t base, last;
        int durable;
        ck_assert_int_eq(qr_plog_append(g->part, buf, n, &base, &last),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(
            qr_plog_flush_request(g->part, last, on_flushed, g, &durable),
            QUIRE_ERR_NONE);
        if (durable)
            atomic_fetch_add(&g->done, 1);
    }
    return NULL;
}

START_TEST(test_flush_requests_share_syncs)
{
    qr_plog_conf_t conf;
    qr_flusher_t *fl;
    gc_t g = {0};
    pthread_t th[4];
    tl_conf(&conf, 1 << 20, 4096);
    ck_assert_int_eq(qr_flusher_new(2, &fl), QUIRE_ERR_NONE);
    g.part = tl_open(dir, "gc", &conf, 1, -1, fl);
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, producer_main, &g);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 5000 && atomic_load(&g.done) < 800; i++)
        usleep(2000);
    ck_assert_int_eq(atomic_load(&g.done), 800);
    ck_assert_int_eq(atomic_load(&g.bad), 0);
    ck_assert_int_eq(qr_plog_recovery_point(g.part), 1600);
    /* fewer syncs than requests: they were shared */
    ck_assert_int_lt(qr_plog_sync_count(g.part), 800);
    int durable;
    ck_assert_int_eq(
        qr_plog_flush_request(g.part, 10, on_flushed, &g, &durable),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(durable, 1);
    ck_assert_int_eq(qr_plog_close(g.part), QUIRE_ERR_NONE);
    qr_flusher_destroy(fl);
}
END_TEST

START_TEST(test_flush_by_messages)
{
    qr_plog_conf_t conf;
    qr_flusher_t *fl;
    tl_conf(&conf, 1 << 20, 4096);
    conf.flush_interval_messages = 10;
    ck_assert_int_eq(qr_flusher_new(1, &fl), QUIRE_ERR_NONE);
    qr_plog_t *part = tl_open(dir, "fm", &conf, 1, -1, fl);
    append_many(part, 4, 2, 0);
    usleep(100000);
    ck_assert_int_eq(qr_plog_recovery_point(part), 0);
    append_many(part, 1, 2, 8); /* the 10th message */
    for (int i = 0; i < 500 && qr_plog_recovery_point(part) < 10; i++)
        usleep(2000);
    ck_assert_int_eq(qr_plog_recovery_point(part), 10);
    /* by time: the janitor calls periodic */
    conf.flush_interval_ms = 0;
    char errstr[64];
    ck_assert_int_eq(qr_plog_set_conf(part, &conf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    append_many(part, 1, 2, 10);
    qr_plog_periodic(part, INT64_MAX / 2);
    for (int i = 0; i < 500 && qr_plog_recovery_point(part) < 12; i++)
        usleep(2000);
    ck_assert_int_eq(qr_plog_recovery_point(part), 12);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    qr_flusher_destroy(fl);
}
END_TEST

/* ---- append hook ---- */

static atomic_long hook_end;

static void on_append(void *opaque, qr_plog_t *part, int64_t end)
{
    ck_assert_ptr_eq(opaque, &hook_end);
    /* the hook runs after publication: the data is readable */
    ck_assert_int_eq(qr_plog_log_end(part), end);
    atomic_store(&hook_end, end);
}

START_TEST(test_append_hook_and_delete)
{
    qr_plog_conf_t conf;
    qr_plog_open_opts_t o = {.clean = 1,
                             .recovery_point = -1,
                             .create = 1,
                             .on_append = on_append,
                             .on_append_opaque = &hook_end};
    char errstr[128];
    qr_plog_t *part;
    tl_conf(&conf, 4096, 4096);
    ck_assert_int_eq(
        qr_plog_open(dir, "hook", 3, &conf, &o, &part, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_str_eq(qr_plog_name(part), "hook-3");
    append_many(part, 30, 2, 0);
    ck_assert_int_eq(atomic_load(&hook_end), 60);
    /* a pinned slice survives the delete */
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, 0, 100, &s), QUIRE_ERR_NONE);
    qr_plog_keep(part);
    char pdir[PATH_MAX];
    snprintf(pdir, sizeof(pdir), "%s", qr_plog_dir(part));
    ck_assert_int_eq(qr_plog_delete(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(access(pdir, F_OK), -1);
    tl_check_slice(&s, 0);
    qr_plog_slice_release(&s);
    uint8_t buf[512];
    int64_t base, last;
    size_t n = tl_batch(buf, 1, 1, 10, 1);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    ck_assert_int_eq(qr_plog_read(part, 0, 100, &s),
                     QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    qr_plog_release(part);
}
END_TEST

static Suite *partlog_suite(void)
{
    Suite *s = suite_create("partlog");
    TCase *tc = tcase_create("append_read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roundtrip_rolls);
    tcase_add_test(tc, test_ranges);
    tcase_add_test(tc, test_timestamps);
    tcase_add_test(tc, test_reopen_clean);
    tcase_add_loop_test(tc, test_bad_payload, 0,
                        (int)(sizeof(bad_inputs) / sizeof(bad_inputs[0])));
    tcase_add_test(tc, test_too_large_and_names);
    tcase_add_test(tc, test_several_batches_one_append);
    tcase_add_test(tc, test_append_hook_and_delete);
    tcase_add_loop_test(tc, test_slice_lengths, 0, 3);
    tcase_add_test(tc, test_reads_keep_atime);
    tcase_add_test(tc, test_many_segments_lookup);
    tcase_add_test(tc, test_corrupt_header_below_end);
    tcase_add_test(tc, test_offset_span_per_batch);
    tcase_add_test(tc, test_empty_partition_disk);
    suite_add_tcase(s, tc);
    /* thousands of segments, opened three times: slow under sanitizers */
    tc = tcase_create("many_segments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_open_files_bounded);
    tcase_add_test(tc, test_one_fd_per_partition);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_concurrent_readers);
    tcase_add_test(tc, test_flush_requests_share_syncs);
    tcase_add_test(tc, test_flush_by_messages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(partlog_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
