/* check_prodstate: the idempotent producer's state rules (prodstate.h),
 * its snapshots, and idempotent appends to a real partition log
 * (idemp.h): duplicates answered with their offsets and not written, gaps
 * and stale epochs refused, the state kept across a reopen through the
 * snapshot and rebuilt from the log without it (issue 22). */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idemp.h"
#include "plog_testlib.h"
#include "prodstate.h"

/* ---- helpers ---- */

static qr_batch_hdr_t hdr_of(int64_t pid, int16_t epoch, int32_t seq,
                             int32_t count, int64_t base_offset, int64_t ts)
{
    qr_batch_hdr_t h;

    memset(&h, 0, sizeof(h));
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = seq;
    h.last_offset_delta = count - 1;
    h.record_count = count;
    h.base_offset = base_offset;
    h.max_timestamp = ts;
    return h;
}

/* A batch of @p nrec records for producer (pid, epoch) at sequence seq,
 * CRC over the producer fields (they are covered, as in Kafka). */
static size_t idem_batch(uint8_t *out, int nrec, int64_t pid, int16_t epoch,
                         int32_t seq, uint8_t fill)
{
    /* now: batch timestamps are what producer.id.expiration.ms ages */
    size_t n = tl_batch(out, nrec, qr_plog_now_ms(), 20, fill);

    tl_put64(out + QR_BATCH_OFF_PRODUCER_ID, (uint64_t)pid);
    out[QR_BATCH_OFF_PRODUCER_EPOCH] = (uint8_t)((uint16_t)epoch >> 8);
    out[QR_BATCH_OFF_PRODUCER_EPOCH + 1] = (uint8_t)epoch;
    tl_put32(out + QR_BATCH_OFF_BASE_SEQUENCE, (uint32_t)seq);
    tl_put32(out + QR_BATCH_OFF_CRC, qr_crc32c(0, out + QR_BATCH_OFF_ATTRIBUTES,
                                               n - QR_BATCH_OFF_ATTRIBUTES));
    return n;
}

/* ---- the rules ---- */

START_TEST(new_producer_any_sequence)
{
    qr_prodstate_t *ps = qr_prodstate_new();
    qr_batch_hdr_t h = hdr_of(7, 0, 42, 3, 0, 1);
    qr_prodstate_batch_t dup;

    /* KIP-360: nothing known of pid 7, so any start is accepted */
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup), QUIRE_ERR_NONE);
    qr_prodstate_update(ps, &h);
    ck_assert_uint_eq(qr_prodstate_count(ps), 1);
    h = hdr_of(7, 0, 45, 2, 3, 2);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup), QUIRE_ERR_NONE);
    qr_prodstate_destroy(ps);
}
END_TEST

START_TEST(duplicates_of_last_five)
{
    qr_prodstate_t *ps = qr_prodstate_new();
    qr_prodstate_batch_t dup;
    qr_batch_hdr_t h;

    /* 7 batches of 10 records: seqs 0-9, 10-19, ... at offsets 100.. */
    for (int i = 0; i < 7; i++) {
        h = hdr_of(1, 0, i * 10, 10, 100 + i * 10, 5);
        ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup), QUIRE_ERR_NONE);
        qr_prodstate_update(ps, &h);
    }
    /* the last five (2..6) are recognised, with their offsets */
    for (int i = 2; i < 7; i++) {
        h = hdr_of(1, 0, i * 10, 10, -1, 5);
        ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                         QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER);
        ck_assert_int_eq(dup.first_offset, 100 + i * 10);
        ck_assert_int_eq(dup.last_offset, 109 + i * 10);
    }
    /* older than the cache: out of order (Kafka's answer too) */
    h = hdr_of(1, 0, 10, 10, -1, 5);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* same first sequence, other length: not a duplicate, a gap */
    h = hdr_of(1, 0, 60, 5, -1, 5);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    qr_prodstate_destroy(ps);
}
END_TEST

START_TEST(gap_is_out_of_order)
{
    qr_prodstate_t *ps = qr_prodstate_new();
    qr_prodstate_batch_t dup;
    qr_batch_hdr_t h = hdr_of(3, 2, 0, 5, 0, 1);

    qr_prodstate_update(ps, &h);
    h = hdr_of(3, 2, 6, 1, -1, 1); /* expected 5 */
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    h = hdr_of(3, 2, 5, 1, -1, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup), QUIRE_ERR_NONE);
    qr_prodstate_destroy(ps);
}
END_TEST

START_TEST(epochs_fence)
{
    qr_prodstate_t *ps = qr_prodstate_new();
    qr_prodstate_batch_t dup;
    qr_batch_hdr_t h = hdr_of(9, 3, 0, 4, 0, 1);
    qr_prodstate_entry_t e;

    qr_prodstate_update(ps, &h);
    /* an older epoch is fenced, whatever its sequence */
    h = hdr_of(9, 2, 4, 1, -1, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_INVALID_PRODUCER_EPOCH);
    h = hdr_of(9, 2, 0, 4, -1, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_INVALID_PRODUCER_EPOCH);
    /* a newer epoch starts at 0 */
    h = hdr_of(9, 4, 7, 1, -1, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    h = hdr_of(9, 4, 0, 1, 4, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup), QUIRE_ERR_NONE);
    qr_prodstate_update(ps, &h);
    ck_assert(qr_prodstate_get(ps, 9, &e));
    ck_assert_int_eq(e.epoch, 4);
    ck_assert_int_eq(e.nbatches, 1); /* the old epoch's batches forgotten */
    h = hdr_of(9, 3, 4, 1, -1, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_INVALID_PRODUCER_EPOCH);
    qr_prodstate_destroy(ps);
}
END_TEST

START_TEST(sequence_wraps)
{
    qr_prodstate_t *ps = qr_prodstate_new();
    qr_prodstate_batch_t dup;
    qr_batch_hdr_t h = hdr_of(5, 0, INT32_MAX - 1, 3, 0, 1); /* ..MAX, 0 */

    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup), QUIRE_ERR_NONE);
    qr_prodstate_update(ps, &h);
    h = hdr_of(5, 0, 1, 1, 3, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup), QUIRE_ERR_NONE);
    h = hdr_of(5, 0, 0, 1, 3, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    qr_prodstate_destroy(ps);
}
END_TEST

START_TEST(bad_fields_refused)
{
    qr_prodstate_t *ps = qr_prodstate_new();
    qr_prodstate_batch_t dup;
    qr_batch_hdr_t h = hdr_of(5, 0, -1, 1, 0, 1);

    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_INVALID_RECORD);
    h = hdr_of(5, -1, 0, 1, 0, 1);
    ck_assert_int_eq(qr_prodstate_check(ps, &h, &dup),
                     QUIRE_ERR_INVALID_RECORD);
    qr_prodstate_destroy(ps);
}
END_TEST

START_TEST(next_in_same_request)
{
    qr_batch_hdr_t a = hdr_of(1, 0, 0, 5, 0, 1), b = hdr_of(1, 0, 5, 5, 0, 1);

    ck_assert_int_eq(qr_prodstate_check_next(&a, &b), QUIRE_ERR_NONE);
    b.base_sequence = 6;
    ck_assert_int_eq(qr_prodstate_check_next(&a, &b),
                     QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    b.producer_epoch = -1;
    ck_assert_int_eq(qr_prodstate_check_next(&a, &b), QUIRE_ERR_INVALID_RECORD);
}
END_TEST

START_TEST(expiry)
{
    qr_prodstate_t *ps = qr_prodstate_new();
    qr_batch_hdr_t h = hdr_of(1, 0, 0, 1, 0, 1000);

    qr_prodstate_update(ps, &h);
    h = hdr_of(2, 0, 0, 1, 1, 5000);
    qr_prodstate_update(ps, &h);
    ck_assert_uint_eq(qr_prodstate_expire(ps, 5500, 4000), 1);
    ck_assert_uint_eq(qr_prodstate_count(ps), 1);
    ck_assert_uint_eq(qr_prodstate_expire(ps, 5500, 4000), 0);
    qr_prodstate_destroy(ps);
}
END_TEST

/* ---- snapshots ---- */

static void fill_state(qr_prodstate_t *ps, int producers)
{
    for (int p = 0; p < producers; p++)
        for (int i = 0; i < 7; i++) {
            qr_batch_hdr_t h =
                hdr_of(1000 + p, (int16_t)p, i * 2, 2, p * 100 + i * 2, 77 + p);
            qr_prodstate_update(ps, &h);
        }
}

START_TEST(snapshot_roundtrip)
{
    qr_prodstate_t *ps = qr_prodstate_new(), *back = qr_prodstate_new();
    qr_prodstate_entry_t a, b;
    uint8_t *img;
    size_t len;

    fill_state(ps, 40); /* past the first table size: grows */
    img = qr_prodstate_encode(ps, &len);
    ck_assert_int_eq(qr_prodstate_decode(back, img, len), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_prodstate_count(back), 40);
    for (int p = 0; p < 40; p++) {
        ck_assert(qr_prodstate_get(ps, 1000 + p, &a));
        ck_assert(qr_prodstate_get(back, 1000 + p, &b));
        ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
        ck_assert_int_eq(b.nbatches, QR_PRODSTATE_BATCHES);
    }
    /* every flipped byte is caught (CRC, version, lengths) */
    for (size_t i = 0; i < len; i += 7) {
        img[i] ^= 0x40;
        ck_assert_int_eq(qr_prodstate_decode(back, img, len),
                         QUIRE_ERR_CORRUPT_MESSAGE);
        ck_assert_uint_eq(qr_prodstate_count(back), 0);
        img[i] ^= 0x40;
    }
    ck_assert_int_eq(qr_prodstate_decode(back, img, len - 1),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    free(img);
    qr_prodstate_destroy(ps);
    qr_prodstate_destroy(back);
}
END_TEST

START_TEST(snapshot_files)
{
    char *dir = tl_tmpdir(), path[4096], errstr[256];
    qr_prodstate_t *ps = qr_prodstate_new(), *back = qr_prodstate_new();
    int64_t off;
    FILE *fp;

    fill_state(ps, 3);
    ck_assert_int_eq(
        qr_prodstate_snapshot_write(ps, dir, 100, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qr_prodstate_snapshot_write(ps, dir, 200, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qr_prodstate_snapshot_write(ps, dir, 300, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    /* the newest two are kept */
    snprintf(path, sizeof(path), "%s/00000000000000000100.snapshot", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/00000000000000000200.snapshot", dir);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* the log ends at 250: 300 is above it and deleted; 200 is used */
    ck_assert_int_eq(qr_prodstate_snapshot_load(back, dir, 250, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 200);
    ck_assert_uint_eq(qr_prodstate_count(back), 3);
    snprintf(path, sizeof(path), "%s/00000000000000000300.snapshot", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    /* a torn snapshot is skipped */
    snprintf(path, sizeof(path), "%s/00000000000000000200.snapshot", dir);
    fp = fopen(path, "r+");
    ck_assert_ptr_nonnull(fp);
    fputc('X', fp);
    fclose(fp);
    qr_prodstate_destroy(back);
    back = qr_prodstate_new();
    ck_assert_int_eq(qr_prodstate_snapshot_load(back, dir, 250, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, -1);
    ck_assert_uint_eq(qr_prodstate_count(back), 0);
    qr_prodstate_destroy(ps);
    qr_prodstate_destroy(back);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- idempotent appends to a real log ---- */

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

static const qr_idemp_conf_t idc = {86400000, 600000};

static quire_err_t app(qr_idemp_t *id, qr_plog_t *part, uint8_t *buf, size_t n,
                       int64_t *base, int *dup)
{
    int64_t last;

    return qr_idemp_append(id, part, &idc, buf, n, base, &last, dup);
}

/* Writes batches 0..4 of producer 11 (3 records each): offsets 0..14. */
static void write_five(qr_idemp_t *id, qr_plog_t *part)
{
    uint8_t buf[4096];
    int64_t base;
    int dup;

    for (int i = 0; i < 5; i++) {
        size_t n = idem_batch(buf, 3, 11, 0, i * 3, (uint8_t)i);
        ck_assert_int_eq(app(id, part, buf, n, &base, &dup), QUIRE_ERR_NONE);
        ck_assert_int_eq(dup, 0);
        ck_assert_int_eq(base, i * 3);
    }
}

/* Batch 2 again: answered with its offsets 6..8, nothing written. */
static void expect_dup_of_2(qr_idemp_t *id, qr_plog_t *part)
{
    uint8_t buf[4096];
    int64_t base, end = qr_plog_log_end(part);
    int dup;
    size_t n = idem_batch(buf, 3, 11, 0, 6, 2);

    ck_assert_int_eq(app(id, part, buf, n, &base, &dup), QUIRE_ERR_NONE);
    ck_assert_int_eq(dup, 1);
    ck_assert_int_eq(base, 6);
    ck_assert_int_eq(qr_plog_log_end(part), end);
}

START_TEST(append_dedups)
{
    qr_plog_conf_t conf;
    qr_plog_t *part;
    qr_idemp_t *id = qr_idemp_new();
    uint8_t buf[8192];
    int64_t base;
    int dup;
    size_t n, m;

    tl_conf(&conf, 1 << 20, 4096);
    part = tl_open(dir, "t", &conf, 1, -1, NULL);
    write_five(id, part);
    expect_dup_of_2(id, part);
    /* a retried request of two batches (3 and 4): both duplicates, the
     * answer is the first one's offset */
    n = idem_batch(buf, 3, 11, 0, 9, 3);
    n += idem_batch(buf + n, 3, 11, 0, 12, 4);
    ck_assert_int_eq(app(id, part, buf, n, &base, &dup), QUIRE_ERR_NONE);
    ck_assert_int_eq(dup, 1);
    ck_assert_int_eq(base, 9);
    /* a gap, a stale epoch: refused, nothing written */
    n = idem_batch(buf, 1, 11, 0, 16, 9);
    ck_assert_int_eq(app(id, part, buf, n, &base, &dup),
                     QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    n = idem_batch(buf, 1, 11, 1, 0, 9); /* epoch 1 takes over */
    ck_assert_int_eq(app(id, part, buf, n, &base, &dup), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 15);
    n = idem_batch(buf, 1, 11, 0, 15, 9); /* the old producer: fenced */
    ck_assert_int_eq(app(id, part, buf, n, &base, &dup),
                     QUIRE_ERR_INVALID_PRODUCER_EPOCH);
    /* a duplicate followed by a new batch, two producers, idempotent and
     * plain mixed: refused */
    n = idem_batch(buf, 1, 11, 1, 0, 9);
    m = idem_batch(buf + n, 1, 11, 1, 1, 9);
    ck_assert_int_eq(app(id, part, buf, n + m, &base, &dup),
                     QUIRE_ERR_INVALID_RECORD);
    n = idem_batch(buf, 1, 11, 1, 1, 9);
    m = idem_batch(buf + n, 1, 12, 0, 0, 9);
    ck_assert_int_eq(app(id, part, buf, n + m, &base, &dup),
                     QUIRE_ERR_INVALID_RECORD);
    m = tl_batch(buf + n, 1, 5, 20, 9);
    ck_assert_int_eq(app(id, part, buf, n + m, &base, &dup),
                     QUIRE_ERR_INVALID_RECORD);
    ck_assert_int_eq(qr_plog_log_end(part), 16);
    /* a follower's copy: batches written with their offsets, recorded
     * (here as if producer 12's batch at offset 16 had been replicated) */
    n = idem_batch(buf, 2, 12, 0, 0, 9);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &base),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_idemp_apply(id, part, buf, n), QUIRE_ERR_NONE);
    ck_assert_int_eq(app(id, part, buf, n, &base, &dup), QUIRE_ERR_NONE);
    ck_assert_int_eq(dup, 1);
    ck_assert_int_eq(base, 16);
    ck_assert_int_eq(qr_idemp_apply(id, part, buf, n - 1),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    /* plain batches go through untouched */
    n = tl_batch(buf, 2, 5, 20, 9);
    ck_assert_int_eq(app(id, part, buf, n, &base, &dup), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 18);
    qr_idemp_destroy(id, part);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

static int count_snapshots(const char *pdir)
{
    DIR *d = opendir(pdir);
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        n += strstr(de->d_name, QR_PRODSTATE_SUFFIX) != NULL &&
             strstr(de->d_name, ".tmp") == NULL;
    closedir(d);
    return n;
}

static void remove_snapshots(const char *pdir)
{
    DIR *d = opendir(pdir);
    struct dirent *de;
    char path[4096 + 256];

    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, QR_PRODSTATE_SUFFIX)) {
            snprintf(path, sizeof(path), "%s/%s", pdir, de->d_name);
            unlink(path);
        }
    closedir(d);
}

/* @p how: 0 reopen with the snapshot, 1 without any (rebuild from the
 * log), 2 with a snapshot from before the last batches (snapshot, then
 * the log after it), 3 as 2 with the replicated high watermark back at the
 * snapshot (a restart before the HW checkpoint caught up: the rebuild must
 * still read to the log end, or the next batch in sequence looks like a
 * gap). */
static void reopen_keeps_state(int how)
{
    qr_plog_conf_t conf;
    qr_plog_t *part;
    qr_idemp_t *id = qr_idemp_new();
    qr_prodstate_entry_t e;
    char pdir[4096];

    tl_conf(&conf, 1 << 20, 4096);
    part = tl_open(dir, "t", &conf, 1, -1, NULL);
    snprintf(pdir, sizeof(pdir), "%s", qr_plog_dir(part));
    if (how >= 2) {
        uint8_t buf[4096];
        int64_t base;
        int dup;
        size_t n = idem_batch(buf, 3, 11, 0, 0, 0);
        ck_assert_int_eq(app(id, part, buf, n, &base, &dup), QUIRE_ERR_NONE);
        qr_idemp_destroy(id, part); /* snapshot at offset 3 */
        id = qr_idemp_new();
        /* then 1..4 through a fresh state loaded from it */
        for (int i = 1; i < 5; i++) {
            n = idem_batch(buf, 3, 11, 0, i * 3, (uint8_t)i);
            ck_assert_int_eq(app(id, part, buf, n, &base, &dup),
                             QUIRE_ERR_NONE);
            ck_assert_int_eq(base, i * 3);
        }
        /* drop the state without a new snapshot (as a crash would) */
        qr_idemp_destroy(id, NULL);
    } else {
        write_five(id, part);
        qr_idemp_destroy(id, part);
    }
    ck_assert_int_ge(count_snapshots(pdir), 1);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    if (how == 1)
        remove_snapshots(pdir);

    part = tl_open(dir, "t", &conf, how != 1, -1, NULL);
    if (how == 3) {
        qr_plog_set_replicated_hw(part, 3);
        ck_assert_int_eq(qr_plog_high_watermark(part), 3);
    }
    id = qr_idemp_new();
    expect_dup_of_2(id, part);
    ck_assert(qr_idemp_get(id, 11, &e));
    ck_assert_int_eq(e.nbatches, 5);
    ck_assert_int_eq(e.batches[4].last_offset, 14);
    /* the next batch in sequence still goes in */
    {
        uint8_t buf[4096];
        int64_t base;
        int dup;
        size_t n = idem_batch(buf, 1, 11, 0, 15, 5);
        ck_assert_int_eq(app(id, part, buf, n, &base, &dup), QUIRE_ERR_NONE);
        ck_assert_int_eq(base, 15);
    }
    qr_idemp_destroy(id, part);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}

START_TEST(reopen_with_snapshot)
{
    reopen_keeps_state(0);
}
END_TEST

START_TEST(reopen_rebuilds_from_log)
{
    reopen_keeps_state(1);
}
END_TEST

START_TEST(reopen_snapshot_then_log)
{
    reopen_keeps_state(2);
}
END_TEST

START_TEST(reopen_reads_past_the_hw)
{
    reopen_keeps_state(3);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("prodstate");
    TCase *tc = tcase_create("rules");

    tcase_add_test(tc, new_producer_any_sequence);
    tcase_add_test(tc, duplicates_of_last_five);
    tcase_add_test(tc, gap_is_out_of_order);
    tcase_add_test(tc, epochs_fence);
    tcase_add_test(tc, sequence_wraps);
    tcase_add_test(tc, bad_fields_refused);
    tcase_add_test(tc, next_in_same_request);
    tcase_add_test(tc, expiry);
    suite_add_tcase(s, tc);
    tc = tcase_create("snapshot");
    tcase_add_test(tc, snapshot_roundtrip);
    tcase_add_test(tc, snapshot_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("idemp");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, append_dedups);
    tcase_add_test(tc, reopen_with_snapshot);
    tcase_add_test(tc, reopen_rebuilds_from_log);
    tcase_add_test(tc, reopen_snapshot_then_log);
    tcase_add_test(tc, reopen_reads_past_the_hw);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
