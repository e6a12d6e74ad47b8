/*
 * kwire: Kafka's wire protocol, bytes <-> the neutral structs of apimsg.h
 * (issue 13). Written by hand: there is no C library for the server side.
 *
 * A Kafka frame is `int32 size` (the bytes that follow, big-endian), then a
 * request header (api_key int16, api_version int16, correlation_id int32,
 * client_id nullable int16 string; v2 adds tagged fields) and the body. A
 * response is `int32 size`, correlation_id, tagged fields in flexible
 * versions (never for ApiVersions), then the body. Flexible versions use
 * compact (unsigned varint + 1) lengths and end every struct with tagged
 * fields; this module skips tagged fields it reads and writes none.
 *
 * Reading: a qr_kr_t over borrowed bytes. Every primitive checks the bytes
 * left; the first shortfall or bad length sets r->err and every later read
 * returns zero/NULL, so a decoder reads straight through and checks once
 * (qr_kr_ok()). Array counts are checked against the bytes left before
 * anything is allocated for them (each element takes at least one byte).
 * Strings and arrays are allocated from an arena (qr_karena_t) that the
 * caller frees at once; `records` stay views into the frame.
 *
 * Writing: a qr_kw_t grows with qr_realloc (aborting on OOM, STYLE.md §3).
 * A response may be cut into segments around file ranges (Fetch: every
 * partition's records go by sendfile between the encoded bytes).
 *
 * Adding an API: apimsg.h gets the body structs (and a qr_api_t value), this
 * module a qr_kwire_<api>_decode/_encode pair, broker/kcodec.c one table
 * row (versions and handler).
 */
#ifndef QR_KWIRE_H
#define QR_KWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "apimsg.h"
#include "err.h"
#include "frame.h"

/** Smallest request: api_key, api_version, correlation_id, client_id len. */
#define QR_KWIRE_HEADER_MIN 10

/* ---- arena ---- */

typedef struct qr_karena qr_karena_t;

/** @brief A new, empty arena. @returns owned (qr_karena_free()). */
qr_karena_t *qr_karena_new(void);
/** @brief Frees the arena and everything allocated from it; NULL is fine. */
void qr_karena_free(qr_karena_t *mem);
/** @brief @p n zeroed bytes (n may be 0); aborts on OOM. @returns borrowed
 * from the arena. */
void *qr_karena_alloc(qr_karena_t *mem, size_t n);
/** @brief A copy of @p s in the arena (NULL gives NULL). @returns borrowed
 * from the arena. */
char *qr_karena_strdup(qr_karena_t *mem, const char *s);

/* ---- reading ---- */

typedef struct qr_kr {
    const uint8_t *p;
    size_t len, off;
    int err;          /**< 1 after a short read or a bad length */
    int flex;         /**< the body is a flexible version */
    qr_karena_t *mem; /**< borrowed: strings and arrays go here */
} qr_kr_t;

void qr_kr_init(qr_kr_t *r, const uint8_t *p, size_t len, qr_karena_t *mem);
static inline int qr_kr_ok(const qr_kr_t *r)
{
    return !r->err;
}
static inline size_t qr_kr_left(const qr_kr_t *r)
{
    return r->err ? 0 : r->len - r->off;
}
int8_t qr_kr_i8(qr_kr_t *r);
int16_t qr_kr_i16(qr_kr_t *r);
int32_t qr_kr_i32(qr_kr_t *r);
int64_t qr_kr_i64(qr_kr_t *r);
uint32_t qr_kr_uvarint(qr_kr_t *r);
/** A string: int16 length (flex: compact); -1 gives NULL. The copy is
 * NUL-terminated; an embedded NUL is an error. */
const char *qr_kr_str(qr_kr_t *r);
/** A string that must not be null (a null one is an error). */
const char *qr_kr_str_nn(qr_kr_t *r);
/** An array count: int32 (flex: compact); -1 (null) gives 0. Sets err when
 * the count exceeds the bytes left divided by @p min_elem. */
size_t qr_kr_array(qr_kr_t *r, size_t min_elem);
/** Bytes: int32 length (flex: compact); null gives NULL, *len 0. A view. */
const uint8_t *qr_kr_bytes(qr_kr_t *r, size_t *len);
/** Skips tagged fields (flex only; a no-op otherwise). */
void qr_kr_tags(qr_kr_t *r);
/** @brief An array of @p n elements of @p size from the arena (err set and
 * NULL on overflow). */
void *qr_kr_alloc(qr_kr_t *r, size_t n, size_t size);

/* ---- writing ---- */

typedef struct qr_kw {
    uint8_t *p;
    size_t len, cap;
    int flex; /**< the body is a flexible version */
} qr_kw_t;

void qr_kw_free(qr_kw_t *w);
/** @brief Takes the bytes (owned, free()); @p w is empty afterwards. */
uint8_t *qr_kw_take(qr_kw_t *w, size_t *len);
/** @brief Room for @p n more bytes, counted as written. @returns where. */
uint8_t *qr_kw_put(qr_kw_t *w, size_t n);
void qr_kw_i8(qr_kw_t *w, int8_t v);
void qr_kw_i16(qr_kw_t *w, int16_t v);
void qr_kw_i32(qr_kw_t *w, int32_t v);
void qr_kw_i64(qr_kw_t *w, int64_t v);
void qr_kw_uvarint(qr_kw_t *w, uint32_t v);
/** Writes @p s (NULL: the null string). */
void qr_kw_str(qr_kw_t *w, const char *s);
/** Writes an array count (flex: compact); @p null writes the null array. */
void qr_kw_array(qr_kw_t *w, size_t n);
/** Writes bytes with their length (NULL: null). */
void qr_kw_bytes(qr_kw_t *w, const void *p, size_t n);
/** Writes an empty tagged-field section (flex only). */
void qr_kw_tags(qr_kw_t *w);
/** @brief Kafka's error code for @p err: wire codes as they are, local codes
 * mapped (IO: KAFKA_STORAGE_ERROR, TIMED_OUT: REQUEST_TIMED_OUT, any other:
 * UNKNOWN_SERVER_ERROR). */
int16_t qr_kwire_err(quire_err_t err);

/* ---- frames and headers ---- */

/**
 * @brief Cuts the Kafka frame at the start of @p buf: `int32 size` then
 * size bytes. On success frame->header is the whole request (header and
 * body, header_len bytes) and there is no payload.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NEED_MORE (frame->size: bytes needed,
 *   when known); QUIRE_ERR_FRAME_TOO_LARGE when size > lim->max_frame;
 *   QUIRE_ERR_BAD_FRAME when size < QR_KWIRE_HEADER_MIN or negative.
 * @locality any  @locks none
 */
quire_err_t qr_kwire_frame_parse(const void *buf, size_t len,
                                 const qr_frame_limits_t *lim,
                                 qr_frame_t *frame);

typedef struct qr_kreq_hdr {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    const char *client_id; /**< never NULL ("" when null) */
} qr_kreq_hdr_t;

/**
 * @brief Reads the fixed part of a request header (api_key, api_version,
 * correlation_id); the client id and tags follow (qr_kwire_hdr_rest()).
 * @returns 0, or -1 when fewer than 8 bytes are there.
 */
int qr_kwire_hdr_fixed(qr_kr_t *r, qr_kreq_hdr_t *hdr);

/** @brief Reads client_id and, when @p flex (header v2), tagged fields.
 * @returns 0 or -1 (r->err). */
int qr_kwire_hdr_rest(qr_kr_t *r, qr_kreq_hdr_t *hdr, int flex);

/** @brief Starts a response: a 4-byte size placeholder, the correlation id
 * and, when @p flex, empty tagged fields (response header v1). */
void qr_kwire_resp_begin(qr_kw_t *w, int32_t correlation_id, int flex);

/* ---- APIs: decode a request body into @p req->u, encode @p resp->u ---- */
/* Decoders return QUIRE_ERR_NONE or QUIRE_ERR_INVALID_REQUEST (malformed),
 * with r->flex set by the caller for flexible versions. Encoders append the
 * body to @p w (w->flex set by the caller). */

/** One row of ApiVersions' answer (Kafka's table, broker/kcodec.c). */
typedef struct qr_kapi_range {
    int16_t api_key, min_version, max_version;
} qr_kapi_range_t;

/**
 * Where an encoder writes: @c w, plus @c cut for bytes that go by sendfile.
 * cut() ends the current memory piece (taking w's bytes), then queues the
 * file range, so the next bytes written to w follow it on the wire.
 */
typedef struct qr_kout {
    qr_kw_t w;
    void (*cut)(struct qr_kout *o, const qr_file_range_t *file);
    void *arg; /**< the cut's own state */
} qr_kout_t;

/** ApiVersions v0-v3 response body. */
void qr_kwire_apiversions_encode(qr_kw_t *w, int16_t version,
                                 int16_t error_code,
                                 const qr_kapi_range_t *apis, size_t n);

quire_err_t qr_kwire_metadata_decode(qr_kr_t *r, int16_t version,
                                     qr_req_t *req);
void qr_kwire_metadata_encode(qr_kout_t *o, int16_t version,
                              const qr_resp_t *resp);
quire_err_t qr_kwire_produce_decode(qr_kr_t *r, int16_t version, qr_req_t *req);
void qr_kwire_produce_encode(qr_kout_t *o, int16_t version,
                             const qr_resp_t *resp);
/** Fetch: each partition's records go through o->cut when its `file` is
 * set (the broker), else are copied from `records` (tests). */
quire_err_t qr_kwire_fetch_decode(qr_kr_t *r, int16_t version, qr_req_t *req);
void qr_kwire_fetch_encode(qr_kout_t *o, int16_t version,
                           const qr_resp_t *resp);
quire_err_t qr_kwire_listoffsets_decode(qr_kr_t *r, int16_t version,
                                        qr_req_t *req);
void qr_kwire_listoffsets_encode(qr_kout_t *o, int16_t version,
                                 const qr_resp_t *resp);

#endif /* QR_KWIRE_H */
