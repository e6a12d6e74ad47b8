/*
 * accum: the producer's record accumulator (Kafka's RecordAccumulator).
 *
 * Application threads append records; each partition has a queue of
 * batches (qr_pbatch_t), the last of which is open and receives records,
 * encoded at once into its buffer through the common/batch builder. The
 * client's I/O thread drains ready batches, finishes them (header, CRC,
 * compression) outside the lock, sends them, and gives them back: done
 * (delivered or failed for good) or requeued at the head of their
 * partition for a retry.
 *
 * A batch is ready when it is full (a record did not fit, or it is not the
 * last of its queue), when linger.ms has passed since it was opened, when a
 * flush is in progress, when the accumulator is closing, or when a sender
 * is waiting for memory. A requeued batch is ready again when its backoff
 * ends.
 *
 * Ordering: with part_in_flight 1 (or 0) a partition with batches in
 * flight is muted (drain skips it) until every one of them is done or
 * requeued, so a retried batch is never overtaken by a later one of the
 * same partition (Kafka's guaranteeMessageOrder; several partitions'
 * requests still pipeline on a connection). With part_in_flight N > 1
 * (issue 22: the idempotent producer's 5) a partition may have up to N
 * batches in flight, taken by successive drains. A batch given back for a
 * retry goes into its partition's queue in the order it was first drained
 * (before every later-drained batch, after every earlier one: Kafka's
 * insertInSequenceOrder), a retried batch at the head is drained only
 * when nothing of its partition is in flight, and nothing else of the
 * partition is drained while a retried batch is in flight: retries go in
 * their original order, one batch at a time (they may come from different
 * requests, some written, some not), never overtaken by what was sent
 * after them.
 *
 * Memory: everything a batch holds (its struct, batch buffer, compression
 * buffer, record metadata) counts against buffer.memory, and nothing is
 * allocated past it: record metadata that would have to grow past the
 * budget makes the batch full instead. An append that needs a new batch
 * when the budget is used blocks until memory is given back or its
 * deadline passes, then fails with QUIRE_ERR_QUEUE_FULL. Not counted: the
 * per-topic and per-partition bookkeeping (a few dozen bytes per
 * partition ever used) and the allocator's own overhead. Allocation uses
 * plain malloc; out of memory is QUIRE_ERR_NO_MEMORY. Batches of
 * batch.size given back are kept (up to 16) and reused, so their buffers
 * are not faulted in and zeroed by the kernel again for every batch (a
 * tenth of a microsecond per record on a VM); they count against
 * buffer.memory too and are freed first when a new batch needs room.
 *
 * Partition counts: the producer may leave a topic's partition count
 * with the accumulator, tagged with the client's metadata version
 * (qr_accum_set_parts), and then append under one lock with
 * qr_accum_append_cached, which refuses (NEED_MORE) whenever the version
 * moved on: the producer then asks the client again.
 *
 * Locks: one mutex inside the accumulator guards every queue and counter.
 * A qr_pbatch_t taken by drain belongs to the I/O thread until it is given
 * back; its fields may then be read and finished without the lock.
 */
#ifndef QR_ACCUM_H
#define QR_ACCUM_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "err.h"

/** Partition argument of qr_accum_append: use the topic's sticky
 * partition (for records without a key). */
#define QR_ACCUM_STICKY (-1)
/** Partition argument of qr_accum_append_cached: the key's partition
 * (quire_partition_for_key over the cached partition count). */
#define QR_ACCUM_KEYED (-2)

typedef struct qr_accum qr_accum_t;
typedef struct qr_accum_part qr_accum_part_t;

typedef struct qr_accum_conf {
    size_t batch_size;     /* batch.size */
    int64_t linger_ms;     /* linger.ms */
    int codec;             /* QR_CODEC_* (compression.type) */
    int64_t buffer_memory; /* buffer.memory */
    size_t max_batch;      /* max.request.size: the largest batch */
    int part_in_flight;    /* batches of one partition in flight; 0 or 1:
                              muted while any is (see Ordering) */
} qr_accum_conf_t;

/** What the delivery report needs of each record. */
typedef struct qr_rec_meta {
    void *opaque;      /* the application's per-record pointer */
    int64_t timestamp; /* CreateTime, ms since the epoch */
} qr_rec_meta_t;

/** One record to append (qr_accum_append_cached); every pointer borrowed
 * for the call and copied (see qr_batch_builder_append for NULLs). */
typedef struct qr_accum_rec {
    int64_t timestamp; /* CreateTime, ms since the epoch, >= 0 */
    const void *key, *value;
    size_t key_len, value_len;
    const qr_batch_rec_header_t *headers;
    size_t header_cnt;
    void *opaque; /* stored for the delivery report */
} qr_accum_rec_t;

/** One batch of one partition. */
typedef struct qr_pbatch {
    struct qr_pbatch *next; /* link in a queue or a drained list */
    qr_accum_part_t *part;  /* owning partition (accumulator's) */
    const char *topic;      /* borrowed from the accumulator */
    int32_t partition;      /* partition id */
    qr_batch_builder_t b;   /* the builder over @c buf */
    uint8_t *buf;           /* owned: batch buffer, @c cap bytes */
    size_t cap;             /* its size */
    uint8_t *out;           /* owned: compression buffer or NULL */
    const uint8_t *data;    /* finished batch (buf or out) */
    size_t len;             /* its size; 0 until finished */
    qr_rec_meta_t *recs;    /* owned: one per record */
    size_t rec_cap;         /* slots in recs */
    int32_t count;          /* records appended */
    int64_t created_ms;     /* monotonic ms when opened */
    int64_t retry_at_ms;    /* monotonic ms when a retry may go */
    int attempts;           /* times sent */
    uint64_t order;         /* its partition's drain count when first
                               drained (1, 2, ...): retries keep it */
    int as_retry;           /* drained as a retry, not given back yet */
    int movable;            /* only unkeyed records placed by the sticky
                               partitioner: qr_accum_reroute may move it
                               to another partition while never sent */
    quire_err_t last_err;   /* the last retriable error it met, or NONE */
    size_t mem;             /* bytes counted against buffer.memory */
} qr_pbatch_t;

/**
 * @brief Decides whether drain takes a ready batch: called with the lock
 * held, so it must not call back into the accumulator.
 * @param ctx   the drain caller's pointer.
 * @param bytes the batch's uncompressed size so far.
 * @returns 1 to take it (and mute the partition), 0 to leave it.
 */
typedef int(qr_accum_sel_fn)(void *ctx, const char *topic, int32_t partition,
                             size_t bytes);

/**
 * @brief A new, empty accumulator.
 * @param conf copied.
 * @param accp out: owned, release with qr_accum_destroy().
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BAD_ARG for a codec out of range, a
 *          batch size or max_batch below a batch header, or a non-positive
 *          buffer_memory; QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t qr_accum_new(const qr_accum_conf_t *conf, qr_accum_t **accp);

/**
 * @brief Frees every batch (queued or not) and the accumulator. The caller
 * makes sure no thread uses it and that drained batches were given back.
 * Accepts NULL.
 * @locality any  @locks none
 */
void qr_accum_destroy(qr_accum_t *acc);

/**
 * @brief Appends one record.
 * @param topic       borrowed; copied the first time it is seen.
 * @param partition   the partition, or QR_ACCUM_STICKY for the topic's
 *                    sticky partition (chosen at random among @p part_cnt
 *                    and changed each time its batch fills).
 * @param part_cnt    the topic's partition count (from metadata), > 0.
 * @param timestamp   CreateTime, ms since the epoch, >= 0.
 * @param key,value,headers  borrowed and copied (see
 *                    qr_batch_builder_append for NULLs).
 * @param opaque      stored for the delivery report.
 * @param now_ms      the monotonic clock now, or -1 to have it read only
 *                    if a batch is opened.
 * @param deadline_ms monotonic ms after which waiting for memory gives up
 *                    (<= now_ms: do not wait).
 * @param partp       out: the partition used.
 * @param wakeup      out: 1 when a batch was opened or filled, so the I/O
 *                    thread should drain or arm its linger timer.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_MESSAGE_TOO_LARGE when the record
 *          cannot fit a batch of max_batch bytes or buffer_memory;
 *          QUIRE_ERR_QUEUE_FULL when memory stayed used past the deadline;
 *          QUIRE_ERR_DESTROYED once qr_accum_close() was called;
 *          QUIRE_ERR_BAD_ARG for a partition outside [0, part_cnt) or a
 *          negative timestamp; QUIRE_ERR_NO_MEMORY.
 * @locality any (application threads)  @locks takes the accumulator's
 */
quire_err_t qr_accum_append(qr_accum_t *acc, const char *topic,
                            int32_t partition, int32_t part_cnt,
                            int64_t timestamp, const void *key, size_t key_len,
                            const void *value, size_t value_len,
                            const qr_batch_rec_header_t *headers,
                            size_t header_cnt, void *opaque, int64_t now_ms,
                            int64_t deadline_ms, int32_t *partp, int *wakeup);

/**
 * @brief Remembers @p part_cnt as @p topic's partition count read at
 * metadata version @p version, for qr_accum_append_cached.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BAD_ARG for a count <= 0;
 *          QUIRE_ERR_NO_MEMORY.
 * @locality any (application threads)  @locks takes the accumulator's
 */
quire_err_t qr_accum_set_parts(qr_accum_t *acc, const char *topic,
                               int32_t part_cnt, uint64_t version);

/**
 * @brief qr_accum_append with the partition count left by
 * qr_accum_set_parts: the producer's fast path, one lock per record.
 * @param partition  a partition, QR_ACCUM_STICKY, or QR_ACCUM_KEYED.
 * @param version    the client's metadata version now.
 * @param block_ms   how long to wait for memory (0: do not wait); the
 *                   clock is read only if it has to.
 * @returns as qr_accum_append, and QUIRE_ERR_NEED_MORE (nothing done) when
 *          no count is known for @p topic at @p version or @p partition
 *          is not below it.
 * @locality any (application threads)  @locks takes the accumulator's
 */
quire_err_t qr_accum_append_cached(qr_accum_t *acc, const char *topic,
                                   int32_t partition, uint64_t version,
                                   const qr_accum_rec_t *rec, int64_t block_ms,
                                   int32_t *partp, int *wakeup);

/**
 * @brief Takes the ready batches the selector accepts: for each partition
 * that is not muted, its ready batches from the head of its queue, in
 * order, as long as @p sel says yes and the partition stays within
 * part_in_flight (see Ordering); retried batches and fresh ones are never
 * taken together from one partition.
 * @param out   out: the taken batches, linked through next, in queue order
 *              per partition (NULL when none). They belong to the caller
 *              until given back with qr_accum_done/qr_accum_requeue.
 * @param next_ms out: the monotonic ms at which a batch not ready now will
 *              become ready (linger or backoff), or INT64_MAX.
 * @returns the number of batches taken.
 * @locality I/O thread  @locks takes the accumulator's
 */
size_t qr_accum_drain(qr_accum_t *acc, int64_t now_ms, qr_accum_sel_fn *sel,
                      void *ctx, qr_pbatch_t **out, int64_t *next_ms);

/**
 * @brief Finishes a drained batch if it is not finished yet: header,
 * CRC-32C and compression, outside the lock. Idempotent.
 * @returns QUIRE_ERR_NONE (data, len set), or the builder's error.
 * @locality I/O thread (owner of the drained batch)  @locks none
 */
quire_err_t qr_accum_finish(qr_pbatch_t *batch);

/**
 * @brief Gives a drained batch back for good (delivered or failed): frees
 * it, returns its memory (waking blocked senders) and unmutes its
 * partition when it was the last in flight.
 * @locality I/O thread  @locks takes the accumulator's
 */
void qr_accum_done(qr_accum_t *acc, qr_pbatch_t *batch);

/**
 * @brief Gives a drained batch back for a retry: it goes back into its
 * partition's queue in first-drain order (ahead of every batch drained
 * after it or never drained, behind the retried ones drained before it),
 * ready again at @p retry_at_ms; batches given back in any order come out
 * in their original order.
 * @locality I/O thread  @locks takes the accumulator's
 */
void qr_accum_requeue(qr_accum_t *acc, qr_pbatch_t *batch, int64_t retry_at_ms);

/**
 * @brief Takes every queued (not in flight) batch of a partition, or of
 * all partitions when @p topic is NULL, whose head has waited longer than
 * @p max_age_ms, or unconditionally when @p max_age_ms < 0: for failing
 * them (delivery timeout, unknown topic, close without time left).
 * @param out out: the batches, linked through next; the caller gives each
 *        back with qr_accum_done (after failing its records).
 * @returns the number taken.
 * @locality I/O thread  @locks takes the accumulator's
 */
size_t qr_accum_expire(qr_accum_t *acc, const char *topic, int64_t now_ms,
                       int64_t max_age_ms, qr_pbatch_t **out);

/**
 * @brief Tells which partitions of @p topic have a reachable leader, for
 * records without a key (Kafka's availablePartitionsForTopic): the sticky
 * partition is chosen among them, and moves off a partition that is no
 * longer up. With none up (or @p part_cnt 0) every partition is a
 * candidate again.
 * @param up @p part_cnt flags, borrowed (copied).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BAD_ARG; QUIRE_ERR_NO_MEMORY.
 * @locality I/O thread  @locks takes the accumulator's
 */
quire_err_t qr_accum_set_available(qr_accum_t *acc, const char *topic,
                                   const uint8_t *up, int32_t part_cnt);

/**
 * @brief Moves the queued batches that hold only sticky-placed records
 * and were never sent (movable, attempts 0) off partitions that are not
 * up onto the topic's sticky partition, ahead of its open batch, so that
 * records without a key never wait for a partition without a leader.
 * Batches with a chosen partition (keyed or explicit) and batches sent
 * once stay where they are, in order.
 * @returns the number of batches moved.
 * @locality I/O thread  @locks takes the accumulator's
 */
size_t qr_accum_reroute(qr_accum_t *acc);

/**
 * @brief Starts (+1) or ends (-1) a flush: while any flush is in progress
 * every batch is ready regardless of linger.ms.
 * @locality any  @locks takes the accumulator's
 */
void qr_accum_flushing(qr_accum_t *acc, int delta);

/**
 * @brief Waits until no batch is left (queued or in flight) or the
 * monotonic deadline passes.
 * @returns QUIRE_ERR_NONE when empty, QUIRE_ERR_TIMED_OUT otherwise.
 * @locality any thread but the I/O thread  @locks takes the accumulator's
 */
quire_err_t qr_accum_wait_empty(qr_accum_t *acc, int64_t deadline_ms);

/**
 * @brief Refuses further appends (QUIRE_ERR_DESTROYED), wakes every blocked
 * sender, and makes every batch ready.
 * @locality any  @locks takes the accumulator's
 */
void qr_accum_close(qr_accum_t *acc);

/** Counters, for tests and statistics. */
typedef struct qr_accum_stats {
    size_t batches;         /* alive: queued or in flight */
    size_t in_flight;       /* drained, not given back */
    int64_t mem_used;       /* bytes of alive batches (buffer.memory) */
    int64_t pool_mem;       /* bytes of batches kept for reuse */
    int pooled;             /* batches kept for reuse */
    int64_t records;        /* records in alive batches */
    int waiters;            /* senders blocked on memory */
    int part_in_flight_max; /* most batches of one partition in flight at
                               once so far */
} qr_accum_stats_t;

/** @brief Reads the counters. @locality any @locks takes the
 * accumulator's */
void qr_accum_stats(qr_accum_t *acc, qr_accum_stats_t *st);

#endif /* QR_ACCUM_H */
