/*
 * kwire_api: the bodies of Kafka's data-path APIs (Metadata, Produce, Fetch,
 * ListOffsets) and topic administration (CreateTopics, DeleteTopics,
 * DescribeConfigs), field by field as Kafka's message definitions
 * (clients/src/main/resources/common/message/ JSON files) give them. Only the
 * non-flexible versions are here: the table in broker/kcodec.c serves no
 * flexible version of these APIs.
 */
#include "config.h"

#include <string.h>

#include "kwire.h"

/* ---- Metadata v0-v8 ---- */

quire_err_t qr_kwire_metadata_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    qr_metadata_req_t *m = &req->u.metadata;
    const char **topics;
    /* v0: an empty array means every topic; v1+: null does, and an empty
     * one means none (brokers only) */
    int32_t n = qr_kr_i32(r);

    if (n < -1 || (n > 0 && (size_t)n > qr_kr_left(r) / 2))
        return QUIRE_ERR_INVALID_REQUEST;
    m->topic_count = n > 0 ? (size_t)n : 0;
    topics = qr_kr_alloc(r, m->topic_count, sizeof(*topics));
    for (size_t i = 0; i < m->topic_count && qr_kr_ok(r); i++)
        topics[i] = qr_kr_str_nn(r);
    m->topics = topics;
    m->no_topics = version >= 1 && n == 0;
    m->allow_auto_topic_creation = version < 4;
    if (version >= 4)
        m->allow_auto_topic_creation = qr_kr_i8(r) != 0;
    if (version >= 8) {
        (void)qr_kr_i8(r); /* include_cluster_authorized_operations */
        (void)qr_kr_i8(r); /* include_topic_authorized_operations */
    }
    return qr_kr_ok(r) ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_REQUEST;
}

static void put_i32s(qr_kw_t *w, const int32_t *v, size_t n)
{
    qr_kw_array(w, n);
    for (size_t i = 0; i < n; i++)
        qr_kw_i32(w, v[i]);
}

void qr_kwire_metadata_encode(qr_kout_t *o, int16_t version,
                              const qr_resp_t *resp)
{
    const qr_metadata_resp_t *m = &resp->u.metadata;
    qr_kw_t *w = &o->w;
    size_t nb = 0;

    if (version >= 3)
        qr_kw_i32(w, 0); /* throttle_time_ms */
    for (size_t b = 0; b < m->broker_count; b++)
        nb += m->brokers[b].kafka_port > 0;
    qr_kw_array(w, nb);
    for (size_t b = 0; b < m->broker_count; b++) {
        const qr_metadata_broker_t *mb = &m->brokers[b];
        if (mb->kafka_port <= 0)
            continue; /* no Kafka listener: a Kafka client cannot use it */
        qr_kw_i32(w, mb->node_id);
        qr_kw_str(w, mb->kafka_host ? mb->kafka_host : mb->host);
        qr_kw_i32(w, mb->kafka_port);
        if (version >= 1)
            qr_kw_str(w, NULL); /* rack */
    }
    if (version >= 2)
        qr_kw_str(w, NULL); /* cluster_id */
    if (version >= 1)
        qr_kw_i32(w, m->controller_id);
    qr_kw_array(w, m->topic_count);
    for (size_t t = 0; t < m->topic_count; t++) {
        const qr_metadata_topic_t *mt = &m->topics[t];
        qr_kw_i16(w, qr_kwire_err(mt->error_code));
        qr_kw_str(w, mt->topic);
        if (version >= 1)
            qr_kw_i8(w, 0); /* is_internal */
        qr_kw_array(w, mt->partition_count);
        for (size_t p = 0; p < mt->partition_count; p++) {
            const qr_metadata_part_t *mp = &mt->partitions[p];
            qr_kw_i16(w, qr_kwire_err(mp->error_code));
            qr_kw_i32(w, mp->partition);
            qr_kw_i32(w, mp->leader);
            if (version >= 7)
                qr_kw_i32(w, mp->leader_epoch);
            put_i32s(w, mp->replicas, mp->replica_count);
            put_i32s(w, mp->isr, mp->isr_count);
            if (version >= 5)
                put_i32s(w, NULL, 0); /* offline_replicas */
        }
        if (version >= 8)
            qr_kw_i32(w, INT32_MIN); /* topic_authorized_operations */
    }
    if (version >= 8)
        qr_kw_i32(w, INT32_MIN); /* cluster_authorized_operations */
}

/* ---- Produce v3-v7 ---- */

quire_err_t qr_kwire_produce_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    qr_produce_req_t *pr = &req->u.produce;
    qr_produce_topic_t *topics;

    (void)version;
    (void)qr_kr_str(r); /* transactional_id: no transactions here */
    pr->acks = qr_kr_i16(r);
    pr->timeout_ms = qr_kr_i32(r);
    pr->topic_count = qr_kr_array(r, 6);
    topics = qr_kr_alloc(r, pr->topic_count, sizeof(*topics));
    for (size_t t = 0; t < pr->topic_count && qr_kr_ok(r); t++) {
        qr_produce_part_t *parts;
        topics[t].topic = qr_kr_str_nn(r);
        topics[t].partition_count = qr_kr_array(r, 8);
        parts = qr_kr_alloc(r, topics[t].partition_count, sizeof(*parts));
        for (size_t p = 0; p < topics[t].partition_count && qr_kr_ok(r); p++) {
            size_t len;
            parts[p].partition = qr_kr_i32(r);
            parts[p].records = qr_kr_bytes(r, &len);
            parts[p].records_length = (uint32_t)len;
            /* apimsg.h: NULL when empty (an empty, non-null bytes is a
             * view of nothing; fuzz_kafka found it) */
            if (len == 0)
                parts[p].records = NULL;
        }
        topics[t].partitions = parts;
    }
    pr->topics = topics;
    return qr_kr_ok(r) ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_REQUEST;
}

void qr_kwire_produce_encode(qr_kout_t *o, int16_t version,
                             const qr_resp_t *resp)
{
    const qr_produce_resp_t *pr = &resp->u.produce;
    qr_kw_t *w = &o->w;

    qr_kw_array(w, pr->topic_count);
    for (size_t t = 0; t < pr->topic_count; t++) {
        const qr_produce_topic_resp_t *pt = &pr->topics[t];
        qr_kw_str(w, pt->topic);
        qr_kw_array(w, pt->partition_count);
        for (size_t p = 0; p < pt->partition_count; p++) {
            const qr_produce_part_resp_t *pp = &pt->partitions[p];
            qr_kw_i32(w, pp->partition);
            qr_kw_i16(w, qr_kwire_err(pp->error_code));
            qr_kw_i64(w, pp->base_offset);
            qr_kw_i64(w, pp->log_append_time);
            if (version >= 5)
                qr_kw_i64(w, pp->log_start_offset);
        }
    }
    qr_kw_i32(w, 0); /* throttle_time_ms */
}

/* ---- Fetch v4-v11 ---- */

quire_err_t qr_kwire_fetch_decode(qr_kr_t *r, int16_t version, qr_req_t *req)
{
    qr_fetch_req_t *f = &req->u.fetch;
    qr_fetch_topic_t *topics;
    size_t n;

    (void)qr_kr_i32(r); /* replica_id: Kafka's listener serves consumers */
    f->replica_id = -1;
    f->max_wait_ms = qr_kr_i32(r);
    f->min_bytes = qr_kr_i32(r);
    f->max_bytes = qr_kr_i32(r);
    (void)qr_kr_i8(r); /* isolation_level: no transactions, LSO = HW */
    if (version >= 7) {
        (void)qr_kr_i32(r); /* session_id: sessionless, full fetches */
        (void)qr_kr_i32(r); /* session_epoch */
    }
    f->topic_count = qr_kr_array(r, 6);
    topics = qr_kr_alloc(r, f->topic_count, sizeof(*topics));
    for (size_t t = 0; t < f->topic_count && qr_kr_ok(r); t++) {
        qr_fetch_part_t *parts;
        topics[t].topic = qr_kr_str_nn(r);
        topics[t].partition_count = qr_kr_array(r, 16);
        parts = qr_kr_alloc(r, topics[t].partition_count, sizeof(*parts));
        for (size_t p = 0; p < topics[t].partition_count && qr_kr_ok(r); p++) {
            parts[p].partition = qr_kr_i32(r);
            parts[p].current_leader_epoch = version >= 9 ? qr_kr_i32(r) : -1;
            parts[p].fetch_offset = qr_kr_i64(r);
            if (version >= 5)
                (void)qr_kr_i64(r); /* log_start_offset: followers only */
            parts[p].partition_max_bytes = qr_kr_i32(r);
            parts[p].replica_synced_offset = -1;
        }
        topics[t].partitions = parts;
    }
    f->topics = topics;
    if (version >= 7) { /* forgotten_topics_data: nothing to forget */
        n = qr_kr_array(r, 6);
        for (size_t t = 0; t < n && qr_kr_ok(r); t++) {
            size_t np;
            (void)qr_kr_str_nn(r);
            np = qr_kr_array(r, 4);
            for (size_t p = 0; p < np && qr_kr_ok(r); p++)
                (void)qr_kr_i32(r);
        }
    }
    if (version >= 11)
        (void)qr_kr_str(r); /* rack_id */
    return qr_kr_ok(r) ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_REQUEST;
}

void qr_kwire_fetch_encode(qr_kout_t *o, int16_t version, const qr_resp_t *resp)
{
    const qr_fetch_resp_t *f = &resp->u.fetch;
    qr_kw_t *w = &o->w;

    qr_kw_i32(w, 0); /* throttle_time_ms */
    if (version >= 7) {
        qr_kw_i16(w, qr_kwire_err(resp->error_code));
        qr_kw_i32(w, 0); /* session_id: none */
    }
    qr_kw_array(w, f->topic_count);
    for (size_t t = 0; t < f->topic_count; t++) {
        const qr_fetch_topic_resp_t *ft = &f->topics[t];
        qr_kw_str(w, ft->topic);
        qr_kw_array(w, ft->partition_count);
        for (size_t p = 0; p < ft->partition_count; p++) {
            const qr_fetch_part_resp_t *fp = &ft->partitions[p];
            qr_kw_i32(w, fp->partition);
            qr_kw_i16(w, qr_kwire_err(fp->error_code));
            qr_kw_i64(w, fp->high_watermark);
            qr_kw_i64(w, fp->high_watermark); /* last_stable_offset */
            if (version >= 5)
                qr_kw_i64(w, fp->log_start_offset);
            qr_kw_array(w, 0); /* aborted_transactions */
            if (version >= 11)
                qr_kw_i32(w, -1); /* preferred_read_replica */
            /* records: the length, then the bytes where they are */
            qr_kw_i32(w, (int32_t)fp->records_length);
            if (fp->file.len > 0 && o->cut)
                o->cut(o, &fp->file);
            else if (fp->records_length > 0 && fp->records)
                memcpy(qr_kw_put(w, fp->records_length), fp->records,
                       fp->records_length);
        }
    }
}

/* ---- ListOffsets v1-v5 ---- */

quire_err_t qr_kwire_listoffsets_decode(qr_kr_t *r, int16_t version,
                                        qr_req_t *req)
{
    qr_list_offsets_req_t *l = &req->u.list_offsets;
    qr_list_offsets_topic_t *topics;

    (void)qr_kr_i32(r); /* replica_id */
    l->replica_id = -1;
    if (version >= 2)
        (void)qr_kr_i8(r); /* isolation_level: LSO = HW */
    l->topic_count = qr_kr_array(r, 6);
    topics = qr_kr_alloc(r, l->topic_count, sizeof(*topics));
    for (size_t t = 0; t < l->topic_count && qr_kr_ok(r); t++) {
        qr_list_offsets_part_t *parts;
        topics[t].topic = qr_kr_str_nn(r);
        topics[t].partition_count = qr_kr_array(r, 12);
        parts = qr_kr_alloc(r, topics[t].partition_count, sizeof(*parts));
        for (size_t p = 0; p < topics[t].partition_count && qr_kr_ok(r); p++) {
            parts[p].partition = qr_kr_i32(r);
            if (version >= 4)
                (void)qr_kr_i32(r); /* current_leader_epoch */
            parts[p].timestamp = qr_kr_i64(r);
        }
        topics[t].partitions = parts;
    }
    l->topics = topics;
    return qr_kr_ok(r) ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_REQUEST;
}

void qr_kwire_listoffsets_encode(qr_kout_t *o, int16_t version,
                                 const qr_resp_t *resp)
{
    const qr_list_offsets_resp_t *l = &resp->u.list_offsets;
    qr_kw_t *w = &o->w;

    if (version >= 2)
        qr_kw_i32(w, 0); /* throttle_time_ms */
    qr_kw_array(w, l->topic_count);
    for (size_t t = 0; t < l->topic_count; t++) {
        const qr_list_offsets_topic_resp_t *lt = &l->topics[t];
        qr_kw_str(w, lt->topic);
        qr_kw_array(w, lt->partition_count);
        for (size_t p = 0; p < lt->partition_count; p++) {
            const qr_list_offsets_part_resp_t *lp = &lt->partitions[p];
            qr_kw_i32(w, lp->partition);
            qr_kw_i16(w, qr_kwire_err(lp->error_code));
            qr_kw_i64(w, lp->timestamp);
            qr_kw_i64(w, lp->offset);
            if (version >= 4)
                qr_kw_i32(w, -1); /* leader_epoch: unknown */
        }
    }
}
