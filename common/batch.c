/*
 * batch: Kafka's RecordBatch v2, byte for byte (DESIGN.md §3).
 *
 * Three parts: the header view and validator (what the broker runs on every
 * produced batch, so one CRC pass and a handful of compares), the builder
 * (what a producer runs per record, so no allocation and varints written in
 * place), and the record reader (zero-copy, every length bounded).
 */
#include "config.h"

#include "batch.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "crc32c.h"
#include "varint.h"

_Static_assert(QR_BATCH_OFF_RECORD_COUNT + 4 == QR_BATCH_HEADER_SIZE,
               "recordCount is the header's last field");
_Static_assert(QR_BATCH_OFF_CRC + 4 == QR_BATCH_OFF_ATTRIBUTES,
               "the CRC covers everything after itself");
_Static_assert(QR_BATCH_OFF_LENGTH + 4 == QR_BATCH_LOG_OVERHEAD,
               "batchLength counts the bytes after itself");

/* batchLength can never be below this: the header after the length. */
#define MIN_LENGTH (QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD)
/* Attribute bits quire knows: codec, timestamp type, transactional,
 * control. Kafka 3's bit 6 (delete horizon, set by compaction) and the
 * rest are refused: quire never writes them and would misread them. */
#define KNOWN_ATTRS 0x3f
/* A record's body (after its length) is at least 6 bytes. */
#define MIN_BODY (QR_BATCH_RECORD_MIN_SIZE - 1)
/* Kafka's "no timestamp" / "no producer" value. */
#define NONE_VALUE (-1)

#define FAIL(err, s)    \
    do {                \
        if (why)        \
            *why = (s); \
        return (err);   \
    } while (0)

/* ---- header ---- */

quire_err_t qr_batch_hdr_read(const uint8_t *p, size_t avail,
                              qr_batch_hdr_t *hdr)
{
    if (avail < QR_BATCH_HEADER_SIZE)
        return QUIRE_ERR_TRUNCATED;
    hdr->base_offset = (int64_t)qr_be64_get(p + QR_BATCH_OFF_BASE_OFFSET);
    hdr->length = (int32_t)qr_be32_get(p + QR_BATCH_OFF_LENGTH);
    hdr->leader_epoch = (int32_t)qr_be32_get(p + QR_BATCH_OFF_LEADER_EPOCH);
    hdr->magic = (int8_t)p[QR_BATCH_OFF_MAGIC];
    hdr->crc = qr_be32_get(p + QR_BATCH_OFF_CRC);
    hdr->attributes = (int16_t)qr_be16_get(p + QR_BATCH_OFF_ATTRIBUTES);
    hdr->last_offset_delta =
        (int32_t)qr_be32_get(p + QR_BATCH_OFF_LAST_OFFSET_DELTA);
    hdr->first_timestamp =
        (int64_t)qr_be64_get(p + QR_BATCH_OFF_FIRST_TIMESTAMP);
    hdr->max_timestamp = (int64_t)qr_be64_get(p + QR_BATCH_OFF_MAX_TIMESTAMP);
    hdr->producer_id = (int64_t)qr_be64_get(p + QR_BATCH_OFF_PRODUCER_ID);
    hdr->producer_epoch = (int16_t)qr_be16_get(p + QR_BATCH_OFF_PRODUCER_EPOCH);
    hdr->base_sequence = (int32_t)qr_be32_get(p + QR_BATCH_OFF_BASE_SEQUENCE);
    hdr->record_count = (int32_t)qr_be32_get(p + QR_BATCH_OFF_RECORD_COUNT);
    return QUIRE_ERR_NONE;
}

void qr_batch_set_base_offset(uint8_t *p, int64_t base_offset)
{
    qr_be64_put(p + QR_BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void qr_batch_set_leader_epoch(uint8_t *p, int32_t leader_epoch)
{
    qr_be32_put(p + QR_BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
}

/* The checks every reader needs before trusting the length: enough bytes
 * for a header, magic 2, and a batchLength inside [header, avail]. */
static quire_err_t check_frame(const uint8_t *p, size_t avail,
                               qr_batch_hdr_t *hdr, const char **why)
{
    if (qr_batch_hdr_read(p, avail, hdr) != QUIRE_ERR_NONE)
        FAIL(QUIRE_ERR_TRUNCATED, "shorter than a batch header (61 bytes)");
    if (hdr->magic != QR_BATCH_MAGIC)
        FAIL(QUIRE_ERR_CORRUPT_MESSAGE, "magic is not 2");
    if (hdr->length < MIN_LENGTH)
        FAIL(QUIRE_ERR_CORRUPT_MESSAGE, "batchLength below the header size");
    if (qr_batch_size(hdr) > avail)
        FAIL(QUIRE_ERR_TRUNCATED, "batchLength runs past the available bytes");
    return QUIRE_ERR_NONE;
}

/* The header fields the CRC cannot vouch for the meaning of. Each rule
 * names Kafka's sentinel -1 ("none") as the only negative allowed. */
static quire_err_t check_fields(const qr_batch_hdr_t *hdr, const char **why)
{
    int codec = qr_batch_codec(hdr);

    if (codec == QR_CODEC_SNAPPY)
        FAIL(QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE,
             "snappy compression is not supported");
    if (!qr_codec_supported(codec))
        FAIL(QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE,
             "unknown compression codec in attributes");
    if (hdr->attributes & ~KNOWN_ATTRS)
        FAIL(QUIRE_ERR_INVALID_RECORD, "unknown attribute bits set");
    if (hdr->record_count < 0)
        FAIL(QUIRE_ERR_INVALID_RECORD, "recordCount is negative");
    /* Kafka accepts lastOffsetDelta > recordCount - 1 after compaction
     * removed records; quire never compacts, so it requires the exact
     * value: offsets in a batch are dense. An empty batch (compaction's
     * leftover) keeps a delta >= 0. */
    if (hdr->record_count > 0 &&
        hdr->last_offset_delta != hdr->record_count - 1)
        FAIL(QUIRE_ERR_INVALID_RECORD,
             "lastOffsetDelta is not recordCount - 1");
    if (hdr->record_count == 0 && hdr->last_offset_delta < 0)
        FAIL(QUIRE_ERR_INVALID_RECORD, "lastOffsetDelta is negative");
    if (hdr->base_offset < 0)
        FAIL(QUIRE_ERR_INVALID_RECORD, "baseOffset is negative");
    if (hdr->base_offset > INT64_MAX - hdr->last_offset_delta)
        FAIL(QUIRE_ERR_INVALID_RECORD, "last offset overflows");
    if (hdr->leader_epoch < NONE_VALUE)
        FAIL(QUIRE_ERR_INVALID_RECORD, "partitionLeaderEpoch below -1");
    if (hdr->first_timestamp < NONE_VALUE)
        FAIL(QUIRE_ERR_INVALID_RECORD, "firstTimestamp below -1");
    if (hdr->max_timestamp < NONE_VALUE)
        FAIL(QUIRE_ERR_INVALID_RECORD, "maxTimestamp below -1");
    /* With LOG_APPEND_TIME the broker's clock wrote maxTimestamp and the
     * producer's wrote firstTimestamp: no order between them. */
    if (!(hdr->attributes & QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND) &&
        hdr->first_timestamp != NONE_VALUE &&
        hdr->max_timestamp != NONE_VALUE &&
        hdr->max_timestamp < hdr->first_timestamp)
        FAIL(QUIRE_ERR_INVALID_RECORD, "maxTimestamp below firstTimestamp");
    if (hdr->producer_id < NONE_VALUE)
        FAIL(QUIRE_ERR_INVALID_RECORD, "producerId below -1");
    if (hdr->producer_epoch < NONE_VALUE)
        FAIL(QUIRE_ERR_INVALID_RECORD, "producerEpoch below -1");
    if (hdr->base_sequence < NONE_VALUE)
        FAIL(QUIRE_ERR_INVALID_RECORD, "baseSequence below -1");
    if (codec == QR_CODEC_NONE &&
        (size_t)hdr->record_count >
            (qr_batch_size(hdr) - QR_BATCH_HEADER_SIZE) /
                QR_BATCH_RECORD_MIN_SIZE)
        FAIL(QUIRE_ERR_INVALID_RECORD,
             "recordCount larger than the records section can hold");
    return QUIRE_ERR_NONE;
}

quire_err_t qr_batch_validate(const uint8_t *p, size_t avail,
                              qr_batch_check_t check, qr_batch_hdr_t *hdr,
                              const char **why)
{
    qr_batch_hdr_t tmp;
    quire_err_t err;

    if (!hdr)
        hdr = &tmp;
    if (!p)
        FAIL(QUIRE_ERR_TRUNCATED, "no data");
    err = check_frame(p, avail, hdr, why);
    if (err != QUIRE_ERR_NONE)
        return err;
    /* The CRC first: a corrupted field is reported as corruption, not as
     * whatever its damaged value happens to mean. */
    size_t size = qr_batch_size(hdr);
    if (qr_crc32c(0, p + QR_BATCH_OFF_ATTRIBUTES,
                  size - QR_BATCH_OFF_ATTRIBUTES) != hdr->crc)
        FAIL(QUIRE_ERR_CORRUPT_MESSAGE, "CRC-32C mismatch");
    err = check_fields(hdr, why);
    if (err != QUIRE_ERR_NONE || check != QR_BATCH_CHECK_RECORDS ||
        qr_batch_codec(hdr) != QR_CODEC_NONE)
        return err;

    qr_batch_iter_t it;
    qr_batch_rec_t rec;
    qr_batch_iter_init_records(&it, hdr, p + QR_BATCH_HEADER_SIZE,
                               size - QR_BATCH_HEADER_SIZE);
    while ((err = qr_batch_iter_next(&it, &rec)) == QUIRE_ERR_NONE)
        ;
    if (err == QUIRE_ERR_NOT_FOUND)
        return QUIRE_ERR_NONE;
    FAIL(err, it.why);
}

/* ---- a producer's batch (Kafka's LogValidator) ---- */

/* Reads every record of a compressed batch, decompressed into memory of
 * its own bounded by @p max (a small block may claim gigabytes). */
static quire_err_t check_compressed(const uint8_t *p, const qr_batch_hdr_t *hdr,
                                    size_t max, const char **why)
{
    uint8_t *records = NULL;
    size_t n = 0;
    qr_batch_iter_t it;
    qr_batch_rec_t rec;
    quire_err_t err;

    err = qr_codec_decompress_alloc(
        qr_batch_codec(hdr), p + QR_BATCH_HEADER_SIZE,
        qr_batch_size(hdr) - QR_BATCH_HEADER_SIZE, max, &records, &n, why);
    if (err == QUIRE_ERR_COMPRESSION)
        FAIL(QUIRE_ERR_INVALID_RECORD,
             "records decompress to more than the broker accepts");
    if (err != QUIRE_ERR_NONE)
        return err;
    qr_batch_iter_init_records(&it, hdr, records, n);
    while ((err = qr_batch_iter_next(&it, &rec)) == QUIRE_ERR_NONE)
        ;
    free(records);
    if (err == QUIRE_ERR_NOT_FOUND)
        return QUIRE_ERR_NONE;
    FAIL(err, it.why);
}

quire_err_t qr_batch_validate_produced(const uint8_t *p, size_t avail,
                                       size_t decompress_max,
                                       qr_batch_hdr_t *hdr, const char **why)
{
    qr_batch_hdr_t tmp;
    quire_err_t err;

    if (!hdr)
        hdr = &tmp;
    err = qr_batch_validate(p, avail, QR_BATCH_CHECK_RECORDS, hdr, why);
    if (err != QUIRE_ERR_NONE)
        return err;
    /* check_fields() allows an empty batch (compaction's leftover in a
     * Kafka log); from a producer it would take offsets without records:
     * lastOffsetDelta up to INT32_MAX moved the log end that far. */
    if (hdr->record_count < 1)
        FAIL(QUIRE_ERR_INVALID_RECORD, "recordCount is 0: an empty batch");
    if (hdr->attributes & QR_BATCH_ATTR_CONTROL)
        FAIL(QUIRE_ERR_INVALID_RECORD,
             "control batch: clients may not write control records");
    if (qr_batch_codec(hdr) == QR_CODEC_NONE || decompress_max == 0)
        return QUIRE_ERR_NONE;
    return check_compressed(p, hdr, decompress_max, why);
}

/* ---- builder ---- */

/* Bytes a nullable field takes: its length varint and its bytes. */
static inline size_t field_size(const void *p, size_t len)
{
    if (!p)
        return 1; /* varint -1 */
    return qr_varint_size_i32((int32_t)len) + len;
}

/* The headers' part of a record body (count varint included), or SIZE_MAX
 * when a length is out of Kafka's int32 range or a header is malformed. */
static size_t headers_size(const qr_batch_rec_header_t *headers,
                           size_t header_count)
{
    size_t n;

    if (header_count > INT32_MAX)
        return SIZE_MAX;
    n = qr_varint_size_i32((int32_t)header_count);
    for (size_t i = 0; i < header_count; i++) {
        const qr_batch_rec_header_t *h = &headers[i];
        if (h->key_len > INT32_MAX || (!h->key && h->key_len) ||
            (h->value && (h->value_len < 0 || h->value_len > INT32_MAX)))
            return SIZE_MAX;
        n += qr_varint_size_i32((int32_t)h->key_len) + h->key_len +
             field_size(h->value, (size_t)h->value_len);
        if (n > INT32_MAX)
            return SIZE_MAX;
    }
    return n;
}

/* The record's body size (everything after its length varint), or
 * SIZE_MAX when a length is out of Kafka's int32 range. Inline: the
 * builder runs it once per record, and records without headers take no
 * loop. */
static inline size_t body_size(int64_t ts_delta, int32_t off_delta,
                               const void *key, size_t key_len,
                               const void *value, size_t value_len,
                               const qr_batch_rec_header_t *headers,
                               size_t header_count)
{
    size_t n, h = 1; /* header count 0 */

    if ((key && key_len > INT32_MAX) || (value && value_len > INT32_MAX))
        return SIZE_MAX;
    if (header_count && (h = headers_size(headers, header_count)) == SIZE_MAX)
        return SIZE_MAX;
    n = 1 + qr_varint_size_i64(ts_delta) + qr_varint_size_i32(off_delta) +
        field_size(key, key_len) + field_size(value, value_len) + h;
    return n > INT32_MAX ? SIZE_MAX : n;
}

size_t qr_batch_record_size(int64_t timestamp_delta, int32_t offset_delta,
                            const void *key, size_t key_len, const void *value,
                            size_t value_len,
                            const qr_batch_rec_header_t *headers,
                            size_t header_count)
{
    size_t n = body_size(timestamp_delta, offset_delta, key, key_len, value,
                         value_len, headers, header_count);
    if (n == SIZE_MAX)
        return SIZE_MAX;
    return qr_varint_size_i32((int32_t)n) + n;
}

quire_err_t qr_batch_builder_init(qr_batch_builder_t *b, uint8_t *buf,
                                  size_t cap, int codec)
{
    if (!qr_codec_supported(codec))
        return QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    if (!buf || cap < QR_BATCH_HEADER_SIZE ||
        cap > (size_t)INT32_MAX + QR_BATCH_LOG_OVERHEAD)
        return QUIRE_ERR_BAD_ARG;
    memset(b, 0, sizeof(*b));
    b->buf = buf;
    b->cap = cap;
    b->len = QR_BATCH_HEADER_SIZE;
    b->codec = codec;
    b->producer_id = NONE_VALUE;
    b->producer_epoch = NONE_VALUE;
    b->base_sequence = NONE_VALUE;
    return QUIRE_ERR_NONE;
}

void qr_batch_builder_set_producer(qr_batch_builder_t *b, int64_t producer_id,
                                   int16_t producer_epoch,
                                   int32_t base_sequence)
{
    b->producer_id = producer_id;
    b->producer_epoch = producer_epoch;
    b->base_sequence = base_sequence;
}

/* Writes a nullable field (length varint, bytes) at @p w. */
static inline uint8_t *put_field(uint8_t *w, const void *p, size_t len)
{
    if (!p) {
        *w++ = 0x01; /* zig-zag -1 */
        return w;
    }
    w += qr_varint_enc_i32(w, (int32_t)len);
    memcpy(w, p, len);
    return w + len;
}

quire_err_t qr_batch_builder_append(qr_batch_builder_t *b, int64_t timestamp,
                                    const void *key, size_t key_len,
                                    const void *value, size_t value_len,
                                    const qr_batch_rec_header_t *headers,
                                    size_t header_count)
{
    int64_t ts_delta;
    size_t body, total;
    uint8_t *w;

    if (b->finished || timestamp < 0 || (header_count && !headers))
        return QUIRE_ERR_BAD_ARG;
    ts_delta = b->count ? timestamp - b->first_ts : 0;
    body = body_size(ts_delta, b->count, key, key_len, value, value_len,
                     headers, header_count);
    if (body == SIZE_MAX)
        return QUIRE_ERR_BAD_ARG;
    total = qr_varint_size_i32((int32_t)body) + body;
    if (total > b->cap - b->len || b->count == INT32_MAX)
        return QUIRE_ERR_BUF_FULL;

    w = b->buf + b->len;
    w += qr_varint_enc_i32(w, (int32_t)body);
    *w++ = 0; /* record attributes: unused in v2 */
    w += qr_varint_enc_i64(w, ts_delta);
    w += qr_varint_enc_i32(w, b->count);
    w = put_field(w, key, key_len);
    w = put_field(w, value, value_len);
    if (!header_count)
        *w++ = 0; /* zig-zag 0 */
    else
        w += qr_varint_enc_i32(w, (int32_t)header_count);
    for (size_t i = 0; i < header_count; i++) {
        const qr_batch_rec_header_t *h = &headers[i];
        w += qr_varint_enc_i32(w, (int32_t)h->key_len);
        if (h->key_len)
            memcpy(w, h->key, h->key_len);
        w += h->key_len;
        w = put_field(w, h->value, (size_t)h->value_len);
    }
    b->len += total;

    if (b->count == 0) {
        b->first_ts = timestamp;
        b->max_ts = timestamp;
    } else if (timestamp > b->max_ts) {
        b->max_ts = timestamp;
    }
    b->count++;
    return QUIRE_ERR_NONE;
}

size_t qr_batch_builder_out_bound(const qr_batch_builder_t *b)
{
    size_t bound;

    if (b->codec == QR_CODEC_NONE)
        return 0;
    bound = qr_codec_bound(b->codec, b->len - QR_BATCH_HEADER_SIZE);
    if (bound == 0 || bound > SIZE_MAX - QR_BATCH_HEADER_SIZE)
        return 0;
    return QR_BATCH_HEADER_SIZE + bound;
}

/* Writes the header for a batch of @p size bytes at @p p (records already
 * in place after it), then the CRC over attributes..end. */
static void put_header(const qr_batch_builder_t *b, uint8_t *p, size_t size,
                       int16_t attributes)
{
    qr_be64_put(p + QR_BATCH_OFF_BASE_OFFSET, 0);
    qr_be32_put(p + QR_BATCH_OFF_LENGTH,
                (uint32_t)(size - QR_BATCH_LOG_OVERHEAD));
    qr_be32_put(p + QR_BATCH_OFF_LEADER_EPOCH, (uint32_t)NONE_VALUE);
    p[QR_BATCH_OFF_MAGIC] = QR_BATCH_MAGIC;
    qr_be16_put(p + QR_BATCH_OFF_ATTRIBUTES, (uint16_t)attributes);
    qr_be32_put(p + QR_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count - 1));
    qr_be64_put(p + QR_BATCH_OFF_FIRST_TIMESTAMP, (uint64_t)b->first_ts);
    qr_be64_put(p + QR_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)b->max_ts);
    qr_be64_put(p + QR_BATCH_OFF_PRODUCER_ID, (uint64_t)b->producer_id);
    qr_be16_put(p + QR_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)b->producer_epoch);
    qr_be32_put(p + QR_BATCH_OFF_BASE_SEQUENCE, (uint32_t)b->base_sequence);
    qr_be32_put(p + QR_BATCH_OFF_RECORD_COUNT, (uint32_t)b->count);
    qr_be32_put(p + QR_BATCH_OFF_CRC,
                qr_crc32c(0, p + QR_BATCH_OFF_ATTRIBUTES,
                          size - QR_BATCH_OFF_ATTRIBUTES));
}

quire_err_t qr_batch_builder_finish(qr_batch_builder_t *b, uint8_t *out,
                                    size_t out_cap, const uint8_t **batch,
                                    size_t *batch_len)
{
    size_t records = b->len - QR_BATCH_HEADER_SIZE, clen;
    quire_err_t err;

    if (b->finished || b->count == 0)
        return QUIRE_ERR_STATE;
    if (b->codec != QR_CODEC_NONE) {
        if (!out)
            return QUIRE_ERR_BAD_ARG;
        err = QUIRE_ERR_BUF_FULL;
        /* Bounded by the builder's own cap too, so a batch never outgrows
         * INT32_MAX or the size the producer configured. */
        size_t room = out_cap < b->cap ? out_cap : b->cap;
        if (room > QR_BATCH_HEADER_SIZE)
            err = qr_codec_compress(b->codec, b->buf + QR_BATCH_HEADER_SIZE,
                                    records, out + QR_BATCH_HEADER_SIZE,
                                    room - QR_BATCH_HEADER_SIZE, &clen);
        if (err == QUIRE_ERR_NONE) {
            put_header(b, out, QR_BATCH_HEADER_SIZE + clen, (int16_t)b->codec);
            b->finished = 1;
            *batch = out;
            *batch_len = QR_BATCH_HEADER_SIZE + clen;
            return QUIRE_ERR_NONE;
        }
        if (err != QUIRE_ERR_BUF_FULL)
            return err;
        /* Compressed is larger than the room: send it as it is. */
    }
    put_header(b, b->buf, b->len, 0);
    b->finished = 1;
    *batch = b->buf;
    *batch_len = b->len;
    return QUIRE_ERR_NONE;
}

/* ---- reader ---- */

quire_err_t qr_batch_iter_init_records(qr_batch_iter_t *it,
                                       const qr_batch_hdr_t *hdr,
                                       const uint8_t *records, size_t len)
{
    static const uint8_t empty;

    memset(it, 0, sizeof(*it));
    it->hdr = *hdr;
    it->p = records ? records : &empty;
    it->end = it->p + (records ? len : 0);
    if (hdr->record_count < 0) {
        it->why = "recordCount is negative";
        return QUIRE_ERR_INVALID_RECORD;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_batch_iter_init(qr_batch_iter_t *it, const uint8_t *p,
                               size_t avail)
{
    qr_batch_hdr_t hdr;
    quire_err_t err;

    memset(it, 0, sizeof(*it));
    if (!p) {
        it->why = "no data";
        return QUIRE_ERR_TRUNCATED;
    }
    err = check_frame(p, avail, &hdr, &it->why);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (qr_batch_codec(&hdr) != QR_CODEC_NONE) {
        it->hdr = hdr;
        it->why = "batch is compressed: decompress its records first";
        return QUIRE_ERR_BAD_ARG;
    }
    return qr_batch_iter_init_records(it, &hdr, p + QR_BATCH_HEADER_SIZE,
                                      qr_batch_size(&hdr) -
                                          QR_BATCH_HEADER_SIZE);
}

quire_err_t qr_batch_iter_open(qr_batch_iter_t *it, const uint8_t *p,
                               size_t avail, uint8_t *scratch,
                               size_t scratch_cap)
{
    qr_batch_hdr_t hdr;
    quire_err_t err;
    size_t n;

    memset(it, 0, sizeof(*it));
    if (!p) {
        it->why = "no data";
        return QUIRE_ERR_TRUNCATED;
    }
    err = check_frame(p, avail, &hdr, &it->why);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (qr_batch_codec(&hdr) == QR_CODEC_NONE)
        return qr_batch_iter_init(it, p, avail);
    err = qr_codec_decompress(qr_batch_codec(&hdr), p + QR_BATCH_HEADER_SIZE,
                              qr_batch_size(&hdr) - QR_BATCH_HEADER_SIZE,
                              scratch, scratch_cap, &n, &it->why);
    if (err != QUIRE_ERR_NONE) {
        it->hdr = hdr;
        return err;
    }
    return qr_batch_iter_init_records(it, &hdr, scratch, n);
}

/* Reads a varint inside [*pp, end) into *v; moves *pp past it. */
static inline int get_i32(const uint8_t **pp, const uint8_t *end, int32_t *v)
{
    int n = qr_varint_dec_i32(*pp, (size_t)(end - *pp), v);
    if (n < 0)
        return -1;
    *pp += n;
    return 0;
}

static inline int get_i64(const uint8_t **pp, const uint8_t *end, int64_t *v)
{
    int n = qr_varint_dec_i64(*pp, (size_t)(end - *pp), v);
    if (n < 0)
        return -1;
    *pp += n;
    return 0;
}

/* Reads a nullable byte field (length varint, bytes) bounded by @p end. */
static inline const char *get_field(const uint8_t **pp, const uint8_t *end,
                                    const uint8_t **data, ssize_t *len,
                                    int nullable)
{
    int32_t n;
    if (get_i32(pp, end, &n) < 0)
        return "malformed length varint";
    if (n < 0) {
        if (n != -1 || !nullable)
            return "negative length";
        *data = NULL;
        *len = -1;
        return NULL;
    }
    if ((size_t)n > (size_t)(end - *pp))
        return "length runs past the record";
    *data = *pp;
    *len = n;
    *pp += n;
    return NULL;
}

#define BAD(s)                           \
    do {                                 \
        it->why = (s);                   \
        return QUIRE_ERR_INVALID_RECORD; \
    } while (0)

/* Walks the headers of a record: [p, rend) after the count. */
static const char *check_headers(const uint8_t **pp, const uint8_t *rend,
                                 int32_t count)
{
    const uint8_t *data;
    ssize_t len;

    for (int32_t i = 0; i < count; i++) {
        if (get_field(pp, rend, &data, &len, 0))
            return "bad header key";
        if (get_field(pp, rend, &data, &len, 1))
            return "bad header value";
    }
    return NULL;
}

/* Parses the record body [p, rend): everything after the length. Fills
 * @p rec's key, value and header cursor; returns why it is malformed, or
 * NULL. */
static const char *parse_body(const uint8_t *p, const uint8_t *rend,
                              int32_t index, qr_batch_rec_t *rec,
                              int64_t *ts_delta)
{
    int32_t off_delta, hcount;
    const char *bad;

    if (*p++ != 0)
        return "record attributes are not 0";
    if (get_i64(&p, rend, ts_delta) < 0)
        return "timestampDelta: malformed varlong";
    if (get_i32(&p, rend, &off_delta) < 0)
        return "offsetDelta: malformed varint";
    /* lastOffsetDelta == recordCount - 1 makes the deltas exactly 0..n-1. */
    if (off_delta != index)
        return "offsetDelta does not follow the previous record's";
    if (get_field(&p, rend, &rec->key, &rec->key_len, 1))
        return "bad key length";
    if (get_field(&p, rend, &rec->value, &rec->value_len, 1))
        return "bad value length";
    if (get_i32(&p, rend, &hcount) < 0)
        return "header count: malformed varint";
    if (hcount < 0 || (size_t)hcount > (size_t)(rend - p) / 2)
        return "header count out of range";
    rec->hp = p;
    rec->hend = rend;
    rec->hleft = rec->header_count = hcount;
    if ((bad = check_headers(&p, rend, hcount)) != NULL)
        return bad;
    if (p != rend)
        return "record length does not match its contents";
    return NULL;
}

/* The record's timestamp by Kafka's rules: maxTimestamp for
 * LOG_APPEND_TIME batches, -1 when the batch has none, else the first
 * plus the delta, which may go below the first but not above the max. */
static const char *record_timestamp(const qr_batch_hdr_t *hdr, int64_t ts_delta,
                                    int64_t *ts)
{
    if (hdr->attributes & QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND) {
        *ts = hdr->max_timestamp;
        return NULL;
    }
    if (hdr->first_timestamp == NONE_VALUE) {
        *ts = NONE_VALUE;
        return NULL;
    }
    if (__builtin_add_overflow(hdr->first_timestamp, ts_delta, ts) || *ts < 0)
        return "record timestamp out of range";
    if (hdr->max_timestamp != NONE_VALUE && *ts > hdr->max_timestamp)
        return "record timestamp above maxTimestamp";
    return NULL;
}

quire_err_t qr_batch_iter_next(qr_batch_iter_t *it, qr_batch_rec_t *rec)
{
    const uint8_t *p = it->p;
    int32_t len;
    int64_t ts_delta;
    const char *bad;

    if (it->index == it->hdr.record_count) {
        if (p != it->end)
            BAD("bytes left after the last record");
        it->why = NULL;
        return QUIRE_ERR_NOT_FOUND;
    }
    if (p == it->end)
        BAD("fewer records than recordCount");
    if (get_i32(&p, it->end, &len) < 0)
        BAD("record length: malformed varint");
    if (len < MIN_BODY)
        BAD("record length below the minimum");
    if ((size_t)len > (size_t)(it->end - p))
        BAD("record length runs past the records");
    if ((bad = parse_body(p, p + len, it->index, rec, &ts_delta)) != NULL ||
        (bad = record_timestamp(&it->hdr, ts_delta, &rec->timestamp)) != NULL)
        BAD(bad);
    rec->offset = it->hdr.base_offset + it->index;
    it->p = p + len;
    it->index++;
    it->why = NULL;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_batch_rec_header_next(qr_batch_rec_t *rec,
                                     qr_batch_rec_header_t *h)
{
    ssize_t klen;

    if (rec->hleft <= 0)
        return QUIRE_ERR_NOT_FOUND;
    /* qr_batch_iter_next() checked these bytes; the bounds stay anyway. */
    if (get_field(&rec->hp, rec->hend, &h->key, &klen, 0) ||
        get_field(&rec->hp, rec->hend, &h->value, &h->value_len, 1)) {
        rec->hleft = 0;
        return QUIRE_ERR_INVALID_RECORD;
    }
    h->key_len = (size_t)klen;
    rec->hleft--;
    return QUIRE_ERR_NONE;
}
