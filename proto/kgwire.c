/*
 * kgwire: the group APIs' bytes (see kgwire.h). Field order and the
 * version each field appears in follow Kafka's JSON message definitions
 * (clients/src/main/resources/common/message/, one JSON file per API).
 */
#include "config.h"

#include <string.h>

#include "kgwire.h"

static quire_err_t done(const qr_kr_t *r)
{
    return qr_kr_ok(r) ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_REQUEST;
}

/* An id that must be there and fit QR_KGROUP_ID_MAX. */
static const char *rd_id(qr_kr_t *r)
{
    const char *s = qr_kr_str_nn(r);
    if (s && strlen(s) > QR_KGROUP_ID_MAX)
        r->err = 1;
    return s ? s : "";
}

static void wr_throttle(qr_kw_t *w, int16_t version, int16_t from)
{
    if (version >= from)
        qr_kw_i32(w, 0); /* throttle_time_ms: no quotas */
}

static void wr_err(qr_kw_t *w, quire_err_t err)
{
    qr_kw_i16(w, qr_kwire_err(err));
}

/* ---- FindCoordinator (10) ---- */

quire_err_t qr_kgwire_find_coord_decode(qr_kr_t *r, int16_t version,
                                        qr_req_t *req)
{
    qr_find_coord_req_t *q = &req->u.kgroup.find_coord;
    q->key = rd_id(r);
    q->key_type = version >= 1 ? qr_kr_i8(r) : 0;
    return done(r);
}

void qr_kgwire_find_coord_encode(qr_kout_t *o, int16_t version,
                                 const qr_resp_t *resp)
{
    const qr_find_coord_resp_t *p = &resp->u.kgroup.find_coord;
    wr_throttle(&o->w, version, 1);
    wr_err(&o->w, p->error_code);
    if (version >= 1)
        qr_kw_str(&o->w, p->error_message);
    qr_kw_i32(&o->w, p->node_id);
    qr_kw_str(&o->w, p->host ? p->host : "");
    qr_kw_i32(&o->w, p->port);
}

/* ---- JoinGroup (11) ---- */

quire_err_t qr_kgwire_join_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    qr_join_group_req_t *q = &req->u.kgroup.join;
    q->group_id = rd_id(r);
    q->session_timeout_ms = qr_kr_i32(r);
    q->rebalance_timeout_ms = version >= 1 ? qr_kr_i32(r) : -1;
    q->member_id = rd_id(r);
    q->group_instance_id = version >= 5 ? qr_kr_str(r) : NULL;
    q->protocol_type = rd_id(r);
    /* each protocol: a name (2 bytes at least) and metadata (4) */
    size_t n = qr_kr_array(r, 6);
    if (n > QR_KGROUP_LIST_MAX)
        r->err = 1;
    qr_join_protocol_t *ps = qr_kr_alloc(r, n, sizeof(*ps));
    for (size_t i = 0; ps && i < n && qr_kr_ok(r); i++) {
        ps[i].name = rd_id(r);
        ps[i].metadata = qr_kr_bytes(r, &ps[i].metadata_len);
    }
    q->protocol_count = qr_kr_ok(r) ? n : 0;
    q->protocols = ps;
    return done(r);
}

void qr_kgwire_join_encode(qr_kout_t *o, int16_t version, const qr_resp_t *resp)
{
    const qr_join_group_resp_t *p = &resp->u.kgroup.join;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 2);
    wr_err(w, p->error_code);
    qr_kw_i32(w, p->generation_id);
    qr_kw_str(w, p->protocol_name ? p->protocol_name : "");
    qr_kw_str(w, p->leader ? p->leader : "");
    qr_kw_str(w, p->member_id ? p->member_id : "");
    qr_kw_array(w, p->member_count);
    for (size_t i = 0; i < p->member_count; i++) {
        const qr_join_member_t *m = &p->members[i];
        qr_kw_str(w, m->member_id);
        if (version >= 5)
            qr_kw_str(w, m->group_instance_id);
        qr_kw_bytes(w, m->metadata ? (const void *)m->metadata : "",
                    m->metadata_len);
    }
}

/* ---- SyncGroup (14) ---- */

quire_err_t qr_kgwire_sync_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    qr_sync_group_req_t *q = &req->u.kgroup.sync;
    q->group_id = rd_id(r);
    q->generation_id = qr_kr_i32(r);
    q->member_id = rd_id(r);
    q->group_instance_id = version >= 3 ? qr_kr_str(r) : NULL;
    size_t n = qr_kr_array(r, 6);
    if (n > QR_KGROUP_LIST_MAX)
        r->err = 1;
    qr_sync_assignment_t *as = qr_kr_alloc(r, n, sizeof(*as));
    for (size_t i = 0; as && i < n && qr_kr_ok(r); i++) {
        as[i].member_id = rd_id(r);
        as[i].assignment = qr_kr_bytes(r, &as[i].assignment_len);
    }
    q->assignment_count = qr_kr_ok(r) ? n : 0;
    q->assignments = as;
    return done(r);
}

void qr_kgwire_sync_encode(qr_kout_t *o, int16_t version, const qr_resp_t *resp)
{
    const qr_sync_group_resp_t *p = &resp->u.kgroup.sync;
    wr_throttle(&o->w, version, 1);
    wr_err(&o->w, p->error_code);
    qr_kw_bytes(&o->w, p->assignment ? (const void *)p->assignment : "",
                p->assignment_len);
}

/* ---- Heartbeat (12) ---- */

quire_err_t qr_kgwire_heartbeat_decode(qr_kr_t *r, int16_t version,
                                       qr_req_t *req)
{
    qr_heartbeat_req_t *q = &req->u.kgroup.heartbeat;
    q->group_id = rd_id(r);
    q->generation_id = qr_kr_i32(r);
    q->member_id = rd_id(r);
    q->group_instance_id = version >= 3 ? qr_kr_str(r) : NULL;
    return done(r);
}

void qr_kgwire_heartbeat_encode(qr_kout_t *o, int16_t version,
                                const qr_resp_t *resp)
{
    wr_throttle(&o->w, version, 1);
    wr_err(&o->w, resp->u.kgroup.heartbeat.error_code);
}

/* ---- LeaveGroup (13) ---- */

quire_err_t qr_kgwire_leave_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    qr_leave_group_req_t *q = &req->u.kgroup.leave;
    q->group_id = rd_id(r);
    size_t n = 1;
    if (version >= 3) {
        n = qr_kr_array(r, 4);
        if (n > QR_KGROUP_LIST_MAX)
            r->err = 1;
    }
    qr_leave_member_t *ms = qr_kr_alloc(r, n, sizeof(*ms));
    for (size_t i = 0; ms && i < n && qr_kr_ok(r); i++) {
        ms[i].member_id = rd_id(r);
        ms[i].group_instance_id = version >= 3 ? qr_kr_str(r) : NULL;
    }
    q->member_count = qr_kr_ok(r) ? n : 0;
    q->members = ms;
    return done(r);
}

void qr_kgwire_leave_encode(qr_kout_t *o, int16_t version,
                            const qr_resp_t *resp)
{
    const qr_leave_group_resp_t *p = &resp->u.kgroup.leave;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 1);
    wr_err(w, p->error_code);
    if (version < 3)
        return;
    qr_kw_array(w, p->member_count);
    for (size_t i = 0; i < p->member_count; i++) {
        qr_kw_str(w, p->members[i].member_id);
        qr_kw_str(w, p->members[i].group_instance_id);
        wr_err(w, p->members[i].error_code);
    }
}

/* ---- OffsetCommit (8) ---- */

static void commit_parts(qr_kr_t *r, int16_t version, qr_commit_topic_t *t)
{
    /* partition (4), offset (8), metadata (2) at least */
    size_t n = qr_kr_array(r, 14);
    qr_commit_part_t *ps = qr_kr_alloc(r, n, sizeof(*ps));
    for (size_t i = 0; ps && i < n && qr_kr_ok(r); i++) {
        ps[i].partition = qr_kr_i32(r);
        ps[i].committed_offset = qr_kr_i64(r);
        ps[i].committed_leader_epoch = version >= 6 ? qr_kr_i32(r) : -1;
        if (version == 1)
            (void)qr_kr_i64(r); /* commit_timestamp: not kept */
        ps[i].committed_metadata = qr_kr_str(r);
    }
    t->partition_count = qr_kr_ok(r) ? n : 0;
    t->partitions = ps;
}

quire_err_t qr_kgwire_commit_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    qr_offset_commit_req_t *q = &req->u.kgroup.commit;
    q->group_id = rd_id(r);
    q->generation_id = -1;
    q->member_id = "";
    if (version >= 1) {
        q->generation_id = qr_kr_i32(r);
        q->member_id = rd_id(r);
    }
    q->group_instance_id = version >= 7 ? qr_kr_str(r) : NULL;
    if (version >= 2 && version <= 4)
        (void)qr_kr_i64(r); /* retention_time_ms: ZooKeeper keeps them */
    size_t n = qr_kr_array(r, 6);
    qr_commit_topic_t *ts = qr_kr_alloc(r, n, sizeof(*ts));
    for (size_t i = 0; ts && i < n && qr_kr_ok(r); i++) {
        ts[i].name = rd_id(r);
        commit_parts(r, version, &ts[i]);
    }
    q->topic_count = qr_kr_ok(r) ? n : 0;
    q->topics = ts;
    return done(r);
}

void qr_kgwire_commit_encode(qr_kout_t *o, int16_t version,
                             const qr_resp_t *resp)
{
    const qr_offset_commit_resp_t *p = &resp->u.kgroup.commit;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 3);
    qr_kw_array(w, p->topic_count);
    for (size_t i = 0; i < p->topic_count; i++) {
        const qr_commit_topic_t *t = &p->topics[i];
        qr_kw_str(w, t->name);
        qr_kw_array(w, t->partition_count);
        for (size_t j = 0; j < t->partition_count; j++) {
            qr_kw_i32(w, t->partitions[j].partition);
            wr_err(w, t->partitions[j].error_code);
        }
    }
}

/* ---- OffsetFetch (9) ---- */

quire_err_t qr_kgwire_fetch_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    qr_offset_fetch_req_t *q = &req->u.kgroup.fetch;
    q->group_id = rd_id(r);
    /* a null array (-1) means every topic from v2 on: read the count
     * ourselves, since qr_kr_array() folds null into 0 */
    int32_t cnt = qr_kr_i32(r);
    if (cnt < 0) {
        if (cnt != -1 || version < 2)
            r->err = 1;
        q->all_topics = true;
        return done(r);
    }
    size_t n = (size_t)cnt;
    if (n > qr_kr_left(r) / 6)
        r->err = 1;
    qr_fetchoff_topic_t *ts = qr_kr_alloc(r, n, sizeof(*ts));
    for (size_t i = 0; ts && i < n && qr_kr_ok(r); i++) {
        ts[i].name = rd_id(r);
        size_t pn = qr_kr_array(r, 4);
        int32_t *ps = qr_kr_alloc(r, pn, sizeof(*ps));
        for (size_t j = 0; ps && j < pn && qr_kr_ok(r); j++)
            ps[j] = qr_kr_i32(r);
        ts[i].partition_count = qr_kr_ok(r) ? pn : 0;
        ts[i].partitions = ps;
    }
    q->topic_count = qr_kr_ok(r) ? n : 0;
    q->topics = ts;
    return done(r);
}

void qr_kgwire_fetch_encode(qr_kout_t *o, int16_t version,
                            const qr_resp_t *resp)
{
    const qr_offset_fetch_resp_t *p = &resp->u.kgroup.fetch;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 3);
    qr_kw_array(w, p->topic_count);
    for (size_t i = 0; i < p->topic_count; i++) {
        const qr_fetchoff_topic_resp_t *t = &p->topics[i];
        qr_kw_str(w, t->name);
        qr_kw_array(w, t->partition_count);
        for (size_t j = 0; j < t->partition_count; j++) {
            const qr_fetchoff_part_t *pp = &t->partitions[j];
            qr_kw_i32(w, pp->partition);
            qr_kw_i64(w, pp->committed_offset);
            if (version >= 5)
                qr_kw_i32(w, pp->committed_leader_epoch);
            qr_kw_str(w, pp->metadata ? pp->metadata : "");
            wr_err(w, pp->error_code);
        }
    }
    if (version >= 2)
        wr_err(w, p->error_code);
}

/* ---- DescribeGroups (15) ---- */

quire_err_t qr_kgwire_describe_decode(qr_kr_t *r, int16_t version,
                                      qr_req_t *req)
{
    qr_describe_groups_req_t *q = &req->u.kgroup.describe;
    size_t n = qr_kr_array(r, 2);
    if (n > QR_KGROUP_LIST_MAX)
        r->err = 1;
    const char **gs = qr_kr_alloc(r, n, sizeof(*gs));
    for (size_t i = 0; gs && i < n && qr_kr_ok(r); i++)
        gs[i] = rd_id(r);
    q->group_count = qr_kr_ok(r) ? n : 0;
    q->groups = gs;
    q->include_authorized_operations = version >= 3 ? qr_kr_i8(r) != 0 : 0;
    return done(r);
}

static void wr_member(qr_kw_t *w, int16_t version,
                      const qr_described_member_t *m)
{
    qr_kw_str(w, m->member_id);
    if (version >= 4)
        qr_kw_str(w, m->group_instance_id);
    qr_kw_str(w, m->client_id);
    qr_kw_str(w, m->client_host);
    qr_kw_bytes(w, m->member_metadata ? (const void *)m->member_metadata : "",
                m->member_metadata_len);
    qr_kw_bytes(w,
                m->member_assignment ? (const void *)m->member_assignment : "",
                m->member_assignment_len);
}

void qr_kgwire_describe_encode(qr_kout_t *o, int16_t version,
                               const qr_resp_t *resp)
{
    const qr_describe_groups_resp_t *p = &resp->u.kgroup.describe;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 1);
    qr_kw_array(w, p->group_count);
    for (size_t i = 0; i < p->group_count; i++) {
        const qr_described_group_t *g = &p->groups[i];
        wr_err(w, g->error_code);
        qr_kw_str(w, g->group_id);
        qr_kw_str(w, g->group_state);
        qr_kw_str(w, g->protocol_type);
        qr_kw_str(w, g->protocol_data);
        qr_kw_array(w, g->member_count);
        for (size_t j = 0; j < g->member_count; j++)
            wr_member(w, version, &g->members[j]);
        if (version >= 3)
            qr_kw_i32(w, INT32_MIN); /* authorized_operations: not asked */
    }
}

/* ---- ListGroups (16) ---- */

quire_err_t qr_kgwire_list_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    (void)version;
    (void)req;
    return done(r);
}

void qr_kgwire_list_encode(qr_kout_t *o, int16_t version, const qr_resp_t *resp)
{
    const qr_list_groups_resp_t *p = &resp->u.kgroup.list;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 1);
    wr_err(w, p->error_code);
    qr_kw_array(w, p->group_count);
    for (size_t i = 0; i < p->group_count; i++) {
        qr_kw_str(w, p->groups[i].group_id);
        qr_kw_str(w, p->groups[i].protocol_type);
    }
}
