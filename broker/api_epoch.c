/*
 * api_epoch: one qr_plog_end_offset_for_epoch() per partition, after the
 * leadership and fencing checks.
 */
#include "config.h"

#include <stdlib.h>

#include "alloc.h"
#include "api_epoch.h"
#include "conn.h"
#include "partmap.h"

static void one(qr_reqctx_t *ctx, const char *topic,
                const qr_epoch_req_part_t *in, qr_epoch_part_resp_t *out)
{
    qr_pentry_t *entry;
    quire_err_t err;

    out->partition = in->partition;
    out->leader_epoch = -1;
    out->end_offset = -1;
    entry = qr_request_lookup(ctx, topic, in->partition, &err);
    if (!entry) {
        out->error_code = err;
        return;
    }
    if (in->current_leader_epoch >= 0 &&
        in->current_leader_epoch < entry->leader_epoch)
        err = QUIRE_ERR_FENCED_LEADER_EPOCH;
    else if (in->current_leader_epoch > entry->leader_epoch)
        err = QUIRE_ERR_UNKNOWN_LEADER_EPOCH;
    else
        err =
            qr_plog_end_offset_for_epoch(entry->part, in->leader_epoch,
                                         &out->leader_epoch, &out->end_offset);
    out->error_code = err;
    qr_pentry_release(entry);
}

void qr_api_epoch(qr_reqctx_t *ctx)
{
    const qr_epoch_req_t *ereq = &ctx->req->u.offset_for_leader_epoch;
    qr_epoch_topic_resp_t *topics;
    qr_epoch_part_resp_t *parts;
    qr_resp_t resp = {0};
    size_t n = 0, k = 0;

    for (size_t t = 0; t < ereq->topic_count; t++)
        n += ereq->topics[t].partition_count;
    topics = qr_calloc(ereq->topic_count + 1, sizeof(*topics));
    parts = qr_calloc(n + 1, sizeof(*parts));
    for (size_t t = 0; t < ereq->topic_count; t++) {
        const qr_epoch_req_topic_t *in = &ereq->topics[t];
        topics[t].topic = in->topic;
        topics[t].partition_count = in->partition_count;
        topics[t].partitions = &parts[k];
        for (size_t p = 0; p < in->partition_count; p++, k++)
            one(ctx, in->topic, &in->partitions[p], &parts[k]);
    }
    resp.api = QR_API_OFFSET_FOR_LEADER_EPOCH;
    resp.correlation_id = ctx->req->correlation_id;
    resp.u.offset_for_leader_epoch.topic_count = ereq->topic_count;
    resp.u.offset_for_leader_epoch.topics = topics;
    (void)qr_request_respond(ctx->reply, &resp);
    qr_reply_ready(ctx->reply);
    free(parts);
    free(topics);
}
