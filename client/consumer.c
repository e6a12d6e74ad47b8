/*
 * consumer: the simple consumer (quire_consumer_*): assigned partitions,
 * fetched by the client's loop thread and read by the application's poll.
 *
 * Loop thread: resolves BEGINNING/END starts with ListOffsets, then keeps
 * one long-polling Fetch (fetch.max.wait.ms, fetch.min.bytes) in flight
 * per partition; the Fetch requests of different partitions and leaders
 * pipeline on their connections. A response frame is kept as it arrived
 * (no copy): each partition's complete batches become a chunk on the
 * ready queue, referencing the frame. Leader errors refresh the metadata
 * and retry after retry.backoff.ms, so a partition follows its leader.
 *
 * Application thread (poll): takes chunks, checks each batch's CRC,
 * decompresses when needed and yields records from the partition's
 * position on (a fetch may start in the middle of a batch).
 *
 * Seeks and unassigns bump the partition's generation; chunks and
 * responses of an older generation are dropped.
 *
 * Locks: c->lock guards the partitions and the ready queue; the
 * application's current chunk and iterator belong to the polling thread.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "cgroup.h"
#include "client.h"
#include "clock.h"
#include "codec.h"
#include "consumer_int.h"
#include "logging.h"
#include "topic.h"

/* One entry of a Fetch or ListOffsets in flight. */
typedef struct fentry {
    cpart_t *cp;
    uint64_t gen;
    int64_t offset;
} fentry_t;

typedef struct fctx {
    quire_consumer_t *c;
    int32_t node; /* the broker asked */
    size_t n;
    fentry_t e[];
} fctx_t;

/* Whether @p node has a Fetch in flight. Lock held. */
static int fetching(const quire_consumer_t *c, int32_t node)
{
    for (size_t i = 0; i < c->fetching_cnt; i++)
        if (c->fetching[i] == node)
            return 1;
    return 0;
}

/* Marks @p node as having a Fetch in flight (@p on) or not. Lock held.
 * @returns 0, or -1 out of memory (nothing marked). */
static int fetching_set(quire_consumer_t *c, int32_t node, int on)
{
    if (!on) {
        for (size_t i = 0; i < c->fetching_cnt; i++)
            if (c->fetching[i] == node) {
                c->fetching[i] = c->fetching[--c->fetching_cnt];
                break;
            }
        return 0;
    }
    if (c->fetching_cnt == c->fetching_cap) {
        size_t cap = c->fetching_cap ? 2 * c->fetching_cap : 8;
        int32_t *v = realloc(c->fetching, cap * sizeof(*v));

        if (!v)
            return -1;
        c->fetching = v;
        c->fetching_cap = cap;
    }
    c->fetching[c->fetching_cnt++] = node;
    return 0;
}

#define SCRATCH_MAX (256u << 20)

/* offsets for times, at the end of this file */
static void oft_run(quire_consumer_t *c);
static void oft_stopping(quire_consumer_t *c);

/* ---- chunks ---- */

static void chunk_release(quire_consumer_t *c, chunk_t *ch)
{
    pthread_mutex_lock(&c->lock);
    if (ch->cp) {
        ch->cp->queued -= ch->len;
        c->queued -= ch->len;
    }
    if (ch->fb && --ch->fb->refs == 0) {
        qr_rxpool_put(c->cl->rxpool, ch->fb->data);
        free(ch->fb);
    }
    pthread_mutex_unlock(&c->lock);
    qr_cgev_free(ch->ev);
    free(ch);
    qr_client_wake(c->cl); /* room for the next fetch */
}

static void chunk_append(quire_consumer_t *c, chunk_t *ch)
{
    if (c->q_tail)
        c->q_tail->next = ch;
    else
        c->q_head = ch;
    c->q_tail = ch;
    pthread_cond_broadcast(&c->cv);
}

quire_err_t qr_consumer_queue_event(quire_consumer_t *c, struct qr_cgev *ev)
{
    chunk_t *ch = calloc(1, sizeof(*ch));

    if (!ch)
        return QUIRE_ERR_NO_MEMORY;
    ch->ev = ev;
    chunk_append(c, ch);
    return QUIRE_ERR_NONE;
}

/* Queues an error for the application and stops the partition. Lock
 * held. */
static void queue_error(quire_consumer_t *c, cpart_t *cp, quire_err_t err,
                        int64_t offset)
{
    chunk_t *ch = calloc(1, sizeof(*ch));

    cp->state = CP_ERROR;
    if (!ch)
        return; /* the partition stays stopped; poll cannot say why */
    ch->cp = cp;
    ch->gen = cp->gen;
    ch->err = err;
    ch->err_offset = offset;
    chunk_append(c, ch);
}

/* ---- loop side: requests ---- */

static int32_t leader_of(quire_consumer_t *c, const cpart_t *cp)
{
    const qr_cmeta_topic_t *t = qr_client_topic(c->cl, cp->topic);

    if (!t || cp->partition >= t->part_cnt ||
        t->parts[cp->partition].leader < 0) {
        qr_client_meta_stale(c->cl, cp->topic);
        return -1;
    }
    return t->parts[cp->partition].leader;
}

static int retriable(quire_err_t err)
{
    switch (err) {
    case QUIRE_ERR_NETWORK_EXCEPTION:
    case QUIRE_ERR_REQUEST_TIMED_OUT:
    case QUIRE_ERR_NOT_LEADER_FOR_PARTITION:
    case QUIRE_ERR_LEADER_NOT_AVAILABLE:
    case QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case QUIRE_ERR_BROKER_NOT_AVAILABLE:
    case QUIRE_ERR_REPLICA_NOT_AVAILABLE:
    case QUIRE_ERR_KAFKA_STORAGE_ERROR:
    case QUIRE_ERR_FENCED_LEADER_EPOCH:
    case QUIRE_ERR_UNKNOWN_LEADER_EPOCH:
    case QUIRE_ERR_OFFSET_NOT_AVAILABLE: /* a new leader's HW catching up */
    case QUIRE_ERR_UNKNOWN_SERVER_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* A failed request or partition: try again after the backoff. Lock
 * held. */
static void backoff(quire_consumer_t *c, cpart_t *cp, quire_err_t err)
{
    int64_t at = qr_clock_mono_ms() + c->conf->retry_backoff_ms;

    QR_DBG(QR_DBG_FETCH, "FETCH", "%s-%d: %s; retrying", cp->topic,
           cp->partition, quire_err2str(err));
    cp->backoff_until = at;
    qr_client_run_at(c->cl, at);
}

/* Where the next partition of a response is looked for first: brokers
 * answer in the order asked, so a walk over the request finds each one
 * there, and 1,000 partitions cost 1,000 steps, not 500,000. */
typedef struct presp_cur {
    size_t t, i;
} presp_cur_t;

static const void *find_presp(const qr_resp_t *resp, const char *topic,
                              int32_t partition, int fetch, presp_cur_t *cur)
{
    if (fetch) {
        const qr_fetch_resp_t *f = &resp->u.fetch;

        if (cur->t < f->topic_count &&
            cur->i < f->topics[cur->t].partition_count &&
            f->topics[cur->t].partitions[cur->i].partition == partition &&
            f->topics[cur->t].topic &&
            !strcmp(f->topics[cur->t].topic, topic)) {
            const qr_fetch_part_resp_t *pr =
                &f->topics[cur->t].partitions[cur->i];

            if (++cur->i == f->topics[cur->t].partition_count) {
                cur->t++;
                cur->i = 0;
            }
            return pr;
        }
        for (size_t t = 0; t < f->topic_count; t++)
            if (f->topics[t].topic && !strcmp(f->topics[t].topic, topic))
                for (size_t i = 0; i < f->topics[t].partition_count; i++)
                    if (f->topics[t].partitions[i].partition == partition) {
                        cur->t = t;
                        cur->i = i + 1;
                        if (cur->i == f->topics[t].partition_count) {
                            cur->t++;
                            cur->i = 0;
                        }
                        return &f->topics[t].partitions[i];
                    }
        return NULL;
    }
    const qr_list_offsets_resp_t *l = &resp->u.list_offsets;

    (void)cur; /* a few partitions at a time: the plain walk */
    for (size_t t = 0; t < l->topic_count; t++)
        if (l->topics[t].topic && !strcmp(l->topics[t].topic, topic))
            for (size_t i = 0; i < l->topics[t].partition_count; i++)
                if (l->topics[t].partitions[i].partition == partition)
                    return &l->topics[t].partitions[i];
    return NULL;
}

/* Cuts the complete batches of one partition's records into a chunk.
 * Lock held. */
static void take_records(quire_consumer_t *c, cpart_t *cp, const fentry_t *e,
                         const qr_fetch_part_resp_t *pr, fbuf_t *fb)
{
    size_t off = 0, len = pr->records_length;
    int64_t next = e->offset;
    chunk_t *ch;

    while (len - off >= QR_BATCH_LOG_OVERHEAD + 5) {
        qr_batch_hdr_t hdr;

        if (len - off < QR_BATCH_HEADER_SIZE ||
            qr_batch_hdr_read(pr->records + off, len - off, &hdr) !=
                QUIRE_ERR_NONE ||
            hdr.length < QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD ||
            qr_batch_size(&hdr) > len - off)
            break;
        off += qr_batch_size(&hdr);
        next = qr_batch_last_offset(&hdr) + 1;
        cp->rxmsgs += hdr.record_count; /* issue 15: statistics */
    }
    if (off == 0) {
        if (len == 0)
            return;
        /* one batch larger than what we asked for: ask for more */
        if (cp->max_bytes >= c->conf->fetch_max_bytes) {
            queue_error(c, cp, QUIRE_ERR_MESSAGE_TOO_LARGE, e->offset);
            return;
        }
        cp->max_bytes = cp->max_bytes > c->conf->fetch_max_bytes / 2
                            ? c->conf->fetch_max_bytes
                            : cp->max_bytes * 2;
        return;
    }
    ch = calloc(1, sizeof(*ch));
    if (!ch) {
        backoff(c, cp, QUIRE_ERR_NO_MEMORY);
        return;
    }
    ch->cp = cp;
    ch->gen = cp->gen;
    ch->fb = fb;
    ch->p = pr->records;
    ch->len = off;
    fb->refs++;
    cp->queued += off;
    c->queued += off;
    cp->rxbytes += (int64_t)off;
    cp->fetch_offset = next;
    chunk_append(c, ch);
}

static void part_seek(cpart_t *cp, int64_t offset);

/* A group partition whose offset is outside the log: auto.offset.reset.
 * Lock held. */
static void reset_offset(quire_consumer_t *c, cpart_t *cp, int64_t offset)
{
    int earliest = c->conf->auto_offset_reset == QR_CCONF_RESET_EARLIEST;

    QR_LOG_WARN("FETCH",
                "%s-%d: offset %lld is outside the log: resetting to the "
                "%s offset (auto.offset.reset)",
                cp->topic, (int)cp->partition, (long long)offset,
                earliest ? "earliest" : "latest");
    part_seek(cp, earliest ? QUIRE_OFFSET_BEGINNING : QUIRE_OFFSET_END);
}

static void on_fetch(qr_bconn_t *conn, quire_err_t err, qr_resp_t *resp,
                     uint8_t **framebuf, void *arg)
{
    fctx_t *ctx = arg;
    quire_consumer_t *c = ctx->c;
    fbuf_t *fb = NULL;
    presp_cur_t cur = {0, 0};
    int stale = 0;

    (void)conn;
    if (err == QUIRE_ERR_NONE && resp->error_code != QUIRE_ERR_NONE)
        err = resp->error_code;
    pthread_mutex_lock(&c->lock);
    fetching_set(c, ctx->node, 0);
    pthread_mutex_unlock(&c->lock);
    if (err == QUIRE_ERR_NONE) {
        fb = malloc(sizeof(*fb));
        if (fb) {
            fb->data = *framebuf;
            fb->refs = 0;
            *framebuf = NULL;
        } else
            err = QUIRE_ERR_NO_MEMORY;
    }
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < ctx->n; i++) {
        const fentry_t *e = &ctx->e[i];
        cpart_t *cp = e->cp;
        const qr_fetch_part_resp_t *pr;

        cp->inflight = 0;
        if (cp->removed || e->gen != cp->gen || cp->state != CP_FETCH)
            continue;
        if (err != QUIRE_ERR_NONE) {
            backoff(c, cp, err);
            stale = 1;
            continue;
        }
        pr = find_presp(resp, cp->topic, cp->partition, 1, &cur);
        if (!pr) {
            backoff(c, cp, QUIRE_ERR_UNKNOWN_SERVER_ERROR);
            continue;
        }
        if (pr->error_code == QUIRE_ERR_NONE) {
            cp->hi_offset = pr->high_watermark; /* issue 15 */
            cp->lo_offset = pr->log_start_offset;
            take_records(c, cp, e, pr, fb);
        } else if (pr->error_code == QUIRE_ERR_OFFSET_OUT_OF_RANGE && cp->grp &&
                   c->conf->auto_offset_reset != QR_CCONF_RESET_NONE)
            reset_offset(c, cp, e->offset);
        else if (retriable(pr->error_code)) {
            backoff(c, cp, pr->error_code);
            stale = 1;
        } else
            queue_error(c, cp, pr->error_code, e->offset);
    }
    if (fb && fb->refs == 0) {
        qr_rxpool_put(c->cl->rxpool, fb->data);
        free(fb);
    }
    pthread_mutex_unlock(&c->lock);
    if (stale)
        qr_client_meta_stale(c->cl, NULL);
    free(ctx);
    qr_client_kick(c->cl);
}

static void on_list_offsets(qr_bconn_t *conn, quire_err_t err, qr_resp_t *resp,
                            uint8_t **framebuf, void *arg)
{
    fctx_t *ctx = arg;
    quire_consumer_t *c = ctx->c;
    presp_cur_t cur = {0, 0};
    int stale = 0;

    (void)conn;
    (void)framebuf;
    if (err == QUIRE_ERR_NONE && resp->error_code != QUIRE_ERR_NONE)
        err = resp->error_code;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < ctx->n; i++) {
        const fentry_t *e = &ctx->e[i];
        cpart_t *cp = e->cp;
        const qr_list_offsets_part_resp_t *pr;

        cp->inflight = 0;
        if (cp->removed || e->gen != cp->gen || cp->state != CP_RESOLVE)
            continue;
        pr = err == QUIRE_ERR_NONE
                 ? find_presp(resp, cp->topic, cp->partition, 0, &cur)
                 : NULL;
        if (err != QUIRE_ERR_NONE || !pr || retriable(pr->error_code)) {
            backoff(c, cp,
                    err != QUIRE_ERR_NONE ? err
                    : pr                  ? pr->error_code
                                          : QUIRE_ERR_UNKNOWN_SERVER_ERROR);
            stale = 1;
            continue;
        }
        if (pr->error_code != QUIRE_ERR_NONE || pr->offset < 0) {
            queue_error(c, cp,
                        pr->error_code != QUIRE_ERR_NONE
                            ? pr->error_code
                            : QUIRE_ERR_OFFSET_OUT_OF_RANGE,
                        cp->start);
            continue;
        }
        cp->fetch_offset = pr->offset;
        __atomic_store_n(&cp->pos, pr->offset, __ATOMIC_RELEASE);
        cp->state = CP_FETCH;
    }
    pthread_mutex_unlock(&c->lock);
    if (stale)
        qr_client_meta_stale(c->cl, NULL);
    free(ctx);
    qr_client_kick(c->cl);
}

/* Sends one request for the partitions of @p list (all led by @p node). */
static void send_for_node(quire_consumer_t *c, int32_t node, cpart_t **list,
                          size_t n, int fetch, int32_t max_bytes)
{
    qr_bconn_t *conn = qr_client_conn(c->cl, node);
    fctx_t *ctx;
    void *tops, *parts;
    size_t nt = 0;
    qr_req_t req;
    quire_err_t err;
    int timeout;

    if (!conn || qr_bconn_state(conn) != QR_BCONN_UP ||
        qr_bconn_pending(conn) >= c->conf->max_in_flight ||
        (fetch && fetching(c, node)))
        return;
    ctx = malloc(sizeof(*ctx) + n * sizeof(fentry_t));
    tops = calloc(n, fetch ? sizeof(qr_fetch_topic_t)
                           : sizeof(qr_list_offsets_topic_t));
    parts = calloc(n, fetch ? sizeof(qr_fetch_part_t)
                            : sizeof(qr_list_offsets_part_t));
    if (!ctx || !tops || !parts) {
        free(ctx);
        free(tops);
        free(parts);
        return;
    }
    memset(&req, 0, sizeof(req));
    ctx->c = c;
    ctx->node = node;
    ctx->n = n;
    for (size_t i = 0; i < n; i++) {
        cpart_t *cp = list[i];
        int new_topic = nt == 0 || strcmp(list[i - 1]->topic, cp->topic);

        ctx->e[i].cp = cp;
        ctx->e[i].gen = cp->gen;
        ctx->e[i].offset = fetch ? cp->fetch_offset : cp->start;
        if (fetch) {
            qr_fetch_topic_t *t = tops;
            qr_fetch_part_t *p = parts;

            if (new_topic) {
                t[nt].topic = cp->topic;
                t[nt].partitions = &p[i];
                nt++;
            }
            t[nt - 1].partition_count++;
            p[i].partition = cp->partition;
            p[i].fetch_offset = cp->fetch_offset;
            p[i].partition_max_bytes = cp->max_bytes;
        } else {
            qr_list_offsets_topic_t *t = tops;
            qr_list_offsets_part_t *p = parts;

            if (new_topic) {
                t[nt].topic = cp->topic;
                t[nt].partitions = &p[i];
                nt++;
            }
            t[nt - 1].partition_count++;
            p[i].partition = cp->partition;
            p[i].timestamp = cp->start;
        }
    }
    if (fetch) {
        req.api = QR_API_FETCH;
        req.u.fetch.replica_id = -1;
        req.u.fetch.max_wait_ms = c->conf->fetch_max_wait_ms;
        req.u.fetch.min_bytes = c->conf->fetch_min_bytes;
        req.u.fetch.max_bytes = max_bytes;
        req.u.fetch.topic_count = nt;
        req.u.fetch.topics = tops;
        timeout = c->conf->request_timeout_ms + c->conf->fetch_max_wait_ms;
    } else {
        req.api = QR_API_LIST_OFFSETS;
        req.u.list_offsets.replica_id = -1;
        req.u.list_offsets.topic_count = nt;
        req.u.list_offsets.topics = tops;
        timeout = c->conf->request_timeout_ms;
    }
    if (fetch && fetching_set(c, node, 1) != 0) {
        free(ctx);
        free(tops);
        free(parts);
        return;
    }
    err = qr_bconn_send(conn, &req, NULL, 0, 1, timeout,
                        fetch ? on_fetch : on_list_offsets, ctx);
    free(tops);
    free(parts);
    if (err != QUIRE_ERR_NONE) {
        if (fetch)
            fetching_set(c, node, 0);
        free(ctx);
        return;
    }
    for (size_t i = 0; i < n; i++)
        list[i]->inflight = 1;
}

/* Whether a Fetch to @p node of the @p m partitions of @p mine should
 * wait: each of them was read to its high watermark by the last response,
 * while a partition of @p held (held back by its own full queue) has the
 * same leader. The broker would park such a Fetch for fetch.max.wait.ms,
 * and with one Fetch per broker in flight the held-back partition, once
 * poll has made room in its queue, would wait behind it for data the
 * broker has: at the end of a read of 4 equal partitions, a stall of
 * 500 ms in one run of three (issue 14). Each chunk poll gives back
 * wakes the loop, so the Fetch goes with all of them once there is room.
 * Loop thread, c->lock held. */
static int caught_up_only(quire_consumer_t *c, int32_t node, cpart_t **mine,
                          size_t m, cpart_t **held, size_t nheld)
{
    int same = 0;

    for (size_t i = 0; i < m; i++)
        if (mine[i]->hi_offset < 0 ||
            mine[i]->fetch_offset < mine[i]->hi_offset)
            return 0;
    for (size_t i = 0; i < nheld && !same; i++)
        same = leader_of(c, held[i]) == node;
    return same;
}

static int by_topic(const void *a, const void *b)
{
    const cpart_t *x = *(cpart_t *const *)a, *y = *(cpart_t *const *)b;
    int r = strcmp(x->topic, y->topic);

    return r ? r
             : (x->partition > y->partition) - (x->partition < y->partition);
}

static void consumer_run(qr_client_t *cl, void *arg)
{
    quire_consumer_t *c = arg;
    int64_t now = qr_clock_mono_ms();
    size_t queued_max = 2 * (size_t)c->conf->max_partition_fetch_bytes;
    /* issue 14: what the queue over all partitions may still take.
     * Unbounded, 1,000 partitions pulled whole 50 MiB responses one after
     * another into fresh pages, faster than poll could read them */
    size_t total_max = (size_t)c->conf->queued_max_kbytes * 1024;
    int32_t max_bytes;
    cpart_t **todo, **held;
    int32_t *lead;
    size_t n = 0, nheld = 0;

    (void)cl;
    if (c->grp)
        qr_cgroup_run(c->grp);
    oft_run(c);
    pthread_mutex_lock(&c->lock);
    todo = malloc((c->part_cnt ? c->part_cnt : 1) * sizeof(*todo));
    held = malloc((c->part_cnt ? c->part_cnt : 1) * sizeof(*held));
    lead = malloc((c->part_cnt ? c->part_cnt : 1) * sizeof(*lead));
    if (!todo || !held || !lead) {
        pthread_mutex_unlock(&c->lock);
        free(todo);
        free(held);
        free(lead);
        return;
    }
    /* a quarter of it free at least: a queue kept just under full by a
     * slow poll would otherwise be topped up one batch per Fetch, each
     * naming every partition */
    max_bytes = c->queued >= total_max || total_max - c->queued < total_max / 4
                    ? 0
                : total_max - c->queued < (size_t)c->conf->fetch_max_bytes
                    ? (int32_t)(total_max - c->queued)
                    : c->conf->fetch_max_bytes;
    for (int fetch = 0; fetch < 2; fetch++) {
        n = 0;
        nheld = 0;
        if (fetch && max_bytes == 0)
            break; /* the queue is full: poll makes room and kicks */
        for (size_t i = 0; i < c->part_cnt; i++) {
            cpart_t *cp = c->parts[i];

            if (cp->removed || cp->inflight ||
                cp->state != (fetch ? CP_FETCH : CP_RESOLVE))
                continue;
            if (cp->backoff_until > now) {
                qr_client_run_at(c->cl, cp->backoff_until);
                continue;
            }
            if (fetch && cp->queued >= queued_max) {
                /* held back by its own full queue (see caught_up_only) */
                held[nheld++] = cp;
                continue;
            }
            todo[n++] = cp;
        }
        qsort(todo, n, sizeof(*todo), by_topic);
        for (size_t i = 0; i < n; i++)
            lead[i] = leader_of(c, todo[i]);
        /* one request per leader, its partitions grouped by topic */
        for (size_t i = 0; i < n; i++) {
            cpart_t **mine;
            size_t m = 0;
            int32_t node = lead[i];

            if (node < 0)
                continue;
            mine = malloc((n - i) * sizeof(*mine));
            if (!mine)
                break;
            for (size_t j = i; j < n; j++) {
                if (lead[j] == node) {
                    mine[m++] = todo[j];
                    lead[j] = -1;
                }
            }
            if (!fetch || !caught_up_only(c, node, mine, m, held, nheld))
                send_for_node(c, node, mine, m, fetch, max_bytes);
            free(mine);
        }
    }
    pthread_mutex_unlock(&c->lock);
    free(todo);
    free(held);
    free(lead);
}

static void consumer_stopping(qr_client_t *cl, void *arg)
{
    quire_consumer_t *c = arg;

    (void)cl;
    if (c->grp)
        qr_cgroup_stopping(c->grp);
    oft_stopping(c);
}

/* issue 15: the consumer's part of a statistics document: per assigned
 * partition its positions and lag (librdkafka's names). Loop thread. */
static void consumer_stats(qr_client_t *cl, void *arg, json_t *doc)
{
    static const char *const states[] = {
        [CP_RESOLVE] = "offset-query",
        [CP_FETCH] = "active",
        [CP_ERROR] = "error",
        [CP_PAUSED] = "stopped",
    };
    quire_consumer_t *c = arg;
    int64_t rxmsgs = 0, rxbytes = 0;
    size_t queued = 0;

    (void)cl;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->part_cnt; i++) {
        const cpart_t *cp = c->parts[i];
        int64_t app, committed, lag = -1;
        json_t *po;

        rxmsgs += cp->rxmsgs;
        rxbytes += cp->rxbytes;
        if (cp->removed)
            continue;
        queued += cp->queued;
        po = qr_cstats_doc_part(doc, cp->topic, cp->partition);
        if (!po)
            continue;
        app = __atomic_load_n(&cp->pos, __ATOMIC_ACQUIRE);
        committed =
            c->grp ? qr_cgroup_committed_known(c->grp, cp->topic, cp->partition)
                   : -1;
        if (cp->hi_offset >= 0 && (app >= 0 || committed >= 0)) {
            lag = cp->hi_offset - (app > committed ? app : committed);
            if (lag < 0) /* polled past the last fetch's watermark */
                lag = 0;
        }
        json_object_set_new(po, "fetch_state", json_string(states[cp->state]));
        json_object_set_new(po, "fetchq_size", json_integer(cp->queued));
        json_object_set_new(
            po, "fetch_offset",
            json_integer(cp->state == CP_RESOLVE ? -1 : cp->fetch_offset));
        json_object_set_new(po, "app_offset", json_integer(app));
        json_object_set_new(po, "committed_offset", json_integer(committed));
        json_object_set_new(po, "lo_offset", json_integer(cp->lo_offset));
        json_object_set_new(po, "hi_offset", json_integer(cp->hi_offset));
        json_object_set_new(po, "consumer_lag", json_integer(lag));
        json_object_set_new(po, "rxmsgs", json_integer(cp->rxmsgs));
        json_object_set_new(po, "rxbytes", json_integer(cp->rxbytes));
    }
    pthread_mutex_unlock(&c->lock);
    qr_cstats_doc_add(doc, "rxmsgs", rxmsgs);
    qr_cstats_doc_add(doc, "rxmsg_bytes", rxbytes);
    json_object_set_new(doc, "fetchq_size", json_integer((json_int_t)queued));
}

static const qr_client_ops_t consumer_ops = {
    .run = consumer_run,
    .conn_closed = NULL,
    .stopping = consumer_stopping,
    .auto_create_default = 0,
    .type = "consumer",
    .stats = consumer_stats,
};

/* ---- public API ---- */

quire_err_t quire_consumer_new(quire_conf_t *conf, quire_consumer_t **consumerp,
                               char *errstr, size_t errstr_size)
{
    pthread_condattr_t ca;
    quire_consumer_t *c;
    quire_err_t err;

    if (!conf || !consumerp)
        return QUIRE_ERR_BAD_ARG;
    c = calloc(1, sizeof(*c));
    if (!c)
        return QUIRE_ERR_NO_MEMORY;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    err = qr_client_new(conf, &consumer_ops, c, &c->cl, errstr, errstr_size);
    if (err == QUIRE_ERR_NONE) {
        qr_log_ctx_t *prev = qr_client_log_enter(c->cl);

        c->conf = conf;
        if (*conf->group_id)
            err = qr_cgroup_new(c, &c->grp, errstr, errstr_size);
        qr_client_log_leave(prev);
        if (err == QUIRE_ERR_NONE)
            err = qr_client_start(c->cl);
        if (err != QUIRE_ERR_NONE) {
            qr_cgroup_destroy(c->grp);
            c->cl->conf = NULL; /* left with the caller */
            qr_client_destroy(c->cl);
        }
    }
    if (err != QUIRE_ERR_NONE) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return err;
    }
    *consumerp = c;
    return QUIRE_ERR_NONE;
}

cpart_t *qr_consumer_part_find(quire_consumer_t *c, const char *topic,
                               int32_t partition)
{
    for (size_t i = 0; i < c->part_cnt; i++)
        if (c->parts[i]->partition == partition &&
            !strcmp(c->parts[i]->topic, topic))
            return c->parts[i];
    return NULL;
}

/* Points @p cp at @p offset, dropping what was fetched before. Lock
 * held. */
static void part_seek(cpart_t *cp, int64_t offset)
{
    __atomic_store_n(&cp->gen, cp->gen + 1, __ATOMIC_RELEASE);
    cp->backoff_until = 0;
    if (offset < 0) {
        cp->state = CP_RESOLVE;
        cp->start = offset;
        __atomic_store_n(&cp->pos, -1, __ATOMIC_RELEASE);
    } else {
        cp->state = CP_FETCH;
        cp->fetch_offset = offset;
        __atomic_store_n(&cp->pos, offset, __ATOMIC_RELEASE);
    }
}

/* The partition, added (not fetching) when new. Lock held. */
static quire_err_t part_get(quire_consumer_t *c, const char *topic,
                            int32_t partition, cpart_t **cpp)
{
    cpart_t *cp = qr_consumer_part_find(c, topic, partition);

    if (!cp) {
        if (c->part_cnt == c->part_cap) {
            size_t cap = c->part_cap ? c->part_cap * 2 : 16;
            cpart_t **v = realloc(c->parts, cap * sizeof(*v));

            if (!v)
                return QUIRE_ERR_NO_MEMORY;
            c->parts = v;
            c->part_cap = cap;
        }
        cp = calloc(1, sizeof(*cp));
        if (!cp || !(cp->topic = strdup(topic))) {
            free(cp);
            return QUIRE_ERR_NO_MEMORY;
        }
        cp->partition = partition;
        cp->max_bytes = c->conf->max_partition_fetch_bytes;
        cp->hi_offset = cp->lo_offset = -1;
        cp->removed = 1;
        c->parts[c->part_cnt++] = cp;
    }
    *cpp = cp;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_consumer_part_start(quire_consumer_t *c, const char *topic,
                                   int32_t partition, int64_t offset,
                                   quire_err_t err)
{
    cpart_t *cp;
    quire_err_t e = part_get(c, topic, partition, &cp);

    if (e != QUIRE_ERR_NONE)
        return e;
    cp->removed = 0;
    cp->grp = 1;
    __atomic_store_n(&cp->consumed, -1, __ATOMIC_RELEASE);
    part_seek(cp, offset);
    if (err != QUIRE_ERR_NONE)
        queue_error(c, cp, err, -1);
    return QUIRE_ERR_NONE;
}

void qr_consumer_part_stop(quire_consumer_t *c, cpart_t *cp, int remove)
{
    (void)c;
    __atomic_store_n(&cp->gen, cp->gen + 1, __ATOMIC_RELEASE);
    cp->state = CP_PAUSED;
    if (remove) {
        cp->removed = 1;
        cp->grp = 0;
    }
}

static quire_err_t check_tp(quire_consumer_t *c, const char *topic,
                            int32_t partition)
{
    if (!c || !topic || partition < 0)
        return QUIRE_ERR_BAD_ARG;
    if (qr_topic_name_check(topic, strlen(topic), NULL) != QUIRE_ERR_NONE)
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    return QUIRE_ERR_NONE;
}

quire_err_t quire_consumer_assign(quire_consumer_t *c, const char *topic,
                                  int32_t partition, int64_t offset)
{
    quire_err_t err = check_tp(c, topic, partition);
    cpart_t *cp;

    if (err == QUIRE_ERR_NONE && offset < QUIRE_OFFSET_BEGINNING)
        err = QUIRE_ERR_BAD_ARG;
    if (err != QUIRE_ERR_NONE)
        return err;
    if (c->grp && qr_cgroup_subscribed(c->grp))
        return QUIRE_ERR_STATE; /* the group decides what is fetched */
    pthread_mutex_lock(&c->lock);
    c->manual = 1;
    err = part_get(c, topic, partition, &cp);
    if (err != QUIRE_ERR_NONE)
        goto out;
    cp->removed = 0;
    part_seek(cp, offset);
out:
    pthread_mutex_unlock(&c->lock);
    if (err == QUIRE_ERR_NONE) {
        /* the metadata must cover the topic: ask for it (waiting only on
         * the loop, never here) */
        int32_t cnt;

        qr_client_partitions(c->cl, topic, qr_clock_mono_ms(), &cnt);
        qr_client_wake(c->cl);
    }
    return err;
}

quire_err_t quire_consumer_seek(quire_consumer_t *c, const char *topic,
                                int32_t partition, int64_t offset)
{
    quire_err_t err = check_tp(c, topic, partition);
    cpart_t *cp;

    if (err == QUIRE_ERR_NONE && offset < QUIRE_OFFSET_BEGINNING)
        err = QUIRE_ERR_BAD_ARG;
    if (err != QUIRE_ERR_NONE)
        return err;
    pthread_mutex_lock(&c->lock);
    cp = qr_consumer_part_find(c, topic, partition);
    if (!cp || cp->removed || cp->state == CP_PAUSED)
        err = QUIRE_ERR_NOT_FOUND; /* paused: revoked from this member */
    else
        part_seek(cp, offset);
    pthread_mutex_unlock(&c->lock);
    qr_client_wake(c->cl);
    return err;
}

quire_err_t quire_consumer_unassign(quire_consumer_t *c, const char *topic,
                                    int32_t partition)
{
    quire_err_t err = check_tp(c, topic, partition);
    cpart_t *cp;

    if (err != QUIRE_ERR_NONE)
        return err;
    pthread_mutex_lock(&c->lock);
    cp = qr_consumer_part_find(c, topic, partition);
    if (!cp || cp->removed)
        err = QUIRE_ERR_NOT_FOUND;
    else if (cp->grp)
        err = QUIRE_ERR_STATE; /* the group's, not ours to drop */
    else {
        cp->removed = 1;
        __atomic_store_n(&cp->gen, cp->gen + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

quire_err_t quire_consumer_position(quire_consumer_t *c, const char *topic,
                                    int32_t partition, int64_t *offsetp)
{
    quire_err_t err = check_tp(c, topic, partition);
    cpart_t *cp;

    if (err != QUIRE_ERR_NONE)
        return err;
    if (!offsetp)
        return QUIRE_ERR_BAD_ARG;
    pthread_mutex_lock(&c->lock);
    cp = qr_consumer_part_find(c, topic, partition);
    if (!cp || cp->removed)
        err = QUIRE_ERR_NOT_FOUND;
    else
        *offsetp = __atomic_load_n(&cp->pos, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&c->lock);
    return err;
}

quire_err_t quire_consumer_partition_count(quire_consumer_t *c,
                                           const char *topic, int timeout_ms,
                                           int32_t *cntp)
{
    quire_err_t err = check_tp(c, topic, 0);

    if (err != QUIRE_ERR_NONE)
        return err;
    if (!cntp || timeout_ms < 0)
        return QUIRE_ERR_BAD_ARG;
    return qr_client_partitions(c->cl, topic, qr_clock_mono_ms() + timeout_ms,
                                cntp);
}

/* ---- poll ---- */

/* Fills c->rec from the iterator's record, with NUL-terminated header keys
 * in c->hkeys. */
static quire_err_t make_record(quire_consumer_t *c, qr_batch_rec_t *r)
{
    size_t need = 0, off = 0;
    qr_batch_rec_t copy = *r;
    qr_batch_rec_header_t h;
    size_t n = 0;

    while (qr_batch_rec_header_next(&copy, &h) == QUIRE_ERR_NONE) {
        need += h.key_len + 1;
        n++;
    }
    if (n > c->hdr_cap) {
        quire_header_t *v = realloc(c->hdrs, n * sizeof(*v));

        if (!v)
            return QUIRE_ERR_NO_MEMORY;
        c->hdrs = v;
        c->hdr_cap = n;
    }
    if (need > c->hkeys_cap) {
        char *v = realloc(c->hkeys, need);

        if (!v)
            return QUIRE_ERR_NO_MEMORY;
        c->hkeys = v;
        c->hkeys_cap = need;
    }
    for (size_t i = 0; i < n; i++) {
        qr_batch_rec_header_next(r, &h);
        memcpy(c->hkeys + off, h.key, h.key_len);
        c->hkeys[off + h.key_len] = '\0';
        c->hdrs[i].key = c->hkeys + off;
        c->hdrs[i].value = h.value;
        c->hdrs[i].value_len = h.value ? (size_t)h.value_len : 0;
        off += h.key_len + 1;
    }
    c->rec.offset = r->offset;
    c->rec.last_offset = r->offset;
    c->rec.timestamp = r->timestamp;
    c->rec.key = r->key;
    c->rec.key_len = r->key ? (size_t)r->key_len : 0;
    c->rec.value = r->value;
    c->rec.value_len = r->value ? (size_t)r->value_len : 0;
    c->rec.headers = n ? c->hdrs : NULL;
    c->rec.header_cnt = n;
    return QUIRE_ERR_NONE;
}

/* Opens the compressed batch at @p p into the scratch buffer, growing it
 * (up to SCRATCH_MAX) while the records do not fit. */
static quire_err_t open_compressed(quire_consumer_t *c, const uint8_t *p,
                                   size_t avail)
{
    quire_err_t err;

    if (!c->scratch) {
        c->scratch_cap = 4 * (size_t)c->conf->max_partition_fetch_bytes;
        c->scratch = malloc(c->scratch_cap);
        if (!c->scratch)
            return QUIRE_ERR_NO_MEMORY;
    }
    for (;;) {
        err = qr_batch_iter_open(&c->it, p, avail, c->scratch, c->scratch_cap);
        if (err != QUIRE_ERR_COMPRESSION || c->scratch_cap >= SCRATCH_MAX)
            return err;
        /* the records are larger than the scratch: grow it */
        free(c->scratch);
        c->scratch_cap *= 2;
        c->scratch = malloc(c->scratch_cap);
        if (!c->scratch) {
            c->scratch_cap = 0;
            return QUIRE_ERR_NO_MEMORY;
        }
    }
}

/* Opens the next batch of the current chunk (CRC checked, decompressed
 * when needed). NOT_FOUND: the chunk is used up. */
static quire_err_t open_batch(quire_consumer_t *c)
{
    chunk_t *ch = c->cur;
    qr_batch_hdr_t hdr;
    const char *why = NULL;
    quire_err_t err;

    for (;;) {
        if (c->cur_off >= ch->len)
            return QUIRE_ERR_NOT_FOUND;
        err = qr_batch_validate(ch->p + c->cur_off, ch->len - c->cur_off,
                                QR_BATCH_CHECK_CRC, &hdr, &why);
        c->bad_why = why;
        if (err != QUIRE_ERR_NONE)
            return QUIRE_ERR_CORRUPT_MESSAGE; /* poll_corrupt() says more */
        if (hdr.attributes & QR_BATCH_ATTR_CONTROL) {
            c->cur_off += qr_batch_size(&hdr);
            continue;
        }
        /* validated above: an uncompressed batch's records are read in
         * place, without parsing its header twice more (at 1,000
         * partitions, batches of a few records, that was a tenth of the
         * consumer's time: issue 14) */
        if (qr_batch_codec(&hdr) == QR_CODEC_NONE)
            err = qr_batch_iter_init_records(
                &c->it, &hdr, ch->p + c->cur_off + QR_BATCH_HEADER_SIZE,
                qr_batch_size(&hdr) - QR_BATCH_HEADER_SIZE);
        else
            err = open_compressed(c, ch->p + c->cur_off, ch->len - c->cur_off);
        if (err != QUIRE_ERR_NONE) {
            c->bad_why = c->it.why;
            return err == QUIRE_ERR_NO_MEMORY ? err : QUIRE_ERR_CORRUPT_MESSAGE;
        }
        c->cur_off += qr_batch_size(&hdr);
        c->it_active = 1;
        return QUIRE_ERR_NONE;
    }
}

static void drop_current(quire_consumer_t *c);

/* The partition error @p err at @p offset, reported through poll. */
static quire_err_t poll_error(quire_consumer_t *c, cpart_t *cp, quire_err_t err,
                              int64_t offset, const quire_record_t **recp)
{
    memset(&c->rec, 0, sizeof(c->rec));
    c->rec.topic = cp->topic;
    c->rec.partition = cp->partition;
    c->rec.offset = offset;
    c->rec.last_offset = offset;
    *recp = &c->rec;
    return err;
}

/* The offsets of the bad batch at @p at in the current chunk, from @p pos
 * (the next offset poll owes) on: to its last offset, judged by the next
 * batch's base when one follows (the bad batch's own lastOffsetDelta may be
 * the damaged field), else by its lastOffsetDelta. */
static void bad_range(const quire_consumer_t *c, size_t at, int64_t pos,
                      int64_t *first, int64_t *last)
{
    const chunk_t *ch = c->cur;
    qr_batch_hdr_t h, next;
    size_t size;

    *first = *last = pos;
    if (at >= ch->len ||
        qr_batch_hdr_read(ch->p + at, ch->len - at, &h) != QUIRE_ERR_NONE)
        return;
    if (h.base_offset > pos)
        *first = *last = h.base_offset;
    size = qr_batch_size(&h);
    if (h.length >= QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD &&
        size < ch->len - at &&
        qr_batch_hdr_read(ch->p + at + size, ch->len - at - size, &next) ==
            QUIRE_ERR_NONE &&
        next.magic == QR_BATCH_MAGIC && next.base_offset > *first) {
        *last = next.base_offset - 1;
        return;
    }
    if (h.last_offset_delta >= 0 &&
        h.base_offset + (int64_t)h.last_offset_delta > *first)
        *last = h.base_offset + h.last_offset_delta;
}

/* A corrupt batch at @p at: the partition stops (until seek) and poll
 * reports CORRUPT_MESSAGE with the batch's offset range, as librdkafka
 * reports _BAD_MSG, so the application can skip it deliberately. */
static quire_err_t poll_corrupt(quire_consumer_t *c, cpart_t *cp, size_t at,
                                const quire_record_t **recp)
{
    int64_t pos = __atomic_load_n(&cp->pos, __ATOMIC_ACQUIRE), first, last;
    char msg[512];

    bad_range(c, at, pos, &first, &last);
    pthread_mutex_lock(&c->lock);
    if (cp->gen == c->cur->gen)
        cp->state = CP_ERROR;
    pthread_mutex_unlock(&c->lock);
    drop_current(c);
    snprintf(msg, sizeof(msg),
             "%s-%d: corrupt batch at offsets %lld..%lld (%s); seek to %lld "
             "to skip it",
             cp->topic, cp->partition, (long long)first, (long long)last,
             c->bad_why ? c->bad_why : "invalid batch", (long long)last + 1);
    QR_LOG_WARN("FETCH", "%s", msg);
    free(c->errmsg);
    c->errmsg = strdup(msg);
    poll_error(c, cp, QUIRE_ERR_CORRUPT_MESSAGE, first, recp);
    c->rec.last_offset = last;
    c->rec.value = c->errmsg;
    c->rec.value_len = c->errmsg ? strlen(c->errmsg) : 0;
    return QUIRE_ERR_CORRUPT_MESSAGE;
}

/* Gives the current chunk back and stops the iteration. */
static void drop_current(quire_consumer_t *c)
{
    if (c->cur)
        chunk_release(c, c->cur);
    c->cur = NULL;
    c->it_active = 0;
}

/* The poll's deadline, read from the clock the first time it is needed: a
 * poll that finds a record ready never reads it (issue 14: two clock
 * reads a record were a fifth of quire-perf consume's CPU). */
#define DEADLINE_UNSET INT64_MIN

static int64_t poll_deadline(int64_t *deadline, int timeout_ms)
{
    if (*deadline == DEADLINE_UNSET)
        *deadline = qr_clock_mono_ms() + timeout_ms;
    return *deadline;
}

/* Takes the next chunk of the ready queue, waiting for one until the
 * poll's deadline (*@p deadline, read from the clock only when unset). */
static int next_chunk(quire_consumer_t *c, int64_t *deadline, int timeout_ms)
{
    struct timespec ts;

    pthread_mutex_lock(&c->lock);
    if (!c->q_head) {
        int64_t deadline_ms = poll_deadline(deadline, timeout_ms);

        ts.tv_sec = (time_t)(deadline_ms / 1000);
        ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
        while (!c->q_head && qr_clock_mono_ms() < deadline_ms)
            pthread_cond_timedwait(&c->cv, &c->lock, &ts);
    }
    c->cur = c->q_head;
    if (c->cur) {
        c->q_head = c->cur->next;
        if (!c->q_head)
            c->q_tail = NULL;
        c->cur->next = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    c->cur_off = 0;
    c->it_active = 0;
    return c->cur != NULL;
}

static quire_err_t consumer_poll(quire_consumer_t *c, int timeout_ms,
                                 const quire_record_t **recp);

quire_err_t quire_consumer_poll(quire_consumer_t *c, int timeout_ms,
                                const quire_record_t **recp)
{
    qr_log_ctx_t *prev;
    quire_err_t err;

    if (!c || !recp || timeout_ms < 0)
        return QUIRE_ERR_BAD_ARG;
    prev = qr_client_log_enter(c->cl); /* the callbacks it serves log */
    err = consumer_poll(c, timeout_ms, recp);
    qr_client_log_leave(prev);
    return err;
}

static quire_err_t consumer_poll(quire_consumer_t *c, int timeout_ms,
                                 const quire_record_t **recp)
{
    int64_t deadline = DEADLINE_UNSET;
    qr_batch_rec_t r;
    quire_err_t err;

    if (!c || !recp || timeout_ms < 0)
        return QUIRE_ERR_BAD_ARG;
    /* the application is done with the record returned last: what a
     * background commit may now store */
    if (c->last_cp &&
        __atomic_load_n(&c->last_cp->gen, __ATOMIC_ACQUIRE) == c->last_gen)
        __atomic_store_n(&c->last_cp->consumed,
                         __atomic_load_n(&c->last_cp->pos, __ATOMIC_ACQUIRE),
                         __ATOMIC_RELEASE);
    c->last_cp = NULL;
    for (;;) {
        chunk_t *ch = c->cur;
        cpart_t *cp;

        if (!ch) {
            if (!next_chunk(c, &deadline, timeout_ms))
                return QUIRE_ERR_TIMED_OUT;
            continue;
        }
        if (ch->ev) {
            const char *msg = NULL;
            quire_err_t e = qr_cgroup_serve(c->grp, ch->ev, &msg);

            if (e != QUIRE_ERR_NONE) {
                free(c->errmsg);
                c->errmsg = strdup(msg ? msg : quire_err2str(e));
                drop_current(c);
                memset(&c->rec, 0, sizeof(c->rec));
                c->rec.partition = -1;
                c->rec.offset = -1;
                c->rec.value = c->errmsg;
                c->rec.value_len = c->errmsg ? strlen(c->errmsg) : 0;
                *recp = &c->rec;
                return e;
            }
            drop_current(c);
            continue;
        }
        cp = ch->cp;
        if (__atomic_load_n(&cp->gen, __ATOMIC_ACQUIRE) != ch->gen) {
            drop_current(c); /* sought or unassigned since */
            continue;
        }
        if (!ch->fb) {
            quire_err_t e = ch->err;
            int64_t off = ch->err_offset;

            drop_current(c);
            return poll_error(c, cp, e, off, recp);
        }
        /* the lease (quire(3)): a group partition's records only while
         * ZooKeeper has answered recently enough that no other member can
         * own it yet; kept for later when it comes back, dropped when the
         * partition is revoked meanwhile */
        if (cp->grp && c->grp &&
            !qr_cgroup_lease_wait(c->grp, cp, ch->gen,
                                  poll_deadline(&deadline, timeout_ms))) {
            if (__atomic_load_n(&cp->gen, __ATOMIC_ACQUIRE) != ch->gen)
                continue;
            return QUIRE_ERR_TIMED_OUT;
        }
        if (!c->it_active) {
            err = open_batch(c);
            if (err == QUIRE_ERR_NOT_FOUND) {
                drop_current(c);
                continue;
            }
            if (err == QUIRE_ERR_CORRUPT_MESSAGE)
                return poll_corrupt(c, cp, c->cur_off, recp);
            if (err != QUIRE_ERR_NONE) {
                int64_t off = __atomic_load_n(&cp->pos, __ATOMIC_ACQUIRE);

                pthread_mutex_lock(&c->lock);
                if (cp->gen == ch->gen)
                    cp->state = CP_ERROR;
                pthread_mutex_unlock(&c->lock);
                drop_current(c);
                return poll_error(c, cp, err, off, recp);
            }
        }
        err = qr_batch_iter_next(&c->it, &r);
        if (err == QUIRE_ERR_NOT_FOUND) {
            c->it_active = 0;
            continue;
        }
        if (err != QUIRE_ERR_NONE) {
            c->bad_why = c->it.why;
            return poll_corrupt(c, cp, c->cur_off - qr_batch_size(&c->it.hdr),
                                recp);
        }
        if (r.offset < __atomic_load_n(&cp->pos, __ATOMIC_ACQUIRE))
            continue; /* before the position: the batch began earlier */
        err = make_record(c, &r);
        if (err != QUIRE_ERR_NONE)
            return err;
        c->rec.topic = cp->topic;
        c->rec.partition = cp->partition;
        __atomic_store_n(&cp->pos, r.offset + 1, __ATOMIC_RELEASE);
        c->last_cp = cp;
        c->last_gen = ch->gen;
        *recp = &c->rec;
        return QUIRE_ERR_NONE;
    }
}

/* close: leaves the group, serving the revocation and the commit
 * callbacks on this thread, within request.timeout.ms. */
static quire_err_t leave_group(quire_consumer_t *c)
{
    quire_err_t err = QUIRE_ERR_NONE;
    int64_t deadline;

    /* issue 18 item 10: the final commit is made here, synchronously, so
     * that close can say when it failed (Kafka's close() commits and
     * throws); the group's own store on leaving then has nothing new */
    if (c->conf->enable_auto_commit && qr_cgroup_subscribed(c->grp))
        err = quire_consumer_commit(c, NULL, 0, c->conf->request_timeout_ms);
    if (err != QUIRE_ERR_NONE)
        QR_LOG_WARN("GROUP", "close: the final commit failed: %s",
                    quire_err2str(err));
    if (!qr_cgroup_leave(c->grp))
        return err;
    deadline = qr_clock_mono_ms() + c->conf->request_timeout_ms;
    drop_current(c);
    while (!qr_cgroup_left(c->grp)) {
        int64_t now = qr_clock_mono_ms();
        const char *msg;

        if (now >= deadline) {
            QR_LOG_WARN("GROUP", "close: the group was not left within "
                                 "request.timeout.ms; its nodes go with the "
                                 "session");
            if (err == QUIRE_ERR_NONE)
                err = QUIRE_ERR_TIMED_OUT;
            break;
        }
        int64_t until = now + 50 < deadline ? now + 50 : deadline;

        if (!next_chunk(c, &until, 0))
            continue;
        if (c->cur->ev)
            qr_cgroup_serve(c->grp, c->cur->ev, &msg);
        drop_current(c);
    }
    /* the callbacks of commits that finished meanwhile */
    for (int64_t past = 0; next_chunk(c, &past, 0);) {
        if (c->cur->ev && c->cur->ev->kind == QR_CGEV_COMMIT)
            qr_cgroup_serve(c->grp, c->cur->ev, NULL);
        drop_current(c);
    }
    return err;
}

quire_err_t quire_consumer_close(quire_consumer_t *c)
{
    quire_err_t err = QUIRE_ERR_NONE;
    qr_log_ctx_t *prev;
    chunk_t *ch, *next;

    if (!c)
        return QUIRE_ERR_NONE;
    prev = qr_client_log_enter(c->cl);
    if (c->grp)
        err = leave_group(c);
    qr_client_stop(c->cl);
    drop_current(c);
    for (ch = c->q_head; ch; ch = next) {
        next = ch->next;
        if (ch->fb && --ch->fb->refs == 0) {
            qr_rxpool_put(c->cl->rxpool, ch->fb->data);
            free(ch->fb);
        }
        qr_cgev_free(ch->ev);
        free(ch);
    }
    qr_cgroup_destroy(c->grp);
    qr_client_destroy(c->cl);
    for (size_t i = 0; i < c->part_cnt; i++) {
        free(c->parts[i]->topic);
        free(c->parts[i]);
    }
    free(c->parts);
    free(c->fetching);
    free(c->scratch);
    free(c->hdrs);
    free(c->hkeys);
    free(c->errmsg);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->lock);
    free(c);
    qr_client_log_leave(prev);
    return err;
}

/* ---- consumer groups ---- */

static int tp_cmp(const void *a, const void *b)
{
    const quire_topic_partition_t *x = a, *y = b;
    int r = strcmp(x->topic, y->topic);

    return r ? r
             : (x->partition > y->partition) - (x->partition < y->partition);
}

static quire_err_t subscribe(quire_consumer_t *c, const char *const *topics,
                             size_t n, int regex, char *errstr,
                             size_t errstr_size)
{
    int manual;

    if (!c->grp) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "group.id is not set: subscribe needs a group");
        return QUIRE_ERR_CONF_INVALID;
    }
    pthread_mutex_lock(&c->lock);
    manual = c->manual;
    pthread_mutex_unlock(&c->lock);
    if (manual) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "subscribe after assign: use one or the other");
        return QUIRE_ERR_STATE;
    }
    return qr_cgroup_subscribe(c->grp, topics, n, regex, errstr, errstr_size);
}

quire_err_t quire_consumer_subscribe(quire_consumer_t *c,
                                     const char *const *topics, size_t n,
                                     char *errstr, size_t errstr_size)
{
    if (!c || !topics || n == 0)
        return QUIRE_ERR_BAD_ARG;
    for (size_t i = 0; i < n; i++) {
        if (!topics[i])
            return QUIRE_ERR_BAD_ARG;
        if (qr_topic_name_check(topics[i], strlen(topics[i]), NULL) !=
            QUIRE_ERR_NONE) {
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "illegal topic name: '%s'",
                         topics[i]);
            return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
        }
    }
    return subscribe(c, topics, n, 0, errstr, errstr_size);
}

quire_err_t quire_consumer_subscribe_regex(quire_consumer_t *c,
                                           const char *pattern, char *errstr,
                                           size_t errstr_size)
{
    if (!c || !pattern || !*pattern)
        return QUIRE_ERR_BAD_ARG;
    return subscribe(c, &pattern, 1, 1, errstr, errstr_size);
}

static quire_err_t check_offsets(const quire_topic_partition_t *offsets,
                                 size_t n)
{
    for (size_t i = 0; offsets && i < n; i++) {
        if (!offsets[i].topic || offsets[i].partition < 0 ||
            offsets[i].offset < 0)
            return QUIRE_ERR_BAD_ARG;
        if (qr_topic_name_check(offsets[i].topic, strlen(offsets[i].topic),
                                NULL) != QUIRE_ERR_NONE)
            return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t quire_consumer_commit(quire_consumer_t *c,
                                  const quire_topic_partition_t *offsets,
                                  size_t n, int timeout_ms)
{
    quire_err_t err;

    if (!c || timeout_ms < 0 || (offsets && n == 0))
        return QUIRE_ERR_BAD_ARG;
    if ((err = check_offsets(offsets, n)) != QUIRE_ERR_NONE)
        return err;
    if (!c->grp)
        return QUIRE_ERR_STATE;
    return qr_cgroup_commit(c->grp, offsets, n, timeout_ms, 0, NULL, NULL);
}

quire_err_t quire_consumer_commit_async(quire_consumer_t *c,
                                        const quire_topic_partition_t *offsets,
                                        size_t n, quire_commit_cb_t *cb,
                                        void *cb_opaque)
{
    quire_err_t err;

    if (!c || (offsets && n == 0))
        return QUIRE_ERR_BAD_ARG;
    if ((err = check_offsets(offsets, n)) != QUIRE_ERR_NONE)
        return err;
    if (!c->grp)
        return QUIRE_ERR_STATE;
    return qr_cgroup_commit(c->grp, offsets, n, -1, 1, cb, cb_opaque);
}

quire_err_t quire_consumer_committed(quire_consumer_t *c, const char *topic,
                                     int32_t partition, int timeout_ms,
                                     int64_t *offsetp)
{
    quire_err_t err = check_tp(c, topic, partition);

    if (err != QUIRE_ERR_NONE)
        return err;
    if (!offsetp || timeout_ms < 0)
        return QUIRE_ERR_BAD_ARG;
    if (!c->grp)
        return QUIRE_ERR_STATE;
    return qr_cgroup_committed(c->grp, topic, partition, timeout_ms, offsetp);
}

void quire_topic_partitions_free(quire_topic_partition_t *tps, size_t n)
{
    if (!tps)
        return;
    for (size_t i = 0; i < n; i++)
        free((char *)tps[i].topic);
    free(tps);
}

quire_err_t quire_consumer_assignment(quire_consumer_t *c,
                                      quire_topic_partition_t **tpsp,
                                      size_t *cntp)
{
    quire_topic_partition_t *v = NULL;
    quire_err_t err = QUIRE_ERR_NONE;
    size_t n = 0;

    if (!c || !tpsp || !cntp)
        return QUIRE_ERR_BAD_ARG;
    pthread_mutex_lock(&c->lock);
    if (c->part_cnt && !(v = calloc(c->part_cnt, sizeof(*v))))
        err = QUIRE_ERR_NO_MEMORY;
    for (size_t i = 0; v && i < c->part_cnt; i++) {
        const cpart_t *cp = c->parts[i];

        if (cp->removed || cp->state == CP_PAUSED)
            continue;
        v[n].topic = strdup(cp->topic);
        if (!v[n].topic) {
            err = QUIRE_ERR_NO_MEMORY;
            break;
        }
        v[n].partition = cp->partition;
        v[n].offset = __atomic_load_n(&cp->pos, __ATOMIC_ACQUIRE);
        n++;
    }
    pthread_mutex_unlock(&c->lock);
    if (err != QUIRE_ERR_NONE) {
        quire_topic_partitions_free(v, n);
        return err;
    }
    if (n == 0) {
        free(v);
        v = NULL;
    } else
        qsort(v, n, sizeof(*v), tp_cmp);
    *tpsp = v;
    *cntp = n;
    return QUIRE_ERR_NONE;
}

quire_err_t quire_consumer_member_id(quire_consumer_t *c, char *dest,
                                     size_t dest_size)
{
    if (!c)
        return QUIRE_ERR_BAD_ARG;
    if (!c->grp)
        return QUIRE_ERR_STATE;
    return qr_cgroup_member_id(c->grp, dest, dest_size);
}

/* ---- offsets for times (ListOffsets by timestamp) ----
 *
 * quire_consumer_offsets_for_times() queues a lookup on c->oft and waits
 * on c->cv; the loop (oft_run, from consumer_run) sends one ListOffsets
 * per leader for the lookup's partitions still to ask, and the answers
 * fill the lookup in. Retriable errors refresh the metadata and ask again
 * after retry.backoff.ms. A lookup is freed by the last of its waiter and
 * its requests in flight (refs, under c->lock), so a waiter that gives up
 * leaves nothing dangling.
 */

enum { OFT_TODO, OFT_SENT, OFT_DONE };

struct qr_oft {
    struct qr_oft *next;
    int refs;        /* the waiter (until it leaves) + requests in flight */
    int listed;      /* on c->oft */
    size_t n;        /* partitions */
    size_t left;     /* not OFT_DONE yet */
    quire_err_t err; /* the first non-retriable error; DESTROYED */
    int64_t backoff_until;
    struct oft_part {
        char *topic;
        int32_t partition;
        int64_t timestamp;
        int state;
        int64_t offset;
    } p[];
};

typedef struct oft_ctx {
    quire_consumer_t *c;
    struct qr_oft *o;
    size_t n;
    size_t idx[];
} oft_ctx_t;

/* c->lock held */
static void oft_unref(struct qr_oft *o)
{
    if (--o->refs > 0)
        return;
    for (size_t i = 0; i < o->n; i++)
        free(o->p[i].topic);
    free(o);
}

/* c->lock held */
static void oft_unlist(quire_consumer_t *c, struct qr_oft *o)
{
    struct qr_oft **pp;

    if (!o->listed)
        return;
    for (pp = &c->oft; *pp && *pp != o; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = o->next;
    o->listed = 0;
}

static void on_oft(qr_bconn_t *conn, quire_err_t err, qr_resp_t *resp,
                   uint8_t **framebuf, void *arg)
{
    oft_ctx_t *ctx = arg;
    quire_consumer_t *c = ctx->c;
    struct qr_oft *o = ctx->o;
    presp_cur_t cur = {0, 0};
    int stale = 0;

    (void)conn;
    (void)framebuf;
    if (err == QUIRE_ERR_NONE && resp->error_code != QUIRE_ERR_NONE)
        err = resp->error_code;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < ctx->n; i++) {
        struct oft_part *p = &o->p[ctx->idx[i]];
        const qr_list_offsets_part_resp_t *pr =
            err == QUIRE_ERR_NONE ? find_presp(resp, p->topic, p->partition, 0,
                                               &cur)
                                  : NULL;

        if (p->state != OFT_SENT)
            continue;
        if (err != QUIRE_ERR_NONE || !pr || retriable(pr->error_code)) {
            p->state = OFT_TODO;
            o->backoff_until = qr_clock_mono_ms() + c->conf->retry_backoff_ms;
            stale = 1;
            continue;
        }
        if (pr->error_code != QUIRE_ERR_NONE && o->err == QUIRE_ERR_NONE)
            o->err = pr->error_code;
        p->offset = pr->error_code == QUIRE_ERR_NONE ? pr->offset : -1;
        p->state = OFT_DONE;
        o->left--;
    }
    if (stale && o->listed)
        qr_client_run_at(c->cl, o->backoff_until);
    oft_unref(o);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->lock);
    if (stale)
        qr_client_meta_stale(c->cl, NULL);
    free(ctx);
    qr_client_kick(c->cl); /* repeats of a partition go next */
}

static int oft_before(const struct oft_part *x, const struct oft_part *y)
{
    int r = strcmp(x->topic, y->topic);

    return r < 0 || (r == 0 && x->partition < y->partition);
}

/* Sends the ListOffsets of @p o's partitions led by @p node (idx[0..n)).
 * c->lock held. */
static void oft_send(quire_consumer_t *c, struct qr_oft *o, int32_t node,
                     size_t *idx, size_t n)
{
    qr_bconn_t *conn = qr_client_conn(c->cl, node);
    qr_list_offsets_topic_t *tops;
    qr_list_offsets_part_t *parts;
    oft_ctx_t *ctx;
    size_t nt = 0;
    qr_req_t req;

    if (!conn || qr_bconn_state(conn) != QR_BCONN_UP ||
        qr_bconn_pending(conn) >= c->conf->max_in_flight)
        return;
    for (size_t i = 1; i < n; i++) /* by topic: one entry per topic */
        for (size_t j = i;
             j > 0 && oft_before(&o->p[idx[j]], &o->p[idx[j - 1]]); j--) {
            size_t t = idx[j];

            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    ctx = malloc(sizeof(*ctx) + n * sizeof(size_t));
    tops = calloc(n, sizeof(*tops));
    parts = calloc(n, sizeof(*parts));
    if (!ctx || !tops || !parts)
        goto out;
    ctx->c = c;
    ctx->o = o;
    ctx->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct oft_part *p = &o->p[idx[i]];

        ctx->idx[i] = idx[i];
        if (nt == 0 || strcmp(tops[nt - 1].topic, p->topic)) {
            tops[nt].topic = p->topic;
            tops[nt].partitions = &parts[i];
            nt++;
        }
        tops[nt - 1].partition_count++;
        parts[i].partition = p->partition;
        parts[i].timestamp = p->timestamp;
    }
    memset(&req, 0, sizeof(req));
    req.api = QR_API_LIST_OFFSETS;
    req.u.list_offsets.replica_id = -1;
    req.u.list_offsets.topic_count = nt;
    req.u.list_offsets.topics = tops;
    if (qr_bconn_send(conn, &req, NULL, 0, 1, c->conf->request_timeout_ms,
                      on_oft, ctx) == QUIRE_ERR_NONE) {
        for (size_t i = 0; i < n; i++)
            o->p[idx[i]].state = OFT_SENT;
        o->refs++;
        ctx = NULL;
    }
out:
    free(ctx);
    free(tops);
    free(parts);
}

/* Loop: asks the leaders about every partition still to ask. */
static void oft_run(quire_consumer_t *c)
{
    int64_t now = qr_clock_mono_ms();

    pthread_mutex_lock(&c->lock);
    for (struct qr_oft *o = c->oft; o; o = o->next) {
        size_t *idx;
        int32_t *lead;
        size_t m = 0;

        if (o->backoff_until > now) {
            qr_client_run_at(c->cl, o->backoff_until);
            continue;
        }
        idx = malloc(o->n * sizeof(*idx));
        lead = malloc(o->n * sizeof(*lead));
        if (!idx || !lead) {
            free(idx);
            free(lead);
            continue;
        }
        for (size_t i = 0; i < o->n; i++) {
            const qr_cmeta_topic_t *t;

            lead[i] = -1;
            if (o->p[i].state != OFT_TODO)
                continue;
            t = qr_client_topic(c->cl, o->p[i].topic);
            if (t && o->p[i].partition < t->part_cnt)
                lead[i] = t->parts[o->p[i].partition].leader;
            if (lead[i] < 0)
                qr_client_meta_stale(c->cl, o->p[i].topic);
        }
        for (size_t i = 0; i < o->n; i++) {
            int32_t node = lead[i];

            if (node < 0)
                continue;
            m = 0;
            for (size_t j = i; j < o->n; j++) {
                int dup = 0;

                if (lead[j] != node)
                    continue;
                /* a partition once per request (answers are matched by
                 * partition); a repeat goes in the next one */
                for (size_t k = 0; k < m && !dup; k++)
                    dup = o->p[idx[k]].partition == o->p[j].partition &&
                          !strcmp(o->p[idx[k]].topic, o->p[j].topic);
                lead[j] = -1;
                if (!dup)
                    idx[m++] = j;
            }
            oft_send(c, o, node, idx, m);
        }
        free(idx);
        free(lead);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Loop stopping: the lookups still waiting fail. */
static void oft_stopping(quire_consumer_t *c)
{
    pthread_mutex_lock(&c->lock);
    while (c->oft) {
        struct qr_oft *o = c->oft;

        if (o->err == QUIRE_ERR_NONE)
            o->err = QUIRE_ERR_DESTROYED;
        oft_unlist(c, o);
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->lock);
}

quire_err_t quire_consumer_offsets_for_times(quire_consumer_t *c,
                                             quire_topic_partition_t *tps,
                                             size_t n, int timeout_ms)
{
    int64_t deadline;
    struct qr_oft *o;
    struct timespec ts;
    quire_err_t err = QUIRE_ERR_NONE;

    if (!c || (!tps && n) || timeout_ms < 0)
        return QUIRE_ERR_BAD_ARG;
    for (size_t i = 0; i < n; i++)
        if (!tps[i].topic || tps[i].partition < 0 ||
            (tps[i].offset < 0 && tps[i].offset != QUIRE_OFFSET_BEGINNING &&
             tps[i].offset != QUIRE_OFFSET_END))
            return QUIRE_ERR_BAD_ARG;
    if (n == 0)
        return QUIRE_ERR_NONE;
    deadline = qr_clock_mono_ms() + timeout_ms;
    /* the topics into the metadata, and the partitions checked */
    for (size_t i = 0; i < n; i++) {
        int32_t cnt = 0;

        err = check_tp(c, tps[i].topic, tps[i].partition);
        if (err == QUIRE_ERR_NONE)
            err = qr_client_partitions(c->cl, tps[i].topic, deadline, &cnt);
        if (err == QUIRE_ERR_NONE && tps[i].partition >= cnt)
            err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (err != QUIRE_ERR_NONE)
            return err;
    }
    o = calloc(1, sizeof(*o) + n * sizeof(o->p[0]));
    if (!o)
        return QUIRE_ERR_NO_MEMORY;
    o->n = o->left = n;
    o->refs = 1;
    for (size_t i = 0; i < n; i++) {
        o->p[i].topic = strdup(tps[i].topic);
        o->p[i].partition = tps[i].partition;
        o->p[i].timestamp = tps[i].offset;
        o->p[i].offset = -1;
        if (!o->p[i].topic) {
            oft_unref(o);
            return QUIRE_ERR_NO_MEMORY;
        }
    }
    pthread_mutex_lock(&c->lock);
    o->next = c->oft;
    c->oft = o;
    o->listed = 1;
    pthread_mutex_unlock(&c->lock);
    qr_client_wake(c->cl);
    ts.tv_sec = (time_t)(deadline / 1000);
    ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
    pthread_mutex_lock(&c->lock);
    while (o->left > 0 && o->listed && qr_clock_mono_ms() < deadline)
        pthread_cond_timedwait(&c->cv, &c->lock, &ts);
    oft_unlist(c, o);
    err = o->left > 0
              ? (o->err != QUIRE_ERR_NONE ? o->err : QUIRE_ERR_TIMED_OUT)
              : o->err;
    for (size_t i = 0; i < n; i++)
        tps[i].offset = o->p[i].state == OFT_DONE ? o->p[i].offset : -1;
    oft_unref(o);
    pthread_mutex_unlock(&c->lock);
    return err;
}
