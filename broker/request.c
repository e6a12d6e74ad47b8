/*
 * request: decode, dispatch, encode.
 */
#include "config.h"

#include <stdlib.h>

#include <string.h>

#include "api_apiversions.h"
#include "api_epoch.h"
#include "api_fetch.h"
#include "api_initpid.h"
#include "api_listoffsets.h"
#include "api_metadata.h"
#include "api_produce.h"
#include "conn.h"
#include "frame.h"
#include "kcodec.h"
#include "logging.h"
#include "meta.h"
#include "partmap.h"
#include "request.h"
#include "topic.h"
#include "wire.h"

/* A Fetch response's file ranges, in order: quire's protocol sends them
 * after the header (DESIGN.md §2). @add: 0 releases them instead. */
static void fetch_files(qr_reply_t *reply, const qr_resp_t *resp, int add)
{
    if (resp->api != QR_API_FETCH)
        return;
    for (size_t t = 0; t < resp->u.fetch.topic_count; t++) {
        const qr_fetch_topic_resp_t *ft = &resp->u.fetch.topics[t];
        for (size_t p = 0; p < ft->partition_count; p++) {
            const qr_file_range_t *f = &ft->partitions[p].file;
            if (f->len == 0) {
                if (f->release)
                    f->release(f->arg);
            } else if (add) {
                qr_reply_add_file(reply, f->fd, f->pos, f->len, f->release,
                                  f->arg);
            } else if (f->release) {
                f->release(f->arg);
            }
        }
    }
}

quire_err_t qr_request_respond(qr_reply_t *reply, const qr_resp_t *resp)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    quire_err_t err;

    if (qr_reply_proto(reply) == QR_WIREPROTO_KAFKA)
        return qr_kcodec_respond(reply, resp);
    err = qr_wire_resp_encode_alloc(resp, &buf, &len);
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("PROTO",
                   "cannot encode a %s response (correlation_id "
                   "%d): %s",
                   qr_wire_api_name(resp->api), resp->correlation_id,
                   quire_err2str(err));
        fetch_files(reply, resp, 0);
        return err;
    }
    qr_reply_add_mem(reply, buf, len);
    fetch_files(reply, resp, 1);
    return QUIRE_ERR_NONE;
}

void qr_request_fail(qr_reply_t *reply, qr_api_t api, int32_t correlation_id,
                     quire_err_t err)
{
    qr_resp_t resp = {0};

    resp.api = api;
    resp.correlation_id = correlation_id;
    resp.error_code = err;
    (void)qr_request_respond(reply, &resp);
    qr_reply_ready(reply);
}

static void dispatch(qr_reqctx_t *ctx)
{
    switch (ctx->req->api) {
    case QR_API_API_VERSIONS:
        qr_api_apiversions(ctx);
        break;
    case QR_API_METADATA:
        qr_api_metadata(ctx);
        break;
    case QR_API_PRODUCE:
        qr_api_produce(ctx);
        break;
    case QR_API_FETCH:
        qr_api_fetch(ctx);
        break;
    case QR_API_LIST_OFFSETS:
        qr_api_listoffsets(ctx);
        break;
    case QR_API_INIT_PRODUCER_ID: /* issue 22 */
        qr_api_initpid(ctx);
        break;
    case QR_API_OFFSET_FOR_LEADER_EPOCH:
        qr_api_epoch(ctx);
        break;
    default:
        /* Decode accepted an api this build has no handler for: the
         * version table and this switch disagree, which is our bug, but
         * the peer still deserves an answer. */
        QR_LOG_ERR("PROTO", "no handler for %s",
                   qr_wire_api_name(ctx->req->api));
        qr_request_fail(ctx->reply, ctx->req->api, ctx->req->correlation_id,
                        QUIRE_ERR_UNSUPPORTED_VERSION);
        break;
    }
}

void qr_request_seen(qr_conn_t *conn, int proto, int api, int api_version,
                     int32_t correlation_id)
{
    QR_DBG(QR_DBG_PROTO, "PROTO", "%s: %s%s v%d correlation_id %d",
           qr_conn_peer(conn), proto == QR_WIREPROTO_KAFKA ? "Kafka " : "",
           proto == QR_WIREPROTO_KAFKA ? qr_kcodec_api_name(api)
                                       : qr_wire_api_name(api),
           api_version, correlation_id);
}

void qr_request_run(qr_conn_t *conn, int proto, const qr_req_t *req,
                    int hdr_flex, void (*handler)(qr_reqctx_t *ctx))
{
    qr_reqctx_t ctx;

    qr_request_seen(conn, proto, req->api, req->api_version,
                    req->correlation_id);
    ctx.nt = qr_conn_thread(conn);
    ctx.server = qr_netthread_server(ctx.nt);
    ctx.conn = conn;
    ctx.reply = qr_reply_new(conn);
    qr_reply_set_version(ctx.reply, req->api_version, hdr_flex);
    ctx.req = req;
    ctx.meta = NULL;
    handler(&ctx);
    qr_meta_release(ctx.meta);
}

void qr_request_handle(qr_conn_t *conn, const qr_frame_t *frame)
{
    qr_req_t req = {0};
    quire_err_t err;

    if (qr_conn_proto(conn) == QR_WIREPROTO_KAFKA) {
        qr_kcodec_handle(conn, frame);
        return;
    }
    err = qr_wire_req_decode(frame, &req);

    if (err != QUIRE_ERR_NONE) {
        if (!req.has_correlation_id) {
            qr_conn_log_peer(conn, "unreadable request header (%s); closing",
                             quire_err2str(err));
            qr_wire_req_free(&req);
            qr_conn_close(conn, NULL);
            return;
        }
        qr_conn_log_peer(conn, "%s v%d request (correlation_id %d): %s",
                         qr_wire_api_name(req.api), req.api_version,
                         req.correlation_id, quire_err2str(err));
        qr_request_fail(qr_reply_new(conn), req.api, req.correlation_id, err);
        qr_wire_req_free(&req);
        return;
    }
    qr_request_run(conn, QR_WIREPROTO_QUIRE, &req, 0, dispatch);
    qr_wire_req_free(&req);
}

struct qr_pentry *qr_request_lookup(qr_reqctx_t *ctx, const char *topic,
                                    int32_t partition, quire_err_t *err)
{
    qr_pentry_t *entry;

    if (qr_topic_name_check(topic, strlen(topic), NULL) != QUIRE_ERR_NONE) {
        *err = QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    entry = qr_partmap_get(qr_server_partmap(ctx->server), topic, partition);
    if (entry) {
        *err = QUIRE_ERR_NONE;
        return entry;
    }
    /* A miss: tell "someone else leads it" from "it does not exist", so a
     * client knows whether refreshing its metadata can help. */
    if (!ctx->meta)
        ctx->meta = qr_server_meta(ctx->server);
    *err = qr_meta_part_find(ctx->meta, topic, partition)
               ? QUIRE_ERR_NOT_LEADER_FOR_PARTITION
               : QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    return NULL;
}
