/*
 * prodstate: the idempotent producers' state of one partition (issue 22;
 * Kafka's ProducerStateManager without transactions).
 *
 * Per producer id: its epoch, the sequence and offset ranges of its last
 * QR_PRODSTATE_BATCHES batches written here (Kafka keeps 5, the most
 * requests an idempotent producer may have in flight per partition), and
 * the maxTimestamp of its last batch (for expiry). The rules on append
 * (qr_prodstate_check(), Kafka 3.x's ProducerAppendInfo):
 *   - epoch older than the known one: INVALID_PRODUCER_EPOCH (fenced);
 *   - epoch newer: the sequence must start again at 0, else
 *     OUT_OF_ORDER_SEQUENCE_NUMBER;
 *   - same epoch: a batch whose (first, last) sequence equals one of the
 *     cached batches is a duplicate: answered with the original offsets,
 *     not written again; otherwise its first sequence must follow the last
 *     one written (wrapping at INT32_MAX to 0), else
 *     OUT_OF_ORDER_SEQUENCE_NUMBER;
 *   - an unknown producer id (new, expired, or its batches all deleted by
 *     retention) may start at any sequence, as in Kafka 2.5+ (KIP-360).
 * Batches without a producer id (-1) are not idempotent and not looked at.
 *
 * The state is rebuilt from the batches themselves (producer id, epoch,
 * base sequence and offsets are all in RecordBatch v2's header):
 * qr_prodstate_apply() takes batches already written, so a follower copying
 * the leader's batches, or a rebuild reading the log, keeps the same state
 * as the leader that checked them.
 *
 * Snapshots (qr_prodstate_snapshot_write/_load): files named as Kafka's,
 * <20-digit offset>.snapshot in the partition directory, holding the state
 * of every batch below that offset. The layout is quire's (Kafka's version 1
 * keeps only each producer's last batch; quire keeps all five so a retried
 * request of several batches is still recognised after a restart), all
 * big-endian:
 *   int16  version (2)
 *   uint32 crc32c of every byte after this field
 *   int32  producer count, then per producer:
 *     int64 producer id, int16 epoch, int64 last timestamp,
 *     int32 batch count (1..5), then per batch, oldest first:
 *       int32 first sequence, int32 last sequence,
 *       int64 first offset, int64 last offset
 * A file that does not parse or whose CRC is wrong is ignored (and an older
 * one used, or the log read from its start).
 *
 * Not thread-safe: the owner (idemp.h) serialises every call.
 */
#ifndef QR_PRODSTATE_H
#define QR_PRODSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "err.h"

#define QR_PRODSTATE_BATCHES  5
#define QR_PRODSTATE_VERSION  2
#define QR_PRODSTATE_SUFFIX   ".snapshot"
#define QR_PRODSTATE_NAME_LEN (20 + sizeof(QR_PRODSTATE_SUFFIX) - 1)

typedef struct qr_prodstate qr_prodstate_t;

/** One batch remembered for a producer. */
typedef struct qr_prodstate_batch {
    int32_t first_seq, last_seq;
    int64_t first_offset, last_offset;
} qr_prodstate_batch_t;

/** One producer's state (a copy, for tests and tools). */
typedef struct qr_prodstate_entry {
    int64_t producer_id;
    int16_t epoch;
    int64_t last_timestamp;
    int nbatches;                                       /* 1..5 */
    qr_prodstate_batch_t batches[QR_PRODSTATE_BATCHES]; /* oldest first */
} qr_prodstate_entry_t;

/** @brief An empty state. @returns owned. @locality any @locks none */
qr_prodstate_t *qr_prodstate_new(void);

/** @brief Frees it; NULL is fine. @locality any @locks none */
void qr_prodstate_destroy(qr_prodstate_t *ps);

/** @brief Whether the batch is idempotent (producer id >= 0). */
static inline int qr_prodstate_is_idempotent(const qr_batch_hdr_t *hdr)
{
    return hdr->producer_id >= 0;
}

/**
 * @brief Checks one idempotent batch (see the rules above) before it is
 * written. The state is not changed.
 * @param hdr   the batch's header (producer id >= 0).
 * @param dup   set on QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER: the original
 *              batch's offsets.
 * @returns QUIRE_ERR_NONE (write it), QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER
 *          (do not write; answer with @p dup), or
 *          QUIRE_ERR_INVALID_PRODUCER_EPOCH /
 *          QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER /
 *          QUIRE_ERR_INVALID_RECORD (a sequence range that overflows).
 * @locality any  @locks the owner's
 */
quire_err_t qr_prodstate_check(const qr_prodstate_t *ps,
                               const qr_batch_hdr_t *hdr,
                               qr_prodstate_batch_t *dup);

/**
 * @brief Checks that @p next, written right after @p prev in the same
 * append by the same producer, follows it (same or newer epoch, sequence
 * in order), as qr_prodstate_check() would once @p prev is recorded.
 * @returns QUIRE_ERR_NONE or as qr_prodstate_check().
 * @locality any  @locks none
 */
quire_err_t qr_prodstate_check_next(const qr_batch_hdr_t *prev,
                                    const qr_batch_hdr_t *next);

/**
 * @brief Records a written batch (its base_offset is the one it got).
 * Non-idempotent batches are ignored.
 * @locality any  @locks the owner's
 */
void qr_prodstate_update(qr_prodstate_t *ps, const qr_batch_hdr_t *hdr);

/**
 * @brief Records every batch of @p data (whole batches already written,
 * offsets in their headers, as a fetch or the log returns them): a
 * follower's appends, a rebuild from the log.
 * @param next_offset if non-NULL, set to the offset after the last batch
 *        read (unchanged when none).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CORRUPT_MESSAGE when the headers do
 *          not tile @p len (what was read before stays applied).
 * @locality any  @locks the owner's
 */
quire_err_t qr_prodstate_apply(qr_prodstate_t *ps, const uint8_t *data,
                               size_t len, int64_t *next_offset);

/**
 * @brief Forgets producers whose last batch's timestamp is older than
 * @p now_ms - @p expiration_ms (producer.id.expiration.ms).
 * @returns how many were removed.
 * @locality any  @locks the owner's
 */
size_t qr_prodstate_expire(qr_prodstate_t *ps, int64_t now_ms,
                           int64_t expiration_ms);

/** @brief Producers known. @locality any @locks the owner's */
size_t qr_prodstate_count(const qr_prodstate_t *ps);

/**
 * @brief A copy of one producer's state.
 * @returns 1 when known (filled), 0 otherwise.
 * @locality any  @locks the owner's
 */
int qr_prodstate_get(const qr_prodstate_t *ps, int64_t producer_id,
                     qr_prodstate_entry_t *out);

/**
 * @brief Writes <dir>/<offset>.snapshot (through a temporary file, synced,
 * then renamed) and removes older snapshots but the newest one before it.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_IO (detail in @p errstr).
 * @locality any (not a hot path: a roll's worth of appends apart)
 * @locks the owner's
 */
quire_err_t qr_prodstate_snapshot_write(const qr_prodstate_t *ps,
                                        const char *dir, int64_t offset,
                                        char *errstr, size_t errstr_size);

/**
 * @brief Loads the newest valid snapshot of @p dir at or below
 * @p log_end into @p ps (which should be empty); snapshots above
 * @p log_end (the log was cut back after a crash) are deleted.
 * @param offset set to the snapshot's offset, or -1 when none was usable
 *        (@p ps then stays empty: rebuild from the log start).
 * @returns QUIRE_ERR_NONE (even with no snapshot); QUIRE_ERR_IO when the
 *          directory cannot be read.
 * @locality any  @locks the owner's
 */
quire_err_t qr_prodstate_snapshot_load(qr_prodstate_t *ps, const char *dir,
                                       int64_t log_end, int64_t *offset);

/**
 * @brief Removes the snapshots of @p dir whose offset is above @p offset
 * (all of them for -1): the log was cut there.
 * @returns how many were removed.
 * @locality any  @locks the owner's
 */
size_t qr_prodstate_snapshot_delete_above(const char *dir, int64_t offset);

/**
 * @brief Serialises the state into a snapshot image (what the file holds).
 * @returns owned buffer (free()) of *@p len bytes.
 * @locality any  @locks the owner's
 */
uint8_t *qr_prodstate_encode(const qr_prodstate_t *ps, size_t *len);

/**
 * @brief Replaces the state of @p ps by a snapshot image.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CORRUPT_MESSAGE for a bad version,
 *          CRC, length or count (@p ps then left empty).
 * @locality any  @locks the owner's
 */
quire_err_t qr_prodstate_decode(qr_prodstate_t *ps, const uint8_t *p,
                                size_t len);

#endif /* QR_PRODSTATE_H */
