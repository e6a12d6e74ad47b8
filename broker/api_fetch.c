/*
 * api_fetch: read, maybe park, answer with sendfile ranges.
 *
 * A fetch_op lives from the request until its answer is queued. It is
 * touched only by its network thread; other threads reach it only through
 * qr_netthread_post() of op->work (from a partition's notify), which is why
 * freeing goes through that same post once every waiter is gone (see
 * op_finish()).
 *
 * What one client may hold here is bounded (issue 17 item 3): a request
 * naming a partition twice is refused (INVALID_REQUEST), so an op waits on
 * each partition once; max_wait_ms is cut to fetch.max.wait.ms.cap; the
 * op's memory is charged to its reply slot (queued.max.request.bytes and
 * the connection's share, conn.h); and a connection that closes ends its
 * parked ops at once (qr_reply_on_orphan()), not at their timers.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"

#include "alloc.h"
#include "api_fetch.h"
#include "clock.h"
#include "logging.h"
#include "meta.h"
#include "partmap.h"

enum { OP_READING, OP_PARKED, OP_DONE };

typedef struct fetch_part {
    const char *topic; /* the op's copy */
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    int32_t current_leader_epoch; /* -1: not checked */
    int64_t synced_offset;        /* a follower's replica_synced_offset */
    int checked; /* fencing and the follower's state done (first read) */
    quire_err_t check_err; /* their outcome */
    qr_pentry_t *entry;    /* while the op lives and we lead it */
    qr_pwaiter_t waiter;
    qr_plog_slice_t slice;
    qr_fetch_part_resp_t *resp;
} fetch_part_t;

typedef struct fetch_op {
    qr_nt_work_t work; /* woken by appends; frees when OP_DONE */
    qr_nt_parked_t parked;
    ev_timer timer;
    qr_server_t *server;
    qr_netthread_t *nt;
    qr_reply_t *reply;
    int32_t correlation_id;
    int32_t replica_id; /* >= 0: a follower's fetch (issue 16) */
    int32_t min_bytes, max_bytes, max_wait_ms;
    int state;
    int counted; /* qr_netthread_op_begin() was called */
    size_t topic_cnt, part_cnt;
    char **names;
    qr_fetch_topic_resp_t *topics;
    qr_fetch_part_resp_t *presp;
    fetch_part_t *parts;
} fetch_op_t;

static void op_free(fetch_op_t *op)
{
    for (size_t i = 0; i < op->part_cnt; i++) {
        qr_plog_slice_release(&op->parts[i].slice);
        qr_pentry_release(op->parts[i].entry);
    }
    for (size_t t = 0; t < op->topic_cnt; t++)
        free(op->names[t]);
    free(op->names);
    free(op->topics);
    free(op->presp);
    free(op->parts);
    free(op);
}

static void unwait_all(fetch_op_t *op)
{
    for (size_t i = 0; i < op->part_cnt; i++)
        qr_pentry_unwait(&op->parts[i].waiter);
}

static void wait_all(fetch_op_t *op)
{
    for (size_t i = 0; i < op->part_cnt; i++)
        if (op->parts[i].entry && !op->parts[i].waiter.entry)
            qr_pentry_wait(op->parts[i].entry, &op->parts[i].waiter);
}

/* Hands a slice to the reply, which releases it once sent. */
static void release_slice(void *arg)
{
    qr_plog_slice_t *slice = arg;

    qr_plog_slice_release(slice);
    free(slice);
}

static void answer(fetch_op_t *op)
{
    qr_resp_t resp = {0};

    resp.api = QR_API_FETCH;
    resp.correlation_id = op->correlation_id;
    resp.u.fetch.topic_count = op->topic_cnt;
    resp.u.fetch.topics = op->topics;
    /* Each partition's records go as a file range the codec places where
     * its protocol wants them (request.h); the reply releases the slice. */
    for (size_t i = 0; i < op->part_cnt; i++) {
        fetch_part_t *fp = &op->parts[i];
        if (fp->slice.len == 0)
            continue;
        qr_plog_slice_t *copy = qr_malloc(sizeof(*copy));
        *copy = fp->slice;
        memset(&fp->slice, 0, sizeof(fp->slice));
        fp->resp->file.fd = copy->fd;
        fp->resp->file.pos = (int64_t)copy->pos;
        fp->resp->file.len = copy->len;
        fp->resp->file.release = release_slice;
        fp->resp->file.arg = copy;
    }
    (void)qr_request_respond(op->reply, &resp);
    qr_reply_ready(op->reply);
}

/* Answers and schedules the free: a notify may already have posted
 * op->work, so the free must come through the same queue (post is a no-op
 * when queued, and runs once either way). */
static void op_finish(fetch_op_t *op)
{
    struct ev_loop *loop = qr_netthread_loop(op->nt);

    unwait_all(op);
    ev_timer_stop(loop, &op->timer);
    qr_netthread_unpark(op->nt, &op->parked);
    answer(op);
    op->state = OP_DONE;
    qr_netthread_post(op->nt, &op->work);
}

/* Once per partition, at the first read: the leader epoch the sender
 * knows (KIP-320 fencing) and, for a follower, its offsets (replica.h).
 * Returns NONE or the partition's error. */
static quire_err_t check_part(fetch_op_t *op, fetch_part_t *fp)
{
    qr_replica_t *rs = fp->entry->replica;
    qr_replica_info_t info;
    int kick = 0, first = 0;
    quire_err_t err;

    if (fp->current_leader_epoch >= 0 &&
        fp->current_leader_epoch < fp->entry->leader_epoch)
        return QUIRE_ERR_FENCED_LEADER_EPOCH;
    if (fp->current_leader_epoch > fp->entry->leader_epoch)
        return QUIRE_ERR_UNKNOWN_LEADER_EPOCH;
    if (op->replica_id < 0)
        return QUIRE_ERR_NONE;
    /* an offset the log does not have says nothing of a replica: its
     * state stays (a non-replica is refused below all the same) */
    if ((fp->fetch_offset < qr_plog_log_start(fp->entry->part) ||
         fp->fetch_offset > qr_plog_log_end(fp->entry->part)) &&
        rs && qr_replica_info(rs, op->replica_id, &info) == 0)
        return QUIRE_ERR_OFFSET_OUT_OF_RANGE;
    if (!rs)
        err = QUIRE_ERR_REPLICA_NOT_AVAILABLE;
    else
        err = qr_replica_fetched(rs, op->replica_id, fp->fetch_offset,
                                 fp->synced_offset,
                                 qr_plog_log_end(fp->entry->part),
                                 qr_clock_mono_ms(), &kick, &first);
    if (err == QUIRE_ERR_REPLICA_NOT_AVAILABLE && (first || !rs))
        QR_LOG_WARN("FETCH",
                    "%s-%d: replica fetch from broker %d, which is not one "
                    "of its replicas: answering REPLICA_NOT_AVAILABLE (logged "
                    "once per broker)",
                    fp->topic, (int)fp->partition, (int)op->replica_id);
    if (kick)
        qr_server_isr_kick(op->server);
    return err;
}

/* Reads one partition into its slice; returns the bytes taken. */
static size_t read_part(fetch_op_t *op, fetch_part_t *fp, size_t used,
                        int *errors)
{
    qr_fetch_part_resp_t *r = fp->resp;
    size_t limit, room;
    quire_err_t err;

    qr_plog_slice_release(&fp->slice);
    memset(&fp->slice, 0, sizeof(fp->slice));
    r->records_length = 0;
    if (!fp->entry) {
        (*errors)++; /* its code was set by the lookup in evaluate() */
        return 0;
    }
    if (!fp->checked) {
        fp->checked = 1;
        fp->check_err = check_part(op, fp);
    }
    if (fp->check_err != QUIRE_ERR_NONE) {
        r->error_code = fp->check_err;
        (*errors)++;
        return 0;
    }
    /* the leader's HW: consumers read up to it, a follower sets its own */
    r->high_watermark = qr_plog_high_watermark(fp->entry->part);
    r->log_start_offset = qr_plog_log_start(fp->entry->part);
    if (fp->max_bytes <= 0)
        return 0; /* asked for nothing from this partition */
    room = used < (size_t)op->max_bytes ? (size_t)op->max_bytes - used : 0;
    if (used > 0 && room == 0)
        return 0;
    limit = (size_t)fp->max_bytes < room ? (size_t)fp->max_bytes : room;
    /* a follower reads up to the log end, a consumer up to the HW */
    if (op->replica_id >= 0)
        err = qr_plog_read_replica(fp->entry->part, fp->fetch_offset,
                                   limit ? limit : 1, &fp->slice);
    else
        err = qr_plog_read(fp->entry->part, fp->fetch_offset, limit ? limit : 1,
                           &fp->slice);
    if (err != QUIRE_ERR_NONE) {
        r->error_code = err;
        (*errors)++;
        return 0;
    }
    /* Only the first non-empty partition may go past the limits. */
    if (used > 0 && fp->slice.len > limit) {
        qr_plog_slice_release(&fp->slice);
        memset(&fp->slice, 0, sizeof(fp->slice));
        return 0;
    }
    r->error_code = QUIRE_ERR_NONE;
    r->records_length = (uint32_t)fp->slice.len;
    return fp->slice.len;
}

/* Reads every partition; answers, or parks until an append or the
 * timer. @final: answer whatever there is. */
static void evaluate(fetch_op_t *op, int final)
{
    qr_reqctx_t ctx = {0};
    size_t used = 0;
    int errors = 0, may_wait;

    ctx.server = op->server;
    ctx.nt = op->nt;
    may_wait = !final && op->max_wait_ms > 0 &&
               !qr_netthread_draining(op->nt) && !qr_reply_orphaned(op->reply);
    /* Find the partitions, then register before reading: an append
     * between the read and the registration would otherwise go
     * unnoticed. */
    for (size_t i = 0; i < op->part_cnt; i++) {
        fetch_part_t *fp = &op->parts[i];
        quire_err_t err;
        if (!fp->entry) {
            fp->entry = qr_request_lookup(&ctx, fp->topic, fp->partition, &err);
            if (!fp->entry)
                fp->resp->error_code = err;
        }
    }
    if (may_wait)
        wait_all(op);
    for (size_t i = 0; i < op->part_cnt; i++)
        used += read_part(op, &op->parts[i], used, &errors);
    if (ctx.meta)
        qr_meta_release(ctx.meta);
    if (!may_wait || errors > 0 || used >= (size_t)op->min_bytes ||
        used >= (size_t)op->max_bytes) {
        op_finish(op);
        return;
    }
    /* Park: hold no segment while waiting. */
    for (size_t i = 0; i < op->part_cnt; i++) {
        qr_plog_slice_release(&op->parts[i].slice);
        memset(&op->parts[i].slice, 0, sizeof(op->parts[i].slice));
    }
    if (op->state != OP_PARKED) {
        op->state = OP_PARKED;
        qr_netthread_park(op->nt, &op->parked);
        ev_timer_set(&op->timer, op->max_wait_ms / 1e3, 0.);
        ev_timer_start(qr_netthread_loop(op->nt), &op->timer);
    }
}

static void on_work(qr_nt_work_t *work)
{
    fetch_op_t *op = (fetch_op_t *)work;

    if (op->state == OP_DONE) {
        qr_netthread_t *nt = op->nt;
        int counted = op->counted;
        op_free(op);
        if (counted)
            qr_netthread_op_end(nt);
        return;
    }
    evaluate(op, 0);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    fetch_op_t *op = w->data;

    (void)loop;
    (void)revents;
    evaluate(op, 1);
}

static void on_drain(qr_nt_parked_t *p)
{
    fetch_op_t *op = (fetch_op_t *)((char *)p - offsetof(fetch_op_t, parked));

    evaluate(op, 1);
}

/* The connection went: nothing will be sent, so stop waiting now and let
 * the op go on the next pass (through op->work, like op_finish()). */
static void on_orphan(void *arg)
{
    fetch_op_t *op = arg;

    if (op->state == OP_DONE)
        return;
    unwait_all(op);
    ev_timer_stop(qr_netthread_loop(op->nt), &op->timer);
    qr_netthread_unpark(op->nt, &op->parked);
    qr_reply_ready(op->reply); /* frees the orphaned slot */
    op->state = OP_DONE;
    qr_netthread_post(op->nt, &op->work);
}

typedef struct tp_key {
    const char *topic;
    int32_t partition;
} tp_key_t;

static int cmp_tp(const void *a, const void *b)
{
    const tp_key_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);

    if (c)
        return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

/* Finds a partition named twice (a topic may also be listed twice);
 * returns 1 and sets *dup when one is. O(n log n) in the partitions. */
static int find_duplicate(const qr_fetch_req_t *freq, tp_key_t *dup)
{
    size_t n = 0, k = 0;
    tp_key_t *keys;
    int found = 0;

    for (size_t t = 0; t < freq->topic_count; t++)
        n += freq->topics[t].partition_count;
    if (n < 2)
        return 0;
    keys = qr_malloc(n * sizeof(*keys));
    for (size_t t = 0; t < freq->topic_count; t++)
        for (size_t p = 0; p < freq->topics[t].partition_count; p++) {
            keys[k].topic = freq->topics[t].topic;
            keys[k++].partition = freq->topics[t].partitions[p].partition;
        }
    qsort(keys, n, sizeof(*keys), cmp_tp);
    for (size_t i = 1; i < n && !found; i++)
        if (cmp_tp(&keys[i - 1], &keys[i]) == 0) {
            *dup = keys[i];
            found = 1;
        }
    free(keys);
    return found;
}

static fetch_op_t *op_new(qr_reqctx_t *ctx)
{
    const qr_fetch_req_t *freq = &ctx->req->u.fetch;
    fetch_op_t *op = qr_calloc(1, sizeof(*op));
    size_t n = 0, k = 0;

    for (size_t t = 0; t < freq->topic_count; t++)
        n += freq->topics[t].partition_count;
    op->server = ctx->server;
    op->nt = ctx->nt;
    op->reply = ctx->reply;
    op->correlation_id = ctx->req->correlation_id;
    op->replica_id = freq->replica_id >= 0 ? freq->replica_id : -1;
    op->min_bytes = freq->min_bytes;
    op->max_bytes = freq->max_bytes > 0 ? freq->max_bytes : 1;
    op->max_wait_ms = freq->max_wait_ms;
    if (op->max_wait_ms > qr_server_conf(ctx->server)->fetch_max_wait_ms_cap)
        op->max_wait_ms = qr_server_conf(ctx->server)->fetch_max_wait_ms_cap;
    op->work.fn = on_work;
    op->parked.wake = on_drain;
    ev_init(&op->timer, on_timeout);
    op->timer.data = op;
    op->topic_cnt = freq->topic_count;
    op->part_cnt = n;
    op->names = qr_calloc(op->topic_cnt + 1, sizeof(*op->names));
    op->topics = qr_calloc(op->topic_cnt + 1, sizeof(*op->topics));
    op->presp = qr_calloc(n + 1, sizeof(*op->presp));
    op->parts = qr_calloc(n + 1, sizeof(*op->parts));
    for (size_t t = 0; t < freq->topic_count; t++) {
        const qr_fetch_topic_t *in = &freq->topics[t];
        op->names[t] = qr_strdup(in->topic);
        op->topics[t].topic = op->names[t];
        op->topics[t].partition_count = in->partition_count;
        op->topics[t].partitions = &op->presp[k];
        for (size_t p = 0; p < in->partition_count; p++, k++) {
            fetch_part_t *fp = &op->parts[k];
            fp->topic = op->names[t];
            fp->partition = in->partitions[p].partition;
            fp->fetch_offset = in->partitions[p].fetch_offset;
            fp->max_bytes = in->partitions[p].partition_max_bytes;
            fp->current_leader_epoch = in->partitions[p].current_leader_epoch;
            fp->synced_offset = in->partitions[p].replica_synced_offset;
            fp->resp = &op->presp[k];
            fp->resp->partition = fp->partition;
            fp->resp->high_watermark = -1;
            fp->resp->log_start_offset = -1;
            fp->waiter.nt = op->nt;
            fp->waiter.work = &op->work;
        }
    }
    return op;
}

/* What an op holds, for queued.max.request.bytes. */
static size_t op_size(const fetch_op_t *op)
{
    size_t n =
        sizeof(*op) +
        (op->topic_cnt + 1) * (sizeof(*op->names) + sizeof(*op->topics)) +
        (op->part_cnt + 1) * (sizeof(*op->presp) + sizeof(*op->parts));

    for (size_t t = 0; t < op->topic_cnt; t++)
        n += strlen(op->names[t]) + 1;
    return n;
}

void qr_api_fetch(qr_reqctx_t *ctx)
{
    const qr_fetch_req_t *freq = &ctx->req->u.fetch;
    fetch_op_t *op;
    tp_key_t dup;

    if (find_duplicate(freq, &dup)) {
        /* Kafka refuses such a request too: answering it would mean
         * waiting on one partition many times over (issue 17 item 3). */
        qr_conn_log_peer(ctx->conn,
                         "Fetch (correlation_id %d) names %s-%d more than "
                         "once; answering INVALID_REQUEST",
                         ctx->req->correlation_id, dup.topic, dup.partition);
        qr_request_fail(ctx->reply, QR_API_FETCH, ctx->req->correlation_id,
                        QUIRE_ERR_INVALID_REQUEST);
        return;
    }
    op = op_new(ctx);
    qr_reply_charge(op->reply, op_size(op));
    qr_reply_on_orphan(op->reply, on_orphan, op);
    qr_netthread_op_begin(ctx->nt);
    op->counted = 1;
    evaluate(op, 0);
}
