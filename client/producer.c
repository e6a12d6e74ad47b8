/*
 * producer: quire_producer_* (DESIGN.md §7). Application threads append to
 * the accumulator; the client's loop thread drains ready batches, groups
 * them by leader into Produce requests (several in flight per connection,
 * up to max.in.flight.requests.per.connection batches per partition, see
 * accum.h), and completes each record with
 * a delivery report: its offset, a retry (same order, after
 * retry.backoff.ms, with fresh metadata), or its error.
 *
 * Nothing is dropped silently: every record accepted by send() reaches
 * exactly one report, from the response, a retry's final outcome, the
 * delivery timeout (REQUEST_TIMED_OUT) or close (DESTROYED).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accum.h"
#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "codec.h"
#include "idemprod.h"
#include "logging.h"
#include "producer_int.h"
#include "topic.h"

struct quire_producer {
    qr_client_t *cl;
    qr_accum_t *acc;
    const quire_conf_t *conf; /* the client's */
    int stopping;             /* loop: fail instead of retrying */
    /* the client's avail_gen when the partitions records without a key
     * may use were last given to the accumulator (loop thread) */
    uint64_t avail_gen;
    /* close() against send() on other threads: every send counts itself
     * in (senders) before it looks at closing, and out as its last touch
     * of the producer; close sets closing, wakes every blocked sender, and
     * polls until the count is 0 before it frees anything (a condition
     * variable would need the sender to touch it after counting out).
     * They sit on a cache line of their own: senders is written twice per
     * record by the application's threads, and the fields around it are
     * read (avail_gen written) by the loop thread for every batch; sharing
     * a line, each record moved it between the two cores. */
    qr_idemprod_t *idem; /* issue 22: NULL when idempotence is off */
    char pad0[QR_CACHE_LINE];
    atomic_int senders;
    atomic_int closing;
    char pad1[QR_CACHE_LINE - 2 * sizeof(atomic_int)];
};

/* One Produce request in flight: its batches in payload order. */
typedef struct preq_ctx {
    quire_producer_t *p;
    qr_pbatch_t *batches;
} preq_ctx_t;

/* Per-drain bookkeeping: bytes and whether a request is being built, per
 * leader. */
#define ROUND_NODES 64
typedef struct round {
    quire_producer_t *p;
    int n;
    int32_t node[ROUND_NODES];
    size_t bytes[ROUND_NODES];
    /* leaders with ready batches and no connection: connected after the
     * drain, outside the accumulator's lock */
    int nwant;
    int32_t want[ROUND_NODES];
} round_t;

/* ---- delivery ---- */

/* An iterator over @p b's records in its buffer, which keeps the
 * uncompressed records section after the batch is finished (a codec
 * compresses into b->out). @returns 1, or 0 when there is none. */
static int dr_records(const qr_pbatch_t *b, qr_batch_iter_t *it)
{
    qr_batch_hdr_t hdr;

    if (!b->buf || b->b.len < QR_BATCH_HEADER_SIZE || b->count <= 0)
        return 0;
    memset(&hdr, 0, sizeof(hdr));
    hdr.record_count = b->count;
    hdr.last_offset_delta = b->count - 1;
    hdr.magic = 2;
    return qr_batch_iter_init_records(it, &hdr, b->buf + QR_BATCH_HEADER_SIZE,
                                      b->b.len - QR_BATCH_HEADER_SIZE) ==
           QUIRE_ERR_NONE;
}

static void deliver_why(quire_producer_t *p, qr_pbatch_t *b, int64_t base,
                        int64_t append_time, quire_err_t err, const char *why)
{
    quire_delivery_t dr;
    qr_batch_iter_t it;
    int have_recs;

    if (p->idem && err != QUIRE_ERR_NONE) /* issue 22: a hole in the seqs */
        qr_idemprod_failed(p->idem, b, err);
    if (err == QUIRE_ERR_NONE) /* issue 15: statistics, once per batch */
        qr_cstats_produced(p->cl->stats, b->topic, b->partition, b->count,
                           (int64_t)b->b.len, (int64_t)b->len);
    if (p->conf->dr_cb) {
        memset(&dr, 0, sizeof(dr));
        dr.topic = b->topic;
        dr.partition = b->partition;
        dr.err = err;
        dr.errstr = err == QUIRE_ERR_NONE ? NULL : why;
        have_recs = dr_records(b, &it);
        for (int32_t i = 0; i < b->count; i++) {
            qr_batch_rec_t rec;

            dr.offset = err == QUIRE_ERR_NONE && base >= 0 ? base + i : -1;
            dr.timestamp =
                append_time >= 0 ? append_time : b->recs[i].timestamp;
            dr.opaque = b->recs[i].opaque;
            /* issue 18 item 9: the record's key and value, read back from
             * the batch buffer that still holds them uncompressed */
            if (have_recs && qr_batch_iter_next(&it, &rec) == QUIRE_ERR_NONE) {
                dr.key = rec.key;
                dr.key_len = rec.key_len < 0 ? 0 : (size_t)rec.key_len;
                dr.value = rec.value;
                dr.value_len = rec.value_len < 0 ? 0 : (size_t)rec.value_len;
            } else {
                have_recs = 0;
                dr.key = dr.value = NULL;
                dr.key_len = dr.value_len = 0;
            }
            p->conf->dr_cb(&dr, p->conf->dr_opaque);
        }
    }
    qr_accum_done(p->acc, b);
}

/* A report without a message of its own (delivered, or an error that
 * says it all). */
static void deliver(quire_producer_t *p, qr_pbatch_t *b, int64_t base,
                    int64_t append_time, quire_err_t err)
{
    deliver_why(p, b, base, append_time, err, NULL);
}

static int retriable(quire_err_t err)
{
    switch (err) {
    case QUIRE_ERR_NETWORK_EXCEPTION:
    case QUIRE_ERR_REQUEST_TIMED_OUT:
    case QUIRE_ERR_NOT_LEADER_FOR_PARTITION:
    case QUIRE_ERR_LEADER_NOT_AVAILABLE:
    case QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case QUIRE_ERR_NOT_ENOUGH_REPLICAS:
    case QUIRE_ERR_BROKER_NOT_AVAILABLE:
    case QUIRE_ERR_REPLICA_NOT_AVAILABLE:
    case QUIRE_ERR_KAFKA_STORAGE_ERROR:
    case QUIRE_ERR_FENCED_LEADER_EPOCH:
    case QUIRE_ERR_UNKNOWN_LEADER_EPOCH:
    case QUIRE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return 1;
    default:
        return 0;
    }
}

/* Retriable errors that say the metadata is stale (the leader moved, or
 * our idea of its epoch is off), rather than the ISR being short */
static int stale_meta(quire_err_t err)
{
    return retriable(err) && err != QUIRE_ERR_NOT_ENOUGH_REPLICAS &&
           err != QUIRE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
}

/* ---- failure reasons (issue 16 item 12) ---- */

static int32_t leader_of(quire_producer_t *p, const char *topic,
                         int32_t partition);

/* Why the records of @p b's partition are not getting through, for a
 * delivery report: no leader, the leader unreachable, or the last error
 * it answered. Loop thread. */
static void stuck_reason(quire_producer_t *p, const qr_pbatch_t *b, char *buf,
                         size_t size)
{
    const qr_cmeta_topic_t *t = qr_client_topic(p->cl, b->topic);
    int32_t leader = leader_of(p, b->topic, b->partition);
    const char *why = "";
    char addr[300];

    if (leader < 0)
        snprintf(buf, size, "the partition has no leader (%s)",
                 quire_err2str(t && b->partition < t->part_cnt &&
                                       t->parts[b->partition].err
                                   ? t->parts[b->partition].err
                                   : QUIRE_ERR_LEADER_NOT_AVAILABLE));
    else if (qr_client_broker_down(p->cl, leader, &why))
        snprintf(buf, size, "its leader, broker %d at %s, is unreachable (%s)",
                 (int)leader,
                 qr_client_broker_name(p->cl, leader, addr, sizeof(addr)), why);
    else if (b->last_err != QUIRE_ERR_NONE)
        snprintf(buf, size, "last error: %s (leader: broker %d at %s)",
                 quire_err2str(b->last_err), (int)leader,
                 qr_client_broker_name(p->cl, leader, addr, sizeof(addr)));
    else
        snprintf(buf, size,
                 "its leader, broker %d at %s, did not take it in time",
                 (int)leader,
                 qr_client_broker_name(p->cl, leader, addr, sizeof(addr)));
}

/* Fails the batches of @p list, each with a message naming its
 * topic-partition and the reason, as Kafka's "Expiring N record(s) for
 * topic-partition" (@p err REQUEST_TIMED_OUT) or the close that cut it
 * short (DESTROYED). */
static void fail_list(quire_producer_t *p, qr_pbatch_t *list, quire_err_t err)
{
    int64_t now = qr_clock_mono_ms();

    for (qr_pbatch_t *b = list, *next; b; b = next) {
        char reason[512], why[768];

        next = b->next;
        stuck_reason(p, b, reason, sizeof(reason));
        if (err == QUIRE_ERR_MSG_TIMED_OUT)
            snprintf(why, sizeof(why),
                     "Expiring %d record(s) for %s-%d: %lld ms has passed "
                     "since batch creation (delivery.timeout.ms %d); %s",
                     (int)b->count, b->topic, (int)b->partition,
                     (long long)(now - b->created_ms),
                     p->conf->delivery_timeout_ms, reason);
        else
            snprintf(why, sizeof(why),
                     "%d record(s) for %s-%d not delivered when the producer "
                     "was closed (%s); %s",
                     (int)b->count, b->topic, (int)b->partition,
                     quire_err2str(err), reason);
        QR_LOG_WARN("PRODUCE", "%s", why);
        deliver_why(p, b, -1, -1, err, why);
    }
}

/* Completes the batches of one partition, [first, end), that share the
 * outcome @p err: retried in order, or reported. */
static void complete_group(quire_producer_t *p, qr_pbatch_t *first,
                           qr_pbatch_t *end, quire_err_t err, int64_t base,
                           int64_t append_time)
{
    int64_t now = qr_clock_mono_ms();
    qr_pbatch_t *b, *next;
    int retry = retriable(err);

    /* issue 22: a batch sent after one that was lost is out of sequence
     * for the broker; it is retried behind the lost one (which was given
     * back first, or is still in flight) */
    if (err == QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER && p->idem &&
        qr_idemprod_oos_retriable(p->idem, first))
        retry = 1;
    if (err == QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER) {
        /* issue 22: written before, offset unknown (Kafka's meaning) */
        err = QUIRE_ERR_NONE;
        base = -1;
    }
    if (err == QUIRE_ERR_NONE) {
        for (b = first; b != end; b = next) {
            int32_t count = b->count;

            next = b->next;
            if (p->idem)
                qr_idemprod_acked(p->idem, b);
            deliver(p, b, base, append_time, err);
            if (base >= 0)
                base += count;
        }
        return;
    }
    if (stale_meta(err))
        qr_client_meta_stale(p->cl, first->topic);
    for (b = first; b != end; b = b->next)
        if (retry)
            b->last_err = err;
    if (retry && !p->stopping && first->attempts <= p->conf->retries &&
        now - first->created_ms < p->conf->delivery_timeout_ms) {
        QR_DBG(QR_DBG_PRODUCE, "PRODUCE", "%s-%d: %s; retrying", first->topic,
               first->partition, quire_err2str(err));
        /* back into the queue in the order they were first sent, behind
         * the retries of batches sent before them (accum.h) */
        for (b = first; b != end; b = next) {
            next = b->next;
            qr_accum_requeue(p->acc, b, now + p->conf->retry_backoff_ms);
        }
        qr_client_run_at(p->cl, now + p->conf->retry_backoff_ms);
        return;
    }
    if (retry && !p->stopping && first->attempts <= p->conf->retries) {
        /* the delivery timeout ran out while retrying: Kafka's
         * TimeoutException, naming the last error (the caller holds @p
         * end: cut the group off it) */
        for (b = first; b->next != end; b = b->next)
            ;
        b->next = NULL;
        fail_list(p, first, QUIRE_ERR_MSG_TIMED_OUT);
        return;
    }
    for (b = first; b != end; b = next) {
        char why[768];

        next = b->next;
        if (retry && !p->stopping)
            snprintf(why, sizeof(why),
                     "%d record(s) for %s-%d failed after %d attempt(s) "
                     "(retries %d): %s",
                     (int)b->count, b->topic, (int)b->partition, b->attempts,
                     p->conf->retries, quire_err2str(err));
        else
            snprintf(why, sizeof(why), "%d record(s) for %s-%d failed: %s",
                     (int)b->count, b->topic, (int)b->partition,
                     quire_err2str(err));
        QR_LOG_WARN("PRODUCE", "%s", why);
        deliver_why(p, b, -1, -1, err, why);
    }
}

static const qr_produce_part_resp_t *find_part(const qr_produce_resp_t *resp,
                                               const char *topic, int32_t part)
{
    for (size_t t = 0; t < resp->topic_count; t++) {
        const qr_produce_topic_resp_t *tr = &resp->topics[t];

        if (!tr->topic || strcmp(tr->topic, topic) != 0)
            continue;
        for (size_t i = 0; i < tr->partition_count; i++)
            if (tr->partitions[i].partition == part)
                return &tr->partitions[i];
    }
    return NULL;
}

static void on_produce(qr_bconn_t *conn, quire_err_t err, qr_resp_t *resp,
                       uint8_t **framebuf, void *arg)
{
    preq_ctx_t *ctx = arg;
    quire_producer_t *p = ctx->p;
    qr_pbatch_t *first = ctx->batches;

    (void)framebuf;
    if (err == QUIRE_ERR_NONE && resp && resp->error_code != QUIRE_ERR_NONE)
        err = resp->error_code;
    /* an answer with another body is a protocol error: never read it
     * through the produce member of the union, and do not retry into a
     * broker that answers so */
    if (err == QUIRE_ERR_NONE && resp && resp->api != QR_API_PRODUCE) {
        QR_LOG_WARN("PRODUCE", "%s answered a Produce with a %s body",
                    qr_bconn_name(conn), qr_wire_api_name(resp->api));
        err = QUIRE_ERR_BAD_FRAME;
    }
    if (err == QUIRE_ERR_DESTROYED)
        p->stopping = 1;
    while (first) {
        qr_pbatch_t *end = first->next;
        quire_err_t perr = err;
        int64_t base = -1, append_time = -1;

        while (end && end->part == first->part)
            end = end->next;
        if (perr == QUIRE_ERR_NONE && resp) {
            const qr_produce_part_resp_t *pr =
                find_part(&resp->u.produce, first->topic, first->partition);

            if (!pr)
                perr = QUIRE_ERR_UNKNOWN_SERVER_ERROR;
            else {
                perr = pr->error_code;
                base = pr->base_offset;
                append_time = pr->log_append_time;
            }
        }
        /* resp is NULL with acks=0: written is all we learn */
        complete_group(p, first, end, perr, base, append_time);
        first = end;
    }
    free(ctx);
    qr_client_kick(p->cl);
}

/* ---- sending ---- */

static int round_slot(round_t *r, int32_t node)
{
    for (int i = 0; i < r->n; i++)
        if (r->node[i] == node)
            return i;
    return -1;
}

static int32_t leader_of(quire_producer_t *p, const char *topic,
                         int32_t partition)
{
    const qr_cmeta_topic_t *t = qr_client_topic(p->cl, topic);

    if (!t || partition >= t->part_cnt)
        return -1;
    return t->parts[partition].leader;
}

/* Drain selector (accumulator lock held): a batch goes when its leader is
 * connected, the connection has room for one more request, and the
 * request being built for that leader stays within max.request.size. A
 * leader without a connection is noted for producer_run to connect. */
static int select_batch(void *arg, const char *topic, int32_t partition,
                        size_t bytes)
{
    round_t *r = arg;
    quire_producer_t *p = r->p;
    int32_t leader = leader_of(p, topic, partition);
    qr_bconn_t *conn;
    int i;

    if (leader < 0) {
        qr_client_meta_stale(p->cl, topic);
        return 0;
    }
    i = round_slot(r, leader);
    if (i >= 0) {
        if (r->bytes[i] + bytes > (size_t)p->conf->max_request_size)
            return 0;
        r->bytes[i] += bytes;
        return 1;
    }
    if (r->n == ROUND_NODES)
        return 0;
    /* never connect here: resolving a name or connect() under the lock
     * would hold every sender up behind the network */
    conn = qr_client_conn_peek(p->cl, leader);
    if (!conn) {
        int k = 0;

        while (k < r->nwant && r->want[k] != leader)
            k++;
        if (k == r->nwant && r->nwant < ROUND_NODES)
            r->want[r->nwant++] = leader;
        return 0;
    }
    if (qr_bconn_state(conn) != QR_BCONN_UP ||
        qr_bconn_pending(conn) >= p->conf->max_in_flight)
        return 0;
    r->node[r->n] = leader;
    r->bytes[r->n] = bytes;
    r->n++;
    return 1;
}

/* Sends the batches of @p list led by @p node as one request (they are
 * in queue order, grouped by topic then partition). Consumes the list. */
static void send_request(quire_producer_t *p, int32_t node, qr_pbatch_t *list,
                         size_t nbatches)
{
    qr_produce_topic_t *topics = calloc(nbatches, sizeof(*topics));
    qr_produce_part_t *parts = calloc(nbatches, sizeof(*parts));
    struct iovec *iov = calloc(nbatches, sizeof(*iov));
    preq_ctx_t *ctx = calloc(1, sizeof(*ctx));
    qr_bconn_t *conn = qr_client_conn(p->cl, node);
    quire_err_t err = QUIRE_ERR_NO_MEMORY;
    size_t nt = 0, np = 0, ni = 0;
    qr_req_t req;

    if (topics && parts && iov && ctx) {
        const qr_accum_part_t *cur = NULL;

        for (qr_pbatch_t *b = list; b; b = b->next) {
            if (nt == 0 || strcmp(topics[nt - 1].topic, b->topic) != 0) {
                topics[nt].topic = b->topic;
                topics[nt].partitions = &parts[np];
                nt++;
            }
            if (b->part != cur) {
                parts[np].partition = b->partition;
                np++;
                topics[nt - 1].partition_count++;
                cur = b->part;
            }
            parts[np - 1].records_length += (uint32_t)b->len;
            iov[ni].iov_base = (void *)b->data;
            iov[ni].iov_len = b->len;
            ni++;
            b->attempts++;
        }
        memset(&req, 0, sizeof(req));
        req.api = QR_API_PRODUCE;
        req.u.produce.acks = (int16_t)p->conf->acks;
        req.u.produce.timeout_ms = p->conf->request_timeout_ms;
        req.u.produce.topic_count = nt;
        req.u.produce.topics = topics;
        ctx->p = p;
        ctx->batches = list;
        err = conn ? qr_bconn_send(conn, &req, iov, (int)ni, p->conf->acks != 0,
                                   p->conf->request_timeout_ms, on_produce, ctx)
                   : QUIRE_ERR_NETWORK_EXCEPTION;
    }
    free(topics);
    free(parts);
    free(iov);
    if (err == QUIRE_ERR_NONE)
        return;
    /* not sent: as if the request had failed at once. Only a connection
     * that closed meanwhile (STATE) is worth a retry; an encoding error
     * (BAD_ARG) or no memory would fail the same way every time, so the
     * records fail now instead of at delivery.timeout.ms */
    if (ctx) {
        ctx->p = p;
        ctx->batches = list;
        on_produce(conn,
                   err == QUIRE_ERR_STATE ? QUIRE_ERR_NETWORK_EXCEPTION : err,
                   NULL, NULL, ctx);
        return;
    }
    for (qr_pbatch_t *b = list, *next; b; b = next) {
        char why[512];

        next = b->next;
        snprintf(why, sizeof(why), "%d record(s) for %s-%d not sent: %s",
                 (int)b->count, b->topic, (int)b->partition,
                 quire_err2str(err));
        deliver_why(p, b, -1, -1, err, why);
    }
}

/* Gives the accumulator the partitions records without a key may go to:
 * those with a leader that is not known to be unreachable (Kafka's
 * availablePartitionsForTopic, plus reachability, so that a dead broker
 * ZooKeeper has not noticed yet, or cannot, stalls nothing), then moves
 * the unsent sticky batches off the others. Loop thread. */
static void update_available(quire_producer_t *p)
{
    qr_client_t *cl = p->cl;
    size_t moved;

    p->avail_gen = cl->avail_gen;
    for (size_t i = 0; i < cl->topic_cnt; i++) {
        const qr_cmeta_topic_t *t = &cl->topics[i];
        uint8_t *up;

        if (t->part_cnt <= 0)
            continue;
        up = malloc((size_t)t->part_cnt);
        if (!up) {
            p->avail_gen--; /* try again on the next run */
            continue;
        }
        for (int32_t j = 0; j < t->part_cnt; j++)
            up[j] = t->parts[j].leader >= 0 &&
                    !qr_client_broker_down(cl, t->parts[j].leader, NULL);
        if (qr_accum_set_available(p->acc, t->name, up, t->part_cnt) !=
            QUIRE_ERR_NONE)
            p->avail_gen--;
        free(up);
    }
    moved = qr_accum_reroute(p->acc);
    if (moved)
        QR_DBG(QR_DBG_PRODUCE, "PRODUCE",
               "%zu batch(es) without keys moved off partitions without a "
               "reachable leader",
               moved);
}

static void producer_run(qr_client_t *cl, void *arg)
{
    quire_producer_t *p = arg;
    int64_t now = qr_clock_mono_ms(), next_ms;
    qr_pbatch_t *list, *expired;
    round_t r;

    (void)cl;
    if (p->avail_gen != p->cl->avail_gen)
        update_available(p);
    if (qr_accum_expire(p->acc, NULL, now, p->conf->delivery_timeout_ms,
                        &expired))
        fail_list(p, expired, QUIRE_ERR_MSG_TIMED_OUT);
    /* issue 22: nothing is numbered before the producer id is known, nor
     * while an epoch bump waits for the batches in flight */
    if (p->idem) {
        qr_accum_stats_t st;

        qr_accum_stats(p->acc, &st);
        if (!qr_idemprod_settle(p->idem, st.in_flight) ||
            !qr_idemprod_ready(p->idem, p->cl))
            return;
    }
    memset(&r, 0, sizeof(r));
    r.p = p;
    qr_accum_drain(p->acc, now, select_batch, &r, &list, &next_ms);
    qr_client_run_at(p->cl, next_ms);
    /* start the connections the drain wanted (the lock is not held);
     * this runs again when one comes up */
    for (int i = 0; i < r.nwant; i++)
        qr_client_conn(p->cl, r.want[i]);
    /* finish (CRC, compression) outside the accumulator's lock */
    for (int i = 0; i < r.n; i++) {
        qr_pbatch_t *mine = NULL, **tail = &mine, **pp = &list, *b;
        size_t n = 0;

        while ((b = *pp) != NULL) {
            if (leader_of(p, b->topic, b->partition) != r.node[i]) {
                pp = &b->next;
                continue;
            }
            *pp = b->next;
            b->next = NULL;
            if (p->idem && qr_idemprod_stamp(p->idem, b) != QUIRE_ERR_NONE) {
                deliver(p, b, -1, -1, QUIRE_ERR_NO_MEMORY);
                continue;
            }
            if (qr_accum_finish(b) != QUIRE_ERR_NONE) {
                QR_LOG_ERR("PRODUCE", "%s-%d: cannot build the batch", b->topic,
                           b->partition);
                deliver(p, b, -1, -1, QUIRE_ERR_COMPRESSION);
                continue;
            }
            *tail = b;
            tail = &b->next;
            n++;
        }
        if (mine)
            send_request(p, r.node[i], mine, n);
    }
    /* the selector only takes batches with a leader in the round */
    QR_ASSERT(list == NULL);
}

static void producer_stopping(qr_client_t *cl, void *arg)
{
    quire_producer_t *p = arg;
    qr_pbatch_t *list;

    (void)cl;
    p->stopping = 1;
    if (qr_accum_expire(p->acc, NULL, qr_clock_mono_ms(), -1, &list))
        fail_list(p, list, QUIRE_ERR_DESTROYED);
}

/* issue 15: the producer's part of a statistics document. Loop thread. */
static void producer_stats(qr_client_t *cl, void *arg, json_t *doc)
{
    quire_producer_t *p = arg;
    qr_accum_stats_t st;

    qr_accum_stats(p->acc, &st);
    json_object_set_new(doc, "msg_cnt", json_integer(st.records));
    json_object_set_new(doc, "msg_size", json_integer(st.mem_used));
    json_object_set_new(doc, "msg_size_max",
                        json_integer(p->conf->buffer_memory));
    json_object_set_new(doc, "batches_inflight", json_integer(st.in_flight));
    qr_cstats_doc_topics(doc, cl->stats, p->conf->batch_size);
}

static const qr_client_ops_t producer_ops = {
    .run = producer_run,
    .conn_closed = NULL,
    .stopping = producer_stopping,
    .auto_create_default = 1,
    .type = "producer",
    .stats = producer_stats,
};

/* ---- public API ---- */

/* Frees the accumulator and @p p (not the client). */
static void producer_free(quire_producer_t *p)
{
    qr_idemprod_destroy(p->idem);
    qr_accum_destroy(p->acc);
    free(p);
}

/* Waits until no thread is inside send(): they were woken, and each
 * leaves as soon as it runs. Polled from 50 us up to 2 ms. */
static void wait_senders(quire_producer_t *p)
{
    long ns = 50000;

    while (atomic_load(&p->senders) > 0) {
        struct timespec ts = {0, ns};

        nanosleep(&ts, NULL);
        if (ns < 2000000)
            ns *= 2;
    }
}

quire_err_t quire_producer_new(quire_conf_t *conf, quire_producer_t **producerp,
                               char *errstr, size_t errstr_size)
{
    quire_producer_t *p;
    qr_accum_conf_t ac;
    quire_err_t err;

    if (!conf || !producerp)
        return QUIRE_ERR_BAD_ARG;
    /* Kafka's check (KIP-91): a record must get at least one full request
     * after lingering before its delivery timeout runs out */
    if ((int64_t)conf->linger_ms + conf->request_timeout_ms >
        conf->delivery_timeout_ms) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "delivery.timeout.ms (%d) should be equal to or larger "
                     "than linger.ms (%d) + request.timeout.ms (%d)",
                     conf->delivery_timeout_ms, conf->linger_ms,
                     conf->request_timeout_ms);
        return QUIRE_ERR_CONF_INVALID;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return QUIRE_ERR_NO_MEMORY;
    atomic_init(&p->senders, 0);
    atomic_init(&p->closing, 0);
    ac.batch_size = (size_t)conf->batch_size;
    ac.linger_ms = conf->linger_ms;
    ac.codec = conf->compression;
    ac.buffer_memory = conf->buffer_memory;
    ac.max_batch = (size_t)conf->max_request_size;
    /* Kafka's max.in.flight.requests.per.connection, per partition: a
     * Kafka request holds one batch per partition. With idempotence (at
     * most 5) order holds across retries; without it, 1 keeps order and
     * more may reorder on a retry (quire(3)) */
    ac.part_in_flight = conf->max_in_flight;
    err = qr_accum_new(&ac, &p->acc);
    if (err != QUIRE_ERR_NONE) {
        producer_free(p);
        return err;
    }
    /* issue 22: enable.idempotence */
    {
        int on = 0;
        err = qr_idemprod_conf(conf, &on, errstr, errstr_size);
        if (err == QUIRE_ERR_NONE && on &&
            !(p->idem = qr_idemprod_new(conf->enable_idempotence == 1)))
            err = QUIRE_ERR_NO_MEMORY;
        if (err != QUIRE_ERR_NONE) {
            producer_free(p);
            return err;
        }
    }
    err = qr_client_new(conf, &producer_ops, p, &p->cl, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE) {
        producer_free(p);
        return err;
    }
    p->conf = conf; /* debug= is the client's, per handle (issue 18) */
    err = qr_client_start(p->cl);
    if (err != QUIRE_ERR_NONE) {
        p->cl->conf = NULL; /* the caller keeps the conf on error */
        qr_client_destroy(p->cl);
        producer_free(p);
        return err;
    }
    *producerp = p;
    return QUIRE_ERR_NONE;
}

#define HEADERS_ON_STACK 16

/* CreateTime for records sent with timestamp 0: CLOCK_REALTIME_COARSE,
 * the wall clock at the last kernel tick (a few ms resolution, like many
 * JVMs' currentTimeMillis), because reading the precise clock per record
 * cost a fifth of the producer's time on a VM. */
static int64_t coarse_real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC_COARSE in ms: the same origin as qr_clock_mono_ms(),
 * lagging it by at most a tick. */
static int64_t coarse_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The record's headers as the builder takes them, in @p stack when they
 * fit. @returns NONE, BAD_ARG (a NULL key) or NO_MEMORY; *@p hvp to free
 * when it is not @p stack. */
static quire_err_t headers_conv(const quire_header_t *headers,
                                size_t header_cnt,
                                qr_batch_rec_header_t *stack,
                                qr_batch_rec_header_t **hvp)
{
    qr_batch_rec_header_t *hv = stack;

    *hvp = stack;
    if (header_cnt > HEADERS_ON_STACK) {
        /* bounded above (send), so the product cannot wrap */
        hv = malloc(header_cnt * sizeof(*hv));
        if (!hv)
            return QUIRE_ERR_NO_MEMORY;
        *hvp = hv;
    }
    for (size_t i = 0; i < header_cnt; i++) {
        if (!headers[i].key)
            return QUIRE_ERR_BAD_ARG;
        hv[i].key = (const uint8_t *)headers[i].key;
        hv[i].key_len = strlen(headers[i].key);
        hv[i].value = headers[i].value;
        hv[i].value_len = (ssize_t)headers[i].value_len;
    }
    return QUIRE_ERR_NONE;
}

/* The slow path of send(): the topic's name checked and its partition
 * count asked of the client (waiting for metadata up to max.block.ms),
 * left with the accumulator for the fast path, then the append. */
static quire_err_t send_slow(quire_producer_t *p, const char *topic,
                             int32_t partition, const void *key,
                             size_t key_len, const void *value,
                             size_t value_len, const qr_batch_rec_header_t *hv,
                             size_t header_cnt, int64_t timestamp, void *opaque,
                             int on_loop, int *wake)
{
    uint64_t version = qr_client_meta_version(p->cl);
    int64_t now, deadline;
    quire_err_t err;
    int32_t cnt;

    if (qr_topic_name_check(topic, strlen(topic), NULL) != QUIRE_ERR_NONE)
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    /* deadlines only need max.block.ms precision: the coarse clock (a
     * few ms resolution) is several times cheaper than the precise one */
    now = coarse_mono_ms();
    /* on the loop thread (a delivery callback) waiting would deadlock */
    deadline = on_loop ? now : now + p->conf->max_block_ms;
    err = qr_client_partitions(p->cl, topic, deadline, &cnt);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (partition >= cnt)
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    /* read after the version: it holds at least while that is current */
    err = qr_accum_set_parts(p->acc, topic, cnt, version);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (partition == QUIRE_PARTITION_ANY)
        partition =
            key ? quire_partition_for_key(key, key_len, cnt) : QR_ACCUM_STICKY;
    return qr_accum_append(p->acc, topic, partition, cnt, timestamp, key,
                           key_len, value, value_len, hv, header_cnt, opaque,
                           -1, deadline, &partition, wake);
}

/* send() once counted in: the fast path appends under the accumulator's
 * lock alone, with the partition count it keeps per metadata version;
 * anything else (a topic not seen yet or since the metadata changed, a
 * partition out of range) takes send_slow. */
static quire_err_t do_send(quire_producer_t *p, const char *topic,
                           int32_t partition, const void *key, size_t key_len,
                           const void *value, size_t value_len,
                           const quire_header_t *headers, size_t header_cnt,
                           int64_t timestamp, void *opaque)
{
    qr_batch_rec_header_t hstack[HEADERS_ON_STACK], *hv = NULL;
    int on_loop = pthread_equal(pthread_self(), p->cl->thread);
    qr_accum_rec_t rec;
    int32_t part;
    quire_err_t err = QUIRE_ERR_NONE;
    int wake = 0;

    if (header_cnt)
        err = headers_conv(headers, header_cnt, hstack, &hv);
    if (err != QUIRE_ERR_NONE)
        goto out;
    if (!timestamp)
        timestamp = coarse_real_ms();
    rec.timestamp = timestamp;
    rec.key = key;
    rec.key_len = key_len;
    rec.value = value;
    rec.value_len = value_len;
    rec.headers = hv;
    rec.header_cnt = header_cnt;
    rec.opaque = opaque;
    part = partition != QUIRE_PARTITION_ANY ? partition
           : key                            ? QR_ACCUM_KEYED
                                            : QR_ACCUM_STICKY;
    err = qr_accum_append_cached(p->acc, topic, part,
                                 qr_client_meta_version(p->cl), &rec,
                                 on_loop ? 0 : p->conf->max_block_ms, &part,
                                 &wake);
    if (err == QUIRE_ERR_NEED_MORE) {
        qr_log_ctx_t *prev = qr_client_log_enter(p->cl);

        err = send_slow(p, topic, partition, key, key_len, value, value_len, hv,
                        header_cnt, timestamp, opaque, on_loop, &wake);
        qr_client_log_leave(prev);
    }
    if (wake)
        qr_client_wake(p->cl);
out:
    if (hv && hv != hstack)
        free(hv);
    return err;
}

quire_err_t quire_producer_send(quire_producer_t *p, const char *topic,
                                int32_t partition, const void *key,
                                size_t key_len, const void *value,
                                size_t value_len, const quire_header_t *headers,
                                size_t header_cnt, int64_t timestamp,
                                void *opaque)
{
    quire_err_t err;

    if (!p || !topic || partition < QUIRE_PARTITION_ANY || timestamp < 0 ||
        (header_cnt && !headers))
        return QUIRE_ERR_BAD_ARG;
    /* each header takes at least 2 bytes of a record (two varint
     * lengths), so more than max.request.size / 2 cannot fit a batch; this
     * also bounds the header array's allocation before it multiplies */
    if (header_cnt > (size_t)p->conf->max_request_size / 2)
        return QUIRE_ERR_MESSAGE_TOO_LARGE;
    /* counted in before looking at closing (both sequentially consistent):
     * either close sees this sender and waits, or this sender sees close */
    atomic_fetch_add(&p->senders, 1);
    if (atomic_load(&p->closing))
        err = QUIRE_ERR_DESTROYED;
    else
        err = do_send(p, topic, partition, key, key_len, value, value_len,
                      headers, header_cnt, timestamp, opaque);
    /* the last touch of @p p: close may free it as soon as this lands */
    atomic_fetch_sub(&p->senders, 1);
    return err;
}

quire_err_t quire_producer_flush(quire_producer_t *p, int timeout_ms)
{
    quire_err_t err;

    if (!p || timeout_ms < 0)
        return QUIRE_ERR_BAD_ARG;
    /* issue 18 item 10: from the delivery callback the wait could only
     * end by timing out, the loop being the caller */
    if (pthread_equal(pthread_self(), p->cl->thread))
        return QUIRE_ERR_STATE;
    qr_accum_flushing(p->acc, 1);
    qr_client_wake(p->cl);
    err = qr_accum_wait_empty(p->acc, qr_clock_mono_ms() + timeout_ms);
    qr_accum_flushing(p->acc, -1);
    return err;
}

quire_err_t quire_producer_close(quire_producer_t *p, int timeout_ms)
{
    qr_log_ctx_t *prev;
    quire_err_t err;

    if (!p)
        return QUIRE_ERR_NONE;
    if (pthread_equal(pthread_self(), p->cl->thread))
        return QUIRE_ERR_STATE; /* from the delivery callback */
    prev = qr_client_log_enter(p->cl);
    /* senders that arrive from now on return DESTROYED; those already in
     * send() are woken (memory: the accumulator; metadata: the client)
     * and waited for before anything is freed */
    atomic_store(&p->closing, 1);
    qr_accum_close(p->acc);
    qr_client_closing(p->cl);
    wait_senders(p);
    err = quire_producer_flush(p, timeout_ms < 0 ? 0 : timeout_ms);
    /* fails what is left (queued and in flight) on the loop, then joins */
    qr_client_stop(p->cl);
    qr_client_destroy(p->cl);
    producer_free(p);
    qr_client_log_leave(prev);
    return err;
}

void qr_producer_stats(quire_producer_t *p, qr_producer_stats_t *st)
{
    st->senders = atomic_load(&p->senders);
    qr_accum_stats(p->acc, &st->acc);
}
