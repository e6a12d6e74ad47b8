/*
 * index: the sparse offset index of one segment (DESIGN.md §3), and the
 * mmap'd fixed-size-entry file it shares with timeindex.
 *
 *   <20-digit base offset>.index: entries of 8 bytes, big-endian
 *     off size
 *       0    4  relative offset (batch base offset - segment base offset)
 *       4    4  file position of that batch in the .log
 *
 * One entry every log.index.interval.bytes of log (the first batch of a
 * segment, at position 0, is never indexed, so a position of 0 marks the
 * unused, preallocated tail). Offsets and positions strictly increase.
 *
 * The active segment's file is given its full length,
 * log.index.size.max.bytes, with ftruncate (sparse: no blocks, as Kafka's
 * setLength) and mapped read-write; blocks are allocated with
 * posix_fallocate a page ahead of the entries written
 * (qr_idxfile_reserve()), so an empty partition costs a few kilobytes of
 * disk and a full disk is an error, never a SIGBUS on a store into the
 * mapping. At roll or close the file is trimmed to its entries (ftruncate)
 * and the mapping kept, so concurrent readers never fault.
 *
 * Concurrency: one writer (the partition's appender, under the partition
 * lock) and any number of lock-free readers. The writer stores an entry and
 * then publishes the count with a release store; readers load the count with
 * acquire and only look at entries below it.
 */
#ifndef QR_INDEX_H
#define QR_INDEX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* ---- the mmap'd file of fixed-size entries (shared with timeindex) ---- */

typedef struct qr_idxfile {
    /* what a lookup reads first, together (see qr_seg_t) */
    uint8_t *map;           /* NULL when nothing is mapped (empty file) */
    size_t entry_size;      /* 8 or 12 */
    _Atomic size_t entries; /* published count */
    size_t max_entries;     /* capacity of the mapping */
    size_t map_size;        /* bytes mapped */
    int fd;                 /* -1 between uses: opened by name when needed */
    int writable;           /* active segment: full length, mapped rw */
    size_t reserved;        /* writer: bytes from 0 with real blocks */
    char *path;             /* owned, for log lines */
} qr_idxfile_t;

/** Tells whether entry @p i (at @p p) of a preallocated file is in use. */
typedef int (*qr_idxfile_used_fn)(const uint8_t *p, size_t i);

/**
 * @brief Opens (or creates) an index file and maps it.
 * @param path     borrowed.
 * @param create   1: create or truncate it, preallocate @p max_bytes, map
 *                 it writable with no entries.
 * @param writable for an existing file: 1 maps it writable, preallocated to
 *                 @p max_bytes, and counts its entries as the leading run
 *                 @p used accepts; 0 maps it read-only at its size, which
 *                 must be a multiple of the entry size.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND when it does not exist (and
 *          @p create is 0); QUIRE_ERR_CORRUPT_MESSAGE for a size that is not
 *          a whole number of entries; QUIRE_ERR_KAFKA_STORAGE_ERROR when a
 *          system call fails (logged with errno).
 * @locality any  @locks the owner's (partition lock, or single-threaded open)
 */
quire_err_t qr_idxfile_open(qr_idxfile_t *f, const char *path,
                            size_t entry_size, size_t max_bytes, int create,
                            int writable, qr_idxfile_used_fn used);

/**
 * @brief Makes sure entry @p n has disk blocks before it is stored (the
 * file is sparse past the entries written).
 * @returns 0; -1 when the disk is full (logged; the file then counts as
 *          full, so the segment rolls).
 * @locality any  @locks partition lock (the single writer)
 */
int qr_idxfile_reserve(qr_idxfile_t *f, size_t n);

/** @brief Pointer to entry @p i (i < capacity). @locality any @locks none */
static inline uint8_t *qr_idxfile_at(const qr_idxfile_t *f, size_t i)
{
    return f->map + i * f->entry_size;
}

/** @brief The published entry count (acquire). @locality any @locks none */
static inline size_t qr_idxfile_count(const qr_idxfile_t *f)
{
    return atomic_load_explicit(&f->entries, memory_order_acquire);
}

/**
 * @brief Trims the file to its entries, marks it read-only and closes its
 * fd; the mapping stays (readers may be inside it).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any  @locks partition lock (the single writer)
 */
quire_err_t qr_idxfile_trim(qr_idxfile_t *f);

/**
 * @brief fsync of the file, which on Linux covers the entries written
 * through the mapping (sealed segments, before the recovery point moves
 * past them), reopening it by name when its fd was dropped (a file renamed
 * away by retention is skipped).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality flusher  @locks none
 */
quire_err_t qr_idxfile_sync(qr_idxfile_t *f);

/**
 * @brief Closes the fd of a read-only (sealed) index; the mapping stays.
 * Sealed indexes hold none.
 * @locality any  @locks partition lock or the flusher owning the sync
 */
void qr_idxfile_drop_fd(qr_idxfile_t *f);

/** @brief Unmaps and closes; safe on a zeroed or closed struct.
 * @locality any  @locks none (no reader may use it any more) */
void qr_idxfile_close(qr_idxfile_t *f);

/* ---- the offset index ---- */

#define QR_INDEX_ENTRY_SIZE 8

typedef struct qr_index {
    int64_t base_offset; /* the segment's */
    qr_idxfile_t f;
} qr_index_t;

/**
 * @brief Opens or creates the offset index at @p path (see
 * qr_idxfile_open() for @p create / @p writable and the errors).
 * @param idx caller's storage (embedded in the segment), filled on success.
 * @locality any  @locks the segment's writer (partition lock) or open time
 */
quire_err_t qr_index_open(qr_index_t *idx, const char *path,
                          int64_t base_offset, size_t max_bytes, int create,
                          int writable);

/**
 * @brief Appends (offset, position); both must exceed the last entry's.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BUF_FULL when full (the caller rolls);
 *          QUIRE_ERR_STATE when read-only, not increasing or out of the
 *          32-bit relative range (a bug of the caller: nothing is written).
 * @locality any  @locks partition lock (the single writer)
 */
quire_err_t qr_index_append(qr_index_t *idx, int64_t offset, uint32_t pos);

/** @brief Whether no entry can be appended. @locks partition lock */
int qr_index_full(const qr_index_t *idx);

/** @brief Published entry count. @locality any @locks none */
size_t qr_index_entries(const qr_index_t *idx);

/** @brief Entry @p i (< qr_index_entries()). @locality any @locks none */
void qr_index_entry(const qr_index_t *idx, size_t i, int64_t *offset,
                    uint32_t *pos);

/**
 * @brief The greatest entry whose offset is <= @p offset: a batch boundary
 * at or before the batch holding @p offset. Without one, the segment start
 * (base offset, position 0). O(log entries), lock-free.
 * @locality any  @locks none
 */
void qr_index_lookup(const qr_index_t *idx, int64_t offset, int64_t *ent_off,
                     uint32_t *ent_pos);

/**
 * @brief qr_index_lookup(), and the position of the entry after the one
 * found (0 when there is none): the batch holding @p offset starts in
 * [*@p ent_pos, *@p next_pos), so a scan for it has a bound.
 * @locality any  @locks none
 */
void qr_index_lookup_bound(const qr_index_t *idx, int64_t offset,
                           int64_t *ent_off, uint32_t *ent_pos,
                           uint32_t *next_pos);

/**
 * @brief The greatest entry whose position is <= @p pos (position 0 when
 * none): a batch boundary at or before @p pos.
 * @locality any  @locks none
 */
void qr_index_lookup_pos(const qr_index_t *idx, uint32_t pos, int64_t *ent_off,
                         uint32_t *ent_pos);

/**
 * @brief Checks every entry: offsets and positions strictly increasing,
 * offsets above the base, positions below @p log_size (the log bytes).
 * @param why set to a static reason on failure (may be NULL).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_CORRUPT_MESSAGE.
 * @locality any  @locks none
 */
quire_err_t qr_index_check(const qr_index_t *idx, uint64_t log_size,
                           const char **why);

/** @brief See qr_idxfile_trim(). */
quire_err_t qr_index_trim(qr_index_t *idx);

/** @brief See qr_idxfile_sync(). */
quire_err_t qr_index_sync(qr_index_t *idx);

/** @brief See qr_idxfile_close(). */
void qr_index_close(qr_index_t *idx);

#endif /* QR_INDEX_H */
