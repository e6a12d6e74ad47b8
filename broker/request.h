/*
 * request: from a complete frame to an API handler, and from a handler's
 * response struct back to bytes on the connection (DESIGN.md §2, §9).
 *
 * Handlers see only what this header gives them: the protocol-neutral
 * structs of apimsg.h in a qr_reqctx_t, and qr_request_respond() to answer.
 * Each listener's protocol is a codec at the edge (issue 13): quire's
 * (proto/wire.c, protobuf-c) is driven from here, Kafka's from kcodec.c
 * (proto/kwire.c); both decode into qr_req_t, call the same handlers, and
 * encode the handler's qr_resp_t in the protocol of the slot's connection.
 * Requests that cannot be decoded are answered with their error code when
 * their correlation_id could be read, and close the connection otherwise
 * (nothing can be matched to them).
 */
#ifndef QR_REQUEST_H
#define QR_REQUEST_H

#include "apimsg.h"
#include "netthread.h"
#include "server.h"

/* conn.h: a handler that completes its own slot includes it */
typedef struct qr_reply qr_reply_t;
struct qr_frame;

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
void qr_request_handle(qr_conn_t *conn, const struct qr_frame *frame);

/**
 * @brief Runs @p handler for a decoded request: qr_request_seen(), a new
 * reply slot recording the request's version and @p hdr_flex (a flexible
 * response header, Kafka's only), the handler, then the release of a
 * metadata snapshot the handler took. Both codecs call it.
 * @param req borrowed for the handler's call.
 * @locality net thread  @locks none
 */
void qr_request_run(qr_conn_t *conn, int proto, const qr_req_t *req,
                    int hdr_flex, void (*handler)(qr_reqctx_t *ctx));

/**
 * @brief The one hook every decoded request passes, whatever its protocol
 * (both codecs call it once per request, before the handler runs): the
 * place for per-request accounting.
 * @param proto the connection's qr_wireproto_t.
 * @locality net thread  @locks none
 */
void qr_request_seen(qr_conn_t *conn, int proto, int api, int api_version,
                     int32_t correlation_id);

/**
 * @brief Encodes @p resp in the protocol of @p reply's connection and adds
 * it to @p reply: memory, and for a Fetch each partition's `file` range,
 * sent with sendfile(2) where that protocol puts the records. Does not
 * complete the reply.
 * @param resp borrowed, but every partition's `file` range is consumed
 *        (released on every path).
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
