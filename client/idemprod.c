/*
 * idemprod: producer id, epoch and per-partition sequences (idemprod.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "idemprod.h"
#include "logging.h"

/* Kafka's limit on requests in flight per connection with idempotence:
 * the broker remembers the last 5 batches of each producer. */
#define MAX_IN_FLIGHT_IDEMPOTENT 5

typedef struct seqslot {
    const qr_accum_part_t *part; /* NULL: free */
    int32_t next_seq;
    int32_t acked_next; /* the sequence after the last batch acknowledged */
} seqslot_t;

struct qr_idemprod {
    int64_t pid;
    int16_t epoch;
    int requesting;  /* InitProducerId out */
    int explicit_on; /* enable.idempotence=true was set */
    int disabled;    /* unset, and the broker does not know the API */
    int64_t retry_at_ms;
    uint64_t generation; /* bumped when every sequence starts again */
    seqslot_t *slots;    /* open addressing on the partition pointer */
    size_t nslots, used;
    uint64_t slots_gen; /* generation the slots' sequences belong to */
    int repair;         /* REPAIR_*: applied once nothing is in flight */
};

/* What a batch that failed for good asks for (qr_idemprod_settle). */
enum { REPAIR_NONE, REPAIR_BUMP, REPAIR_NEW_ID };

quire_err_t qr_idemprod_conf(const quire_conf_t *conf, int *on, char *errstr,
                             size_t errstr_size)
{
    const char *why = NULL;

    if (conf->acks != QR_CCONF_ACKS_ALL)
        why = "acks must be all";
    else if (conf->retries == 0)
        why = "retries must be above 0";
    else if (conf->max_in_flight > MAX_IN_FLIGHT_IDEMPOTENT)
        why = "max.in.flight.requests.per.connection must be at most 5";
    *on = 0;
    if (conf->enable_idempotence == 0)
        return QUIRE_ERR_NONE;
    if (why && conf->enable_idempotence == 1) {
        snprintf(errstr, errstr_size, "enable.idempotence=true: %s", why);
        return QUIRE_ERR_CONF_INVALID;
    }
    if (why) {
        QR_LOG_INFO("PRODUCE",
                    "idempotence off (enable.idempotence not "
                    "set and %s)",
                    why);
        return QUIRE_ERR_NONE;
    }
    *on = 1;
    return QUIRE_ERR_NONE;
}

qr_idemprod_t *qr_idemprod_new(int explicit_on)
{
    qr_idemprod_t *ip = calloc(1, sizeof(*ip));

    if (!ip)
        return NULL;
    ip->explicit_on = explicit_on;
    ip->pid = -1;
    ip->epoch = -1;
    return ip;
}

void qr_idemprod_destroy(qr_idemprod_t *ip)
{
    if (!ip)
        return;
    free(ip->slots);
    free(ip);
}

void qr_idemprod_set(qr_idemprod_t *ip, int64_t pid, int16_t epoch)
{
    ip->pid = pid;
    ip->epoch = epoch;
    ip->generation++;
}

void qr_idemprod_get(const qr_idemprod_t *ip, int64_t *pid, int16_t *epoch)
{
    *pid = ip->pid;
    *epoch = ip->epoch;
}

/* ---- InitProducerId ---- */

typedef struct init_ctx {
    qr_idemprod_t *ip;
    qr_client_t *cl;
} init_ctx_t;

static void on_init(qr_bconn_t *conn, quire_err_t err, qr_resp_t *resp,
                    uint8_t **framebuf, void *arg)
{
    init_ctx_t *ctx = arg;
    qr_idemprod_t *ip = ctx->ip;
    qr_client_t *cl = ctx->cl;
    const quire_conf_t *conf = cl->conf;

    (void)framebuf;
    ip->requesting = 0;
    if (err == QUIRE_ERR_NONE && resp) {
        if (resp->api != QR_API_INIT_PRODUCER_ID)
            err = QUIRE_ERR_BAD_FRAME;
        else if (resp->error_code != QUIRE_ERR_NONE)
            err = resp->error_code;
        else
            err = resp->u.init_pid.error_code;
    }
    if (err == QUIRE_ERR_NONE && resp->u.init_pid.producer_id >= 0 &&
        resp->u.init_pid.producer_epoch >= 0) {
        qr_idemprod_set(ip, resp->u.init_pid.producer_id,
                        resp->u.init_pid.producer_epoch);
        QR_DBG(QR_DBG_PRODUCE, "PRODUCE", "producer id %lld epoch %d from %s",
               (long long)ip->pid, ip->epoch, qr_bconn_name(conn));
    } else if (err == QUIRE_ERR_UNSUPPORTED_VERSION && !ip->explicit_on) {
        QR_LOG_WARN("PRODUCE",
                    "%s does not know InitProducerId: "
                    "idempotence off (enable.idempotence is not set)",
                    qr_bconn_name(conn));
        ip->disabled = 1;
    } else {
        if (err != QUIRE_ERR_DESTROYED)
            QR_LOG_WARN("PRODUCE", "InitProducerId to %s: %s; retrying",
                        qr_bconn_name(conn), quire_err2str(err));
        ip->retry_at_ms = qr_clock_mono_ms() + conf->retry_backoff_ms;
        qr_client_run_at(cl, ip->retry_at_ms);
    }
    free(ctx);
    qr_client_kick(cl);
}

/* A connected broker to ask: a leader of any topic known. */
static qr_bconn_t *pick_conn(qr_client_t *cl)
{
    qr_bconn_t *any = NULL;

    for (size_t t = 0; t < cl->topic_cnt; t++) {
        const qr_cmeta_topic_t *top = &cl->topics[t];
        for (int32_t p = 0; p < top->part_cnt; p++) {
            qr_bconn_t *conn;
            if (top->parts[p].leader < 0)
                continue;
            conn = qr_client_conn_peek(cl, top->parts[p].leader);
            if (conn && qr_bconn_state(conn) == QR_BCONN_UP)
                return conn;
            if (!any && !conn)
                (void)qr_client_conn(cl, top->parts[p].leader);
            any = conn;
        }
    }
    return NULL;
}

int qr_idemprod_ready(qr_idemprod_t *ip, qr_client_t *cl)
{
    qr_bconn_t *conn;
    init_ctx_t *ctx;
    qr_req_t req;
    int64_t now;

    if (ip->pid >= 0 || ip->disabled)
        return 1;
    now = qr_clock_mono_ms();
    if (ip->requesting || now < ip->retry_at_ms)
        return 0;
    conn = pick_conn(cl);
    if (!conn)
        return 0; /* run again when a connection comes up or metadata */
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return 0;
    ctx->ip = ip;
    ctx->cl = cl;
    memset(&req, 0, sizeof(req));
    req.api = QR_API_INIT_PRODUCER_ID;
    req.u.init_pid.transaction_timeout_ms = 60000;
    if (qr_bconn_send(conn, &req, NULL, 0, 1, cl->conf->request_timeout_ms,
                      on_init, ctx) != QUIRE_ERR_NONE) {
        free(ctx);
        ip->retry_at_ms = now + cl->conf->retry_backoff_ms;
        qr_client_run_at(cl, ip->retry_at_ms);
        return 0;
    }
    ip->requesting = 1;
    return 0;
}

/* ---- sequences ---- */

static size_t hash_ptr(const void *p, size_t n)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL) & (n - 1);
}

static seqslot_t *slot_for(qr_idemprod_t *ip, const qr_accum_part_t *part)
{
    size_t i;

    if (ip->slots_gen != ip->generation) {
        /* a new epoch or id: every partition starts at 0 again */
        if (ip->slots)
            memset(ip->slots, 0, ip->nslots * sizeof(*ip->slots));
        ip->used = 0;
        ip->slots_gen = ip->generation;
    }
    if ((ip->used + 1) * 2 > ip->nslots) {
        size_t n = ip->nslots ? ip->nslots * 2 : 64;
        seqslot_t *s = calloc(n, sizeof(*s));
        if (!s)
            return NULL;
        for (size_t k = 0; k < ip->nslots; k++) {
            if (!ip->slots[k].part)
                continue;
            i = hash_ptr(ip->slots[k].part, n);
            while (s[i].part)
                i = (i + 1) & (n - 1);
            s[i] = ip->slots[k];
        }
        free(ip->slots);
        ip->slots = s;
        ip->nslots = n;
    }
    i = hash_ptr(part, ip->nslots);
    while (ip->slots[i].part && ip->slots[i].part != part)
        i = (i + 1) & (ip->nslots - 1);
    if (!ip->slots[i].part) {
        ip->slots[i].part = part;
        ip->slots[i].next_seq = 0;
        ip->slots[i].acked_next = 0;
        ip->used++;
    }
    return &ip->slots[i];
}

/* The sequence after @p count records from @p seq (wrapping at
 * INT32_MAX to 0, Kafka's DefaultRecordBatch.incrementSequence). */
static int32_t seq_after(int32_t seq, int32_t count)
{
    return seq > INT32_MAX - count ? count - (INT32_MAX - seq) - 1
                                   : seq + count;
}

quire_err_t qr_idemprod_stamp(qr_idemprod_t *ip, qr_pbatch_t *b)
{
    seqslot_t *s;
    int32_t seq;

    if (b->len != 0 || ip->disabled)
        return QUIRE_ERR_NONE; /* finished: a retry keeps its numbers */
    s = slot_for(ip, b->part);
    if (!s)
        return QUIRE_ERR_NO_MEMORY;
    seq = s->next_seq;
    qr_batch_builder_set_producer(&b->b, ip->pid, ip->epoch, seq);
    s->next_seq = seq_after(seq, b->count);
    return QUIRE_ERR_NONE;
}

/* The slot of a batch numbered with the current id and epoch, else NULL
 * (not numbered, an older epoch's, or out of memory). */
static seqslot_t *current_slot(qr_idemprod_t *ip, const qr_pbatch_t *b)
{
    if (b->len == 0 || ip->pid < 0 || b->b.producer_id != ip->pid ||
        b->b.producer_epoch != ip->epoch)
        return NULL;
    return slot_for(ip, b->part);
}

void qr_idemprod_acked(qr_idemprod_t *ip, const qr_pbatch_t *b)
{
    seqslot_t *s = current_slot(ip, b);

    if (s)
        s->acked_next = seq_after(b->b.base_sequence, b->count);
}

int qr_idemprod_oos_retriable(qr_idemprod_t *ip, const qr_pbatch_t *b)
{
    seqslot_t *s = current_slot(ip, b);

    /* not the next the broker should take: one sent before it is still
     * unanswered or being retried, and goes first (Kafka's producer) */
    return s && b->b.base_sequence != s->acked_next;
}

void qr_idemprod_failed(qr_idemprod_t *ip, const qr_pbatch_t *b,
                        quire_err_t err)
{
    /* numbered with the current id, else nothing to repair */
    if (b->len == 0 || b->b.producer_id != ip->pid || ip->pid < 0)
        return;
    if (err == QUIRE_ERR_INVALID_PRODUCER_EPOCH ||
        err == QUIRE_ERR_UNKNOWN_PRODUCER_ID || ip->epoch == INT16_MAX) {
        if (ip->repair != REPAIR_NEW_ID)
            QR_LOG_WARN("PRODUCE",
                        "producer id %lld: %s; asking for a new one once "
                        "nothing is in flight",
                        (long long)ip->pid, quire_err2str(err));
        ip->repair = REPAIR_NEW_ID;
        return;
    }
    if (b->b.producer_epoch != ip->epoch || ip->repair != REPAIR_NONE)
        return; /* an older epoch's batch, or a repair is on its way */
    ip->repair = REPAIR_BUMP;
    QR_LOG_INFO("PRODUCE",
                "producer id %lld: a numbered batch of %s-%d "
                "failed (%s); bumping the epoch once nothing is in flight",
                (long long)ip->pid, b->topic, b->partition, quire_err2str(err));
}

int qr_idemprod_settle(qr_idemprod_t *ip, size_t in_flight)
{
    if (ip->repair == REPAIR_NONE)
        return 1;
    if (in_flight > 0)
        return 0;
    if (ip->repair == REPAIR_NEW_ID) {
        ip->pid = -1;
        ip->epoch = -1;
    } else {
        ip->epoch++;
        ip->generation++;
        QR_LOG_INFO("PRODUCE",
                    "producer id %lld: epoch bumped to %d, sequences "
                    "restart at 0",
                    (long long)ip->pid, ip->epoch);
    }
    ip->repair = REPAIR_NONE;
    return 1;
}
