/* check_partlog_repl: the partition log's replication primitives (issue 16
 * items 3 and 6; REPL.md "The partition log"): follower appends, leader
 * epoch stamping and the epoch cache, truncation (across segments, then
 * appends, reopen clean and after a crash), truncation to a new start,
 * the replicated high watermark. Real files in temp dirs. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "epochcache.h"
#include "partlog.h"
#include "plog_testlib.h"
#include "retention.h"

static char *dir;
static char pdir[PATH_MAX];

static void setup(void)
{
    dir = tl_tmpdir();
    snprintf(pdir, sizeof(pdir), "%s/r-0", dir);
}

static void teardown(void)
{
    tl_rmtree(dir);
    free(dir);
}

/* A leader's batch: `nrec` records from `base`, epoch `epoch`, timestamps
 * from `ts`, values of `fill`. Returns its size. */
static size_t leader_batch(uint8_t *buf, int64_t base, int nrec, int32_t epoch,
                           int64_t ts, uint8_t fill)
{
    size_t n = tl_batch(buf, nrec, ts, 40, fill);
    qr_batch_set_base_offset(buf, base);
    qr_batch_set_leader_epoch(buf, epoch);
    return n;
}

/* Follower-appends `nb` batches of `nrec` records from the log end, all
 * of epoch `epoch`; timestamps 1000 + offset. */
static void replicate(qr_plog_t *part, int nb, int nrec, int32_t epoch)
{
    uint8_t buf[4096];
    for (int i = 0; i < nb; i++) {
        int64_t base = qr_plog_log_end(part), last = -2;
        size_t n =
            leader_batch(buf, base, nrec, epoch, 1000 + base, (uint8_t)base);
        ck_assert_int_eq(qr_plog_append_replica(part, buf, n, &last),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(last, base + nrec - 1);
        ck_assert_int_eq(qr_plog_log_end(part), base + nrec);
    }
}

/* The batch holding `offset`: its header, through a fetch. */
static void read_hdr_at(qr_plog_t *part, int64_t offset, qr_batch_hdr_t *hdr)
{
    qr_plog_slice_t s;
    uint8_t h[QR_BATCH_HEADER_SIZE];
    ck_assert_int_eq(qr_plog_read(part, offset, 1, &s), QUIRE_ERR_NONE);
    ck_assert_int_eq(pread(s.fd, h, sizeof(h), (off_t)s.pos),
                     (ssize_t)sizeof(h));
    qr_batch_hdr_read(h, sizeof(h), hdr);
    tl_check_slice(&s, offset > hdr->base_offset ? offset : hdr->base_offset);
    qr_plog_slice_release(&s);
}

/* The last offset of a slice's batches. */
static int64_t slice_last_offset(const qr_plog_slice_t *s)
{
    uint8_t *buf = malloc(s->len);
    qr_batch_hdr_t hdr = {0};
    int64_t last = -1;
    ck_assert_int_eq(pread(s->fd, buf, s->len, (off_t)s->pos), (ssize_t)s->len);
    for (size_t off = 0; off < s->len; off += qr_batch_size(&hdr)) {
        ck_assert_int_eq(qr_batch_hdr_read(buf + off, s->len - off, &hdr),
                         QUIRE_ERR_NONE);
        last = qr_batch_last_offset(&hdr);
    }
    free(buf);
    return last;
}

/* Every offset of the log readable (whole valid batches holding it),
 * every timestamp found through the time index, nothing past the end. */
static void check_log(qr_plog_t *part)
{
    int64_t end = qr_plog_log_end(part);
    for (int64_t o = qr_plog_log_start(part); o < end; o++) {
        qr_plog_slice_t s;
        uint8_t h[QR_BATCH_HEADER_SIZE];
        qr_batch_hdr_t hdr;
        ck_assert_int_eq(qr_plog_read(part, o, 1 << 20, &s), QUIRE_ERR_NONE);
        ck_assert_int_eq(pread(s.fd, h, sizeof(h), (off_t)s.pos),
                         (ssize_t)sizeof(h));
        qr_batch_hdr_read(h, sizeof(h), &hdr);
        if (hdr.base_offset > o) /* a gap: served from the next batch */
            o = hdr.base_offset;
        tl_check_slice(&s, o);
        qr_plog_slice_release(&s);
    }
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, end + 1, 100, &s),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    /* timestamps are 1000 + the batch's base offset */
    for (int64_t o = qr_plog_log_start(part); o < end; o++) {
        qr_batch_hdr_t hdr;
        int64_t found = -2;
        read_hdr_at(part, o, &hdr);
        o = qr_batch_last_offset(&hdr);
        ck_assert_int_eq(
            qr_plog_offset_for_time(part, hdr.max_timestamp, &found),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(found, hdr.base_offset);
    }
    int64_t none = 0;
    ck_assert_int_eq(qr_plog_offset_for_time(part, 1000 + end + 100, &none),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(none, -1);
}

/* Number of files in the partition directory ending in `suffix`. */
static int count_files(const char *suffix)
{
    DIR *d = opendir(pdir);
    struct dirent *de;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        n += l > sl && strcmp(de->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    static char buf[4096];
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    return buf;
}

static const char *epoch_file(void)
{
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", pdir, QR_EPOCHCACHE_FILE);
    return path;
}

START_TEST(test_append_replica_at_end)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 256);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);
    uint8_t buf[4096], copy[4096], back[4096];
    int64_t last = -2;

    replicate(part, 3, 2, 4); /* offsets 0..5, epoch 4 */
    size_t n = leader_batch(buf, 6, 3, 7, 1006, 0xab);
    memcpy(copy, buf, n);
    ck_assert_int_eq(qr_plog_append_replica(part, buf, n, &last),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(last, 8);
    /* byte for byte, nothing rewritten: offsets, epoch, CRC */
    ck_assert_mem_eq(buf, copy, n);
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, 7, 1 << 20, &s), QUIRE_ERR_NONE);
    ck_assert_uint_eq(s.len, n);
    ck_assert_int_eq(pread(s.fd, back, n, (off_t)s.pos), (ssize_t)n);
    ck_assert_mem_eq(back, copy, n);
    qr_plog_slice_release(&s);
    /* the cache learnt both epochs; the leader-epoch-checkpoint says so
     * once the sync that makes them durable wrote it (issue 14: not on the
     * appending thread) */
    ck_assert_int_eq(qr_plog_latest_epoch(part), 7);
    ck_assert_int_ne(access(epoch_file(), F_OK), 0);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_str_eq(slurp(epoch_file()), "0\n2\n4 0\n7 6\n");
    /* a gap (the leader's own, as after recovery) is kept */
    n = leader_batch(buf, 20, 1, 7, 1020, 1);
    ck_assert_int_eq(qr_plog_append_replica(part, buf, n, &last),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_log_end(part), 21);
    check_log(part);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_append_replica_not_at_end)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 256);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);
    uint8_t buf[8192];
    int64_t last = -2;

    replicate(part, 2, 2, 1); /* 0..3 */
    uint64_t size = qr_plog_size_bytes(part);
    /* below the log end: refused, nothing written */
    size_t n = leader_batch(buf, 3, 2, 1, 1003, 1);
    ck_assert_int_eq(qr_plog_append_replica(part, buf, n, &last),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    n = leader_batch(buf, 0, 1, 1, 1000, 1);
    ck_assert_int_eq(qr_plog_append_replica(part, buf, n, &last),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    /* offsets going back inside the payload: refused, nothing written,
     * the epoch of the refused batches not cached */
    n = leader_batch(buf, 4, 2, 2, 1004, 1);
    n += leader_batch(buf + n, 5, 2, 3, 1005, 1);
    ck_assert_int_eq(qr_plog_append_replica(part, buf, n, &last),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    /* headers that do not tile the payload */
    n = leader_batch(buf, 4, 2, 1, 1004, 1);
    ck_assert_int_eq(qr_plog_append_replica(part, buf, n - 1, &last),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_int_eq(qr_plog_log_end(part), 4);
    ck_assert_uint_eq(qr_plog_size_bytes(part), size);
    ck_assert_int_eq(qr_plog_latest_epoch(part), 1);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_str_eq(slurp(epoch_file()), "0\n1\n1 0\n");
    check_log(part);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_leader_epoch_stamped)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 256);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);
    uint8_t buf[4096];
    int64_t base, last;
    qr_batch_hdr_t hdr;
    const char *why = NULL;

    /* not set: the producer's field stays, no epoch cached */
    size_t n = tl_batch(buf, 2, 1000, 10, 1);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_NONE);
    read_hdr_at(part, 0, &hdr);
    ck_assert_int_eq(hdr.leader_epoch, 0);
    ck_assert_int_eq(qr_plog_latest_epoch(part), -1);
    ck_assert_int_eq(access(epoch_file(), F_OK), -1);

    qr_plog_set_leader_epoch(part, 3);
    for (int i = 0; i < 2; i++) {
        n = tl_batch(buf, 2, 1002 + 2 * i, 10, 1);
        ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                         QUIRE_ERR_NONE);
    }
    qr_plog_set_leader_epoch(part, 5);
    n = tl_batch(buf, 3, 1006, 10, 1);
    ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 6);
    /* stamped, and the CRC still holds (the field is outside it) */
    read_hdr_at(part, 2, &hdr);
    ck_assert_int_eq(hdr.leader_epoch, 3);
    read_hdr_at(part, 7, &hdr);
    ck_assert_int_eq(hdr.leader_epoch, 5);
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, 0, 1 << 20, &s), QUIRE_ERR_NONE);
    uint8_t *all = malloc(s.len);
    ck_assert_int_eq(pread(s.fd, all, s.len, (off_t)s.pos), (ssize_t)s.len);
    for (size_t off = 0; off < s.len; off += qr_batch_size(&hdr))
        ck_assert_int_eq(qr_batch_validate(all + off, s.len - off,
                                           QR_BATCH_CHECK_CRC, &hdr, &why),
                         QUIRE_ERR_NONE);
    free(all);
    qr_plog_slice_release(&s);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_str_eq(slurp(epoch_file()), "0\n2\n3 2\n5 6\n");

    /* KIP-279 through the log: epoch 3 ends where 5 starts; the latest
     * ends at the log end; 4 (never a leader here) answers 3's end */
    int32_t fe;
    int64_t eo;
    ck_assert_int_eq(qr_plog_end_offset_for_epoch(part, 3, &fe, &eo),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(fe, 3);
    ck_assert_int_eq(eo, 6);
    qr_plog_end_offset_for_epoch(part, 5, &fe, &eo);
    ck_assert_int_eq(fe, 5);
    ck_assert_int_eq(eo, 9);
    qr_plog_end_offset_for_epoch(part, 4, &fe, &eo);
    ck_assert_int_eq(fe, 3);
    ck_assert_int_eq(eo, 6);
    qr_plog_end_offset_for_epoch(part, 9, &fe, &eo);
    ck_assert_int_eq(fe, -1);
    ck_assert_int_eq(eo, -1);
    qr_plog_end_offset_for_epoch(part, 1, &fe, &eo);
    ck_assert_int_eq(fe, 1);
    ck_assert_int_eq(eo, 2);

    /* reopened: the epochs come back from the file */
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    part = tl_open(dir, "r", &conf, 1, -1, NULL);
    ck_assert_int_eq(qr_plog_latest_epoch(part), 5);
    qr_plog_end_offset_for_epoch(part, 3, &fe, &eo);
    ck_assert_int_eq(eo, 6);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* Segments of ~3 batches (each ~2 records, ~150 bytes): truncation
 * crosses segment boundaries. _i: 0 inside a segment, 1 at a segment's
 * base, 2 inside a batch, 3 in the first segment. */
START_TEST(test_truncate_across_segments)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 400, 150);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);

    replicate(part, 10, 2, 1); /* 0..19 */
    replicate(part, 10, 2, 2); /* 20..39 */
    size_t nsegs = qr_plog_segment_count(part);
    ck_assert_uint_ge(nsegs, 6);
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_recovery_point(part), 40);

    /* where to cut, and where the log must end */
    int64_t target, want;
    switch (_i) {
    case 0:
        target = 24;
        want = 24;
        break;
    case 1: {
        /* the base of the third segment */
        char name[PATH_MAX + 64];
        int64_t b = -1;
        for (int64_t o = 2; o < 40 && b < 0; o += 2) {
            snprintf(name, sizeof(name), "%s/%020lld.log", pdir, (long long)o);
            if (o > 6 && access(name, F_OK) == 0)
                b = o;
        }
        ck_assert_int_gt(b, 0);
        target = want = b;
        break;
    }
    case 2:
        target = 25;
        want = 24;
        break; /* batch 24..25 goes whole */
    default:
        target = 3;
        want = 2;
        break;
    }
    ck_assert_int_eq(qr_plog_truncate_to(part, target), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_log_end(part), want);
    ck_assert_int_eq(qr_plog_high_watermark(part), want);
    ck_assert_int_eq(qr_plog_recovery_point(part), want);
    ck_assert_int_eq(qr_plog_latest_epoch(part), want > 20 ? 2 : 1);
    ck_assert_int_eq(count_files(".log"), (int)qr_plog_segment_count(part));
    ck_assert_int_eq(count_files(".index"), (int)qr_plog_segment_count(part));
    ck_assert_int_eq(count_files(".timeindex"),
                     (int)qr_plog_segment_count(part));
    check_log(part);
    /* nothing past the end */
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, want, 100, &s), QUIRE_ERR_NONE);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_int_eq(qr_plog_read(part, want + 1, 100, &s),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);

    /* appends go on from the new end: a new leader's epoch */
    replicate(part, 6, 2, 3);
    ck_assert_int_eq(qr_plog_log_end(part), want + 12);
    check_log(part);
    int32_t fe;
    int64_t eo;
    qr_plog_end_offset_for_epoch(part, want > 20 ? 2 : 1, &fe, &eo);
    ck_assert_int_eq(eo, want);

    /* reopened after a clean close: the same log, indexes consistent */
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    part = tl_open(dir, "r", &conf, 1, -1, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), want + 12);
    check_log(part);
    qr_plog_end_offset_for_epoch(part, 3, &fe, &eo);
    ck_assert_int_eq(fe, 3);
    ck_assert_int_eq(eo, want + 12);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* A crash (no clean marker) right after a truncation: the checkpoint's
 * recovery point is from before it (past the new end). */
START_TEST(test_crash_after_truncate)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 400, 150);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);

    replicate(part, 12, 2, 1); /* 0..23 */
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    int64_t old_rp = qr_plog_recovery_point(part);
    ck_assert_int_eq(qr_plog_truncate_to(part, 10), QUIRE_ERR_NONE);
    replicate(part, 1, 2, 2); /* 10..11, epoch 2 */
    /* no close: the process dies */
    qr_plog_release(part);

    part = tl_open(dir, "r", &conf, 0, old_rp, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 12);
    ck_assert_int_le(qr_plog_recovery_point(part), 12);
    check_log(part);
    ck_assert_int_eq(qr_plog_latest_epoch(part), 2);
    replicate(part, 2, 2, 2);
    check_log(part);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);

    /* and a crash with the epoch file ahead of the log (written, then
     * the batch lost): cut back to the log at open */
    part = tl_open(dir, "r", &conf, 1, -1, NULL);
    ck_assert_int_eq(qr_plog_truncate_to(part, 12), QUIRE_ERR_NONE);
    qr_plog_release(part);
    FILE *f = fopen(epoch_file(), "w");
    ck_assert_ptr_nonnull(f);
    fputs("0\n3\n1 0\n2 10\n7 12\n", f);
    fclose(f);
    part = tl_open(dir, "r", &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 12);
    ck_assert_int_eq(qr_plog_latest_epoch(part), 2);
    ck_assert_str_eq(slurp(epoch_file()), "0\n2\n1 0\n2 10\n");
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_truncate_fully)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 400, 150);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);

    replicate(part, 10, 2, 1);
    qr_plog_set_replicated_hw(part, 12);
    ck_assert_int_eq(qr_plog_truncate_fully(part, 1000), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_log_start(part), 1000);
    ck_assert_int_eq(qr_plog_log_end(part), 1000);
    ck_assert_int_eq(qr_plog_recovery_point(part), 1000);
    ck_assert_int_eq(qr_plog_high_watermark(part), 1000);
    ck_assert_int_eq(qr_plog_segment_count(part), 1);
    ck_assert_int_eq(count_files(".log"), 1);
    char name[PATH_MAX + 64];
    snprintf(name, sizeof(name), "%s/%020d.log", pdir, 1000);
    ck_assert_int_eq(access(name, F_OK), 0);
    ck_assert_int_eq(qr_plog_latest_epoch(part), -1);
    ck_assert_str_eq(slurp(epoch_file()), "0\n0\n");
    qr_plog_slice_t s;
    ck_assert_int_eq(qr_plog_read(part, 0, 100, &s),
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    replicate(part, 5, 2, 4);
    ck_assert_int_eq(qr_plog_log_end(part), 1010);
    qr_plog_set_replicated_hw(part, 1010);
    check_log(part);
    /* truncate_to below the start empties it the same way */
    ck_assert_int_eq(qr_plog_truncate_to(part, 500), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_log_start(part), 500);
    ck_assert_int_eq(qr_plog_log_end(part), 500);
    replicate(part, 1, 2, 5);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    part = tl_open(dir, "r", &conf, 0, 0, NULL);
    ck_assert_int_eq(qr_plog_log_start(part), 500);
    ck_assert_int_eq(qr_plog_log_end(part), 502);
    ck_assert_int_eq(qr_plog_latest_epoch(part), 5);
    check_log(part);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* Retention drops the epochs of the segments it deletes; the one that
 * covers the new log start starts at it (Kafka's truncateFromStart). */
START_TEST(test_retention_cuts_epochs)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 400, 150);
    conf.retention_bytes = 0; /* everything but the active segment */
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);
    int deleted = 0;

    replicate(part, 4, 2, 1); /* 0..7 */
    replicate(part, 4, 2, 2); /* 8..15 */
    replicate(part, 1, 2, 3); /* 16..17 */
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_str_eq(slurp(epoch_file()), "0\n3\n1 0\n2 8\n3 16\n");
    ck_assert_int_eq(qr_retention_run(part, qr_plog_now_ms(), &deleted),
                     QUIRE_ERR_NONE);
    ck_assert_int_gt(deleted, 0);
    int64_t start = qr_plog_log_start(part);
    ck_assert_int_gt(start, 8);
    char want[128];
    snprintf(want, sizeof(want),
             start < 16 ? "0\n2\n2 %lld\n3 16\n" : "0\n1\n3 %lld\n",
             (long long)start);
    ck_assert_str_eq(slurp(epoch_file()), want);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* A damaged leader-epoch-checkpoint is rebuilt from the batches' epochs
 * at open, not trusted and not left empty. */
START_TEST(test_corrupt_epoch_file_rebuilt)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 400, 150);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);

    replicate(part, 3, 2, 1); /* 0..5 */
    replicate(part, 3, 2, 4); /* 6..11 */
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
    FILE *f = fopen(epoch_file(), "w");
    ck_assert_ptr_nonnull(f);
    fputs("0\n2\n1 0\n", f); /* torn */
    fclose(f);
    part = tl_open(dir, "r", &conf, 1, -1, NULL);
    ck_assert_int_eq(qr_plog_latest_epoch(part), 4);
    ck_assert_str_eq(slurp(epoch_file()), "0\n2\n1 0\n4 6\n");
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* Issue 14: a new epoch's leader-epoch-checkpoint is written by the sync
 * that makes its first batch durable, not at append. A crash (no close)
 * with batches of a new epoch past the recovery point: reopened, the log
 * learns the epoch from the batches (the file lacks it), at its first
 * offset; the file says so after open. */
START_TEST(test_crash_epoch_past_recovery_point)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 400, 150);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);
    uint8_t buf[4096];
    int64_t base, last;

    qr_plog_set_leader_epoch(part, 3);
    for (int i = 0; i < 4; i++) { /* 0..7, over several segments */
        size_t n = tl_batch(buf, 2, 1000 + 2 * i, 10, 1);
        ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    int64_t rp = qr_plog_recovery_point(part);
    ck_assert_int_eq(rp, 8);
    ck_assert_str_eq(slurp(epoch_file()), "0\n1\n3 0\n");
    qr_plog_set_leader_epoch(part, 6);
    for (int i = 0; i < 3; i++) { /* 8..13, epoch 6 */
        size_t n = tl_batch(buf, 2, 1008 + 2 * i, 10, 1);
        ck_assert_int_eq(qr_plog_append(part, buf, n, &base, &last),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(qr_plog_latest_epoch(part), 6);
    /* not synced: the file is as the last sync left it */
    ck_assert_str_eq(slurp(epoch_file()), "0\n1\n3 0\n");
    qr_plog_release(part); /* the process dies; the page cache survives */

    part = tl_open(dir, "r", &conf, 0, rp, NULL);
    ck_assert_int_eq(qr_plog_log_end(part), 14);
    ck_assert_int_eq(qr_plog_latest_epoch(part), 6);
    int32_t fe;
    int64_t eo;
    qr_plog_end_offset_for_epoch(part, 3, &fe, &eo);
    ck_assert_int_eq(fe, 3);
    ck_assert_int_eq(eo, 8);
    ck_assert_str_eq(slurp(epoch_file()), "0\n2\n3 0\n6 8\n");
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

/* After a truncation the recovery-point checkpoint may still hold a point
 * past it: until the log manager says it wrote one covering the
 * truncation, a new epoch is written at append. */
START_TEST(test_epoch_written_at_append_after_truncation)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 256);
    qr_plog_t *part = tl_open(dir, "r", &conf, 1, -1, NULL);

    replicate(part, 3, 2, 1); /* 0..5, epoch 1 */
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_truncations(part), 0);
    ck_assert_int_eq(qr_plog_truncate_to(part, 4), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_truncations(part), 1);
    replicate(part, 1, 2, 2); /* 4..5, epoch 2: written at once */
    ck_assert_str_eq(slurp(epoch_file()), "0\n2\n1 0\n2 4\n");
    /* checkpointed: the next epoch waits for the sync */
    qr_plog_checkpointed(part, qr_plog_truncations(part));
    replicate(part, 1, 2, 3); /* 6..7, epoch 3 */
    ck_assert_str_eq(slurp(epoch_file()), "0\n2\n1 0\n2 4\n");
    ck_assert_int_eq(qr_plog_flush(part), QUIRE_ERR_NONE);
    ck_assert_str_eq(slurp(epoch_file()), "0\n3\n1 0\n2 4\n3 6\n");
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

static int64_t hook_end = -1;
static int hook_calls;

static void on_append(void *opaque, qr_plog_t *part, int64_t end)
{
    (void)opaque;
    (void)part;
    hook_end = end;
    hook_calls++;
}

START_TEST(test_replicated_hw)
{
    qr_plog_conf_t conf;
    tl_conf(&conf, 1 << 20, 256);
    qr_plog_open_opts_t o = {
        .clean = 1, .recovery_point = -1, .create = 1, .on_append = on_append};
    char errstr[256];
    qr_plog_t *part = NULL;
    ck_assert_int_eq(
        qr_plog_open(dir, "r", 0, &conf, &o, &part, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    qr_plog_slice_t s;
    int64_t off;

    /* never set: the visible end is the log end, as without replication */
    replicate(part, 5, 2, 1); /* 0..9 */
    ck_assert_int_eq(qr_plog_replicated_hw(part), -1);
    ck_assert_int_eq(qr_plog_high_watermark(part), 10);
    ck_assert_int_eq(hook_end, 10);

    qr_plog_set_replicated_hw(part, 4);
    ck_assert_int_eq(qr_plog_high_watermark(part), 4);
    ck_assert_int_eq(qr_plog_offset_for_time(part, QR_PLOG_TS_LATEST, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 4);
    /* fetches stop at the batch boundary of the hw */
    ck_assert_int_eq(qr_plog_read(part, 0, 1 << 20, &s), QUIRE_ERR_NONE);
    tl_check_slice(&s, 0);
    ck_assert_int_eq(slice_last_offset(&s), 3);
    qr_plog_slice_release(&s);
    ck_assert_int_eq(qr_plog_read(part, 4, 1 << 20, &s), QUIRE_ERR_NONE);
    ck_assert_uint_eq(s.len, 0);
    /* by timestamp: not past the hw either (batch 6..7 has ts 1006..) */
    ck_assert_int_eq(qr_plog_offset_for_time(part, 1006, &off), QUIRE_ERR_NONE);
    ck_assert_int_eq(off, -1);

    /* never backwards */
    hook_calls = 0;
    qr_plog_set_replicated_hw(part, 2);
    ck_assert_int_eq(qr_plog_high_watermark(part), 4);
    ck_assert_int_eq(hook_calls, 0);
    /* forwards: readers woken with the new end */
    qr_plog_set_replicated_hw(part, 8);
    ck_assert_int_eq(qr_plog_high_watermark(part), 8);
    ck_assert_int_eq(hook_calls, 1);
    ck_assert_int_eq(hook_end, 8);
    ck_assert_int_eq(qr_plog_read(part, 6, 1 << 20, &s), QUIRE_ERR_NONE);
    tl_check_slice(&s, 6);
    qr_plog_slice_release(&s);
    ck_assert_int_eq(qr_plog_read(part, 8, 1 << 20, &s), QUIRE_ERR_NONE);
    ck_assert_uint_eq(s.len, 0);
    /* past the log end: the log end bounds it */
    qr_plog_set_replicated_hw(part, 50);
    ck_assert_int_eq(qr_plog_high_watermark(part), 10);
    ck_assert_int_eq(qr_plog_replicated_hw(part), 50);
    replicate(part, 1, 2, 1);
    ck_assert_int_eq(qr_plog_high_watermark(part), 12);
    ck_assert_int_eq(qr_plog_read(part, 10, 1 << 20, &s), QUIRE_ERR_NONE);
    tl_check_slice(&s, 10);
    qr_plog_slice_release(&s);
    /* truncation clamps it */
    ck_assert_int_eq(qr_plog_truncate_to(part, 6), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_replicated_hw(part), 6);
    ck_assert_int_eq(qr_plog_high_watermark(part), 6);
    replicate(part, 2, 2, 2);
    ck_assert_int_eq(qr_plog_high_watermark(part), 6);
    ck_assert_int_eq(qr_plog_read(part, 6, 1 << 20, &s), QUIRE_ERR_NONE);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_int_eq(qr_plog_close(part), QUIRE_ERR_NONE);
}
END_TEST

static Suite *partlog_repl_suite(void)
{
    Suite *s = suite_create("partlog_repl");
    TCase *tc = tcase_create("replica");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_append_replica_at_end);
    tcase_add_test(tc, test_append_replica_not_at_end);
    tcase_add_test(tc, test_leader_epoch_stamped);
    tcase_add_loop_test(tc, test_truncate_across_segments, 0, 4);
    tcase_add_test(tc, test_crash_after_truncate);
    tcase_add_test(tc, test_truncate_fully);
    tcase_add_test(tc, test_replicated_hw);
    tcase_add_test(tc, test_retention_cuts_epochs);
    tcase_add_test(tc, test_corrupt_epoch_file_rebuilt);
    tcase_add_test(tc, test_crash_epoch_past_recovery_point);
    tcase_add_test(tc, test_epoch_written_at_append_after_truncation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(partlog_repl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
