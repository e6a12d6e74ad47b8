/*
 * kreq: the Kafka listener's request decoder (issue 13). One entry,
 * qr_kreq_decode(), takes a frame cut by qr_kwire_frame_parse() through the
 * request header and the body of every API and version served into the
 * neutral qr_req_t. The broker (broker/kcodec.c) and the fuzz target
 * (tests/fuzz/fuzz_kafka.c) both call it, so what is fuzzed is what runs.
 *
 * The table here is what ApiVersions answers: exactly the APIs and versions
 * decoded. broker/kcodec.c adds a handler and an encoder for each row.
 *
 * Adding an API: apimsg.h its structs, a decode/encode pair in proto/kwire
 * (or kgwire, kawire), one row here and one in kcodec.c's table.
 */
#ifndef QR_KREQ_H
#define QR_KREQ_H

#include <stddef.h>
#include <stdint.h>

#include "apimsg.h"
#include "err.h"
#include "frame.h"
#include "kwire.h"

/** The most rows the table may have. */
#define QR_KREQ_API_MAX 64

/** One API of the Kafka listener: its versions and its body decoder. */
typedef struct qr_kreq_api {
    int16_t api_key;
    const char *name;
    int16_t min_version, max_version;
    /** First flexible (tagged-field) version; above max_version: none. */
    int16_t flex_version;
    /** Reads the body into req->u (r->flex set); NONE or INVALID_REQUEST. */
    quire_err_t (*decode)(qr_kr_t *r, int16_t version, qr_req_t *req);
} qr_kreq_api_t;

/** @brief The table (static, @p n rows). @locality any */
const qr_kreq_api_t *qr_kreq_apis(size_t *n);

/** @brief The row of @p api_key, or NULL. @locality any */
const qr_kreq_api_t *qr_kreq_api(int api_key);

/** @brief Kafka's name of @p api_key, "Unknown" when not served. */
const char *qr_kreq_api_name(int api_key);

/** What qr_kreq_decode() found besides the request. */
typedef struct qr_kreq_info {
    qr_kreq_hdr_t hdr;        /**< read as far as it goes (zeros before) */
    const qr_kreq_api_t *api; /**< the row, NULL when not served */
    int flex;                 /**< the version is flexible (header v2) */
} qr_kreq_info_t;

/**
 * @brief Decodes one Kafka request: @p frame->header (header_len bytes) is
 * the header and the body, as qr_kwire_frame_parse() cuts them.
 * Strings and arrays of @p req go to @p mem (the caller frees it; @p req
 * and @p info's strings are borrowed from it); records stay views into the
 * frame.
 * @returns QUIRE_ERR_NONE (@p req set: api, version, correlation_id,
 *   client_id, u); QUIRE_ERR_UNSUPPORTED_VERSION for an API not served or a
 *   version outside its row (info->hdr's fixed part set; answer it);
 *   QUIRE_ERR_INVALID_REQUEST when the header or body cannot be read (close
 *   the connection).
 * @locality any  @locks none
 */
quire_err_t qr_kreq_decode(const qr_frame_t *frame, qr_karena_t *mem,
                           qr_req_t *req, qr_kreq_info_t *info);

#endif /* QR_KREQ_H */
