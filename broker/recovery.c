/*
 * recovery: segment scans at open.
 *
 * ---- The rule: what recovery cuts, and what it deletes (issue 17) ----
 *
 * 1. What is checked. After a crash, every segment from the one holding
 *    the recovery point on; any segment whose index is missing or
 *    corrupt; and every segment after one that had to be cut. Each batch
 *    in turn: its header and length inside the file, the CRC-32C, the
 *    header fields (qr_batch_validate(QR_BATCH_CHECK_CRC)), a base offset
 *    at or above both the segment's base and the end of what was kept
 *    before it, and a last offset at most INT32_MAX past the segment's
 *    base (what the indexes can address).
 * 2. What is cut. A segment is cut at its first batch that fails: that
 *    batch and the rest of the file, since after a damaged batch the
 *    positions of the following ones cannot be trusted. The log says the
 *    segment, the byte position, the reason and the bytes cut.
 * 3. What is deleted. A cut never deletes the segments after it by
 *    itself. Each later segment is checked by (1) on its own, and what is
 *    valid in it is kept: records acknowledged after the damaged part
 *    survive it, and the offsets that were cut become a gap in the log
 *    (fetches go on at the next offset kept; the log says which offsets
 *    are missing). A later segment is deleted only when nothing in it can
 *    be valid: its first batch already fails (1), so it has no batch left;
 *    the log names it and says why. The last segment is never deleted for
 *    being empty: appends go on there, from its base.
 *
 * Before this rule a cut deleted every later segment (Kafka deletes the
 * unflushed segments after a truncated one): one batch putting offsets
 * beyond INT32_MAX from its segment's base cost other clients'
 * acknowledged records in the segments after it.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "diskfmt.h"
#include "logging.h"
#include "recovery.h"

/* Read-ahead for the scan: whole chunks, so small batches cost no syscall
 * each. */
#define RECOVERY_CHUNK (1u << 20)

typedef struct scanbuf {
    int fd;
    uint64_t file_size;
    uint8_t *buf;
    size_t cap;
    uint64_t start; /* file position of buf[0] */
    size_t len;     /* valid bytes in buf */
} scanbuf_t;

/* Makes [pos, pos + n) available; n is already bounded by the file size,
 * so the buffer never grows past the segment. */
static quire_err_t scan_get(scanbuf_t *sb, uint64_t pos, size_t n,
                            const uint8_t **p)
{
    if (pos >= sb->start && pos + n <= sb->start + sb->len) {
        *p = sb->buf + (pos - sb->start);
        return QUIRE_ERR_NONE;
    }
    size_t want = n > RECOVERY_CHUNK ? n : RECOVERY_CHUNK;
    if (want > sb->file_size - pos)
        want = (size_t)(sb->file_size - pos);
    if (want > sb->cap) {
        free(sb->buf);
        sb->buf = qr_malloc(want);
        sb->cap = want;
    }
    ssize_t got = qr_dk_pread_full(sb->fd, sb->buf, want, (off_t)pos);
    if (got < 0)
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    sb->start = pos;
    sb->len = (size_t)got;
    if ((size_t)got < n)
        return QUIRE_ERR_TRUNCATED;
    *p = sb->buf;
    return QUIRE_ERR_NONE;
}

static quire_err_t cut_at(qr_seg_t *seg, const char *name, uint64_t pos,
                          uint64_t size, const char *why)
{
    QR_LOG_WARN("LOG",
                "%s: segment %020lld: %s at byte %llu, truncating %llu "
                "bytes",
                name, (long long)seg->base_offset, why, (unsigned long long)pos,
                (unsigned long long)(size - pos));
    return qr_seg_truncate(seg, pos);
}

quire_err_t qr_recovery_load_segment(qr_seg_t *seg, const char *name)
{
    uint64_t size = qr_seg_size(seg), pos = 0;
    size_t n = qr_index_entries(&seg->idx);
    size_t tn = qr_tindex_entries(&seg->tidx);
    int64_t next = seg->base_offset;
    qr_batch_hdr_t hdr;

    if (n > 0) {
        int64_t o;
        uint32_t p;
        qr_index_entry(&seg->idx, n - 1, &o, &p);
        pos = p;
    }
    if (tn > 0) {
        int64_t ts, o;
        qr_tindex_entry(&seg->tidx, tn - 1, &ts, &o);
        atomic_store(&seg->max_ts, ts);
        seg->max_ts_offset = o;
    }
    seg->bytes_since_index = 0;
    while (pos < size) {
        quire_err_t err = qr_seg_read_hdr(seg, pos, size, &hdr);
        if (err == QUIRE_ERR_KAFKA_STORAGE_ERROR)
            return err;
        if (err != QUIRE_ERR_NONE)
            return cut_at(seg, name, pos, size,
                          err == QUIRE_ERR_TRUNCATED ? "torn batch"
                                                     : "corrupt batch header");
        qr_seg_index_batch(seg, &hdr, (uint32_t)pos);
        next = qr_batch_last_offset(&hdr) + 1;
        pos += qr_batch_size(&hdr);
    }
    if (n > 0 || pos > 0)
        atomic_store(&seg->next_offset, next);
    return QUIRE_ERR_NONE;
}

/* Checks the batch at pos; on success fills hdr. *why names a problem. */
static quire_err_t check_batch(scanbuf_t *sb, uint64_t pos, int64_t expect,
                               int64_t base, qr_batch_hdr_t *hdr,
                               const char **why)
{
    const uint8_t *p;
    uint64_t left = sb->file_size - pos;
    quire_err_t err;

    if (left < QR_BATCH_HEADER_SIZE) {
        *why = "torn batch header";
        return QUIRE_ERR_TRUNCATED;
    }
    err = scan_get(sb, pos, QR_BATCH_HEADER_SIZE, &p);
    if (err != QUIRE_ERR_NONE)
        return err;
    qr_batch_hdr_read(p, QR_BATCH_HEADER_SIZE, hdr);
    if (hdr->length < QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD) {
        *why = "batch length below the header size";
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    if (qr_batch_size(hdr) > left) {
        *why = "torn batch (length past the end of the file)";
        return QUIRE_ERR_TRUNCATED;
    }
    err = scan_get(sb, pos, qr_batch_size(hdr), &p);
    if (err != QUIRE_ERR_NONE)
        return err;
    err =
        qr_batch_validate(p, qr_batch_size(hdr), QR_BATCH_CHECK_CRC, hdr, why);
    if (err != QUIRE_ERR_NONE) {
        if (!*why)
            *why = "invalid batch";
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    if (hdr->base_offset < expect || hdr->base_offset < base) {
        *why = "offsets not increasing";
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    if (qr_batch_last_offset(hdr) - base > INT32_MAX) {
        *why = "offset too far from the segment's base";
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_recovery_recover_segment(qr_seg_t *seg, const char *name,
                                        int64_t min_offset, int *cut)
{
    scanbuf_t sb = {.fd = seg->fd, .file_size = qr_seg_size(seg)};
    uint64_t pos = 0;
    int64_t expect = min_offset;
    unsigned long batches = 0;
    quire_err_t err = qr_seg_reset_indexes(seg);

    *cut = 0;
    if (err != QUIRE_ERR_NONE)
        return err;
    atomic_store(&seg->max_ts, -1);
    seg->max_ts_offset = seg->base_offset;
    while (pos < sb.file_size) {
        qr_batch_hdr_t hdr;
        const char *why = NULL;
        err = check_batch(&sb, pos, expect, seg->base_offset, &hdr, &why);
        if (err == QUIRE_ERR_KAFKA_STORAGE_ERROR) {
            QR_LOG_ERR("LOG", "%s: segment %020lld: read at byte %llu: %s",
                       name, (long long)seg->base_offset,
                       (unsigned long long)pos, strerror(errno));
            break;
        }
        if (err != QUIRE_ERR_NONE) {
            err = cut_at(seg, name, pos, sb.file_size, why);
            *cut = 1;
            break;
        }
        qr_seg_index_batch(seg, &hdr, (uint32_t)pos);
        expect = qr_batch_last_offset(&hdr) + 1;
        pos += qr_batch_size(&hdr);
        batches++;
    }
    free(sb.buf);
    if (err != QUIRE_ERR_NONE)
        return err;
    atomic_store(&seg->next_offset, batches ? expect : seg->base_offset);
    QR_LOG_INFO("LOG",
                "%s: segment %020lld: recovered %lu batches, %llu bytes, "
                "indexes rebuilt",
                name, (long long)seg->base_offset, batches,
                (unsigned long long)qr_seg_size(seg));
    return QUIRE_ERR_NONE;
}
