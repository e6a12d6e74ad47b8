/*
 * kawire: the topic-administration APIs' bytes (see kawire.h). Field order
 * and the version each field appears in follow Kafka's JSON message
 * definitions (CreateTopicsRequest.json, DeleteTopicsRequest.json,
 * DescribeConfigsRequest.json and their responses).
 */
#include "config.h"

#include <string.h>

#include "kawire.h"

static quire_err_t done(const qr_kr_t *r)
{
    return qr_kr_ok(r) ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_REQUEST;
}

/* A topic name or config key: there, and no longer than a topic may be on
 * the wire (the handler checks legality). */
static const char *rd_name(qr_kr_t *r)
{
    const char *s = qr_kr_str_nn(r);
    if (s && strlen(s) > QR_WIRE_TOPIC_MAX)
        r->err = 1;
    return s ? s : "";
}

static size_t rd_count(qr_kr_t *r, size_t min_elem)
{
    size_t n = qr_kr_array(r, min_elem);
    if (n > QR_KADMIN_LIST_MAX)
        r->err = 1;
    return qr_kr_ok(r) ? n : 0;
}

/* An array that may be null (non-flexible versions only): *is_null set. */
static size_t rd_count_nullable(qr_kr_t *r, size_t min_elem, bool *is_null)
{
    *is_null = qr_kr_left(r) >= 4 &&
               memcmp(r->p + r->off, "\xff\xff\xff\xff", 4) == 0;
    return rd_count(r, min_elem);
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

/* ---- CreateTopics (19) ---- */

quire_err_t qr_kawire_create_topics_decode(qr_kr_t *r, int16_t version,
                                           qr_req_t *req)
{
    qr_create_topics_req_t *q = &req->u.kadmin.create;
    /* a topic: name (2), partitions (4), rf (2), two arrays (4 each) */
    size_t n = rd_count(r, 16);
    qr_create_topic_t *ts = qr_kr_alloc(r, n, sizeof(*ts));
    for (size_t i = 0; ts && i < n && qr_kr_ok(r); i++) {
        qr_create_topic_t *t = &ts[i];
        t->name = rd_name(r);
        t->num_partitions = qr_kr_i32(r);
        t->replication_factor = qr_kr_i16(r);
        size_t an = rd_count(r, 8);
        qr_create_assignment_t *as = qr_kr_alloc(r, an, sizeof(*as));
        for (size_t a = 0; as && a < an && qr_kr_ok(r); a++) {
            as[a].partition_index = qr_kr_i32(r);
            size_t bn = rd_count(r, 4);
            int32_t *ids = qr_kr_alloc(r, bn, sizeof(*ids));
            for (size_t b = 0; ids && b < bn && qr_kr_ok(r); b++)
                ids[b] = qr_kr_i32(r);
            as[a].broker_count = qr_kr_ok(r) ? bn : 0;
            as[a].broker_ids = ids;
        }
        t->assignment_count = qr_kr_ok(r) ? an : 0;
        t->assignments = as;
        size_t cn = rd_count(r, 4);
        qr_create_config_t *cs = qr_kr_alloc(r, cn, sizeof(*cs));
        for (size_t c = 0; cs && c < cn && qr_kr_ok(r); c++) {
            cs[c].name = rd_name(r);
            cs[c].value = qr_kr_str(r);
        }
        t->config_count = qr_kr_ok(r) ? cn : 0;
        t->configs = cs;
    }
    q->topic_count = qr_kr_ok(r) ? n : 0;
    q->topics = ts;
    q->timeout_ms = qr_kr_i32(r);
    q->validate_only = version >= 1 ? qr_kr_i8(r) != 0 : false;
    return done(r);
}

void qr_kawire_create_topics_encode(qr_kout_t *o, int16_t version,
                                    const qr_resp_t *resp)
{
    const qr_create_topics_resp_t *p = &resp->u.kadmin.create;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 2);
    qr_kw_array(w, p->topic_count);
    for (size_t i = 0; i < p->topic_count; i++) {
        qr_kw_str(w, p->topics[i].name);
        wr_err(w, p->topics[i].error_code);
        if (version >= 1)
            qr_kw_str(w, p->topics[i].error_message);
    }
}

/* ---- DeleteTopics (20) ---- */

quire_err_t qr_kawire_delete_topics_decode(qr_kr_t *r, int16_t version,
                                           qr_req_t *req)
{
    qr_delete_topics_req_t *q = &req->u.kadmin.del;
    (void)version;
    size_t n = rd_count(r, 2);
    const char **ns = qr_kr_alloc(r, n, sizeof(*ns));
    for (size_t i = 0; ns && i < n && qr_kr_ok(r); i++)
        ns[i] = rd_name(r);
    q->topic_count = qr_kr_ok(r) ? n : 0;
    q->topics = ns;
    q->timeout_ms = qr_kr_i32(r);
    return done(r);
}

void qr_kawire_delete_topics_encode(qr_kout_t *o, int16_t version,
                                    const qr_resp_t *resp)
{
    const qr_delete_topics_resp_t *p = &resp->u.kadmin.del;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 1);
    qr_kw_array(w, p->topic_count);
    for (size_t i = 0; i < p->topic_count; i++) {
        qr_kw_str(w, p->topics[i].name);
        wr_err(w, p->topics[i].error_code);
    }
}

/* ---- DescribeConfigs (32) ---- */

quire_err_t qr_kawire_describe_configs_decode(qr_kr_t *r, int16_t version,
                                              qr_req_t *req)
{
    qr_describe_configs_req_t *q = &req->u.kadmin.describe;
    /* a resource: type (1), name (2), keys (4) */
    size_t n = rd_count(r, 7);
    qr_describe_resource_t *rs = qr_kr_alloc(r, n, sizeof(*rs));
    for (size_t i = 0; rs && i < n && qr_kr_ok(r); i++) {
        rs[i].resource_type = qr_kr_i8(r);
        rs[i].resource_name = rd_name(r);
        bool is_null;
        size_t kn = rd_count_nullable(r, 2, &is_null);
        const char **ks = qr_kr_alloc(r, kn, sizeof(*ks));
        for (size_t k = 0; ks && k < kn && qr_kr_ok(r); k++)
            ks[k] = rd_name(r);
        rs[i].all_keys = is_null;
        rs[i].key_count = qr_kr_ok(r) ? kn : 0;
        rs[i].keys = ks;
    }
    q->resource_count = qr_kr_ok(r) ? n : 0;
    q->resources = rs;
    q->include_synonyms = version >= 1 ? qr_kr_i8(r) != 0 : false;
    return done(r);
}

void qr_kawire_describe_configs_encode(qr_kout_t *o, int16_t version,
                                       const qr_resp_t *resp)
{
    const qr_describe_configs_resp_t *p = &resp->u.kadmin.describe;
    qr_kw_t *w = &o->w;
    wr_throttle(w, version, 0);
    qr_kw_array(w, p->result_count);
    for (size_t i = 0; i < p->result_count; i++) {
        const qr_describe_result_t *res = &p->results[i];
        wr_err(w, res->error_code);
        qr_kw_str(w, res->error_message);
        qr_kw_i8(w, res->resource_type);
        qr_kw_str(w, res->resource_name);
        qr_kw_array(w, res->config_count);
        for (size_t c = 0; c < res->config_count; c++) {
            const qr_config_entry_t *e = &res->configs[c];
            qr_kw_str(w, e->name);
            qr_kw_str(w, e->value);
            qr_kw_i8(w, e->read_only);
            if (version == 0)
                qr_kw_i8(w, e->source == QR_CONFIG_SOURCE_DEFAULT);
            else
                qr_kw_i8(w, e->source);
            qr_kw_i8(w, e->is_sensitive);
            if (version < 1)
                continue;
            qr_kw_array(w, e->synonym_count);
            for (size_t s = 0; s < e->synonym_count; s++) {
                qr_kw_str(w, e->synonyms[s].name);
                qr_kw_str(w, e->synonyms[s].value);
                qr_kw_i8(w, e->synonyms[s].source);
            }
        }
    }
}
