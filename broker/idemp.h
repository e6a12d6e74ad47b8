/*
 * idemp: idempotent appends to one partition (issue 22), binding a
 * producer state (prodstate.h) to a partition log (partlog.h).
 *
 * The partition table's entry (partmap.h) owns one qr_idemp_t per
 * partition it leads. Produce appends through qr_idemp_append() instead of
 * qr_plog_append(): batches without a producer id go straight to the log;
 * idempotent ones are checked, appended and recorded under the idemp lock,
 * so check and record are atomic with the append (two connections of the
 * same producer, e.g. a retry on a new connection while the first request
 * is still being handled, cannot both write a batch).
 *
 * The state is loaded lazily, at the first idempotent batch the partition
 * gets after it is opened: the newest snapshot at or below the log end
 * (prodstate.h's <offset>.snapshot files in the partition directory), then
 * every batch from there to the end is read back from the log and
 * applied; with no usable snapshot, from the log start (the rebuild after
 * a crash or a deleted snapshot). A snapshot is written after that
 * rebuild, each time a segment's worth of bytes (log.segment.bytes) was
 * appended since the last one (Kafka snapshots at each roll), and when the
 * entry goes (leadership moved, clean shutdown). Producers idle for
 * producer.id.expiration.ms are forgotten, checked every
 * producer.id.expiration.check.interval.ms.
 *
 * Replication: the state is in the batches. A follower's fetcher keeps a
 * qr_idemp_t of its own and appends through qr_idemp_append_replica(),
 * which applies the batches it copies (loading the state at the first
 * idempotent one) and snapshots as a leader does; when it stops following
 * (becoming leader) it destroys it, which leaves a snapshot at the log
 * end, so the new leader's state loads from there. A truncation goes
 * through qr_idemp_truncate(): snapshots past the cut are removed and the
 * state rebuilt up to the new end. A leader's entry that leaves the
 * partition table is closed (qr_idemp_close()) before the log may be
 * followed and cut: it snapshots and refuses every later append, so a
 * request still in flight on a deposed leader cannot write into a
 * follower's log.
 *
 * Locks: id->lock, then the partition log's locks (qr_plog_append).
 */
#ifndef QR_IDEMP_H
#define QR_IDEMP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "partlog.h"
#include "prodstate.h"

typedef struct qr_idemp_conf {
    int64_t expiration_ms;     /* producer.id.expiration.ms */
    int64_t check_interval_ms; /* producer.id.expiration.check.interval.ms */
} qr_idemp_conf_t;

typedef struct qr_idemp qr_idemp_t;

/** @brief A partition's idempotence state, not loaded yet.
 * @returns owned. @locality any @locks none */
qr_idemp_t *qr_idemp_new(void);

/** @brief One more reference (an entry replaced by another of the same
 * log shares it). @returns @p id. @locality any @locks none */
qr_idemp_t *qr_idemp_keep(qr_idemp_t *id);

/**
 * @brief Drops a reference; the last one writes a snapshot of the state
 * at the log end when it was loaded, then frees it. NULL is fine.
 * @param part borrowed: the log @p id was used with (still referenced).
 * @locality any (main loop at leadership changes and shutdown)
 * @locks takes id->lock
 */
void qr_idemp_destroy(qr_idemp_t *id, qr_plog_t *part);

/**
 * @brief Appends @p data (batches checked by qr_api_produce_check()):
 * as qr_plog_append() when no batch carries a producer id; otherwise
 * every batch must carry the same producer id, and then the batches are
 * either all duplicates of batches already written (nothing is written;
 * @p base and @p last are the originals' and *@p duplicate is set) or all
 * new and in sequence (written and recorded).
 * @param data  borrowed, modified in place (baseOffset fields).
 * @returns QUIRE_ERR_NONE; qr_plog_append()'s errors;
 *   QUIRE_ERR_NOT_LEADER_FOR_PARTITION once closed;
 *   QUIRE_ERR_INVALID_PRODUCER_EPOCH (fenced);
 *   QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER (a gap);
 *   QUIRE_ERR_INVALID_RECORD (idempotent and plain batches mixed, two
 *     producer ids, a negative sequence or epoch, duplicates mixed with
 *     new batches or not contiguous);
 *   QUIRE_ERR_KAFKA_STORAGE_ERROR when the state cannot be read back.
 * @locality net thread  @locks takes id->lock, then the log's
 */
quire_err_t qr_idemp_append(qr_idemp_t *id, qr_plog_t *part,
                            const qr_idemp_conf_t *conf, uint8_t *data,
                            size_t len, int64_t *base, int64_t *last,
                            int *duplicate);

/**
 * @brief Records batches already written to @p part by someone else: a
 * follower appending the leader's batches (qr_plog_append_replica()),
 * offsets already in them. Nothing to do while the state is not loaded
 * (the load reads them from the log); once loaded, they are applied and
 * count toward the next snapshot, as appends do.
 * @param data  borrowed: whole batches as written.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CORRUPT_MESSAGE when the headers do
 *          not tile @p len.
 * @locality any (a follower's fetcher)  @locks takes id->lock
 */
quire_err_t qr_idemp_apply(qr_idemp_t *id, qr_plog_t *part, const uint8_t *data,
                           size_t len);

/**
 * @brief Loads the state now if it is not (snapshot, then the log).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality any  @locks takes id->lock
 */
quire_err_t qr_idemp_load(qr_idemp_t *id, qr_plog_t *part);

/**
 * @brief A copy of one producer's state (tests, tools).
 * @returns 1 when known; 0 otherwise or when not loaded.
 * @locality any  @locks takes id->lock
 */
int qr_idemp_get(qr_idemp_t *id, int64_t producer_id,
                 qr_prodstate_entry_t *out);

/**
 * @brief Rebuilds a state from the log of @p part: from the snapshot at
 * or below the visible end (when @p use_snapshot), then the batches after
 * it.
 * @param ps     filled (should be empty).
 * @param end    set to the offset the state covers up to.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality any  @locks none of idemp's
 */
quire_err_t qr_idemp_rebuild(qr_prodstate_t *ps, qr_plog_t *part,
                             int use_snapshot, int64_t *end);

/**
 * @brief The leadership this state served ended (the partition left the
 * partition table): snapshots the state at the log end when loaded,
 * forgets it, and makes every later qr_idemp_append() fail with
 * NOT_LEADER_FOR_PARTITION. An append under way finishes first.
 * @locality main loop (the replica manager)  @locks takes id->lock
 */
void qr_idemp_close(qr_idemp_t *id, qr_plog_t *part);

/**
 * @brief A follower's append (qr_plog_append_replica()) of the leader's
 * @p data, applied to the state: loaded first (snapshot, then the log)
 * when these batches are the first idempotent ones it meets.
 * @returns qr_plog_append_replica()'s codes;
 *   QUIRE_ERR_KAFKA_STORAGE_ERROR when the state cannot be read back.
 * @locality the fetcher's thread  @locks takes id->lock, then the log's
 */
quire_err_t qr_idemp_append_replica(qr_idemp_t *id, qr_plog_t *part,
                                    uint8_t *data, size_t len, int64_t *last);

/**
 * @brief Cuts the log (qr_plog_truncate_to(), or qr_plog_truncate_fully()
 * when @p fully) and the state with it: snapshots past @p offset (all
 * when @p fully) are removed, and a loaded state is rebuilt up to the new
 * end (KIP-101 truncation; Kafka's truncateAndReload).
 * @returns the log's truncation code.
 * @locality the fetcher's thread  @locks takes id->lock, then the log's
 */
quire_err_t qr_idemp_truncate(qr_idemp_t *id, qr_plog_t *part, int64_t offset,
                              int fully);

#endif /* QR_IDEMP_H */
