/*
 * batch: Kafka's RecordBatch v2 (magic 2), byte for byte (DESIGN.md §3).
 *
 *   off  size  field                       CRC-32C covers
 *     0     8  baseOffset                  no  (the broker writes it)
 *     8     4  batchLength (bytes after this field)   no
 *    12     4  partitionLeaderEpoch        no
 *    16     1  magic (2)                   no
 *    17     4  crc (CRC-32C, big-endian)   no
 *    21     2  attributes                  yes, from here to the end
 *    23     4  lastOffsetDelta
 *    27     8  baseTimestamp (firstTimestamp)
 *    35     8  maxTimestamp
 *    43     8  producerId
 *    51     2  producerEpoch
 *    53     4  baseSequence
 *    57     4  recordCount
 *    61     -  records (compressed as one block when attributes & 7 != 0)
 *
 * Everything is read and written with explicit big-endian helpers, never by
 * casting the buffer. Nothing here allocates: the reader and validator are
 * views over the caller's bytes, the builder writes into a caller-sized
 * buffer.
 *
 * Sections below marked (contract) are relied on by broker/ and must keep
 * their meaning; the builder and record reader live further down.
 */
#ifndef QR_BATCH_H
#define QR_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* ---- layout (contract) ---- */
#define QR_BATCH_OFF_BASE_OFFSET 0
#define QR_BATCH_OFF_LENGTH 8
#define QR_BATCH_OFF_LEADER_EPOCH 12
#define QR_BATCH_OFF_MAGIC 16
#define QR_BATCH_OFF_CRC 17
#define QR_BATCH_OFF_ATTRIBUTES 21
#define QR_BATCH_OFF_LAST_OFFSET_DELTA 23
#define QR_BATCH_OFF_FIRST_TIMESTAMP 27
#define QR_BATCH_OFF_MAX_TIMESTAMP 35
#define QR_BATCH_OFF_PRODUCER_ID 43
#define QR_BATCH_OFF_PRODUCER_EPOCH 51
#define QR_BATCH_OFF_BASE_SEQUENCE 53
#define QR_BATCH_OFF_RECORD_COUNT 57
#define QR_BATCH_HEADER_SIZE 61
/** baseOffset + batchLength: the bytes not counted by batchLength. */
#define QR_BATCH_LOG_OVERHEAD 12
#define QR_BATCH_MAGIC 2

/* attributes */
#define QR_BATCH_ATTR_CODEC_MASK 0x07
#define QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND 0x08
#define QR_BATCH_ATTR_TRANSACTIONAL 0x10
#define QR_BATCH_ATTR_CONTROL 0x20

/** The decoded header of one batch (contract). */
typedef struct qr_batch_hdr {
    int64_t base_offset;
    int32_t length; /* batchLength: total size - QR_BATCH_LOG_OVERHEAD */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t first_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} qr_batch_hdr_t;

/** @brief Total bytes of the batch described by @p hdr. */
static inline size_t qr_batch_size(const qr_batch_hdr_t *hdr)
{
    return (size_t)hdr->length + QR_BATCH_LOG_OVERHEAD;
}

/** @brief Offset of the last record of the batch. */
static inline int64_t qr_batch_last_offset(const qr_batch_hdr_t *hdr)
{
    return hdr->base_offset + hdr->last_offset_delta;
}

/** @brief Compression codec of the batch (QR_CODEC_*, see codec.h). */
static inline int qr_batch_codec(const qr_batch_hdr_t *hdr)
{
    return hdr->attributes & QR_BATCH_ATTR_CODEC_MASK;
}

/**
 * @brief Decodes the 61-byte header at @p p without checking the CRC or the
 * records; checks only that @p avail holds the header (contract).
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_TRUNCATED when avail < 61.
 * @locality any  @locks none
 */
quire_err_t qr_batch_hdr_read(const uint8_t *p, size_t avail,
                              qr_batch_hdr_t *hdr);

/** How much qr_batch_validate() checks. */
typedef enum qr_batch_check {
    /* Header fields, lengths, magic, codec, counts vs. deltas, CRC-32C over
     * the covered bytes. What the broker does on produce: one CRC pass, no
     * per-record work, compressed or not. */
    QR_BATCH_CHECK_CRC,
    /* All of the above and, for an uncompressed batch, every record's
     * framing: varints well-formed, lengths inside the batch, offset deltas
     * increasing and the last equal to lastOffsetDelta, the count exact.
     * Used by recovery, dump tools and clients. */
    QR_BATCH_CHECK_RECORDS,
} qr_batch_check_t;

/**
 * @brief Validates the one batch that starts at @p p; the batch must lie
 * entirely within @p avail bytes (it may be followed by more data). Never
 * reads outside [p, p + avail). (contract)
 * @param hdr  filled with the decoded header on success (and on CRC
 *             failure, for diagnostics).
 * @param why  if non-NULL, set to a static one-line reason on failure,
 *             naming the field ("batchLength below the header size").
 * @returns QUIRE_ERR_NONE;
 *          QUIRE_ERR_TRUNCATED when @p avail is shorter than the header or
 *            than the length the header declares (a torn tail, or need more);
 *          QUIRE_ERR_CORRUPT_MESSAGE for a bad CRC, a wrong magic, or a
 *            length below the header size;
 *          QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE for codec snappy (2) or
 *            an unknown codec (5-7);
 *          QUIRE_ERR_INVALID_RECORD for inconsistent counts, deltas,
 *            timestamps or record framing.
 * @locality any  @locks none
 */
quire_err_t qr_batch_validate(const uint8_t *p, size_t avail,
                              qr_batch_check_t check, qr_batch_hdr_t *hdr,
                              const char **why);

/**
 * @brief Writes baseOffset in place (not covered by the CRC). (contract)
 * @locality any  @locks none
 */
void qr_batch_set_base_offset(uint8_t *p, int64_t base_offset);

/**
 * @brief Writes partitionLeaderEpoch in place (not covered by the CRC).
 * (contract)
 * @locality any  @locks none
 */
void qr_batch_set_leader_epoch(uint8_t *p, int32_t leader_epoch);

#endif /* QR_BATCH_H */
