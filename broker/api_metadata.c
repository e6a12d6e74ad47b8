/*
 * api_metadata: translate a snapshot into the response structs.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "frame.h"
#include "api_metadata.h"
#include "conn.h"
#include "meta.h"
#include "topic.h"

static void fill_topic(const qr_meta_topic_t *mt, qr_metadata_topic_t *out,
                       qr_metadata_part_t *parts)
{
    out->error_code = QUIRE_ERR_NONE;
    out->topic = mt->name;
    out->partition_count = mt->part_cnt;
    out->partitions = parts;
    for (size_t p = 0; p < mt->part_cnt; p++) {
        const qr_meta_part_t *mp = &mt->parts[p];
        parts[p].error_code = mp->err;
        parts[p].partition = mp->partition;
        parts[p].leader = mp->leader;
        parts[p].leader_epoch = mp->leader_epoch;
        parts[p].replica_count = mp->replica_cnt;
        parts[p].replicas = mp->replicas;
        parts[p].isr_count = mp->isr_cnt;
        parts[p].isr = mp->isr;
    }
}

/* Partitions the cluster holds, for auto.create.topics.max.partitions. */
static uint64_t cluster_partitions(const qr_meta_t *meta)
{
    uint64_t n = 0;

    for (size_t t = 0; t < meta->topic_cnt; t++)
        n += meta->topics[t].part_cnt;
    return n;
}

/* A topic that is not in the snapshot. Auto-creation past its limits is
 * refused with the limit's code (POLICY_VIOLATION, THROTTLING_QUOTA_
 * EXCEEDED) for that topic; the others in the request are answered as
 * usual. */
static quire_err_t missing(qr_reqctx_t *ctx, const qr_meta_t *meta,
                           const char *name)
{
    const qr_metadata_req_t *mreq = &ctx->req->u.metadata;
    quire_err_t err;

    if (qr_topic_name_check(name, strlen(name), NULL) != QUIRE_ERR_NONE)
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    if (!mreq->allow_auto_topic_creation ||
        !qr_server_conf(ctx->server)->auto_create_topics_enable)
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    err = qr_server_autocreate(ctx->server, name, cluster_partitions(meta));
    if (err == QUIRE_ERR_NONE)
        return QUIRE_ERR_LEADER_NOT_AVAILABLE;
    return err == QUIRE_ERR_QUEUE_FULL ? QUIRE_ERR_LEADER_NOT_AVAILABLE : err;
}

/* In full, or a request-level RESPONSE_TOO_LARGE naming the counts: a
 * cluster with more topics or partitions than one response may carry
 * (QR_WIRE_TOPICS_MAX, QR_WIRE_PARTITIONS_MAX, QR_FRAME_RESP_HEADER_MAX)
 * is never answered with silence (issue 17 item 4). */
static void answer(qr_reqctx_t *ctx, const qr_resp_t *resp, size_t tcnt,
                   size_t pcnt)
{
    quire_err_t err = QUIRE_ERR_RESPONSE_TOO_LARGE;
    /* The test key lets a test reach this without 100,000 topics. */
    size_t tmax = (size_t)qr_server_conf(ctx->server)->test_metadata_topics_max;

    if (tmax > QR_WIRE_TOPICS_MAX)
        tmax = QR_WIRE_TOPICS_MAX;
    if (tcnt <= tmax && pcnt <= QR_WIRE_PARTITIONS_MAX)
        err = qr_request_respond(ctx->reply, resp);
    if (err == QUIRE_ERR_NONE) {
        qr_reply_ready(ctx->reply);
        return;
    }
    qr_conn_log_peer(ctx->conn,
                     "Metadata (correlation_id %d): %zu topics, %zu "
                     "partitions do not fit one response (%s); answering "
                     "RESPONSE_TOO_LARGE",
                     resp->correlation_id, tcnt, pcnt, quire_err2str(err));
    qr_request_fail(ctx->reply, QR_API_METADATA, resp->correlation_id,
                    QUIRE_ERR_RESPONSE_TOO_LARGE);
}

void qr_api_metadata(qr_reqctx_t *ctx)
{
    const qr_metadata_req_t *mreq = &ctx->req->u.metadata;
    qr_meta_t *meta = qr_server_meta(ctx->server);
    size_t tcnt = mreq->topic_count ? mreq->topic_count
                  : mreq->no_topics ? 0
                                    : meta->topic_cnt;
    size_t pcnt = 0, k = 0;
    qr_metadata_broker_t *brokers;
    qr_metadata_topic_t *topics;
    qr_metadata_part_t *parts;
    qr_resp_t resp = {0};

    for (size_t t = 0; t < tcnt; t++) {
        const qr_meta_topic_t *mt =
            mreq->topic_count ? qr_meta_topic_find(meta, mreq->topics[t])
                              : &meta->topics[t];
        if (mt)
            pcnt += mt->part_cnt;
    }
    brokers = qr_calloc(meta->broker_cnt + 1, sizeof(*brokers));
    topics = qr_calloc(tcnt + 1, sizeof(*topics));
    parts = qr_calloc(pcnt + 1, sizeof(*parts));
    for (size_t b = 0; b < meta->broker_cnt; b++) {
        brokers[b].node_id = meta->brokers[b].id;
        brokers[b].host = meta->brokers[b].host;
        brokers[b].port = meta->brokers[b].port;
        brokers[b].kafka_port = meta->brokers[b].kafka_port;
    }
    for (size_t t = 0; t < tcnt; t++) {
        const char *name =
            mreq->topic_count ? mreq->topics[t] : meta->topics[t].name;
        const qr_meta_topic_t *mt = mreq->topic_count
                                        ? qr_meta_topic_find(meta, name)
                                        : &meta->topics[t];
        if (mt) {
            fill_topic(mt, &topics[t], &parts[k]);
            k += mt->part_cnt;
        } else {
            topics[t].topic = name;
            topics[t].error_code = missing(ctx, meta, name);
        }
    }
    resp.api = QR_API_METADATA;
    resp.correlation_id = ctx->req->correlation_id;
    resp.u.metadata.broker_count = meta->broker_cnt;
    resp.u.metadata.brokers = brokers;
    resp.u.metadata.controller_id = meta->controller_id;
    resp.u.metadata.topic_count = tcnt;
    resp.u.metadata.topics = topics;
    answer(ctx, &resp, tcnt, pcnt);
    free(parts);
    free(topics);
    free(brokers);
    qr_meta_release(meta);
}
