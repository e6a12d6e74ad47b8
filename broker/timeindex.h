/*
 * timeindex: the time index of one segment (DESIGN.md §3), for ListOffsets
 * by timestamp and time-based retention.
 *
 *   <20-digit base offset>.timeindex: entries of 12 bytes, big-endian
 *     off size
 *       0    8  timestamp: the greatest batch maxTimestamp so far
 *       8    4  relative offset of the batch that carried it
 *
 * An entry is added with an offset-index entry when the greatest timestamp
 * has grown since the last entry, and once more when the segment is sealed
 * (roll, close), so the last entry of a sealed segment holds its greatest
 * timestamp. Timestamps and offsets never decrease from entry to entry. An
 * all-zero entry marks the unused preallocated tail.
 *
 * Same file mechanics and concurrency as index.h (one writer under the
 * partition lock, lock-free readers through the published count).
 */
#ifndef QR_TIMEINDEX_H
#define QR_TIMEINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "index.h"

#define QR_TINDEX_ENTRY_SIZE 12

typedef struct qr_tindex {
    qr_idxfile_t f;
    int64_t base_offset;
} qr_tindex_t;

/**
 * @brief Opens or creates the time index at @p path (qr_idxfile_open()
 * explains @p create, @p writable and the errors).
 * @locality any  @locks partition lock (the writer) or open time
 */
quire_err_t qr_tindex_open(qr_tindex_t *tidx, const char *path,
                           int64_t base_offset, size_t max_bytes, int create,
                           int writable);

/**
 * @brief Appends (timestamp, offset) when @p timestamp is greater than the
 * last entry's (otherwise does nothing and succeeds).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BUF_FULL when full; QUIRE_ERR_STATE
 *          when read-only or the offset goes back (a caller bug).
 * @locality any  @locks partition lock
 */
quire_err_t qr_tindex_maybe_append(qr_tindex_t *tidx, int64_t timestamp,
                                   int64_t offset);

/** @brief Whether no entry can be appended. @locks partition lock */
int qr_tindex_full(const qr_tindex_t *tidx);

/** @brief Published entry count. @locality any @locks none */
size_t qr_tindex_entries(const qr_tindex_t *tidx);

/** @brief Entry @p i. @locality any @locks none */
void qr_tindex_entry(const qr_tindex_t *tidx, size_t i, int64_t *timestamp,
                     int64_t *offset);

/**
 * @brief The last entry whose timestamp is strictly below @p timestamp:
 * every batch up to and including the one at *@p offset has a maxTimestamp
 * below @p timestamp. Returns 0 (and leaves the outputs alone) when there
 * is none, 1 otherwise.
 * @locality any  @locks none
 */
int qr_tindex_lookup_below(const qr_tindex_t *tidx, int64_t timestamp,
                           int64_t *ent_ts, int64_t *offset);

/**
 * @brief Checks that timestamps and offsets never decrease and offsets lie
 * in [base, @p next_offset).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_CORRUPT_MESSAGE (reason in @p why).
 * @locality any  @locks none
 */
quire_err_t qr_tindex_check(const qr_tindex_t *tidx, int64_t next_offset,
                            const char **why);

/** @brief See qr_idxfile_trim(). */
quire_err_t qr_tindex_trim(qr_tindex_t *tidx);

/** @brief See qr_idxfile_sync(). */
quire_err_t qr_tindex_sync(qr_tindex_t *tidx);

/** @brief See qr_idxfile_close(). */
void qr_tindex_close(qr_tindex_t *tidx);

#endif /* QR_TIMEINDEX_H */
