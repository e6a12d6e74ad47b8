/*
 * api_produce: check, append, answer (now, or from the flusher).
 */
#include "config.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api_produce.h"
#include "conn.h"
#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "crc32c.h"
#include "idemp.h"
#include "logging.h"
#include "partmap.h"

typedef struct prod_op prod_op_t;

/* One partition's outcome; its address is the flush callback's opaque.
 * resp is the network thread's alone; a flusher thread writes only
 * flush_err, then publishes it by setting flushed (release), so a timeout
 * on the network thread can tell a finished flush from one still out. */
typedef struct prod_part {
    prod_op_t *op;
    qr_produce_part_resp_t *resp;
    int waiting; /* a flush was requested (net thread only) */
    quire_err_t flush_err;
    atomic_int flushed;
    /* acks=all over the ISR (issue 16): the HW must pass the last offset;
     * the replica set writes repl.err, then sets replicated (release) */
    int repl_waiting; /* registered (net thread only) */
    qr_replica_waiter_t repl;
    atomic_int replicated;
} prod_part_t;

struct prod_op {
    qr_nt_work_t work; /* first: the flusher's completion posts it */
    qr_netthread_t *nt;
    qr_reply_t *reply;
    int32_t correlation_id;
    int acks;
    /* Kafka's timeout_ms for acks=all: when it fires first, the partitions
     * still waiting answer REQUEST_TIMED_OUT and the op lives on, answered,
     * until the last flush callback has come back (it points into it). */
    ev_timer timer;
    int answered;
    /* flush requests outstanding, plus one held by the handler while it
     * runs, so the op cannot go before every partition is done */
    atomic_int pending;
    qr_produce_topic_resp_t *topics;
    size_t topic_cnt, part_cnt;
    qr_produce_part_resp_t *parts; /* all partitions, topic by topic */
    prod_part_t *pp;               /* parallel to parts */
    char **names;                  /* owned topic names */
};

quire_err_t qr_api_produce_check(const uint8_t *p, size_t len,
                                 int32_t max_batch, size_t decompress_max,
                                 const char **why)
{
    size_t off = 0;
    qr_batch_hdr_t hdr;
    quire_err_t err;

    if (len == 0) {
        if (why)
            *why = "no record batch";
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    while (off < len) {
        /* The size is judged from the header before the CRC pass, so an
         * oversized batch costs no checksum. */
        if (qr_batch_hdr_read(p + off, len - off, &hdr) != QUIRE_ERR_NONE ||
            hdr.length < QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD) {
            if (why)
                *why = "truncated batch header";
            return QUIRE_ERR_CORRUPT_MESSAGE;
        }
        if (qr_batch_size(&hdr) > (size_t)max_batch) {
            if (why)
                *why = "batch larger than max.message.bytes";
            return QUIRE_ERR_MESSAGE_TOO_LARGE;
        }
        /* Record by record before the ack (Kafka's LogValidator): a
         * malformed record stored would stop every consumer there. */
        err = qr_batch_validate_produced(p + off, len - off, decompress_max,
                                         &hdr, why);
        if (err == QUIRE_ERR_TRUNCATED)
            err = QUIRE_ERR_CORRUPT_MESSAGE; /* lengths do not tile */
        else if (err == QUIRE_ERR_NO_MEMORY) /* local: not for the wire */
            err = QUIRE_ERR_UNKNOWN_SERVER_ERROR;
        if (err != QUIRE_ERR_NONE)
            return err;
        off += qr_batch_size(&hdr);
    }
    return QUIRE_ERR_NONE;
}

void qr_api_produce_stamp(uint8_t *p, size_t len, int64_t now_ms)
{
    size_t off = 0;

    while (off + QR_BATCH_HEADER_SIZE <= len) {
        uint8_t *b = p + off;
        size_t size =
            QR_BATCH_LOG_OVERHEAD + qr_be32_get(b + QR_BATCH_OFF_LENGTH);
        uint16_t attr = qr_be16_get(b + QR_BATCH_OFF_ATTRIBUTES);

        qr_be16_put(b + QR_BATCH_OFF_ATTRIBUTES,
                    attr | QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND);
        qr_be64_put(b + QR_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)now_ms);
        qr_be32_put(b + QR_BATCH_OFF_CRC,
                    qr_crc32c(0, b + QR_BATCH_OFF_ATTRIBUTES,
                              size - QR_BATCH_OFF_ATTRIBUTES));
        off += size;
    }
}

static void op_free(prod_op_t *op)
{
    for (size_t i = 0; i < op->topic_cnt; i++)
        free(op->names[i]);
    free(op->names);
    free(op->topics);
    free(op->parts);
    free(op->pp);
    free(op);
}

/* Sends the response (or drops the slot for acks=0); the op stays. */
static void op_answer(prod_op_t *op)
{
    qr_resp_t resp = {0};

    op->answered = 1;
    if (op->acks == 0) {
        qr_reply_drop(op->reply);
    } else {
        resp.api = QR_API_PRODUCE;
        resp.correlation_id = op->correlation_id;
        resp.u.produce.topic_count = op->topic_cnt;
        resp.u.produce.topics = op->topics;
        (void)qr_request_respond(op->reply, &resp);
        qr_reply_ready(op->reply);
    }
    op->reply = NULL; /* the connection's now */
}

/* A partition's outcome: its own flush, then the HW over the ISR.
 * Returns 0 while one is still out (and not @p expired). */
static int part_outcome(prod_part_t *pp, int expired, quire_err_t *err)
{
    *err = QUIRE_ERR_NONE;
    if (pp->waiting) {
        if (atomic_load_explicit(&pp->flushed, memory_order_acquire))
            *err = pp->flush_err;
        else if (expired)
            *err = QUIRE_ERR_REQUEST_TIMED_OUT;
        else
            return 0;
    }
    if (*err == QUIRE_ERR_NONE && pp->repl_waiting) {
        if (atomic_load_explicit(&pp->replicated, memory_order_acquire))
            *err = pp->repl.err;
        else if (expired)
            *err = QUIRE_ERR_REQUEST_TIMED_OUT;
        else
            return 0;
    }
    return 1;
}

/* Copies each finished wait's outcome into its response; with @p expired,
 * a partition whose flush or replication is still out gets
 * REQUEST_TIMED_OUT (its records stay appended, as in Kafka: only the
 * durability wait is given up). */
static void collect_flushes(prod_op_t *op, int expired)
{
    for (size_t k = 0; k < op->part_cnt; k++) {
        prod_part_t *pp = &op->pp[k];
        quire_err_t err;
        if (!pp->waiting && !pp->repl_waiting)
            continue;
        if (!part_outcome(pp, expired, &err))
            continue;
        if (err != QUIRE_ERR_NONE) {
            pp->resp->error_code = err;
            pp->resp->base_offset = -1;
        }
    }
}

/* On the network thread, after the last flush callback: answer unless the
 * timeout did, then free. */
static void on_flushed_work(qr_nt_work_t *work)
{
    prod_op_t *op = (prod_op_t *)work;
    qr_netthread_t *nt = op->nt;

    ev_timer_stop(qr_netthread_loop(nt), &op->timer);
    if (!op->answered) {
        collect_flushes(op, 0);
        op_answer(op);
    }
    op_free(op);
    qr_netthread_op_end(nt);
}

/* timeout_ms passed with flushes still out: answer now. */
static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    prod_op_t *op = w->data;

    (void)loop;
    (void)revents;
    if (op->answered)
        return;
    QR_DBG(QR_DBG_PRODUCE, "PRODUCE",
           "correlation_id %d: not durable within timeout_ms; answering "
           "REQUEST_TIMED_OUT",
           op->correlation_id);
    collect_flushes(op, 1);
    op_answer(op);
}

/* On a flusher thread: record the outcome, and let the last one wake the
 * request's network thread. Touches only this partition's slot and the
 * atomic counter. */
static void on_flushed(void *opaque, qr_plog_t *part, int64_t last_offset,
                       quire_err_t err)
{
    prod_part_t *pp = opaque;
    prod_op_t *op = pp->op;

    (void)part;
    (void)last_offset;
    pp->flush_err = err;
    atomic_store_explicit(&pp->flushed, 1, memory_order_release);
    if (atomic_fetch_sub(&op->pending, 1) == 1)
        qr_netthread_post(op->nt, &op->work);
}

/* On whichever thread moved the HW past the batch (or deposed the
 * leader): as on_flushed. */
static void on_replicated(void *opaque, quire_err_t err)
{
    prod_part_t *pp = opaque;
    prod_op_t *op = pp->op;

    (void)err; /* already in pp->repl.err */
    atomic_store_explicit(&pp->replicated, 1, memory_order_release);
    if (atomic_fetch_sub(&op->pending, 1) == 1)
        qr_netthread_post(op->nt, &op->work);
}

/* acks=all: wait for the HW to pass @p last over the ISR (replica.h). */
static quire_err_t wait_replicated(prod_op_t *op, qr_pentry_t *entry,
                                   prod_part_t *pp, int64_t last)
{
    quire_err_t err = QUIRE_ERR_NONE;

    pp->repl.cb = on_replicated;
    pp->repl.opaque = pp;
    atomic_fetch_add(&op->pending, 1);
    if (qr_replica_ack_wait(entry->replica, &pp->repl, last,
                            atomic_load(&entry->min_insync), &err))
        pp->repl_waiting = 1;
    else
        atomic_fetch_sub(&op->pending, 1);
    return err;
}

static quire_err_t append_one(qr_reqctx_t *ctx, prod_op_t *op,
                              const char *topic, const qr_produce_part_t *in,
                              prod_part_t *pp)
{
    qr_produce_part_resp_t *out = pp->resp;
    const char *why = NULL;
    int64_t base, last;
    qr_pentry_t *entry;
    quire_err_t err;
    int durable = 0, dup = 0;
    const qr_brokerconf_t *bconf = qr_server_conf(ctx->server);
    qr_idemp_conf_t idc = {bconf->producer_id_expiration_ms,
                           bconf->producer_id_expiration_check_interval_ms};

    entry = qr_request_lookup(ctx, topic, in->partition, &err);
    if (!entry)
        return err;
    /* the topic's max.message.bytes (message.max.bytes unless overridden);
     * compressed records are decompressed unless the topic trusts its
     * producers, up to what one request could have carried uncompressed */
    err = qr_api_produce_check(
        in->records, in->records_length, atomic_load(&entry->max_message_bytes),
        atomic_load(&entry->trust_compressed)
            ? 0
            : (size_t)qr_server_conf(ctx->server)->socket_request_max_bytes,
        &why);
    if (err != QUIRE_ERR_NONE) {
        qr_conn_log_peer(ctx->conn, "produce to %s-%d refused: %s (%s)", topic,
                         in->partition, quire_err2name(err), why ? why : "");
        qr_pentry_release(entry);
        return err;
    }
    /* Before the append (Kafka): a deposed leader takes nothing; acks=all
     * needs min.insync.replicas in the ISR. */
    if (entry->replica) {
        err = qr_replica_check_insync(
            entry->replica,
            op->acks == -1 ? atomic_load(&entry->min_insync) : 1);
        if (err != QUIRE_ERR_NONE) {
            qr_pentry_release(entry);
            return err;
        }
    }
    /* The records are a view into the connection's own read buffer, which
     * is writable: the log rewrites each baseOffset in place, and the
     * topic's LogAppendTime the batch timestamps. */
    if (atomic_load(&entry->log_append_time)) {
        out->log_append_time = qr_clock_real_ms();
        qr_api_produce_stamp((uint8_t *)in->records, in->records_length,
                             out->log_append_time);
    }
    /* issue 22: idempotent batches are deduplicated (idemp.h) */
    err =
        qr_idemp_append(entry->idemp, entry->part, &idc, (uint8_t *)in->records,
                        in->records_length, &base, &last, &dup);
    if (err != QUIRE_ERR_NONE) {
        if (err == QUIRE_ERR_INVALID_PRODUCER_EPOCH ||
            err == QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER ||
            err == QUIRE_ERR_INVALID_RECORD)
            qr_conn_log_peer(ctx->conn, "produce to %s-%d refused: %s", topic,
                             in->partition, quire_err2name(err));
        qr_pentry_release(entry);
        return err;
    }
    if (dup)
        QR_DBG(QR_DBG_PRODUCE, "PRODUCE",
               "%s-%d: duplicate of offsets %" PRId64 "..%" PRId64
               " answered, not written",
               topic, in->partition, base, last);
    out->base_offset = base;
    out->log_start_offset = qr_plog_log_start(entry->part);
    qr_pentry_notify(entry); /* wake long-polling fetches */
    if (op->acks == -1) {
        atomic_fetch_add(&op->pending, 1);
        err =
            qr_plog_flush_request(entry->part, last, on_flushed, pp, &durable);
        if (err != QUIRE_ERR_NONE || durable)
            atomic_fetch_sub(&op->pending, 1);
        else
            pp->waiting = 1;
        if (err == QUIRE_ERR_NONE && entry->replica)
            err = wait_replicated(op, entry, pp, last);
    }
    qr_pentry_release(entry);
    return err;
}

static prod_op_t *op_new(qr_reqctx_t *ctx)
{
    const qr_produce_req_t *preq = &ctx->req->u.produce;
    prod_op_t *op = qr_calloc(1, sizeof(*op));
    size_t n = 0, k = 0;

    for (size_t t = 0; t < preq->topic_count; t++)
        n += preq->topics[t].partition_count;
    op->nt = ctx->nt;
    op->reply = ctx->reply;
    op->correlation_id = ctx->req->correlation_id;
    op->acks = preq->acks;
    op->work.fn = on_flushed_work;
    ev_init(&op->timer, on_timeout);
    op->timer.data = op;
    atomic_init(&op->pending, 1);
    op->topic_cnt = preq->topic_count;
    op->part_cnt = n;
    op->topics =
        qr_calloc(op->topic_cnt ? op->topic_cnt : 1, sizeof(*op->topics));
    op->names =
        qr_calloc(op->topic_cnt ? op->topic_cnt : 1, sizeof(*op->names));
    op->parts = qr_calloc(n ? n : 1, sizeof(*op->parts));
    op->pp = qr_calloc(n ? n : 1, sizeof(*op->pp));
    for (size_t t = 0; t < preq->topic_count; t++) {
        const qr_produce_topic_t *in = &preq->topics[t];
        op->names[t] = qr_strdup(in->topic);
        op->topics[t].topic = op->names[t];
        op->topics[t].partition_count = in->partition_count;
        op->topics[t].partitions = &op->parts[k];
        for (size_t p = 0; p < in->partition_count; p++, k++) {
            op->parts[k].partition = in->partitions[p].partition;
            op->parts[k].base_offset = -1;
            op->parts[k].log_append_time = -1;
            op->parts[k].log_start_offset = -1;
            op->pp[k].op = op;
            op->pp[k].resp = &op->parts[k];
            atomic_init(&op->pp[k].flushed, 0);
            atomic_init(&op->pp[k].replicated, 0);
        }
    }
    return op;
}

void qr_api_produce(qr_reqctx_t *ctx)
{
    const qr_produce_req_t *preq = &ctx->req->u.produce;
    prod_op_t *op = op_new(ctx);
    size_t k = 0;

    for (size_t t = 0; t < preq->topic_count; t++) {
        const qr_produce_topic_t *in = &preq->topics[t];
        for (size_t p = 0; p < in->partition_count; p++, k++) {
            quire_err_t err =
                append_one(ctx, op, in->topic, &in->partitions[p], &op->pp[k]);
            if (err != QUIRE_ERR_NONE) {
                op->parts[k].error_code = err;
                op->parts[k].base_offset = -1;
            }
        }
    }
    /* Drop the handler's hold; whoever takes pending to 0 answers. */
    if (atomic_fetch_sub(&op->pending, 1) == 1) {
        collect_flushes(op, 0);
        op_answer(op);
        op_free(op);
        return;
    }
    qr_netthread_op_begin(ctx->nt);
    /* One timer per waiting request (not per partition), on its thread;
     * timeout_ms 0 expires on the next loop pass unless every flush has
     * come back by then. */
    ev_timer_set(&op->timer, preq->timeout_ms / 1e3, 0.);
    ev_timer_start(qr_netthread_loop(ctx->nt), &op->timer);
}
