/*
 * epochcache: the leader epochs of one partition's log (issue 16 item 6,
 * Kafka's LeaderEpochFileCache, KIP-101 / KIP-279): for every leader epoch
 * that wrote to the log, the first offset it wrote. A follower asks its
 * leader where its own latest epoch ends (OffsetsForLeaderEpoch) and
 * truncates there, never by its high watermark alone.
 *
 *   <partition dir>/leader-epoch-checkpoint   Kafka's text format:
 *       0                          version
 *       N                          number of entries
 *       <epoch> <start offset>     N lines, epochs and offsets increasing
 *
 * The file is rewritten atomically (temp file, fsync, rename, fsync of the
 * directory: qr_ckpt_write_file()) by qr_epochcache_persist(). The
 * partition log persists it in each sync of its data, before the recovery
 * point moves (issue 14: not on the appending thread, where its three
 * fsyncs cost 8-12 ms at every partition's first append), so the file is
 * never behind the durable part of the log: every epoch starting below
 * the recovery point is in it. After a crash it may be behind the log past
 * the recovery point (the log re-learns those epochs from the batches
 * recovery reads, as Kafka's LogSegment.recover does) or ahead of it (the
 * log truncates it to its recovered end: qr_epochcache_truncate_from_end()).
 *
 * Ownership: the partition log (partlog.c) owns one cache per partition
 * (qr_epochcache_new() .. qr_epochcache_destroy()); nothing else holds it.
 * Locks: a mutex of its own, a leaf (taken under the partition lock, never
 * the other way round), and a write lock serialising writers of the file
 * (taken before the mutex; under the partition lock or without it). Every
 * function may be called from any thread.
 */
#ifndef QR_EPOCHCACHE_H
#define QR_EPOCHCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define QR_EPOCHCACHE_FILE "leader-epoch-checkpoint"
/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
#define QR_EPOCH_UNDEFINED        (-1)
#define QR_EPOCH_UNDEFINED_OFFSET (-1LL)
/** Largest leader-epoch-checkpoint read (bound before allocating). */
#define QR_EPOCHCACHE_MAX_BYTES (16u << 20)

typedef struct qr_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} qr_epoch_entry_t;

typedef struct qr_epochcache qr_epochcache_t;

/**
 * @brief An empty cache for the partition directory @p dir; no I/O.
 * @param dir, name  borrowed (copied); name is "topic-partition" for logs.
 * @returns owned; free with qr_epochcache_destroy().
 * @locality any  @locks none
 */
qr_epochcache_t *qr_epochcache_new(const char *dir, const char *name);

/** @brief Frees the cache (accepts NULL). @locality any @locks none */
void qr_epochcache_destroy(qr_epochcache_t *ec);

/**
 * @brief Loads <dir>/leader-epoch-checkpoint, replacing the entries.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND (no file: the cache is
 *          empty); QUIRE_ERR_CORRUPT_MESSAGE for a bad version, count or
 *          line, epochs or offsets not increasing, or a file over
 *          QR_EPOCHCACHE_MAX_BYTES (the cache is then empty; the culprit in
 *          @p errstr); QUIRE_ERR_IO.
 * @locality any  @locks takes the cache's lock
 */
quire_err_t qr_epochcache_load(qr_epochcache_t *ec, char *errstr,
                               size_t errstr_size);

/**
 * @brief Records that @p epoch starts at @p start_offset (Kafka's assign):
 * nothing when @p epoch is the latest already (its first offset stays) or
 * negative; else every entry with an epoch >= @p epoch or a start offset
 * >= @p start_offset is dropped (they conflict with it) and the entry
 * added. In memory only: qr_epochcache_persist() writes it.
 * @returns 1 when the entries changed, else 0.
 * @locality any  @locks takes the cache's lock
 */
int qr_epochcache_assign(qr_epochcache_t *ec, int32_t epoch,
                         int64_t start_offset);

/**
 * @brief Drops the entries whose start offset is >= @p end_offset (the log
 * was truncated to @p end_offset). In memory only.
 * @returns 1 when the entries changed, else 0.
 * @locality any  @locks takes the cache's lock
 */
int qr_epochcache_truncate_from_end(qr_epochcache_t *ec, int64_t end_offset);

/**
 * @brief The log now starts at @p start_offset (retention): entries wholly
 * below it go, and the last of them that still covers it starts at it.
 * In memory only.
 * @returns 1 when the entries changed, else 0.
 * @locality any  @locks takes the cache's lock
 */
int qr_epochcache_truncate_from_start(qr_epochcache_t *ec,
                                      int64_t start_offset);

/** @brief Drops every entry (the log was emptied). In memory only.
 * @returns 1 when the entries changed. @locks takes the cache's lock */
int qr_epochcache_clear(qr_epochcache_t *ec);

/**
 * @brief Writes the file when the entries changed since it was last
 * written or loaded (atomically, durably). The entries are copied under
 * the cache's lock and written without it: changes made during the write
 * stay to be written by the next call.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any (it syncs)  @locks takes the cache's write lock, then
 *           briefly its lock
 */
quire_err_t qr_epochcache_persist(qr_epochcache_t *ec);

/** @brief 1 when the entries changed since the file was written or loaded.
 * @locality any @locks takes the cache's lock */
int qr_epochcache_dirty(qr_epochcache_t *ec);

/** @brief The latest epoch, QR_EPOCH_UNDEFINED when there is none.
 * @locality any @locks takes the cache's lock */
int32_t qr_epochcache_latest(qr_epochcache_t *ec);

/**
 * @brief KIP-279's answer to "where does @p epoch end", for a log whose end
 * is @p log_end:
 *  - @p epoch is the latest: (epoch, log_end);
 *  - @p epoch is QR_EPOCH_UNDEFINED, newer than the latest, or the cache
 *    is empty: (QR_EPOCH_UNDEFINED, QR_EPOCH_UNDEFINED_OFFSET);
 *  - older than every entry: (@p epoch, the first entry's start offset):
 *    the data is gone from the log, the follower starts at its start;
 *  - else: the greatest epoch <= @p epoch the cache holds, and the start
 *    offset of the first epoch after @p epoch.
 * @locality any  @locks takes the cache's lock
 */
void qr_epochcache_end_offset_for(qr_epochcache_t *ec, int32_t epoch,
                                  int64_t log_end, int32_t *found_epoch,
                                  int64_t *end_offset);

/**
 * @brief Copies up to @p max entries into @p out (oldest first).
 * @returns the number of entries in the cache (may exceed @p max).
 * @locality any  @locks takes the cache's lock
 */
size_t qr_epochcache_entries(qr_epochcache_t *ec, qr_epoch_entry_t *out,
                             size_t max);

#endif /* QR_EPOCHCACHE_H */
