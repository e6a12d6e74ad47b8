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
 * casting the buffer. Nothing here allocates batch memory: the reader and
 * validator are views over the caller's bytes, the builder writes into
 * caller-sized buffers (only the codec libraries, when a batch is
 * compressed or decompressed, take and free their own working state).
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
#define QR_BATCH_OFF_BASE_OFFSET       0
#define QR_BATCH_OFF_LENGTH            8
#define QR_BATCH_OFF_LEADER_EPOCH      12
#define QR_BATCH_OFF_MAGIC             16
#define QR_BATCH_OFF_CRC               17
#define QR_BATCH_OFF_ATTRIBUTES        21
#define QR_BATCH_OFF_LAST_OFFSET_DELTA 23
#define QR_BATCH_OFF_FIRST_TIMESTAMP   27
#define QR_BATCH_OFF_MAX_TIMESTAMP     35
#define QR_BATCH_OFF_PRODUCER_ID       43
#define QR_BATCH_OFF_PRODUCER_EPOCH    51
#define QR_BATCH_OFF_BASE_SEQUENCE     53
#define QR_BATCH_OFF_RECORD_COUNT      57
#define QR_BATCH_HEADER_SIZE           61
/** baseOffset + batchLength: the bytes not counted by batchLength. */
#define QR_BATCH_LOG_OVERHEAD 12
#define QR_BATCH_MAGIC        2

/* attributes */
#define QR_BATCH_ATTR_CODEC_MASK           0x07
#define QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND 0x08
#define QR_BATCH_ATTR_TRANSACTIONAL        0x10
#define QR_BATCH_ATTR_CONTROL              0x20

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
     * the covered bytes: one CRC pass, no per-record work, compressed or
     * not. What recovery checks of the batches on disk. */
    QR_BATCH_CHECK_CRC,
    /* All of the above and, for an uncompressed batch, every record's
     * framing: varints well-formed, lengths inside the batch, offset deltas
     * increasing and the last equal to lastOffsetDelta, the count exact.
     * Used by dump tools and clients; the broker's produce path runs it
     * through qr_batch_validate_produced(). */
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
 * @brief What a broker checks of a batch a producer sends, before it is
 * acknowledged: qr_batch_validate(QR_BATCH_CHECK_RECORDS), then Kafka's
 * LogValidator rules for producer batches, which the on-disk format alone
 * does not need: recordCount >= 1 and lastOffsetDelta == recordCount - 1
 * (the batch takes exactly as many offsets as it has records, so an empty
 * batch cannot move the log end), and no control batch (a client may not
 * write transaction markers). A compressed batch's records are
 * decompressed and read one by one, as Kafka's broker does, unless
 * @p decompress_max is 0 (a producer trusted not to send malformed
 * records inside compressed blocks).
 * @param decompress_max  largest records section, decompressed, that is
 *        accepted (memory used for it is allocated and freed here); 0:
 *        compressed records are not looked at.
 * @param hdr, why  as qr_batch_validate().
 * @returns as qr_batch_validate(), and QUIRE_ERR_INVALID_RECORD for an
 *          empty or control batch, records that decompress to more than
 *          @p decompress_max bytes, or malformed decompressed records;
 *          QUIRE_ERR_CORRUPT_MESSAGE for a compressed block that does not
 *          decompress; QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t qr_batch_validate_produced(const uint8_t *p, size_t avail,
                                       size_t decompress_max,
                                       qr_batch_hdr_t *hdr, const char **why);

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

/* ---- records: builder and reader ----
 *
 * A record inside the records section (all varints zig-zag, Kafka's
 * DefaultRecord):
 *   length varint (bytes that follow), attributes int8 (0),
 *   timestampDelta varlong, offsetDelta varint,
 *   keyLength varint (-1: null key), key,
 *   valueLength varint (-1: null value), value,
 *   headerCount varint, then per header:
 *     headerKeyLength varint (>= 0: a string, never null), headerKey,
 *     headerValueLength varint (-1: null value), headerValue.
 */

/** Smallest encoded record: every varint 1 byte, no key/value/headers. */
#define QR_BATCH_RECORD_MIN_SIZE 7
/** Most bytes a record's framing adds to its key, value and headers:
 * length 5 + attributes 1 + timestampDelta 10 + offsetDelta 5 + key length
 * 5 + value length 5 + header count 5. */
#define QR_BATCH_RECORD_MAX_OVERHEAD 36

/** One record header, as given to the builder or yielded by the reader.
 * The pointers are borrowed: into the caller's memory (builder) or into
 * the batch (reader). */
typedef struct qr_batch_rec_header {
    const uint8_t *key; /* never a null string: NULL only when key_len 0 */
    size_t key_len;
    const uint8_t *value; /* NULL: a null value */
    ssize_t value_len;    /* reader: -1 for a null value; builder: ignored
                             when value is NULL */
} qr_batch_rec_header_t;

/**
 * A batch being built into caller memory (a value type: put it on the
 * stack or in the producer's per-partition state; no allocation). Fields
 * are private to batch.c.
 *
 * The records are encoded uncompressed straight into @c buf as they are
 * appended (no per-record allocation); qr_batch_builder_finish() writes the
 * header and CRC in place or, with a codec, compresses the records section
 * as one block into a second caller buffer. A producer's memory is thus
 * bounded by the two buffers it hands over.
 */
typedef struct qr_batch_builder {
    uint8_t *buf;     /* borrowed: the caller's buffer */
    size_t cap;       /* its capacity (the batch size limit) */
    size_t len;       /* bytes used: header space + records */
    int codec;        /* QR_CODEC_* */
    int32_t count;    /* records appended */
    int64_t first_ts; /* timestamp of the first record */
    int64_t max_ts;   /* largest timestamp so far */
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int finished;
} qr_batch_builder_t;

/**
 * @brief Starts a batch in @p buf. Producer id, epoch and base sequence
 * start at -1 (no idempotence), baseOffset at 0 and partitionLeaderEpoch
 * at -1, as Kafka's producer writes them.
 * @param buf    borrowed for the builder's life; must outlive the batch.
 * @param cap    the largest batch the caller accepts (>= 61 and at most
 *               INT32_MAX + 12); appends that would pass it get BUF_FULL.
 * @param codec  QR_CODEC_NONE, _GZIP, _LZ4 or _ZSTD.
 * @returns QUIRE_ERR_NONE;
 *          QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE for snappy or 5..7;
 *          QUIRE_ERR_BAD_ARG for a NULL buffer or a cap out of range.
 * @locality any  @locks none (the builder is single-owner)
 */
quire_err_t qr_batch_builder_init(qr_batch_builder_t *b, uint8_t *buf,
                                  size_t cap, int codec);

/**
 * @brief Sets producerId, producerEpoch and baseSequence (idempotent
 * producers). Call before qr_batch_builder_finish().
 * @locality any  @locks none
 */
void qr_batch_builder_set_producer(qr_batch_builder_t *b, int64_t producer_id,
                                   int16_t producer_epoch,
                                   int32_t base_sequence);

/**
 * @brief Appends one record, encoded directly into the buffer. Its offset
 * delta is the number of records before it.
 * @param timestamp  milliseconds since the epoch, >= 0.
 * @param key        borrowed, copied; NULL for a null key (then key_len is
 *                   ignored).
 * @param value      borrowed, copied; NULL for a null value.
 * @param headers    borrowed, copied; @p header_count entries (NULL when
 *                   0). A header key is a string: NULL only with length 0.
 * @returns QUIRE_ERR_NONE;
 *          QUIRE_ERR_BUF_FULL when the record does not fit in the rest of
 *            the buffer: the batch is unchanged, and the producer finishes
 *            it and starts another (a record that does not fit an empty
 *            batch never will: compare with qr_batch_record_size());
 *          QUIRE_ERR_BAD_ARG for a negative timestamp, a length above
 *            INT32_MAX, a NULL header key with a length, a header value
 *            with a negative length, headers NULL with a count, or a
 *            finished builder.
 * @locality any  @locks none
 */
quire_err_t qr_batch_builder_append(qr_batch_builder_t *b, int64_t timestamp,
                                    const void *key, size_t key_len,
                                    const void *value, size_t value_len,
                                    const qr_batch_rec_header_t *headers,
                                    size_t header_count);

/** @brief Records appended so far. @locality any @locks none */
static inline int32_t qr_batch_builder_count(const qr_batch_builder_t *b)
{
    return b->count;
}

/** @brief Bytes the uncompressed batch takes so far (header included).
 * @locality any @locks none */
static inline size_t qr_batch_builder_size(const qr_batch_builder_t *b)
{
    return b->len;
}

/**
 * @brief The encoded size of a record, length prefix included, when it is
 * the @p offset_delta'th record and its timestamp is @p timestamp_delta
 * from the batch's first. Lets a producer refuse a record that could never
 * fit a batch (MESSAGE_TOO_LARGE) before trying.
 * @returns the size; SIZE_MAX if a length exceeds INT32_MAX.
 * @locality any  @locks none
 */
size_t qr_batch_record_size(int64_t timestamp_delta, int32_t offset_delta,
                            const void *key, size_t key_len, const void *value,
                            size_t value_len,
                            const qr_batch_rec_header_t *headers,
                            size_t header_count);

/**
 * @brief Out-buffer capacity that guarantees qr_batch_builder_finish()
 * compresses (61 + qr_codec_bound() of the records). 0 for codec none,
 * which needs no out buffer.
 * @locality any  @locks none
 */
size_t qr_batch_builder_out_bound(const qr_batch_builder_t *b);

/**
 * @brief Finishes the batch: lastOffsetDelta, timestamps, count, then the
 * CRC-32C. Uncompressed, the batch is @c buf itself. With a codec, the
 * records section is compressed as one block into @p out after a copy of
 * the header, and the batch is @p out; if the compressed records do not
 * fit in @p out_cap, the batch is written uncompressed in @c buf instead
 * (codec bits 0, still a valid batch no larger than the cap) so a producer
 * whose out buffer is as large as its batch buffer never fails here.
 * @param out      borrowed: the caller's second buffer; NULL with codec
 *                 none.
 * @param batch    set to the finished batch (@c buf or @p out).
 * @param batch_len set to its size.
 * @returns QUIRE_ERR_NONE;
 *          QUIRE_ERR_STATE for an empty or already finished batch;
 *          QUIRE_ERR_BAD_ARG for a codec batch without @p out;
 *          QUIRE_ERR_NO_MEMORY / QUIRE_ERR_COMPRESSION from the codec.
 * @locality any  @locks none
 */
quire_err_t qr_batch_builder_finish(qr_batch_builder_t *b, uint8_t *out,
                                    size_t out_cap, const uint8_t **batch,
                                    size_t *batch_len);

/** One record yielded by the reader; pointers borrow the batch (or the
 * decompressed records block), valid while that memory is. */
typedef struct qr_batch_rec {
    int64_t offset;       /* baseOffset + offsetDelta */
    int64_t timestamp;    /* firstTimestamp + delta, or maxTimestamp for
                             LOG_APPEND_TIME batches (Kafka's rule) */
    const uint8_t *key;   /* NULL for a null key */
    ssize_t key_len;      /* -1 for a null key */
    const uint8_t *value; /* NULL for a null value */
    ssize_t value_len;    /* -1 for a null value */
    int32_t header_count;
    /* private: cursor over the headers (already checked by next()) */
    const uint8_t *hp, *hend;
    int32_t hleft;
} qr_batch_rec_t;

/** Iterator over the records of one batch (a value type, no allocation).
 * Fields are private to batch.c except @c hdr and @c why. */
typedef struct qr_batch_iter {
    qr_batch_hdr_t hdr; /* the batch's header */
    const char *why;    /* static reason of the last failure, or NULL */
    const uint8_t *p, *end;
    int32_t index;
} qr_batch_iter_t;

/**
 * @brief Starts iterating the uncompressed batch at @p p, zero-copy. Checks
 * the header's magic and length against @p avail but not the CRC: run
 * qr_batch_validate() first on data that has not been checked.
 * @param p  borrowed for the life of the iteration.
 * @returns QUIRE_ERR_NONE;
 *          QUIRE_ERR_TRUNCATED / QUIRE_ERR_CORRUPT_MESSAGE as
 *            qr_batch_validate() for the header and lengths;
 *          QUIRE_ERR_BAD_ARG for a compressed batch (decompress its
 *            records, then use qr_batch_iter_init_records(), or
 *            qr_batch_iter_open()).
 * @locality any  @locks none
 */
quire_err_t qr_batch_iter_init(qr_batch_iter_t *it, const uint8_t *p,
                               size_t avail);

/**
 * @brief Starts iterating a records section held apart from its header:
 * the decompressed block of a compressed batch. @p hdr gives the base
 * offset, timestamps, attributes and count.
 * @param hdr      copied.
 * @param records  borrowed for the life of the iteration.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_INVALID_RECORD for a negative count.
 * @locality any  @locks none
 */
quire_err_t qr_batch_iter_init_records(qr_batch_iter_t *it,
                                       const qr_batch_hdr_t *hdr,
                                       const uint8_t *records, size_t len);

/**
 * @brief Either of the above, as the batch needs: an uncompressed batch is
 * read in place; a compressed one has its records decompressed into
 * @p scratch (which bounds their size) and read from there.
 * @param scratch  borrowed; may be NULL (cap 0) when the caller only reads
 *                 uncompressed batches.
 * @returns as qr_batch_iter_init() and qr_codec_decompress()
 *          (QUIRE_ERR_COMPRESSION when the records exceed @p scratch_cap,
 *          CORRUPT_MESSAGE for a bad block, UNSUPPORTED_COMPRESSION_TYPE).
 * @locality any  @locks none
 */
quire_err_t qr_batch_iter_open(qr_batch_iter_t *it, const uint8_t *p,
                               size_t avail, uint8_t *scratch,
                               size_t scratch_cap);

/**
 * @brief Reads the next record: every varint is checked, every length
 * bounded by the record's, the record's length must match what it holds,
 * its offset delta must be its index and its headers well formed.
 * @param rec  filled on QUIRE_ERR_NONE.
 * @returns QUIRE_ERR_NONE with a record;
 *          QUIRE_ERR_NOT_FOUND at the end: recordCount records were read
 *            and the records section used exactly;
 *          QUIRE_ERR_INVALID_RECORD for any framing error (it->why says
 *            which), including fewer records than recordCount or bytes
 *            left after the last one. The iterator stays at the bad record.
 * @locality any  @locks none
 */
quire_err_t qr_batch_iter_next(qr_batch_iter_t *it, qr_batch_rec_t *rec);

/**
 * @brief The record's next header.
 * @param h  filled on QUIRE_ERR_NONE (value NULL and value_len -1 for a
 *           null value).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND after the last header.
 * @locality any  @locks none
 */
quire_err_t qr_batch_rec_header_next(qr_batch_rec_t *rec,
                                     qr_batch_rec_header_t *h);

#endif /* QR_BATCH_H */
