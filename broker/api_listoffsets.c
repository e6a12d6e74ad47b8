/*
 * api_listoffsets: one qr_plog_offset_for_time() per partition.
 */
#include "config.h"

#include <stdlib.h>

#include "alloc.h"
#include "api_listoffsets.h"
#include "partmap.h"

static void one(qr_reqctx_t *ctx, const char *topic,
                const qr_list_offsets_part_t *in,
                qr_list_offsets_part_resp_t *out)
{
    qr_pentry_t *entry;
    quire_err_t err;
    int64_t offset = -1;

    out->partition = in->partition;
    out->timestamp = -1;
    out->offset = -1;
    entry = qr_request_lookup(ctx, topic, in->partition, &err);
    if (!entry) {
        out->error_code = err;
        return;
    }
    if (in->timestamp < 0 && in->timestamp != QR_OFFSET_LATEST &&
        in->timestamp != QR_OFFSET_EARLIEST)
        err = QUIRE_ERR_INVALID_REQUEST;
    else if (entry->replica && !qr_replica_hw_caught_up(entry->replica))
        err = QUIRE_ERR_OFFSET_NOT_AVAILABLE; /* issue 16: KAFKA-2334 */
    else
        err = qr_plog_offset_for_time(entry->part, in->timestamp, &offset);
    out->error_code = err;
    /* The log's time index gives the batch, not the record's own time:
     * timestamp stays -1 (unknown) rather than a guess. */
    if (err == QUIRE_ERR_NONE)
        out->offset = offset;
    qr_pentry_release(entry);
}

void qr_api_listoffsets(qr_reqctx_t *ctx)
{
    const qr_list_offsets_req_t *lreq = &ctx->req->u.list_offsets;
    qr_list_offsets_topic_resp_t *topics;
    qr_list_offsets_part_resp_t *parts;
    qr_resp_t resp = {0};
    size_t n = 0, k = 0;

    for (size_t t = 0; t < lreq->topic_count; t++)
        n += lreq->topics[t].partition_count;
    topics = qr_calloc(lreq->topic_count + 1, sizeof(*topics));
    parts = qr_calloc(n + 1, sizeof(*parts));
    for (size_t t = 0; t < lreq->topic_count; t++) {
        const qr_list_offsets_topic_t *in = &lreq->topics[t];
        topics[t].topic = in->topic;
        topics[t].partition_count = in->partition_count;
        topics[t].partitions = &parts[k];
        for (size_t p = 0; p < in->partition_count; p++, k++)
            one(ctx, in->topic, &in->partitions[p], &parts[k]);
    }
    resp.api = QR_API_LIST_OFFSETS;
    resp.correlation_id = ctx->req->correlation_id;
    resp.u.list_offsets.topic_count = lreq->topic_count;
    resp.u.list_offsets.topics = topics;
    (void)qr_request_respond(ctx->reply, &resp);
    qr_reply_ready(ctx->reply);
    free(parts);
    free(topics);
}
