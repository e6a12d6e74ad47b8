/*
 * partlog: the log of one partition (DESIGN.md §3-4): a directory
 * <log.dir>/<topic>-<partition>/ of segments (segment.h), with append, read
 * for fetch (fd, position, length for sendfile), ListOffsets, roll, the
 * durability requests of acks=all (group commit on the flusher threads) and
 * recovery at open.
 *
 * ---- For the network server ----
 *
 *   open       qr_logmgr_open_part() (logmgr.h) normally; qr_plog_open() for
 *              a bare log. Every path is built only after
 *              qr_topic_name_check().
 *   produce    qr_plog_append(part, batches, len, &base, &last): the bytes
 *              from the wire, already checked by the caller with
 *              qr_batch_validate(QR_BATCH_CHECK_CRC); one or several
 *              concatenated batches. The baseOffset fields are rewritten in
 *              place. ENOSPC/EFBIG -> QUIRE_ERR_KAFKA_STORAGE_ERROR, nothing
 *              of the payload visible, next append works once space is
 *              back.
 *   acks=all   qr_plog_flush_request(part, last, cb, opaque, &durable): cb
 *              runs on a flusher thread once offsets <= last are on disk
 *              (fdatasync), shared with every request that arrived
 *              meanwhile (group commit). If already durable, *durable = 1
 *              and cb is never called: answer at once.
 *   fetch      qr_plog_read(part, offset, max_bytes, &slice): whole batches
 *              from the one holding offset; sendfile(slice.fd, slice.pos,
 *              slice.len), then qr_plog_slice_release(&slice). The segment
 *              stays open (refcount) until then, even if retention deletes
 *              it meanwhile. Empty slice (len 0) at the log end.
 *   long poll  opts.on_append(opaque, part, visible_end) runs each time
 *              the visible end (the high watermark) moves, with no lock
 *              held: on the appending thread with write caching on, on a
 *              flusher thread with it off. Wake waiting fetches (ev_async)
 *              from there.
 *   offsets    qr_plog_log_start(), qr_plog_log_end(), qr_plog_high_watermark()
 *              (the visible end: see below; replication's high watermark
 *              will later take the same place), qr_plog_offset_for_time()
 *              for ListOffsets.
 *
 * ---- What consumers see (the visible end) ----
 *
 * Fetches and ListOffsets latest never go past the high watermark. With
 * write caching off (conf.write_caching 0, the broker's default,
 * log.write.caching=false), the high watermark is the synced end: every
 * append queues a background sync (group commit), and the high watermark
 * moves to the end that sync covered only once it succeeded; so no
 * consumer ever reads a record a power loss can take back (Redpanda's
 * write_caching=false). With write caching on (Kafka's behaviour and
 * qr_plog_conf_defaults()), it is the log end: consumers may read what is
 * still only in the page cache.
 *
 * ---- Durability of the directory ----
 *
 * Every create, rename and unlink that acknowledged data or a deletion
 * depends on is followed by an fsync of its directory before it is relied
 * on: a new partition directory's mkdir and its first segment (the first
 * sync of its data fsyncs the log dir and the directory first: an empty
 * partition lost to a power loss is created again); a roll's new files
 * (the sync that acknowledges their first records fsyncs the directory
 * first); leader-epoch-checkpoint (written by the sync that covers the
 * batch starting a new epoch, before the recovery point passes it);
 * retention's renames (before
 * the log start moves); recovery's cuts and deletions (before open
 * returns); a topic deletion's rename (before qr_plog_delete() returns).
 *
 * ---- After a failed sync ----
 *
 * A failed fdatasync (or directory fsync) takes the partition offline and
 * leaves a marker file with the recovery point (QR_PLOG_FSYNC_FAILED_FILE).
 * Nothing of the partition is acknowledged, made visible or moves the
 * recovery point again: the periodic flush, the flush job, close and
 * qr_plog_flush() all check the state under the sync lock. The next open
 * (a reopen in the same process or a restart) finds the marker, drops the
 * page cache of the files, recovers from the recovery point and truncates
 * the log back to it, syncs the result and only then removes the marker.
 *
 * ---- Locks (the order, outermost first) ----
 *
 *   1. logmgr's lock (logmgr.h)
 *   1b. part->sync_lock: one sync at a time and its outcome (no other
 *      partition lock held when it is taken).
 *   2. part->lock: the partition lock. Append (a pwrite into the page
 *      cache), roll, retention, close. Held briefly.
 *   3. part->segs_lock: rwlock over the segment array. Written only to add
 *      (roll) or remove (retention, recovery) segments; read by readers and
 *      flushers to find and pin a segment.
 *   4. part->flush_lock: flush waiters and flusher scheduling.
 *   5. the flusher's queue lock (flusher.h); part->hw_lock (a leaf).
 *
 * Readers take only segs_lock (read side, a few instructions) and then work
 * lock-free on the pinned segment's published end; so they run concurrently
 * with the appender and see only complete batches. fdatasync runs with no
 * lock held. Callbacks (on_append, flush) are called with no lock held.
 *
 * ---- Lifetime ----
 *
 * A partition is refcounted (qr_plog_keep/qr_plog_release): shared by the
 * network threads, the flushers (while a flush job is queued or running)
 * and the manager. qr_plog_close()/qr_plog_delete() end it (appends and
 * reads then fail with NOT_LEADER_FOR_PARTITION); memory goes with the last
 * reference.
 */
#ifndef QR_PARTLOG_H
#define QR_PARTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "flusher.h"
#include "segment.h"

/**
 * Per-partition log settings: Kafka's keys, meanings and defaults. The
 * broker's table (server.properties) fills the defaults; per-topic
 * overrides are a copy the caller changes and passes in. "Never" is
 * INT64_MAX; "no limit" is -1.
 */
typedef struct qr_plog_conf {
    int64_t segment_bytes;           /* log.segment.bytes: 1 GiB, <= 2^31-1 */
    int64_t roll_ms;                 /* log.roll.ms (.hours): 168 h */
    int64_t retention_ms;            /* log.retention.ms (.hours): 168 h; -1:
                                        no limit */
    int64_t retention_bytes;         /* log.retention.bytes: -1, no limit */
    int64_t index_interval_bytes;    /* log.index.interval.bytes: 4096 */
    int64_t index_size_max_bytes;    /* log.index.size.max.bytes: 10 MiB */
    int64_t flush_interval_messages; /* log.flush.interval.messages: never */
    int64_t flush_interval_ms;       /* log.flush.interval.ms: never */
    int64_t segment_delete_delay_ms; /* log.segment.delete.delay.ms: 60 s */
    int64_t retention_check_interval_ms; /* log.retention.check.interval.ms:
                                            300 s (read by logmgr from its
                                            default conf) */
    int64_t write_caching; /* 1: the high watermark is the log end (Kafka,
                              and this default); 0: the synced end, every
                              append synced in the background (the broker's
                              log.write.caching=false; topic write.caching) */
} qr_plog_conf_t;

/**
 * @brief Fills @p conf with Kafka's defaults.
 * @locality any  @locks none
 */
void qr_plog_conf_defaults(qr_plog_conf_t *conf);

/**
 * @brief Checks ranges (segment_bytes in [14 + 61, 2^31-1], index sizes of
 * at least one entry, intervals >= 0, ...).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_INVALID_CONFIG with the key in
 *          @p errstr.
 * @locality any  @locks none
 */
quire_err_t qr_plog_conf_check(const qr_plog_conf_t *conf, char *errstr,
                               size_t errstr_size);

typedef struct qr_plog qr_plog_t;

/** Called after an append is published; see the file comment. */
typedef void(qr_plog_append_cb)(void *opaque, qr_plog_t *part, int64_t log_end);

/**
 * Called once per flush request, on a flusher thread (or on the thread of
 * qr_plog_flush()/qr_plog_close()), with no lock held: @p err is
 * QUIRE_ERR_NONE when every offset <= @p last_offset is durable,
 * QUIRE_ERR_KAFKA_STORAGE_ERROR when fdatasync failed (the partition is then
 * offline), QUIRE_ERR_NOT_LEADER_FOR_PARTITION when it was deleted first.
 */
typedef void(qr_plog_flush_cb)(void *opaque, qr_plog_t *part,
                               int64_t last_offset, quire_err_t err);

/** How qr_plog_open() finds and recovers the log. */
typedef struct qr_plog_open_opts {
    int clean;              /* the log dir had a clean-shutdown marker */
    int64_t recovery_point; /* from the checkpoint; -1: unknown (scan all) */
    int create;             /* create the directory when missing */
    qr_flusher_t *flusher;  /* borrowed; must outlive the partition; NULL:
                               only qr_plog_flush() (tools, tests) */
    qr_plog_append_cb *on_append; /* may be NULL */
    void *on_append_opaque;
} qr_plog_open_opts_t;

/**
 * @brief Opens (optionally creates) the log of @p topic / @p partition under
 * @p log_dir and recovers it: without @c clean, every segment from the one
 * holding the recovery point on is scanned, each batch checked (length,
 * CRC-32C, offsets increasing), a segment cut at its first bad or torn
 * batch, later segments kept when valid (the rule: recovery.c) and indexes
 * rebuilt; missing or corrupt indexes
 * are rebuilt in any case. Every action is logged with the partition and
 * byte position. Leftover ".deleted" files are removed.
 * @param log_dir, topic  borrowed (copied).
 * @param conf   borrowed (copied).
 * @param partp  set to the partition (owned: one reference) on success.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_INVALID_TOPIC_EXCEPTION (bad name,
 *          nothing touched); QUIRE_ERR_INVALID_CONFIG; QUIRE_ERR_NOT_FOUND
 *          (no directory and !create); QUIRE_ERR_KAFKA_STORAGE_ERROR.
 *          Detail in @p errstr.
 * @locality any (logmgr: main, at start-up or when told to lead)
 * @locks none
 */
quire_err_t qr_plog_open(const char *log_dir, const char *topic,
                         int32_t partition, const qr_plog_conf_t *conf,
                         const qr_plog_open_opts_t *opts, qr_plog_t **partp,
                         char *errstr, size_t errstr_size);

/** @brief Takes a reference. @locality any @locks none */
void qr_plog_keep(qr_plog_t *part);

/** @brief Drops a reference; the last frees memory (and releases the
 * segments). Accepts NULL. @locality any @locks none */
void qr_plog_release(qr_plog_t *part);

/**
 * @brief Ends the partition cleanly: no more appends, everything
 * fdatasync'd, the active segment sealed (indexes trimmed); outstanding
 * flush requests complete on this thread. Consumes the caller's reference.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality main, or one of logmgr's closer threads at shutdown (never a
 * network thread: it syncs); partitions close concurrently with each
 * other  @locks none
 */
quire_err_t qr_plog_close(qr_plog_t *part);

/**
 * @brief Ends the partition and removes its directory and files (topic
 * deleted). Outstanding flush requests complete with
 * NOT_LEADER_FOR_PARTITION. Pinned segments stay readable until released.
 * Consumes the caller's reference.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality main  @locks none
 */
quire_err_t qr_plog_delete(qr_plog_t *part);

/**
 * @brief Appends one or several concatenated batches; O(1), no per-record
 * work, no re-checksum: the broker writes each baseOffset (not covered by
 * the CRC) and the bytes with one pwrite().
 * @param data  borrowed, modified in place (baseOffset fields); validated
 *              by the caller with QR_BATCH_CHECK_CRC; only the headers are
 *              re-read here (magic, lengths).
 * @param base_offset set to the first offset assigned.
 * @param last_offset set to the last offset assigned (for flush requests).
 * @returns QUIRE_ERR_NONE;
 *   QUIRE_ERR_CORRUPT_MESSAGE for headers that do not tile @p len;
 *   QUIRE_ERR_MESSAGE_TOO_LARGE for a batch larger than segment_bytes;
 *   QUIRE_ERR_KAFKA_STORAGE_ERROR for a failed write (disk full: nothing of
 *     the payload is visible and the next append works once space is back;
 *     other errors take the partition offline);
 *   QUIRE_ERR_NOT_LEADER_FOR_PARTITION once closed or deleted.
 *   The payload is appended atomically when it fits in one segment (always
 *   with a segment at least socket.request.max.bytes); a larger payload is
 *   split over segments and an error after the first part leaves that part.
 * @locality net thread (any)  @locks takes part->lock
 */
quire_err_t qr_plog_append(qr_plog_t *part, uint8_t *data, size_t len,
                           int64_t *base_offset, int64_t *last_offset);

/** A range of a segment file to send: owns one segment reference. */
typedef struct qr_plog_slice {
    qr_seg_t *seg;       /* pinned; NULL for an empty slice */
    int fd;              /* seg->fd: valid until qr_plog_slice_release() */
    uint64_t pos;        /* file position of the first batch */
    size_t len;          /* bytes of whole batches; 0 at the log end */
    int64_t base_offset; /* baseOffset of the first batch (<= offset) */
} qr_plog_slice_t;

/**
 * @brief Finds whole batches for a fetch: starting at the batch holding
 * @p offset, as many as fit in @p max_bytes, at least one even when it is
 * larger (KIP-74), all from one segment. Binary search over segments, the
 * index, a short forward scan. Lock-free but for a read lock on the segment
 * array.
 * @param slice set on success; release it with qr_plog_slice_release().
 * @returns QUIRE_ERR_NONE (len may be 0 at the log end);
 *   QUIRE_ERR_OFFSET_OUT_OF_RANGE outside [log start, log end];
 *   QUIRE_ERR_KAFKA_STORAGE_ERROR (pread failed, partition offline);
 *   QUIRE_ERR_NOT_LEADER_FOR_PARTITION once closed.
 * @locality any (net thread)  @locks takes segs_lock (read) briefly
 */
quire_err_t qr_plog_read(qr_plog_t *part, int64_t offset, size_t max_bytes,
                         qr_plog_slice_t *slice);

/**
 * @brief As qr_plog_read(), but up to the log end instead of the visible
 * end: a follower's replica fetch (issue 16; Kafka's leader serves
 * followers up to its log end, consumers up to the high watermark).
 * @locality any (net thread)  @locks takes segs_lock (read) briefly
 */
quire_err_t qr_plog_read_replica(qr_plog_t *part, int64_t offset,
                                 size_t max_bytes, qr_plog_slice_t *slice);

/** @brief Releases the slice's segment (accepts an empty slice).
 * @locality any @locks none */
void qr_plog_slice_release(qr_plog_slice_t *slice);

/** @brief First offset kept. @locality any @locks none */
int64_t qr_plog_log_start(const qr_plog_t *part);
/** @brief Offset the next append gets (log end offset). @locality any */
int64_t qr_plog_log_end(const qr_plog_t *part);
/** @brief High watermark (today = log end). @locality any @locks none */
int64_t qr_plog_high_watermark(const qr_plog_t *part);
/** @brief Offsets below this are known durable. @locality any */
int64_t qr_plog_recovery_point(const qr_plog_t *part);

#define QR_PLOG_TS_LATEST   (-1) /* Kafka ListOffsets timestamp -1 */
#define QR_PLOG_TS_EARLIEST (-2) /* Kafka ListOffsets timestamp -2 */

/**
 * @brief ListOffsets: QR_PLOG_TS_EARLIEST gives the log start,
 * QR_PLOG_TS_LATEST the high watermark, a timestamp >= 0 the base offset of
 * the first batch whose maxTimestamp is >= it (through the time indexes),
 * or -1 when there is none.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_INVALID_REQUEST for another negative
 *          timestamp; QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality any  @locks takes segs_lock (read) briefly
 */
quire_err_t qr_plog_offset_for_time(qr_plog_t *part, int64_t timestamp,
                                    int64_t *offset);

/**
 * @brief Asks for offsets <= @p last_offset to be made durable. The
 * fdatasync runs on a flusher thread; every request queued while one runs
 * is served by the next one (group commit).
 * @param cb, opaque  called exactly once (see qr_plog_flush_cb) unless
 *                    *@p durable is set; opaque is the caller's.
 * @param durable set to 1 when already durable (cb not called), else 0.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_KAFKA_STORAGE_ERROR when offline;
 *          QUIRE_ERR_NOT_LEADER_FOR_PARTITION when closed; QUIRE_ERR_STATE
 *          when the log has no flusher.
 * @locality net thread (any)  @locks takes part->flush_lock
 */
quire_err_t qr_plog_flush_request(qr_plog_t *part, int64_t last_offset,
                                  qr_plog_flush_cb *cb, void *opaque,
                                  int *durable);

/**
 * @brief Makes everything appended so far durable on the calling thread
 * and completes the flush requests it covers (their callbacks run here).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality never a network thread (flusher, main, tools)  @locks none
 */
quire_err_t qr_plog_flush(qr_plog_t *part);

/**
 * @brief Periodic work by time: queues a flush when log.flush.interval.ms
 * has passed since the last one and data is waiting.
 * @locality logmgr's janitor thread  @locks takes part->flush_lock
 */
void qr_plog_periodic(qr_plog_t *part, int64_t now_ms);

/**
 * @brief Replaces the partition's settings (a per-topic override changed).
 * New sizes apply from the next roll.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_INVALID_CONFIG (errstr).
 * @locality any  @locks takes part->lock
 */
quire_err_t qr_plog_set_conf(qr_plog_t *part, const qr_plog_conf_t *conf,
                             char *errstr, size_t errstr_size);

/** @brief A copy of the settings. @locality any @locks takes part->lock */
void qr_plog_get_conf(qr_plog_t *part, qr_plog_conf_t *conf);

/** @brief "topic-partition", for logs. @returns borrowed, valid while a
 * reference is held. @locality any @locks none */
const char *qr_plog_name(const qr_plog_t *part);
/** @brief The topic. @returns borrowed, as qr_plog_name(). */
const char *qr_plog_topic(const qr_plog_t *part);
/** @brief The partition number. */
int32_t qr_plog_partition(const qr_plog_t *part);
/** @brief The partition's directory. @returns borrowed, as qr_plog_name().*/
const char *qr_plog_dir(const qr_plog_t *part);
/** @brief Whether the partition went offline (a write or sync failed with
 * something other than a full disk). @locality any @locks none */
int qr_plog_offline(const qr_plog_t *part);
/** @brief Number of segments. @locality any @locks takes segs_lock */
size_t qr_plog_segment_count(qr_plog_t *part);
/** @brief Bytes of all segments' logs. @locality any @locks segs_lock */
uint64_t qr_plog_size_bytes(qr_plog_t *part);
/** @brief Milliseconds of the wall clock, the clock of batch timestamps,
 * retention and log.roll.ms. @locality any @locks none */
int64_t qr_plog_now_ms(void);
/** @brief fdatasync calls made for this log (benchmarks, tests). */
unsigned long long qr_plog_sync_count(const qr_plog_t *part);

/* ---- Replication (issue 16; /work/wt/REPL.md "The partition log") ---- */

/**
 * @brief Leader epoch of this replica's appends: every batch
 * qr_plog_append() writes from now on gets partitionLeaderEpoch = @p epoch
 * (not covered by the CRC, like baseOffset), and the epoch cache gains
 * (epoch, first offset) at the first such append, durably before the
 * batch is written. Set when becoming leader. Until it is set (a log
 * nobody set it on), appends keep the producer's field, as before
 * replication, and the cache is not touched by them.
 * @locality any  @locks none
 */
void qr_plog_set_leader_epoch(qr_plog_t *part, int32_t epoch);

/**
 * @brief Follower append: the leader's batches byte for byte, offsets and
 * epochs already in them (nothing rewritten). The first batch must start
 * at or after the log end (a gap is kept, as Kafka does), and every batch
 * after the one before it.
 * @param data  borrowed; CRC-checked by the caller (qr_batch_validate).
 * @param last  set to the last offset written.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_OFFSET_OUT_OF_RANGE when the first
 *   batch starts below the log end (nothing written: truncate first);
 *   QUIRE_ERR_CORRUPT_MESSAGE for headers that do not tile @p len or
 *   offsets that go back; otherwise as qr_plog_append(). The epoch cache
 *   learns every new epoch of the batches (in memory; its file is written
 *   by the sync covering them, or at once while a truncation is not yet
 *   checkpointed: qr_plog_checkpointed()). Flush policy and visible end as
 *   qr_plog_append().
 * @locality any (the fetcher's thread)  @locks takes part->lock
 */
quire_err_t qr_plog_append_replica(qr_plog_t *part, uint8_t *data, size_t len,
                                   int64_t *last);

/**
 * @brief Drops every batch holding an offset >= @p offset: a batch that
 * @p offset falls inside goes whole (as in Kafka), so the log end becomes
 * the end of the last batch kept (<= @p offset). Segments past the cut are
 * deleted, the cut segment's .log truncated and its indexes (offset and
 * time) rebuilt, it becomes the active segment; the epoch cache loses the
 * entries from the new end on; the recovery point, the visible end and
 * the replicated high watermark are clamped to it. Flush requests for
 * removed offsets complete with NOT_LEADER_FOR_PARTITION. Durable (file,
 * directory, leader-epoch-checkpoint synced) before it returns. Readers
 * that hold a slice of a removed range keep their file descriptor; new
 * reads see the new end at once. @p offset <= the log start empties the
 * log as qr_plog_truncate_fully(); >= the log end changes nothing.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BAD_ARG (negative);
 *   QUIRE_ERR_NOT_LEADER_FOR_PARTITION once closed;
 *   QUIRE_ERR_KAFKA_STORAGE_ERROR (the partition goes offline).
 * @locality never a network thread (it syncs)  @locks takes sync_lock,
 *   part->lock
 */
quire_err_t qr_plog_truncate_to(qr_plog_t *part, int64_t offset);

/**
 * @brief Empties the log and starts it at @p offset (a follower below the
 * leader's log start): every segment deleted, one empty segment based at
 * @p offset, log start = log end = recovery point = @p offset, the epoch
 * cache emptied, the replicated high watermark (if set) = @p offset. Every
 * waiting flush request completes with NOT_LEADER_FOR_PARTITION. Durable
 * before it returns.
 * @returns as qr_plog_truncate_to().
 * @locality never a network thread  @locks takes sync_lock, part->lock
 */
quire_err_t qr_plog_truncate_fully(qr_plog_t *part, int64_t offset);

/**
 * @brief How many truncations the log has had (a counter), for
 * qr_plog_checkpointed().
 * @locality any  @locks none
 */
unsigned long qr_plog_truncations(qr_plog_t *part);

/**
 * @brief The log manager wrote a recovery-point checkpoint holding this
 * partition's recovery point read after qr_plog_truncations() returned
 * @p truncations. Until that covers the last truncation, the partition
 * writes leader-epoch-checkpoint at the append of a new epoch (a crash
 * could otherwise leave a checkpointed recovery point past the truncation
 * and epochs after it unknown); after it, the sync covering the batch
 * writes it.
 * @locality any  @locks none
 */
void qr_plog_checkpointed(qr_plog_t *part, unsigned long truncations);

/**
 * @brief The replicated high watermark, set by the leader's replica set or
 * the follower's fetcher. It never moves backwards (lower values are
 * ignored; only a truncation lowers it). Once set, the visible end
 * (qr_plog_high_watermark(): what fetches, ListOffsets latest and the
 * time lookup see) is min(replicated hw, the local visible end described
 * at the top of this file). A log nobody set it on (RF=1 paths, tests)
 * behaves exactly as before (no bound). When the visible end moves up,
 * on_append runs (no lock held) as for an append.
 * @locality any  @locks takes hw_lock briefly
 */
void qr_plog_set_replicated_hw(qr_plog_t *part, int64_t hw);

/** @brief The replicated high watermark, -1 when never set (what logmgr
 * writes to replication-offset-checkpoint). @locality any @locks none */
int64_t qr_plog_replicated_hw(const qr_plog_t *part);

/** @brief The end of what is fdatasync'd (the recovery point): offsets
 * below it survive a power loss. @locality any @locks none */
int64_t qr_plog_synced_end(const qr_plog_t *part);

/**
 * @brief The latest leader epoch in the epoch cache
 * (<partition dir>/leader-epoch-checkpoint, epochcache.h), -1 when none.
 * @locality any  @locks takes the cache's lock
 */
int32_t qr_plog_latest_epoch(qr_plog_t *part);

/**
 * @brief OffsetsForLeaderEpoch's answer for this log (KIP-101, KIP-279):
 * the largest epoch <= @p epoch this log has, and the start offset of the
 * first epoch after @p epoch, or the log end when @p epoch is the latest;
 * (-1, -1) for an unknown (newer) or undefined epoch or an empty cache;
 * (@p epoch, the first entry's start) for an epoch older than every
 * entry. See qr_epochcache_end_offset_for().
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_LEADER_FOR_PARTITION once closed;
 *   QUIRE_ERR_KAFKA_STORAGE_ERROR when offline.
 * @locality any  @locks takes part->lock briefly
 */
quire_err_t qr_plog_end_offset_for_epoch(qr_plog_t *part, int32_t epoch,
                                         int32_t *found_epoch,
                                         int64_t *end_offset);

/**
 * @brief FOR TESTS ONLY: the next @p n syncs of this partition fail as a
 * failed fdatasync would (after really syncing, and 100 ms late, so that
 * a sync racing it can be tested), to test what follows an fsync error.
 * @locality any  @locks none
 */
void qr_plog_test_fail_syncs(qr_plog_t *part, int n);

#endif /* QR_PARTLOG_H */
