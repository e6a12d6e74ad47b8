/*
 * kcodec: Kafka's header, the API table, dispatch and the response path.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api_fetch.h"
#include "api_kadmin.h"
#include "api_kgroup.h"
#include "api_listoffsets.h"
#include "api_metadata.h"
#include "api_produce.h"
#include "buf.h"
#include "conn.h"
#include "frame.h"
#include "kawire.h"
#include "kcodec.h"
#include "kgwire.h"
#include "logging.h"

/* ---- ApiVersions: answered here, from the table itself ---- */

static quire_err_t apiversions_decode(qr_kr_t *r, int16_t version,
                                      qr_req_t *req)
{
    (void)req;
    if (version >= 3) {
        /* client_software_name, client_software_version: for logs only */
        (void)qr_kr_str(r);
        (void)qr_kr_str(r);
        qr_kr_tags(r);
    }
    return qr_kr_ok(r) ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_REQUEST;
}

static void apiversions_handler(qr_reqctx_t *ctx)
{
    qr_resp_t resp = {0};

    resp.api = QR_API_API_VERSIONS;
    resp.correlation_id = ctx->req->correlation_id;
    (void)qr_request_respond(ctx->reply, &resp);
    qr_reply_ready(ctx->reply);
}

static void apiversions_encode(qr_kout_t *o, int16_t version,
                               const qr_resp_t *resp);

/* Produce: quire's decoder refuses acks outside {-1, 0, 1}; Kafka answers
 * INVALID_REQUIRED_ACKS for every partition instead (and writes nothing). */
static void produce_handler(qr_reqctx_t *ctx)
{
    const qr_produce_req_t *preq = &ctx->req->u.produce;
    qr_produce_topic_resp_t *topics;
    qr_produce_part_resp_t *parts;
    qr_resp_t resp = {0};
    size_t n = 0, k = 0;

    if (preq->acks == 0 || preq->acks == 1 || preq->acks == -1) {
        qr_api_produce(ctx);
        return;
    }
    for (size_t t = 0; t < preq->topic_count; t++)
        n += preq->topics[t].partition_count;
    topics = qr_calloc(preq->topic_count + 1, sizeof(*topics));
    parts = qr_calloc(n + 1, sizeof(*parts));
    for (size_t t = 0; t < preq->topic_count; t++) {
        topics[t].topic = preq->topics[t].topic;
        topics[t].partition_count = preq->topics[t].partition_count;
        topics[t].partitions = &parts[k];
        for (size_t p = 0; p < preq->topics[t].partition_count; p++, k++) {
            parts[k].partition = preq->topics[t].partitions[p].partition;
            parts[k].error_code = QUIRE_ERR_INVALID_REQUIRED_ACKS;
            parts[k].base_offset = -1;
            parts[k].log_append_time = -1;
            parts[k].log_start_offset = -1;
        }
    }
    resp.api = QR_API_PRODUCE;
    resp.correlation_id = ctx->req->correlation_id;
    resp.u.produce.topic_count = preq->topic_count;
    resp.u.produce.topics = topics;
    (void)qr_request_respond(ctx->reply, &resp);
    qr_reply_ready(ctx->reply);
    free(parts);
    free(topics);
}

/* ---- the table: exactly what is served ---- */

#define NOFLEX INT16_MAX

static const qr_kapi_t apis[] = {
    {QR_API_PRODUCE, "Produce", 3, 7, NOFLEX, qr_kwire_produce_decode,
     produce_handler, qr_kwire_produce_encode},
    {QR_API_FETCH, "Fetch", 4, 11, NOFLEX, qr_kwire_fetch_decode, qr_api_fetch,
     qr_kwire_fetch_encode},
    {QR_API_LIST_OFFSETS, "ListOffsets", 1, 5, NOFLEX,
     qr_kwire_listoffsets_decode, qr_api_listoffsets,
     qr_kwire_listoffsets_encode},
    {QR_API_METADATA, "Metadata", 0, 8, NOFLEX, qr_kwire_metadata_decode,
     qr_api_metadata, qr_kwire_metadata_encode},
    {QR_API_API_VERSIONS, "ApiVersions", 0, 3, 3, apiversions_decode,
     apiversions_handler, apiversions_encode},
    /* issue 13: the group APIs (api_kgroup.c, proto/kgwire.c) */
    {QR_API_OFFSET_COMMIT, "OffsetCommit", 0, 7, 8, qr_kgwire_commit_decode,
     qr_api_offset_commit, qr_kgwire_commit_encode},
    {QR_API_OFFSET_FETCH, "OffsetFetch", 0, 5, 6, qr_kgwire_fetch_decode,
     qr_api_offset_fetch, qr_kgwire_fetch_encode},
    {QR_API_FIND_COORDINATOR, "FindCoordinator", 0, 2, 3,
     qr_kgwire_find_coord_decode, qr_api_find_coordinator,
     qr_kgwire_find_coord_encode},
    {QR_API_JOIN_GROUP, "JoinGroup", 0, 5, 6, qr_kgwire_join_decode,
     qr_api_join_group, qr_kgwire_join_encode},
    {QR_API_HEARTBEAT, "Heartbeat", 0, 3, 4, qr_kgwire_heartbeat_decode,
     qr_api_heartbeat, qr_kgwire_heartbeat_encode},
    {QR_API_LEAVE_GROUP, "LeaveGroup", 0, 3, 4, qr_kgwire_leave_decode,
     qr_api_leave_group, qr_kgwire_leave_encode},
    {QR_API_SYNC_GROUP, "SyncGroup", 0, 3, 4, qr_kgwire_sync_decode,
     qr_api_sync_group, qr_kgwire_sync_encode},
    {QR_API_DESCRIBE_GROUPS, "DescribeGroups", 0, 4, 5,
     qr_kgwire_describe_decode, qr_api_describe_groups,
     qr_kgwire_describe_encode},
    {QR_API_LIST_GROUPS, "ListGroups", 0, 2, 3, qr_kgwire_list_decode,
     qr_api_list_groups, qr_kgwire_list_encode},
    /* issue 13: topic administration (api_kadmin.c, proto/kawire.c) */
    {QR_API_CREATE_TOPICS, "CreateTopics", 0, 4, 5,
     qr_kawire_create_topics_decode, qr_api_create_topics,
     qr_kawire_create_topics_encode},
    {QR_API_DELETE_TOPICS, "DeleteTopics", 0, 3, 4,
     qr_kawire_delete_topics_decode, qr_api_delete_topics,
     qr_kawire_delete_topics_encode},
    {QR_API_DESCRIBE_CONFIGS, "DescribeConfigs", 0, 2, 4,
     qr_kawire_describe_configs_decode, qr_api_describe_configs,
     qr_kawire_describe_configs_encode},
};

#define API_CNT (sizeof(apis) / sizeof(apis[0]))

const qr_kapi_t *qr_kcodec_api(int api_key)
{
    for (size_t i = 0; i < API_CNT; i++)
        if (apis[i].api_key == api_key)
            return &apis[i];
    return NULL;
}

const char *qr_kcodec_api_name(int api_key)
{
    const qr_kapi_t *api = qr_kcodec_api(api_key);

    return api ? api->name : "Unknown";
}

static void apiversions_encode(qr_kout_t *o, int16_t version,
                               const qr_resp_t *resp)
{
    qr_kapi_range_t rows[API_CNT];

    for (size_t i = 0; i < API_CNT; i++) {
        rows[i].api_key = apis[i].api_key;
        rows[i].min_version = apis[i].min_version;
        rows[i].max_version = apis[i].max_version;
    }
    qr_kwire_apiversions_encode(&o->w, version, qr_kwire_err(resp->error_code),
                                rows, API_CNT);
}

/* ---- the response path ---- */

typedef struct piece {
    uint8_t *mem; /* NULL: the file range */
    size_t len;
    qr_file_range_t file;
} piece_t;

typedef struct pieces {
    piece_t *v;
    size_t n, cap;
    uint64_t total;
} pieces_t;

static piece_t *piece_push(pieces_t *ps)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 8;
        ps->v = qr_realloc(ps->v, ps->cap * sizeof(*ps->v));
    }
    memset(&ps->v[ps->n], 0, sizeof(ps->v[0]));
    return &ps->v[ps->n++];
}

static void cut_mem(pieces_t *ps, qr_kw_t *w)
{
    piece_t *pc;

    if (w->len == 0)
        return;
    pc = piece_push(ps);
    pc->mem = qr_kw_take(w, &pc->len);
    ps->total += pc->len;
}

static void on_cut(qr_kout_t *o, const qr_file_range_t *file)
{
    pieces_t *ps = o->arg;
    piece_t *pc;

    cut_mem(ps, &o->w);
    pc = piece_push(ps);
    pc->file = *file;
    pc->len = file->len;
    ps->total += file->len;
}

static void pieces_drop(pieces_t *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->v[i].mem)
            free(ps->v[i].mem);
        else if (ps->v[i].file.release)
            ps->v[i].file.release(ps->v[i].file.arg);
    }
    free(ps->v);
}

/* Releases the file ranges an encoder never reached. */
static void release_files(const qr_resp_t *resp)
{
    if (resp->api != QR_API_FETCH)
        return;
    for (size_t t = 0; t < resp->u.fetch.topic_count; t++)
        for (size_t p = 0; p < resp->u.fetch.topics[t].partition_count; p++) {
            const qr_file_range_t *f =
                &resp->u.fetch.topics[t].partitions[p].file;
            if (f->release)
                f->release(f->arg);
        }
}

/* Whether a request-level error can be told in @api's body at @version:
 * only where Kafka has a top-level error_code. */
static int top_level_error(int api, int version)
{
    return api == QR_API_API_VERSIONS || (api == QR_API_FETCH && version >= 7);
}

quire_err_t qr_kcodec_respond(qr_reply_t *reply, const qr_resp_t *resp)
{
    const qr_kapi_t *api = qr_kcodec_api(resp->api);
    int hdr_flex;
    int16_t version = qr_reply_api_version(reply, &hdr_flex);
    pieces_t ps = {0};
    qr_kout_t o;

    if (!api) {
        QR_LOG_ERR("PROTO", "Kafka: no encoder for api %d (a bug)",
                   (int)resp->api);
        release_files(resp);
        return QUIRE_ERR_BAD_ARG;
    }
    if (resp->error_code != QUIRE_ERR_NONE &&
        !top_level_error(resp->api, version)) {
        qr_conn_t *conn = qr_reply_conn(reply);
        if (conn) {
            qr_conn_log_peer(conn,
                             "Kafka %s v%d (correlation_id %d): %s, which its "
                             "response cannot carry; closing",
                             api->name, version, resp->correlation_id,
                             quire_err2str(resp->error_code));
            qr_conn_close(conn, NULL);
        }
        release_files(resp);
        return resp->error_code;
    }
    memset(&o, 0, sizeof(o));
    o.cut = on_cut;
    o.arg = &ps;
    qr_kwire_resp_begin(&o.w, resp->correlation_id, hdr_flex);
    o.w.flex = version >= api->flex_version;
    api->encode(&o, version, resp);
    cut_mem(&ps, &o.w);
    if (ps.total - 4 > INT32_MAX) {
        QR_LOG_ERR("PROTO", "Kafka %s response of %llu bytes: too large",
                   api->name, (unsigned long long)ps.total);
        pieces_drop(&ps);
        return QUIRE_ERR_FRAME_TOO_LARGE;
    }
    qr_be32_put(ps.v[0].mem, (uint32_t)(ps.total - 4));
    for (size_t i = 0; i < ps.n; i++) {
        piece_t *pc = &ps.v[i];
        if (pc->mem)
            qr_reply_add_mem(reply, pc->mem, pc->len);
        else
            qr_reply_add_file(reply, pc->file.fd, pc->file.pos, pc->file.len,
                              pc->file.release, pc->file.arg);
    }
    free(ps.v);
    return QUIRE_ERR_NONE;
}

/* ---- the request path ---- */

/* An API we do not serve, or a version outside its row (Kafka's answer). */
static void unsupported(qr_conn_t *conn, const qr_kreq_hdr_t *hdr,
                        const qr_kapi_t *api)
{
    qr_reply_t *reply = qr_reply_new(conn);
    qr_resp_t resp = {0};
    qr_kw_t w = {0};
    uint8_t *buf;
    size_t len;

    qr_conn_log_peer(conn,
                     "Kafka api %d (%s) v%d (correlation_id %d): not served; "
                     "answering UNSUPPORTED_VERSION",
                     hdr->api_key, api ? api->name : "unknown",
                     hdr->api_version, hdr->correlation_id);
    resp.error_code = QUIRE_ERR_UNSUPPORTED_VERSION;
    resp.correlation_id = hdr->correlation_id;
    qr_kwire_resp_begin(&w, hdr->correlation_id, 0);
    if (hdr->api_key == QR_API_API_VERSIONS) {
        qr_kout_t o = {0};
        o.w = w;
        apiversions_encode(&o, 0, &resp);
        w = o.w;
    } else {
        qr_kw_i16(&w, (int16_t)QUIRE_ERR_UNSUPPORTED_VERSION);
    }
    buf = qr_kw_take(&w, &len);
    qr_be32_put(buf, (uint32_t)(len - 4));
    qr_reply_add_mem(reply, buf, len);
    qr_reply_ready(reply);
}

void qr_kcodec_handle(qr_conn_t *conn, const qr_frame_t *frame)
{
    qr_karena_t *mem = qr_karena_new();
    const qr_kapi_t *api;
    qr_kreq_hdr_t hdr;
    qr_req_t req;
    qr_kr_t r;
    int flex;

    qr_kr_init(&r, frame->header, frame->header_len, mem);
    if (qr_kwire_hdr_fixed(&r, &hdr) != 0) {
        /* the frame parser guarantees the fixed part; be safe anyway */
        qr_conn_log_peer(conn, "Kafka request header unreadable; closing");
        qr_conn_close(conn, NULL);
        goto out;
    }
    api = qr_kcodec_api(hdr.api_key);
    if (!api || hdr.api_version < api->min_version ||
        hdr.api_version > api->max_version) {
        unsupported(conn, &hdr, api);
        goto out;
    }
    flex = hdr.api_version >= api->flex_version;
    memset(&req, 0, sizeof(req));
    req.api = (qr_api_t)hdr.api_key;
    req.api_version = hdr.api_version;
    req.correlation_id = hdr.correlation_id;
    req.has_correlation_id = true;
    if (qr_kwire_hdr_rest(&r, &hdr, flex) != 0 ||
        api->decode(&r, hdr.api_version, &req) != QUIRE_ERR_NONE ||
        !qr_kr_ok(&r)) {
        qr_conn_log_peer(conn,
                         "Kafka %s v%d (correlation_id %d): malformed body "
                         "(%u bytes); closing",
                         api->name, hdr.api_version, hdr.correlation_id,
                         frame->header_len);
        qr_conn_close(conn, NULL);
        goto out;
    }
    req.client_id = hdr.client_id;
    /* ApiVersions answers with header v0 even in its flexible v3 */
    qr_request_run(conn, QR_WIREPROTO_KAFKA, &req,
                   flex && hdr.api_key != QR_API_API_VERSIONS, api->handler);
out:
    qr_karena_free(mem);
}
