/*
 * kcodec: the Kafka listener's edge (issue 13). Cuts nothing itself (conn.c
 * cuts frames with qr_kwire_frame_parse()); it decodes the request with
 * qr_kreq_decode() (proto/kreq.c: header and body of every API and version
 * served, the same entry the fuzz target drives) into the neutral
 * qr_req_t, runs the same handler quire's protocol runs, and
 * encodes the handler's qr_resp_t back in Kafka's format
 * (qr_kcodec_respond(), reached through qr_request_respond()).
 *
 * proto/kreq.c's table is what ApiVersions answers: exactly the APIs and
 * versions implemented; this module's table adds a handler and an encoder
 * to each row. A known API asked at another version, or an unknown API,
 * gets UNSUPPORTED_VERSION (35): ApiVersions itself as Kafka answers it
 * (error 35 plus the table in a v0 body, so the client retries with a
 * version it finds there), any other API as its correlation_id and the
 * int16 error alone. A body that cannot be read (truncated, a length past
 * the frame) closes the connection, as Kafka does: nothing of it was
 * acknowledged, and every earlier request is still answered.
 *
 * Adding an API: apimsg.h its structs, proto/kwire a decode/encode pair,
 * one row in proto/kreq.c's table (versions, first flexible version,
 * decode) and one in kcodec.c's (handler, encode).
 */
#ifndef QR_KCODEC_H
#define QR_KCODEC_H

#include <stdint.h>

#include "kwire.h"
#include "request.h"

/** What the broker does with one API of proto/kreq.c's table. */
typedef struct qr_kapi {
    int16_t api_key;
    /** Runs the request; answers through qr_request_respond(). */
    void (*handler)(qr_reqctx_t *ctx);
    /** Writes resp->u as the body (o->w.flex set). */
    void (*encode)(qr_kout_t *o, int16_t version, const qr_resp_t *resp);
} qr_kapi_t;

/**
 * @brief Handles one Kafka request frame (frame->header: the whole request).
 * @locality net thread  @locks none
 */
void qr_kcodec_handle(qr_conn_t *conn, const struct qr_frame *frame);

/**
 * @brief Encodes @p resp as Kafka's response to the request @p reply
 * answers (its version, qr_reply_set_version()) and adds it to @p reply.
 * Fetch file ranges are consumed. A request-level error the version cannot
 * express closes the connection (logged).
 * @returns QUIRE_ERR_NONE, or the reason nothing was added.
 * @locality the reply's net thread  @locks none
 */
quire_err_t qr_kcodec_respond(qr_reply_t *reply, const qr_resp_t *resp);

/** @brief The table row of @p api_key, or NULL. @locality any */
const qr_kapi_t *qr_kcodec_api(int api_key);

/** @brief Kafka's name of @p api_key, "Unknown" when not served. */
const char *qr_kcodec_api_name(int api_key);

#endif /* QR_KCODEC_H */
