/*
 * timeindex: (greatest timestamp so far, offset) entries over index.c's
 * mmap'd file.
 */
#include "config.h"

#include <string.h>

#include "diskfmt.h"
#include "timeindex.h"

static int tindex_used(const uint8_t *p, size_t i)
{
    static const uint8_t zero[QR_TINDEX_ENTRY_SIZE];
    (void)i;
    return memcmp(p, zero, sizeof(zero)) != 0;
}

quire_err_t qr_tindex_open(qr_tindex_t *tidx, const char *path,
                           int64_t base_offset, size_t max_bytes, int create,
                           int writable)
{
    tidx->base_offset = base_offset;
    return qr_idxfile_open(&tidx->f, path, QR_TINDEX_ENTRY_SIZE, max_bytes,
                           create, writable, tindex_used);
}

size_t qr_tindex_entries(const qr_tindex_t *tidx)
{
    return qr_idxfile_count(&tidx->f);
}

void qr_tindex_entry(const qr_tindex_t *tidx, size_t i, int64_t *timestamp,
                     int64_t *offset)
{
    const uint8_t *p = qr_idxfile_at(&tidx->f, i);
    *timestamp = (int64_t)qr_dk_get64(p);
    *offset = tidx->base_offset + (int64_t)qr_dk_get32(p + 8);
}

int qr_tindex_full(const qr_tindex_t *tidx)
{
    return atomic_load_explicit(&tidx->f.entries, memory_order_relaxed) >=
           tidx->f.max_entries;
}

quire_err_t qr_tindex_maybe_append(qr_tindex_t *tidx, int64_t timestamp,
                                   int64_t offset)
{
    qr_idxfile_t *f = &tidx->f;
    size_t n = atomic_load_explicit(&f->entries, memory_order_relaxed);
    int64_t rel = offset - tidx->base_offset;

    if (!f->writable || rel < 0 || rel > INT32_MAX)
        return QUIRE_ERR_STATE;
    if (n > 0) {
        int64_t last_ts, last_off;
        qr_tindex_entry(tidx, n - 1, &last_ts, &last_off);
        if (timestamp <= last_ts)
            return QUIRE_ERR_NONE;
        if (offset < last_off)
            return QUIRE_ERR_STATE;
    }
    if (n >= f->max_entries || qr_idxfile_reserve(f, n) != 0)
        return QUIRE_ERR_BUF_FULL;
    uint8_t *p = qr_idxfile_at(f, n);
    qr_dk_put64(p, (uint64_t)timestamp);
    qr_dk_put32(p + 8, (uint32_t)rel);
    atomic_store_explicit(&f->entries, n + 1, memory_order_release);
    return QUIRE_ERR_NONE;
}

int qr_tindex_lookup_below(const qr_tindex_t *tidx, int64_t timestamp,
                           int64_t *ent_ts, int64_t *offset)
{
    size_t lo = 0, hi = qr_tindex_entries(tidx); /* first entry >= ts */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t t, o;
        qr_tindex_entry(tidx, mid, &t, &o);
        if (t < timestamp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    qr_tindex_entry(tidx, lo - 1, ent_ts, offset);
    return 1;
}

quire_err_t qr_tindex_check(const qr_tindex_t *tidx, int64_t next_offset,
                            const char **why)
{
    size_t n = qr_tindex_entries(tidx);
    int64_t prev_ts = INT64_MIN, prev_off = tidx->base_offset;
    const char *reason = NULL;

    for (size_t i = 0; i < n && !reason; i++) {
        int64_t t, o;
        qr_tindex_entry(tidx, i, &t, &o);
        if (t < prev_ts || o < prev_off)
            reason = "time index entries going backwards";
        else if (o >= next_offset)
            reason = "time index entry past the end of the log";
        prev_ts = t;
        prev_off = o;
    }
    if (why)
        *why = reason;
    return reason ? QUIRE_ERR_CORRUPT_MESSAGE : QUIRE_ERR_NONE;
}

quire_err_t qr_tindex_trim(qr_tindex_t *tidx)
{
    return qr_idxfile_trim(&tidx->f);
}

quire_err_t qr_tindex_sync(qr_tindex_t *tidx)
{
    return qr_idxfile_sync(&tidx->f);
}

void qr_tindex_close(qr_tindex_t *tidx)
{
    qr_idxfile_close(&tidx->f);
}
