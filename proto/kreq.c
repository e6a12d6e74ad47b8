/*
 * kreq: the table of Kafka APIs served and the request decoder.
 */
#include "config.h"

#include <string.h>

#include "kawire.h"
#include "kgwire.h"
#include "kreq.h"

/* ApiVersions: the body is read for its tags only (v3's client software
 * name and version are for logs, which do not keep them). */
static quire_err_t apiversions_decode(qr_kr_t *r, int16_t version,
                                      qr_req_t *req)
{
    (void)req;
    if (version >= 3) {
        (void)qr_kr_str(r);
        (void)qr_kr_str(r);
        qr_kr_tags(r);
    }
    return qr_kr_ok(r) ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_REQUEST;
}

#define NOFLEX INT16_MAX

static const qr_kreq_api_t apis[] = {
    {QR_API_PRODUCE, "Produce", 3, 7, NOFLEX, qr_kwire_produce_decode},
    {QR_API_FETCH, "Fetch", 4, 11, NOFLEX, qr_kwire_fetch_decode},
    {QR_API_LIST_OFFSETS, "ListOffsets", 1, 5, NOFLEX,
     qr_kwire_listoffsets_decode},
    {QR_API_METADATA, "Metadata", 0, 8, NOFLEX, qr_kwire_metadata_decode},
    {QR_API_API_VERSIONS, "ApiVersions", 0, 3, 3, apiversions_decode},
    /* the group APIs (proto/kgwire.c) */
    {QR_API_OFFSET_COMMIT, "OffsetCommit", 0, 7, 8, qr_kgwire_commit_decode},
    {QR_API_OFFSET_FETCH, "OffsetFetch", 0, 5, 6, qr_kgwire_fetch_decode},
    {QR_API_FIND_COORDINATOR, "FindCoordinator", 0, 2, 3,
     qr_kgwire_find_coord_decode},
    {QR_API_JOIN_GROUP, "JoinGroup", 0, 5, 6, qr_kgwire_join_decode},
    {QR_API_HEARTBEAT, "Heartbeat", 0, 3, 4, qr_kgwire_heartbeat_decode},
    {QR_API_LEAVE_GROUP, "LeaveGroup", 0, 3, 4, qr_kgwire_leave_decode},
    {QR_API_SYNC_GROUP, "SyncGroup", 0, 3, 4, qr_kgwire_sync_decode},
    {QR_API_DESCRIBE_GROUPS, "DescribeGroups", 0, 4, 5,
     qr_kgwire_describe_decode},
    {QR_API_LIST_GROUPS, "ListGroups", 0, 2, 3, qr_kgwire_list_decode},
    /* topic administration (proto/kawire.c) */
    {QR_API_CREATE_TOPICS, "CreateTopics", 0, 4, 5,
     qr_kawire_create_topics_decode},
    {QR_API_DELETE_TOPICS, "DeleteTopics", 0, 3, 4,
     qr_kawire_delete_topics_decode},
    {QR_API_DESCRIBE_CONFIGS, "DescribeConfigs", 0, 2, 4,
     qr_kawire_describe_configs_decode},
};

#define API_CNT (sizeof(apis) / sizeof(apis[0]))
_Static_assert(API_CNT <= QR_KREQ_API_MAX, "QR_KREQ_API_MAX is too small");

const qr_kreq_api_t *qr_kreq_apis(size_t *n)
{
    *n = API_CNT;
    return apis;
}

const qr_kreq_api_t *qr_kreq_api(int api_key)
{
    for (size_t i = 0; i < API_CNT; i++)
        if (apis[i].api_key == api_key)
            return &apis[i];
    return NULL;
}

const char *qr_kreq_api_name(int api_key)
{
    const qr_kreq_api_t *api = qr_kreq_api(api_key);

    return api ? api->name : "Unknown";
}

quire_err_t qr_kreq_decode(const qr_frame_t *frame, qr_karena_t *mem,
                           qr_req_t *req, qr_kreq_info_t *info)
{
    const qr_kreq_api_t *api;
    qr_kr_t r;

    memset(req, 0, sizeof(*req));
    memset(info, 0, sizeof(*info));
    req->api = QR_API_UNKNOWN;
    qr_kr_init(&r, frame->header, frame->header_len, mem);
    if (qr_kwire_hdr_fixed(&r, &info->hdr) != 0)
        return QUIRE_ERR_INVALID_REQUEST;
    api = qr_kreq_api(info->hdr.api_key);
    info->api = api;
    if (!api || info->hdr.api_version < api->min_version ||
        info->hdr.api_version > api->max_version)
        return QUIRE_ERR_UNSUPPORTED_VERSION;
    info->flex = info->hdr.api_version >= api->flex_version;
    req->api = (qr_api_t)info->hdr.api_key;
    req->api_version = info->hdr.api_version;
    req->correlation_id = info->hdr.correlation_id;
    req->has_correlation_id = true;
    if (qr_kwire_hdr_rest(&r, &info->hdr, info->flex) != 0 ||
        api->decode(&r, info->hdr.api_version, req) != QUIRE_ERR_NONE ||
        !qr_kr_ok(&r))
        return QUIRE_ERR_INVALID_REQUEST;
    req->client_id = info->hdr.client_id;
    return QUIRE_ERR_NONE;
}
