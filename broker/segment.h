/*
 * segment: one segment of a partition log (DESIGN.md §3): the .log file of
 * whole record batches and its two indexes, named by the 20-digit base
 * offset in the partition's directory.
 *
 * Published state. The appender (holding the partition lock) writes batches
 * with one pwrite(), adds index entries, and only then publishes the new end
 * position (`size`) and `next_offset` with release stores. Readers load them
 * with acquire and never look past them, so they see only complete batches
 * and never need the partition lock.
 *
 * Lifetime. A segment is refcounted (qr_seg_keep/qr_seg_release, atomics):
 * the partition's segment list holds one reference, and every read slice
 * holds one while the network layer sendfile()s from the fd. Files are
 * renamed to ".deleted" by retention and unlinked after
 * log.segment.delete.delay.ms; the fd and mappings are closed only when the
 * last reference goes, so a sendfile in flight is never cut.
 *
 * Open files (issue 17 item 2). A sealed segment's .log fd and index maps
 * are closed when it has not been read for a while and more than
 * log.open.segments.max sealed segments (over all partitions) are open:
 * a CLOCK sweep (an LRU approximation whose hit costs one atomic store)
 * closes unreferenced ones, and qr_seg_use() reopens on demand. Only a
 * segment whose one reference is the partition's list is closed, so a
 * holder of a reference that called qr_seg_use() keeps its fd and maps
 * until it releases. The active segment is never closed. So the number of
 * segments on disk does not bound the broker: fds and maps are.
 */
#ifndef QR_SEGMENT_H
#define QR_SEGMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batch.h"
#include "err.h"
#include "index.h"
#include "timeindex.h"

/** Settings a segment needs from the partition's config. */
typedef struct qr_seg_opts {
    uint32_t index_interval_bytes; /* log.index.interval.bytes */
    size_t index_max_bytes;        /* log.index.size.max.bytes */
} qr_seg_opts_t;

typedef struct qr_seg {
    /* Everything a lookup reads comes first, in the struct's first 64
     * bytes (the index's map and count included): with thousands of
     * segments the segment a random lookup lands on is cold, and each
     * cache line is a miss. */
    int64_t base_offset;
    int fd; /* the .log, O_RDWR; valid until the last release */
    _Atomic int refcnt;
    _Atomic uint64_t size;       /* published end position */
    _Atomic int64_t next_offset; /* published: offset after the last batch */
    qr_index_t idx;
    qr_tindex_t tidx;
    _Atomic int64_t max_ts; /* greatest batch maxTimestamp, -1: none */

    /* appender state: partition lock */
    int64_t max_ts_offset;      /* offset of the batch carrying max_ts */
    uint32_t bytes_since_index; /* log bytes since the last index entry */
    int64_t roll_base_ms;       /* log.roll.ms counts from here: first append */
    _Atomic int sealed;         /* rolled or closed: indexes trimmed */
    int idx_synced;             /* sync_lock: indexes fsync'd once sealed */
    pthread_mutex_t sync_lock;  /* leaf lock: that one-time index sync */
    qr_seg_opts_t opts;

    /* retention: partition lock */
    int deleted;          /* files renamed to .deleted */
    int64_t delete_at_ms; /* unlink the .deleted files from then on */
    struct qr_seg *next_deleted;

    char *dir; /* owned copy of the partition directory */

    /* open files (see the file comment): files_open and referenced are
     * atomics; the cache links are the cache lock's */
    _Atomic int files_open;    /* fd and maps valid */
    _Atomic int referenced;    /* read since the sweep last passed */
    pthread_mutex_t open_lock; /* a reopen and a close exclude each other */
    struct qr_seg *lru_prev, *lru_next;
    int in_cache;
} qr_seg_t;

/**
 * @brief Sets how many sealed segments, over the whole process, keep their
 * files open (log.open.segments.max); closes the excess at the next add.
 * @locality main (start-up)  @locks takes the cache lock
 */
void qr_seg_cache_set_max(size_t max);

/** @brief Sealed segments with open files now (tests). @locks cache lock */
size_t qr_seg_cache_open_count(void);

/**
 * @brief Makes sure the segment's .log fd and index maps are open (reopens
 * them after the cache closed them) and marks it recently used. The caller
 * holds a reference; the files stay open until it releases it.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any  @locks takes the segment's open_lock when it reopens
 */
quire_err_t qr_seg_use(qr_seg_t *seg);

/**
 * @brief Closes a sealed segment's files now (open time: thousands of
 * segments are opened one after the other); qr_seg_use() reopens them.
 * @locality any  @locks the partition is not shared yet
 */
void qr_seg_close_files(qr_seg_t *seg);

/**
 * @brief Hands a sealed segment with open files to the cache, which may
 * then close it (or others) beyond log.open.segments.max.
 * @locality any  @locks takes the cache lock
 */
void qr_seg_cache_add(qr_seg_t *seg);

/**
 * @brief Creates an empty active segment (truncating a leftover empty one of
 * the same base), with preallocated writable indexes.
 * @param dir  borrowed (copied).
 * @param segp set to the new segment (owned, refcount 1) on success.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged with the
 *          path and errno; ENOSPC when the disk is full).
 * @locality any  @locks partition lock
 */
quire_err_t qr_seg_create(const char *dir, int64_t base_offset,
                          const qr_seg_opts_t *opts, qr_seg_t **segp);

/**
 * @brief Opens an existing segment's .log and its indexes, without
 * scanning: size is the file size, next_offset unknown (= base) until
 * qr_recovery_load_segment() or qr_recovery_recover_segment() runs.
 * @param active 1 maps the indexes writable and preallocated.
 * @param idx_ok set to 1 when both indexes opened and passed their checks,
 *               0 when one is missing or corrupt (recovery rebuilds it).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any  @locks partition lock (open time)
 */
quire_err_t qr_seg_open(const char *dir, int64_t base_offset,
                        const qr_seg_opts_t *opts, int active, qr_seg_t **segp,
                        int *idx_ok);

/**
 * @brief Drops and re-creates both indexes (empty, writable), for a rebuild.
 * @locality any  @locks partition lock
 */
quire_err_t qr_seg_reset_indexes(qr_seg_t *seg);

/** @brief Takes a reference. @locality any @locks none */
void qr_seg_keep(qr_seg_t *seg);

/**
 * @brief Drops a reference; the last one closes the fd, unmaps the indexes
 * and frees @p seg. Never unlinks files. Accepts NULL.
 * @locality any  @locks none
 */
void qr_seg_release(qr_seg_t *seg);

/** @brief Published end position (acquire). @locality any @locks none */
static inline uint64_t qr_seg_size(const qr_seg_t *seg)
{
    return atomic_load_explicit(&seg->size, memory_order_acquire);
}

/**
 * @brief Reads and sanity-checks the batch header at @p pos: it must lie
 * within [@p pos, @p end), have a length of at least the v2 header, magic 2
 * and a non-negative lastOffsetDelta. The CRC is not checked.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_TRUNCATED when the batch runs past
 *          @p end; QUIRE_ERR_CORRUPT_MESSAGE; QUIRE_ERR_KAFKA_STORAGE_ERROR
 *          for a failed pread (logged).
 * @locality any  @locks none
 */
quire_err_t qr_seg_read_hdr(const qr_seg_t *seg, uint64_t pos, uint64_t end,
                            qr_batch_hdr_t *hdr);

/**
 * @brief Appends @p len bytes of whole batches (base offsets already
 * assigned, at least one batch) with one pwrite() at the end position, adds
 * index entries, then publishes the new end. On failure the file is cut
 * back to its old size: no partial batch is ever visible.
 * @param data  borrowed; the batches are walked with qr_batch_hdr_read().
 * @param sys_errno set to the errno of a failed write or ftruncate (0 if
 *        none), so the caller can tell a full disk from a broken one.
 * @param cut_failed set to 1 when even the ftruncate back failed (the
 *        segment can no longer be trusted).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality any  @locks partition lock
 */
quire_err_t qr_seg_append(qr_seg_t *seg, const uint8_t *data, size_t len,
                          int *sys_errno, int *cut_failed);

/**
 * @brief Records a batch just appended or scanned in the indexes (the
 * index-interval rule) and the greatest timestamp. Used by append and by
 * index rebuilds.
 * @locality any  @locks partition lock
 */
void qr_seg_index_batch(qr_seg_t *seg, const qr_batch_hdr_t *hdr, uint32_t pos);

/**
 * @brief Finds the batch that holds @p offset in [0, @p end): the index,
 * then a forward scan over batch headers.
 * @param pos  set to the batch's position.
 * @param hdr  set to its header.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND when every batch below
 *          @p end ends before @p offset; a qr_seg_read_hdr() error.
 * @locality any  @locks none (a reference on @p seg)
 */
quire_err_t qr_seg_find(const qr_seg_t *seg, int64_t offset, uint64_t end,
                        uint64_t *pos, qr_batch_hdr_t *hdr);

/**
 * @brief Bytes of whole batches from @p pos (a batch start) up to
 * @p max_bytes, and at least the first batch even when it alone is larger
 * (KIP-74); never past @p end. When everything up to @p end fits, that is
 * the answer with no read (@p end is a published batch boundary); else the
 * index skips to the last boundary before @p pos + @p max_bytes and the
 * few batch headers after it are read.
 * @param first the header of the batch at @p pos, as qr_seg_find() gave it
 *              (borrowed; not read again).
 * @param len   set to the byte count.
 * @returns QUIRE_ERR_NONE or a qr_seg_read_hdr() error.
 * @locality any  @locks none (a reference on @p seg)
 */
quire_err_t qr_seg_slice(const qr_seg_t *seg, uint64_t pos,
                         const qr_batch_hdr_t *first, uint64_t end,
                         size_t max_bytes, size_t *len);

/**
 * @brief qr_seg_find() then qr_seg_slice(): the fetch's answer from this
 * segment. An index entry for exactly @p offset, with the rest of the
 * segment within @p max_bytes, answers with no read at all (the index is
 * trusted below the published end, as the batches after the first are).
 * @param pos, base_offset, len  set on success: the first batch's position
 *        and base offset, the bytes of whole batches.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND as qr_seg_find(); a
 *          qr_seg_read_hdr() error.
 * @locality any  @locks none (a reference on @p seg)
 */
quire_err_t qr_seg_locate(const qr_seg_t *seg, int64_t offset, uint64_t end,
                          size_t max_bytes, uint64_t *pos, int64_t *base_offset,
                          size_t *len);

/**
 * @brief The base offset of the first batch in [0, @p end) whose
 * maxTimestamp is >= @p timestamp (batch granularity: the broker never
 * decompresses, so it does not look inside batches).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND; a qr_seg_read_hdr() error.
 * @locality any  @locks none (a reference on @p seg)
 */
quire_err_t qr_seg_find_ts(const qr_seg_t *seg, int64_t timestamp, uint64_t end,
                           int64_t *offset);

/**
 * @brief Seals the segment (roll, close): a last time-index entry with the
 * greatest timestamp, then both indexes trimmed to their entries.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any  @locks partition lock
 */
quire_err_t qr_seg_seal(qr_seg_t *seg);

/**
 * @brief fdatasync() of the .log; for a sealed segment, the first time, its
 * indexes too. The caller holds a reference.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality flusher (or close/shutdown)  @locks none
 */
quire_err_t qr_seg_flush(qr_seg_t *seg);

/**
 * @brief qr_seg_flush() without the fdatasync() of the .log: for a sealed
 * segment, the first time, the fsync of its indexes (nothing otherwise).
 * For a caller that synced the .log after its last write (a close).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality flusher (or close/shutdown)  @locks none
 */
quire_err_t qr_seg_sync_indexes(qr_seg_t *seg);

/**
 * @brief Cuts the .log at @p pos (recovery), and publishes the new size.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any  @locks partition lock (open time)
 */
quire_err_t qr_seg_truncate(qr_seg_t *seg, uint64_t pos);

/**
 * @brief A truncation of a live log (a follower's, issue 16): a new segment
 * object for @p old's files, its .log cut at @p pos (a batch boundary) and
 * its index files unlinked; the caller rebuilds the indexes with
 * qr_recovery_recover_segment(), which makes it the writable active
 * segment. @p old stays valid for the readers that hold it (their fd and
 * mappings are theirs) and is dropped from the partition by the caller.
 * @param segp set to the new segment (owned, refcount 1) on success.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any  @locks partition lock
 */
quire_err_t qr_seg_reopen_cut(const qr_seg_t *old, uint64_t pos,
                              qr_seg_t **segp);

/**
 * @brief Renames the three files to "<name>.deleted" (retention's first
 * step); the fd stays open.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any  @locks partition lock
 */
quire_err_t qr_seg_mark_deleted(qr_seg_t *seg);

/**
 * @brief Unlinks the segment's files (".deleted" names when marked, plain
 * names otherwise); missing files are not an error.
 * @locality any  @locks partition lock or sole owner
 */
void qr_seg_unlink(qr_seg_t *seg);

/** @brief Writes "<dir>/<base><suffix>" (suffix such as ".log"). */
int qr_seg_path(const qr_seg_t *seg, const char *suffix, char *out,
                size_t size);

#endif /* QR_SEGMENT_H */
