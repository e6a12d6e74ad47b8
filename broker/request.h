/*
 * request: from a complete frame to an API handler, and from a handler's
 * response struct back to bytes on the connection (DESIGN.md §2, §9).
 *
 * protobuf-c stays inside proto/wire.c: this module decodes a frame into
 * quire's qr_req_t, dispatches on the api, and encodes the handler's
 * qr_resp_t. Requests that cannot be decoded are answered with their error
 * code when their correlation_id could be read, and close the connection
 * otherwise (nothing can be matched to them).
 */
#ifndef QR_REQUEST_H
#define QR_REQUEST_H

#include "conn.h"
#include "frame.h"
#include "server.h"
#include "wire.h"

/**
 * What a handler gets. Everything is borrowed for the duration of the
 * handler call only; a handler that completes later (acks=all, a parked
 * fetch) copies what it needs and keeps @c reply and @c nt.
 */
typedef struct qr_reqctx {
    qr_server_t *server;
    qr_netthread_t *nt;
    qr_conn_t *conn;
    qr_reply_t *reply; /* this request's slot; the handler completes it */
    const qr_req_t *req;
    qr_meta_t *meta; /* taken on first need by qr_request_lookup() */
} qr_reqctx_t;

/**
 * @brief Handles one request frame: decode, dispatch, and (for handlers
 * that answer at once) queue the response.
 * @param frame borrowed; views into the connection's read buffer.
 * @locality net thread  @locks none
 */
void qr_request_handle(qr_conn_t *conn, const qr_frame_t *frame);

/**
 * @brief Encodes @p resp (prefix + header) and adds it to @p reply as
 * memory; a Fetch handler adds the payload's file ranges after it. Does
 * not complete the reply.
 * @param resp borrowed.
 * @returns QUIRE_ERR_NONE, or the encoder's error (a bug: logged).
 * @locality the reply's net thread  @locks none
 */
quire_err_t qr_request_respond(qr_reply_t *reply, const qr_resp_t *resp);

/**
 * @brief Answers with a request-level error code only.
 * @locality the reply's net thread  @locks none
 */
void qr_request_fail(qr_reply_t *reply, qr_api_t api, int32_t correlation_id,
                     quire_err_t err);

/**
 * @brief The partition log for a request: what this broker leads.
 * @param err set when NULL is returned: INVALID_TOPIC_EXCEPTION for an
 *        illegal name, NOT_LEADER_FOR_PARTITION when the partition exists
 *        in the cluster but another broker (or nobody) leads it here, and
 *        UNKNOWN_TOPIC_OR_PARTITION when it does not exist.
 * @returns owned entry reference (qr_pentry_release()) or NULL.
 * @locality net thread  @locks map read lock, briefly
 */
struct qr_pentry *qr_request_lookup(qr_reqctx_t *ctx, const char *topic,
                                    int32_t partition, quire_err_t *err);

#endif /* QR_REQUEST_H */
