/*
 * api_kgroup: Kafka's group APIs on the broker (see api_kgroup.h).
 *
 * Threads: handlers run on the request's network thread. The state
 * machine (qr_kgc_t) is shared by every thread behind svc->lock; its
 * JoinGroup/SyncGroup callbacks run under that lock on whichever thread
 * completed them, copy the answer into the request's op and post the op
 * back to its own network thread (qr_netthread_post), which encodes and
 * completes the reply slot. ZooKeeper is used from the main loop only
 * (DESIGN.md §4, §5): an op that needs it is queued to the main loop
 * (svc->queue + ev_async) and posted back the same way when done. Lock
 * order: svc->lock, then a network thread's lock (posting); svc->qlock is
 * taken alone.
 *
 * An op is touched by one thread at a time: the handler's until it is
 * queued or handed to the state machine, then the main loop's or the
 * state machine's, then the handler's thread's again, which frees it.
 */
#include "config.h"

#include <ev.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api_kgroup.h"
#include "clock.h"
#include "conn.h"
#include "group.h"
#include "kgroupcoord.h"
#include "kwire.h"
#include "logging.h"
#include "meta.h"
#include "topic.h"
#include "zk.h"
#include "znode.h"

#define OP_MAGIC 0x6b67706fu /* "kgpo" */
/* The timer also re-checks which groups are still ours this often. */
#define RECHECK_MS 1000

typedef struct kgop kgop_t;

/* One partition's ZooKeeper read or write. */
typedef struct zpart {
    uint32_t magic;
    kgop_t *op;
    const char *topic;
    int32_t partition;
    int64_t *offset;    /* commit: the value; fetch: where it goes */
    const char **meta;  /* commit: the metadata; fetch: where it goes */
    quire_err_t *error; /* the partition's error code */
    int stage;          /* commit: set, create, set again */
} zpart_t;

struct kgop {
    qr_nt_work_t work; /* back to the request's thread */
    uint32_t magic;
    kgop_t *next; /* the main loop's queue */
    void (*main_fn)(kgop_t *op);
    qr_kgsvc_t *svc;
    qr_netthread_t *nt;
    qr_reply_t *reply;
    qr_api_t api;
    int16_t version;
    int32_t correlation_id;
    qr_karena_t *mem; /* the answer and copies of the request */
    qr_kgroup_resp_t resp;
    qr_kgc_join_req_t jreq; /* JoinGroup: kept for the main loop's check */
    const char *group;
    int pending; /* ZooKeeper requests out (main loop) */
    /* OffsetFetch of every topic: the topics' partition lists */
    qr_fetchoff_topic_resp_t *ftopics;
    size_t ftopic_cnt;
};

/* A group whose /consumers/<g>/kafka/<our id> we hold (znode.h,
 * QR_ZNODE_GROUP_KAFKA): from its first JoinGroup here until the timer
 * finds it gone from the state machine with no join on the way. */
typedef struct mark {
    struct mark *next;
    char *group;
    int64_t session; /* the ZooKeeper session it was created in */
    int joining;     /* first joins between the create and join_run */
} mark_t;

struct qr_kgsvc {
    qr_kgsvc_conf_t conf;
    qr_server_t *server;
    struct ev_loop *loop;
    pthread_mutex_t lock; /* kgc */
    qr_kgc_t *kgc;
    pthread_mutex_t qlock; /* the queue */
    kgop_t *qhead, **qtail;
    ev_async wake;
    ev_timer timer;
    qr_zk_t *zk;   /* main loop only */
    mark_t *marks; /* main loop only: our /consumers/<g>/kafka nodes */
    atomic_int attached;
    atomic_int closed;
};

/* ---- ops ---- */

static kgop_t *op_new(qr_reqctx_t *ctx)
{
    kgop_t *op = qr_calloc(1, sizeof(*op));
    op->magic = OP_MAGIC;
    op->svc = qr_server_kgroup(ctx->server);
    op->nt = ctx->nt;
    op->reply = ctx->reply;
    op->api = ctx->req->api;
    op->version = ctx->req->api_version;
    op->correlation_id = ctx->req->correlation_id;
    op->mem = qr_karena_new();
    return op;
}

static char *op_strdup(kgop_t *op, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *out = qr_karena_alloc(op->mem, n);
    memcpy(out, s, n);
    return out;
}

static uint8_t *op_memdup(kgop_t *op, const uint8_t *p, size_t n)
{
    uint8_t *out = qr_karena_alloc(op->mem, n);
    if (n)
        memcpy(out, p, n);
    return out;
}

static void respond(qr_reply_t *reply, qr_api_t api, int32_t correlation_id,
                    const qr_kgroup_resp_t *body)
{
    qr_resp_t resp = {0};
    resp.api = api;
    resp.correlation_id = correlation_id;
    resp.u.kgroup = *body;
    if (!qr_reply_orphaned(reply))
        (void)qr_request_respond(reply, &resp);
    qr_reply_ready(reply);
}

/* On the request's thread: answer and free. */
static void on_done(qr_nt_work_t *work)
{
    kgop_t *op = (kgop_t *)work;
    QR_ASSERT(op->magic == OP_MAGIC);
    respond(op->reply, op->api, op->correlation_id, &op->resp);
    op->magic = 0;
    qr_karena_free(op->mem);
    free(op);
}

/* From any thread: the answer in op->resp is complete. */
static void finish(kgop_t *op)
{
    op->work.fn = on_done;
    qr_netthread_post(op->nt, &op->work);
}

/* Wakes the main loop: queued ops, and the timer to re-arm. */
static void poke(qr_kgsvc_t *svc)
{
    ev_async_send(svc->loop, &svc->wake);
}

static void to_main(kgop_t *op, void (*fn)(kgop_t *op))
{
    qr_kgsvc_t *svc = op->svc;
    op->main_fn = fn;
    op->next = NULL;
    pthread_mutex_lock(&svc->qlock);
    *svc->qtail = op;
    svc->qtail = &op->next;
    pthread_mutex_unlock(&svc->qlock);
    poke(svc);
}

/* ---- which broker coordinates ---- */

/* Candidates are the live brokers with a Kafka listener: a Kafka client
 * can reach no other. */
static int32_t coordinator_of(const qr_meta_t *meta, const char *group)
{
    int32_t *v = qr_calloc(meta->broker_cnt + 1, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < meta->broker_cnt; i++)
        if (meta->brokers[i].kafka_port > 0)
            v[n++] = meta->brokers[i].id;
    int32_t id = qr_kgc_pick(v, n, group);
    free(v);
    return id;
}

/* Group ids become ZooKeeper path components. */
static int group_id_legal(const char *group)
{
    return !strchr(group, '/') && strcmp(group, ".") && strcmp(group, "..");
}

/* NONE when this broker coordinates @p group and can serve it. */
static quire_err_t check_group(qr_reqctx_t *ctx, const char *group)
{
    qr_kgsvc_t *svc = qr_server_kgroup(ctx->server);
    if (!group_id_legal(group))
        return QUIRE_ERR_INVALID_GROUP_ID;
    if (!atomic_load(&svc->attached) || atomic_load(&svc->closed))
        return QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
    qr_meta_t *meta = qr_server_meta(ctx->server);
    int32_t id = coordinator_of(meta, group);
    qr_meta_release(meta);
    if (id < 0)
        return QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
    return id == qr_server_info(ctx->server)->broker_id
               ? QUIRE_ERR_NONE
               : QUIRE_ERR_NOT_COORDINATOR;
}

static int still_ours(void *arg, const char *group)
{
    qr_kgsvc_t *svc = arg;
    qr_meta_t *meta = qr_server_meta(svc->server);
    int32_t id = coordinator_of(meta, group);
    qr_meta_release(meta);
    /* no brokers seen (a ZooKeeper hiccup): keep what we have */
    return id < 0 || id == qr_server_info(svc->server)->broker_id;
}

/* ---- FindCoordinator ---- */

void qr_api_find_coordinator(qr_reqctx_t *ctx)
{
    const qr_find_coord_req_t *in = &ctx->req->u.kgroup.find_coord;
    qr_kgroup_resp_t body = {0};
    qr_find_coord_resp_t *out = &body.find_coord;
    qr_meta_t *meta = qr_server_meta(ctx->server);
    out->node_id = -1;
    out->host = "";
    out->port = -1;
    if (in->key_type != 0) {
        out->error_code = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
        out->error_message = "transactions are not supported";
    } else if (!group_id_legal(in->key)) {
        out->error_code = QUIRE_ERR_INVALID_GROUP_ID;
        out->error_message = "a group id must not contain '/' or be . or ..";
    } else {
        int32_t id = coordinator_of(meta, in->key);
        const qr_meta_broker_t *b = qr_meta_broker_find(meta, id);
        if (!b) {
            out->error_code = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
        } else {
            out->node_id = b->id;
            out->host = b->host;
            out->port = b->kafka_port;
        }
    }
    respond(ctx->reply, QR_API_FIND_COORDINATOR, ctx->req->correlation_id,
            &body);
    qr_meta_release(meta);
}

/* ---- JoinGroup ---- */

/* Runs under svc->lock, on any thread. */
static void on_join_res(void *arg, const qr_kgc_join_res_t *res)
{
    kgop_t *op = arg;
    qr_join_group_resp_t *out = &op->resp.join;
    QR_ASSERT(op->magic == OP_MAGIC);
    out->error_code = res->error_code;
    out->generation_id = res->generation_id;
    out->protocol_name = op_strdup(op, res->protocol_name);
    out->leader = op_strdup(op, res->leader_id);
    out->member_id = op_strdup(op, res->member_id);
    qr_join_member_t *ms =
        qr_karena_alloc(op->mem, res->member_count * sizeof(*ms) + 1);
    for (size_t i = 0; i < res->member_count; i++) {
        const qr_kgc_join_member_t *m = &res->members[i];
        ms[i].member_id = op_strdup(op, m->member_id);
        ms[i].group_instance_id = op_strdup(op, m->group_instance_id);
        ms[i].metadata = op_memdup(op, m->metadata, m->metadata_len);
        ms[i].metadata_len = m->metadata_len;
    }
    out->member_count = res->member_count;
    out->members = ms;
    finish(op);
}

static void join_fail(kgop_t *op, quire_err_t err)
{
    qr_kgc_join_res_t res = {.error_code = err,
                             .generation_id = -1,
                             .protocol_name = "",
                             .leader_id = "",
                             .member_id = op->jreq.member_id};
    on_join_res(op, &res);
}

static void join_run(kgop_t *op)
{
    qr_kgsvc_t *svc = op->svc;
    if (atomic_load(&svc->closed)) { /* nothing may wait once closed */
        join_fail(op, QUIRE_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    pthread_mutex_lock(&svc->lock);
    qr_kgc_join(svc->kgc, &op->jreq, qr_clock_mono_ms(), on_join_res, op);
    pthread_mutex_unlock(&svc->lock);
    poke(svc);
}

static char *group_path(const char *group, const char *a, const char *b,
                        int32_t partition)
{
    size_t n = strlen(QR_ZNODE_CONSUMERS) + strlen(group) + 64 +
               (a ? strlen(a) : 0) + (b ? strlen(b) : 0);
    char *p = qr_malloc(n);
    int len = snprintf(p, n, "%s/%s", QR_ZNODE_CONSUMERS, group);
    if (a)
        len += snprintf(p + len, n - (size_t)len, "/%s", a);
    if (b)
        len += snprintf(p + len, n - (size_t)len, "/%s", b);
    if (partition >= 0)
        snprintf(p + len, n - (size_t)len, "/%d", (int)partition);
    return p;
}

/* ---- the group's mark in ZooKeeper (mixed groups refused) ---- */

static mark_t *mark_find(qr_kgsvc_t *svc, const char *group)
{
    for (mark_t *mk = svc->marks; mk; mk = mk->next)
        if (!strcmp(mk->group, group))
            return mk;
    return NULL;
}

/* Creates our node under /consumers/<g>/kafka (and its parents); an
 * existing one is fine. Main loop. */
static void mark_create(qr_kgsvc_t *svc, mark_t *mk)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", (int)qr_server_info(svc->server)->broker_id);
    char *p1 = group_path(mk->group, NULL, NULL, -1);
    char *p2 = group_path(mk->group, QR_ZNODE_GROUP_KAFKA, NULL, -1);
    char *p3 = group_path(mk->group, QR_ZNODE_GROUP_KAFKA, id, -1);
    /* one session, processed in order: the parents exist by the last */
    qr_zk_create(svc->zk, QR_ZNODE_CONSUMERS, NULL, -1, 0, NULL, svc, NULL);
    qr_zk_create(svc->zk, p1, NULL, -1, 0, NULL, svc, NULL);
    qr_zk_create(svc->zk, p2, NULL, -1, 0, NULL, svc, NULL);
    qr_zk_create(svc->zk, p3, NULL, -1, ZOO_EPHEMERAL, NULL, svc, NULL);
    mk->session = qr_zk_session_id(svc->zk);
    free(p1);
    free(p2);
    free(p3);
}

static mark_t *mark_take(qr_kgsvc_t *svc, const char *group)
{
    mark_t *mk = mark_find(svc, group);
    if (!mk) {
        mk = qr_calloc(1, sizeof(*mk));
        mk->group = qr_strdup(group);
        mk->next = svc->marks;
        svc->marks = mk;
    }
    if (mk->session != qr_zk_session_id(svc->zk))
        mark_create(svc, mk);
    return mk;
}

typedef struct group_list {
    char **v;
    size_t n, cap;
} group_list_t;

static void list_collect(void *arg, const char *group_id,
                         const char *protocol_type, const char *state)
{
    group_list_t *l = arg;
    (void)protocol_type;
    (void)state;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = qr_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = qr_strdup(group_id);
}

/* Main loop, from the timer: every group the state machine holds has its
 * node in the current session (a new session lost them all), and the
 * nodes of groups gone from it are deleted. */
static void marks_sync(qr_kgsvc_t *svc)
{
    if (!svc->zk || !atomic_load(&svc->attached))
        return;
    group_list_t l = {0};
    pthread_mutex_lock(&svc->lock);
    qr_kgc_list(svc->kgc, list_collect, &l);
    pthread_mutex_unlock(&svc->lock);
    for (size_t i = 0; i < l.n; i++)
        mark_take(svc, l.v[i]);
    for (mark_t **pp = &svc->marks; *pp;) {
        mark_t *mk = *pp;
        int held = mk->joining > 0;
        for (size_t i = 0; i < l.n && !held; i++)
            held = !strcmp(l.v[i], mk->group);
        if (held) {
            pp = &mk->next;
            continue;
        }
        char id[16];
        snprintf(id, sizeof(id), "%d",
                 (int)qr_server_info(svc->server)->broker_id);
        char *path = group_path(mk->group, QR_ZNODE_GROUP_KAFKA, id, -1);
        qr_zk_delete(svc->zk, path, -1, NULL, svc, NULL);
        free(path);
        *pp = mk->next;
        free(mk->group);
        free(mk);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
}

static void marks_free(qr_kgsvc_t *svc)
{
    while (svc->marks) {
        mark_t *mk = svc->marks;
        svc->marks = mk->next;
        free(mk->group);
        free(mk);
    }
}

/* Main loop: the first join of a group here, with our node created,
 * checks for ZooKeeper members (checked after the create: see znode.h). */
static void on_ids(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg)
{
    kgop_t *op = arg;
    qr_kgsvc_t *svc = owner;
    (void)zk;
    QR_ASSERT(op->magic == OP_MAGIC);
    mark_t *mk = mark_find(svc, op->group);
    if (mk)
        mk->joining--;
    if (res->rc == ZOK && res->children && res->children->count > 0) {
        QR_LOG_WARN("KGROUP",
                    "group %s: JoinGroup refused: the group has "
                    "%d ZooKeeper-coordinated members (/consumers/%s/ids); "
                    "a group id is used by one kind of consumer at a time",
                    op->group, (int)res->children->count, op->group);
        join_fail(op, QUIRE_ERR_INCONSISTENT_GROUP_PROTOCOL);
        return; /* the timer deletes our node if no member is left */
    }
    if (res->rc != ZOK && res->rc != ZNONODE) {
        join_fail(op, QUIRE_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    join_run(op);
}

static void join_check(kgop_t *op)
{
    qr_kgsvc_t *svc = op->svc;
    if (!svc->zk) {
        join_fail(op, QUIRE_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    mark_t *mk = mark_take(svc, op->group);
    char *path = group_path(op->group, "ids", NULL, -1);
    quire_err_t err = qr_zk_children(svc->zk, path, NULL, on_ids, svc, op);
    free(path);
    if (err != QUIRE_ERR_NONE)
        join_fail(op, QUIRE_ERR_COORDINATOR_NOT_AVAILABLE);
    else
        mk->joining++;
}

/* "/127.0.0.1" from "127.0.0.1:5555", as Kafka shows client hosts. */
static const char *client_host(kgop_t *op, qr_conn_t *conn)
{
    const char *peer = qr_conn_peer(conn);
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    char *out = qr_karena_alloc(op->mem, n + 2);
    out[0] = '/';
    memcpy(out + 1, peer, n);
    return out;
}

void qr_api_join_group(qr_reqctx_t *ctx)
{
    const qr_join_group_req_t *in = &ctx->req->u.kgroup.join;
    kgop_t *op = op_new(ctx);
    qr_kgc_join_req_t *j = &op->jreq;
    j->group_id = op->group = op_strdup(op, in->group_id);
    j->member_id = op_strdup(op, in->member_id);
    j->group_instance_id = op_strdup(op, in->group_instance_id);
    j->client_id = op_strdup(op, ctx->req->client_id);
    j->client_host = client_host(op, ctx->conn);
    j->session_timeout_ms = in->session_timeout_ms;
    j->rebalance_timeout_ms = in->rebalance_timeout_ms;
    j->protocol_type = op_strdup(op, in->protocol_type);
    qr_kgc_protocol_t *ps =
        qr_karena_alloc(op->mem, in->protocol_count * sizeof(*ps) + 1);
    for (size_t i = 0; i < in->protocol_count; i++) {
        ps[i].name = op_strdup(op, in->protocols[i].name);
        ps[i].metadata = op_memdup(op, in->protocols[i].metadata,
                                   in->protocols[i].metadata_len);
        ps[i].metadata_len = in->protocols[i].metadata_len;
    }
    j->protocol_count = in->protocol_count;
    j->protocols = ps;
    j->require_known_member_id = ctx->req->api_version >= 4;

    quire_err_t err = check_group(ctx, in->group_id);
    if (err != QUIRE_ERR_NONE) {
        join_fail(op, err);
        return;
    }
    qr_kgsvc_t *svc = op->svc;
    pthread_mutex_lock(&svc->lock);
    int known = in->group_id[0] && qr_kgc_has_group(svc->kgc, in->group_id);
    pthread_mutex_unlock(&svc->lock);
    if (known || in->group_id[0] == '\0')
        join_run(op);
    else
        to_main(op, join_check);
}

/* ---- SyncGroup ---- */

static void on_sync_res(void *arg, quire_err_t err, const uint8_t *a,
                        size_t len)
{
    kgop_t *op = arg;
    QR_ASSERT(op->magic == OP_MAGIC);
    op->resp.sync.error_code = err;
    op->resp.sync.assignment = op_memdup(op, a, len);
    op->resp.sync.assignment_len = len;
    finish(op);
}

void qr_api_sync_group(qr_reqctx_t *ctx)
{
    const qr_sync_group_req_t *in = &ctx->req->u.kgroup.sync;
    kgop_t *op = op_new(ctx);
    quire_err_t err = check_group(ctx, in->group_id);
    if (err != QUIRE_ERR_NONE) {
        on_sync_res(op, err, NULL, 0);
        return;
    }
    qr_kgc_assignment_t *as =
        qr_karena_alloc(op->mem, in->assignment_count * sizeof(*as) + 1);
    for (size_t i = 0; i < in->assignment_count; i++) {
        as[i].member_id = in->assignments[i].member_id;
        as[i].assignment = in->assignments[i].assignment;
        as[i].len = in->assignments[i].assignment_len;
    }
    qr_kgc_sync_req_t req = {.group_id = in->group_id,
                             .generation_id = in->generation_id,
                             .member_id = in->member_id,
                             .group_instance_id = in->group_instance_id,
                             .assignment_count = in->assignment_count,
                             .assignments = as};
    qr_kgsvc_t *svc = op->svc;
    pthread_mutex_lock(&svc->lock);
    qr_kgc_sync(svc->kgc, &req, qr_clock_mono_ms(), on_sync_res, op);
    pthread_mutex_unlock(&svc->lock);
    poke(svc);
}

/* ---- Heartbeat, LeaveGroup ---- */

void qr_api_heartbeat(qr_reqctx_t *ctx)
{
    const qr_heartbeat_req_t *in = &ctx->req->u.kgroup.heartbeat;
    qr_kgroup_resp_t body = {0};
    qr_kgsvc_t *svc = qr_server_kgroup(ctx->server);
    quire_err_t err = check_group(ctx, in->group_id);
    if (err == QUIRE_ERR_NONE) {
        pthread_mutex_lock(&svc->lock);
        err = qr_kgc_heartbeat(svc->kgc, in->group_id, in->member_id,
                               in->group_instance_id, in->generation_id,
                               qr_clock_mono_ms());
        pthread_mutex_unlock(&svc->lock);
        poke(svc);
    }
    body.heartbeat.error_code = err;
    respond(ctx->reply, QR_API_HEARTBEAT, ctx->req->correlation_id, &body);
}

void qr_api_leave_group(qr_reqctx_t *ctx)
{
    const qr_leave_group_req_t *in = &ctx->req->u.kgroup.leave;
    qr_kgroup_resp_t body = {0};
    qr_kgsvc_t *svc = qr_server_kgroup(ctx->server);
    qr_leave_member_t *ms = qr_calloc(in->member_count + 1, sizeof(*ms));
    quire_err_t err = check_group(ctx, in->group_id);
    for (size_t i = 0; i < in->member_count; i++) {
        ms[i] = in->members[i];
        ms[i].error_code = err;
        if (err != QUIRE_ERR_NONE)
            continue;
        pthread_mutex_lock(&svc->lock);
        ms[i].error_code =
            qr_kgc_leave(svc->kgc, in->group_id, ms[i].member_id,
                         ms[i].group_instance_id, qr_clock_mono_ms());
        pthread_mutex_unlock(&svc->lock);
        poke(svc);
    }
    /* v0-v2 carry one member, its error at the top; v3+ per member */
    if (ctx->req->api_version < 3 && in->member_count > 0)
        err = ms[0].error_code;
    body.leave.error_code = err;
    body.leave.member_count = in->member_count;
    body.leave.members = ms;
    respond(ctx->reply, QR_API_LEAVE_GROUP, ctx->req->correlation_id, &body);
    free(ms);
}

/* ---- OffsetCommit ---- */

enum { STAGE_SET, STAGE_CREATE, STAGE_SET_AGAIN };

static void zpart_done(zpart_t *zp)
{
    kgop_t *op = zp->op;
    if (--op->pending == 0)
        finish(op);
}

static void on_commit_write(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                            void *arg);

static quire_err_t commit_write(qr_zk_t *zk, zpart_t *zp)
{
    int len;
    char *data = qr_group_offset_encode(*zp->offset, *zp->meta, &len);
    const char *g = zp->op->group;
    char *path = group_path(g, "offsets", zp->topic, zp->partition);
    quire_err_t err;
    if (zp->stage == STAGE_CREATE) {
        /* the parents first: one session, processed in order */
        char *p1 = group_path(g, NULL, NULL, -1);
        char *p2 = group_path(g, "offsets", NULL, -1);
        char *p3 = group_path(g, "offsets", zp->topic, -1);
        qr_zk_create(zk, QR_ZNODE_CONSUMERS, NULL, -1, 0, NULL, NULL, NULL);
        qr_zk_create(zk, p1, NULL, -1, 0, NULL, NULL, NULL);
        qr_zk_create(zk, p2, NULL, -1, 0, NULL, NULL, NULL);
        qr_zk_create(zk, p3, NULL, -1, 0, NULL, NULL, NULL);
        free(p1);
        free(p2);
        free(p3);
        err = qr_zk_create(zk, path, data, len, 0, on_commit_write, zp->op->svc,
                           zp);
    } else {
        err = qr_zk_set(zk, path, data, len, -1, on_commit_write, zp->op->svc,
                        zp);
    }
    free(path);
    free(data);
    return err;
}

static void on_commit_write(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                            void *arg)
{
    zpart_t *zp = arg;
    (void)owner;
    QR_ASSERT(zp->magic == OP_MAGIC);
    int again = (res->rc == ZNONODE && zp->stage == STAGE_SET) ||
                (res->rc == ZNODEEXISTS && zp->stage == STAGE_CREATE);
    if (again) {
        zp->stage = zp->stage == STAGE_SET ? STAGE_CREATE : STAGE_SET_AGAIN;
        if (commit_write(zk, zp) == QUIRE_ERR_NONE)
            return;
        *zp->error = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
    } else if (res->rc != ZOK) {
        QR_LOG_WARN("KGROUP", "group %s: commit of %s-%d failed: %s",
                    zp->op->group, zp->topic, (int)zp->partition,
                    zerror(res->rc));
        *zp->error = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    zpart_done(zp);
}

/* Issues one ZooKeeper request per partition still without an error. */
static void issue_parts(kgop_t *op, zpart_t *zps, size_t n,
                        quire_err_t (*issue)(qr_zk_t *zk, zpart_t *zp))
{
    qr_zk_t *zk = op->svc->zk;
    op->pending = 1; /* held until every request is out */
    for (size_t i = 0; i < n; i++) {
        if (*zps[i].error != QUIRE_ERR_NONE)
            continue;
        if (zk && issue(zk, &zps[i]) == QUIRE_ERR_NONE)
            op->pending++;
        else
            *zps[i].error = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (--op->pending == 0)
        finish(op);
}

/* The partitions of a commit or fetch answer, as zpart_t in the arena. */
static zpart_t *zparts_commit(kgop_t *op, size_t *n)
{
    const qr_offset_commit_resp_t *c = &op->resp.commit;
    size_t cnt = 0, k = 0;
    for (size_t t = 0; t < c->topic_count; t++)
        cnt += c->topics[t].partition_count;
    zpart_t *zps = qr_karena_alloc(op->mem, cnt * sizeof(*zps) + 1);
    for (size_t t = 0; t < c->topic_count; t++) {
        qr_commit_part_t *ps = (qr_commit_part_t *)c->topics[t].partitions;
        for (size_t p = 0; p < c->topics[t].partition_count; p++, k++)
            zps[k] = (zpart_t){.magic = OP_MAGIC,
                               .op = op,
                               .topic = c->topics[t].name,
                               .partition = ps[p].partition,
                               .offset = &ps[p].committed_offset,
                               .meta = &ps[p].committed_metadata,
                               .error = &ps[p].error_code};
    }
    *n = cnt;
    return zps;
}

static void commit_main(kgop_t *op)
{
    size_t n;
    zpart_t *zps = zparts_commit(op, &n);
    issue_parts(op, zps, n, commit_write);
}

/* A partition's error before ZooKeeper is asked: its topic must exist. */
static quire_err_t part_check(const qr_meta_t *meta, const char *topic,
                              int32_t partition)
{
    const char *why;
    if (qr_topic_name_check(topic, strlen(topic), &why) != QUIRE_ERR_NONE)
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    if (!qr_meta_part_find(meta, topic, partition))
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    return QUIRE_ERR_NONE;
}

void qr_api_offset_commit(qr_reqctx_t *ctx)
{
    const qr_offset_commit_req_t *in = &ctx->req->u.kgroup.commit;
    kgop_t *op = op_new(ctx);
    qr_kgsvc_t *svc = op->svc;
    op->group = op_strdup(op, in->group_id);
    quire_err_t err = check_group(ctx, in->group_id);
    if (err == QUIRE_ERR_NONE) {
        pthread_mutex_lock(&svc->lock);
        err = qr_kgc_commit_check(svc->kgc, in->group_id, in->member_id,
                                  in->group_instance_id, in->generation_id,
                                  qr_clock_mono_ms());
        pthread_mutex_unlock(&svc->lock);
    }
    qr_meta_t *meta = qr_server_meta(ctx->server);
    qr_commit_topic_t *ts =
        qr_karena_alloc(op->mem, in->topic_count * sizeof(*ts) + 1);
    for (size_t t = 0; t < in->topic_count; t++) {
        const qr_commit_topic_t *it = &in->topics[t];
        size_t pn = it->partition_count;
        qr_commit_part_t *ps = qr_karena_alloc(op->mem, pn * sizeof(*ps) + 1);
        for (size_t p = 0; p < pn; p++) {
            ps[p] = it->partitions[p];
            ps[p].committed_metadata = op_strdup(op, ps[p].committed_metadata);
            ps[p].error_code =
                err != QUIRE_ERR_NONE
                    ? err
                    : part_check(meta, it->name, ps[p].partition);
            if (ps[p].error_code == QUIRE_ERR_NONE &&
                ps[p].committed_metadata &&
                strlen(ps[p].committed_metadata) >
                    (size_t)svc->conf.offset_metadata_max_bytes)
                ps[p].error_code = QUIRE_ERR_OFFSET_METADATA_TOO_LARGE;
        }
        ts[t].name = op_strdup(op, it->name);
        ts[t].partition_count = pn;
        ts[t].partitions = ps;
    }
    qr_meta_release(meta);
    op->resp.commit.topic_count = in->topic_count;
    op->resp.commit.topics = ts;
    if (err != QUIRE_ERR_NONE)
        finish(op);
    else
        to_main(op, commit_main);
}

/* ---- OffsetFetch ---- */

static void on_fetch_get(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                         void *arg)
{
    zpart_t *zp = arg;
    (void)zk;
    (void)owner;
    QR_ASSERT(zp->magic == OP_MAGIC);
    if (res->rc == ZOK) {
        int64_t v;
        const char *m;
        size_t mn;
        if (qr_group_offset_decode_meta(res->data, res->len, &v, &m, &mn) ==
            QUIRE_ERR_NONE) {
            char *meta = qr_karena_alloc(zp->op->mem, mn + 1);
            memcpy(meta, m, mn);
            meta[mn] = '\0';
            *zp->offset = v;
            *zp->meta = meta;
        } else {
            QR_LOG_WARN("KGROUP",
                        "group %s: %s-%d: committed offset \"%.*s\" "
                        "is not a number; answering none",
                        zp->op->group, zp->topic, (int)zp->partition,
                        res->len > 32 ? 32 : (res->len > 0 ? res->len : 0),
                        res->data ? res->data : "");
        }
    } else if (res->rc != ZNONODE) {
        *zp->error = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    zpart_done(zp);
}

static quire_err_t fetch_get(qr_zk_t *zk, zpart_t *zp)
{
    char *path = group_path(zp->op->group, "offsets", zp->topic, zp->partition);
    quire_err_t err = qr_zk_get(zk, path, NULL, on_fetch_get, zp->op->svc, zp);
    free(path);
    return err;
}

static void fetch_main(kgop_t *op)
{
    const qr_offset_fetch_resp_t *f = &op->resp.fetch;
    size_t cnt = 0, k = 0;
    for (size_t t = 0; t < f->topic_count; t++)
        cnt += f->topics[t].partition_count;
    zpart_t *zps = qr_karena_alloc(op->mem, cnt * sizeof(*zps) + 1);
    for (size_t t = 0; t < f->topic_count; t++) {
        qr_fetchoff_part_t *ps = (qr_fetchoff_part_t *)f->topics[t].partitions;
        for (size_t p = 0; p < f->topics[t].partition_count; p++, k++)
            zps[k] = (zpart_t){.magic = OP_MAGIC,
                               .op = op,
                               .topic = f->topics[t].name,
                               .partition = ps[p].partition,
                               .offset = &ps[p].committed_offset,
                               .meta = &ps[p].metadata,
                               .error = &ps[p].error_code};
    }
    issue_parts(op, zps, cnt, fetch_get);
}

static qr_fetchoff_part_t *fetch_parts(kgop_t *op, size_t n)
{
    qr_fetchoff_part_t *ps = qr_karena_alloc(op->mem, n * sizeof(*ps) + 1);
    for (size_t p = 0; p < n; p++) {
        ps[p].committed_offset = -1;
        ps[p].committed_leader_epoch = -1;
        ps[p].metadata = "";
    }
    return ps;
}

/* Every topic: list offsets/, then each topic's partitions, then read. */
static void on_topic_parts(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                           void *arg)
{
    zpart_t *zp = arg; /* here: the topic at index zp->partition */
    kgop_t *op = zp->op;
    (void)zk;
    (void)owner;
    QR_ASSERT(zp->magic == OP_MAGIC);
    qr_fetchoff_topic_resp_t *t = &op->ftopics[zp->partition];
    size_t n = res->rc == ZOK && res->children ? res->children->count : 0;
    qr_fetchoff_part_t *ps = fetch_parts(op, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *end;
        long v = strtol(res->children->data[i], &end, 10);
        if (*end == '\0' && v >= 0 && v <= INT32_MAX)
            ps[k++].partition = (int32_t)v;
    }
    t->partition_count = k;
    t->partitions = ps;
    if (--op->pending == 0)
        fetch_main(op);
}

static void on_topics(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    kgop_t *op = arg;
    (void)owner;
    QR_ASSERT(op->magic == OP_MAGIC);
    if (res->rc != ZOK && res->rc != ZNONODE)
        op->resp.fetch.error_code = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
    size_t n = res->rc == ZOK && res->children ? res->children->count : 0;
    op->ftopics = qr_karena_alloc(op->mem, n * sizeof(*op->ftopics) + 1);
    op->ftopic_cnt = n;
    op->resp.fetch.topic_count = n;
    op->resp.fetch.topics = op->ftopics;
    op->pending = 1;
    for (size_t i = 0; i < n; i++) {
        op->ftopics[i].name = op_strdup(op, res->children->data[i]);
        zpart_t *zp = qr_karena_alloc(op->mem, sizeof(*zp));
        *zp = (zpart_t){.magic = OP_MAGIC, .op = op, .partition = (int32_t)i};
        char *path = group_path(op->group, "offsets", op->ftopics[i].name, -1);
        if (qr_zk_children(zk, path, NULL, on_topic_parts, op->svc, zp) ==
            QUIRE_ERR_NONE)
            op->pending++;
        else
            op->resp.fetch.error_code = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
        free(path);
    }
    if (--op->pending == 0)
        fetch_main(op);
}

static void fetch_all_main(kgop_t *op)
{
    qr_kgsvc_t *svc = op->svc;
    char *path = group_path(op->group, "offsets", NULL, -1);
    quire_err_t err =
        svc->zk ? qr_zk_children(svc->zk, path, NULL, on_topics, svc, op)
                : QUIRE_ERR_ZK_CONNECTION_LOSS;
    free(path);
    if (err != QUIRE_ERR_NONE) {
        op->resp.fetch.error_code = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
        finish(op);
    }
}

void qr_api_offset_fetch(qr_reqctx_t *ctx)
{
    const qr_offset_fetch_req_t *in = &ctx->req->u.kgroup.fetch;
    kgop_t *op = op_new(ctx);
    op->group = op_strdup(op, in->group_id);
    quire_err_t err = check_group(ctx, in->group_id);
    qr_fetchoff_topic_resp_t *ts =
        qr_karena_alloc(op->mem, in->topic_count * sizeof(*ts) + 1);
    for (size_t t = 0; t < in->topic_count; t++) {
        size_t pn = in->topics[t].partition_count;
        qr_fetchoff_part_t *ps = fetch_parts(op, pn);
        for (size_t p = 0; p < pn; p++) {
            ps[p].partition = in->topics[t].partitions[p];
            ps[p].error_code = err;
        }
        ts[t].name = op_strdup(op, in->topics[t].name);
        ts[t].partition_count = pn;
        ts[t].partitions = ps;
    }
    op->resp.fetch.topic_count = in->topic_count;
    op->resp.fetch.topics = ts;
    op->resp.fetch.error_code = err;
    if (err != QUIRE_ERR_NONE)
        finish(op);
    else if (in->all_topics)
        to_main(op, fetch_all_main);
    else
        to_main(op, fetch_main);
}

/* ---- DescribeGroups, ListGroups ---- */

void qr_api_describe_groups(qr_reqctx_t *ctx)
{
    const qr_describe_groups_req_t *in = &ctx->req->u.kgroup.describe;
    qr_kgsvc_t *svc = qr_server_kgroup(ctx->server);
    qr_karena_t *mem = qr_karena_new();
    qr_kgroup_resp_t body = {0};
    qr_described_group_t *gs =
        qr_karena_alloc(mem, in->group_count * sizeof(*gs) + 1);
    for (size_t i = 0; i < in->group_count; i++) {
        qr_described_group_t *g = &gs[i];
        qr_kgc_desc_t d;
        g->group_id = in->groups[i];
        g->group_state = "Dead";
        g->protocol_type = g->protocol_data = "";
        g->error_code = check_group(ctx, in->groups[i]);
        if (g->error_code != QUIRE_ERR_NONE)
            continue;
        pthread_mutex_lock(&svc->lock);
        qr_kgc_describe(svc->kgc, in->groups[i], &d);
        /* the strings are static or kgc's: copy them before unlocking */
        size_t n = d.member_count;
        qr_described_member_t *ms = qr_karena_alloc(mem, n * sizeof(*ms) + 1);
        for (size_t k = 0; k < n; k++) {
            const qr_kgc_desc_member_t *m = &d.members[k];
            kgop_t tmp = {.mem = mem};
            ms[k].member_id = op_strdup(&tmp, m->member_id);
            ms[k].group_instance_id = op_strdup(&tmp, m->group_instance_id);
            ms[k].client_id = op_strdup(&tmp, m->client_id);
            ms[k].client_host = op_strdup(&tmp, m->client_host);
            ms[k].member_metadata =
                op_memdup(&tmp, m->metadata, m->metadata_len);
            ms[k].member_metadata_len = m->metadata_len;
            ms[k].member_assignment =
                op_memdup(&tmp, m->assignment, m->assignment_len);
            ms[k].member_assignment_len = m->assignment_len;
        }
        kgop_t tmp = {.mem = mem};
        g->group_state = op_strdup(&tmp, d.state);
        g->protocol_type = op_strdup(&tmp, d.protocol_type);
        g->protocol_data = op_strdup(&tmp, d.protocol);
        pthread_mutex_unlock(&svc->lock);
        g->member_count = n;
        g->members = ms;
    }
    body.describe.group_count = in->group_count;
    body.describe.groups = gs;
    respond(ctx->reply, QR_API_DESCRIBE_GROUPS, ctx->req->correlation_id,
            &body);
    qr_karena_free(mem);
}

typedef struct listing {
    kgop_t tmp; /* only its arena */
    qr_listed_group_t *v;
    size_t n, cap;
} listing_t;

static void list_one(void *arg, const char *group_id, const char *protocol_type,
                     const char *state)
{
    listing_t *l = arg;
    (void)state;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = qr_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n].group_id = op_strdup(&l->tmp, group_id);
    l->v[l->n].protocol_type = op_strdup(&l->tmp, protocol_type);
    l->n++;
}

void qr_api_list_groups(qr_reqctx_t *ctx)
{
    qr_kgsvc_t *svc = qr_server_kgroup(ctx->server);
    listing_t l = {.tmp = {.mem = qr_karena_new()}};
    qr_kgroup_resp_t body = {0};
    if (!atomic_load(&svc->attached)) {
        body.list.error_code = QUIRE_ERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        pthread_mutex_lock(&svc->lock);
        qr_kgc_list(svc->kgc, list_one, &l);
        pthread_mutex_unlock(&svc->lock);
    }
    body.list.group_count = l.n;
    body.list.groups = l.v;
    respond(ctx->reply, QR_API_LIST_GROUPS, ctx->req->correlation_id, &body);
    free(l.v);
    qr_karena_free(l.tmp.mem);
}

/* ---- the main loop's side ---- */

static void rearm(qr_kgsvc_t *svc)
{
    if (atomic_load(&svc->closed))
        return;
    pthread_mutex_lock(&svc->lock);
    int64_t at = qr_kgc_next_deadline(svc->kgc);
    pthread_mutex_unlock(&svc->lock);
    int64_t now = qr_clock_mono_ms(), in = RECHECK_MS;
    if (at != INT64_MAX && at - now < in)
        in = at - now < 0 ? 0 : at - now;
    ev_timer_stop(svc->loop, &svc->timer);
    ev_timer_set(&svc->timer, (double)in / 1000.0, 0.);
    ev_timer_start(svc->loop, &svc->timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_kgsvc_t *svc = w->data;
    (void)loop;
    (void)revents;
    pthread_mutex_lock(&svc->lock);
    qr_kgc_tick(svc->kgc, qr_clock_mono_ms());
    qr_kgc_unload_if(svc->kgc, still_ours, svc);
    pthread_mutex_unlock(&svc->lock);
    marks_sync(svc);
    rearm(svc);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    qr_kgsvc_t *svc = w->data;
    (void)loop;
    (void)revents;
    pthread_mutex_lock(&svc->qlock);
    kgop_t *op = svc->qhead;
    svc->qhead = NULL;
    svc->qtail = &svc->qhead;
    pthread_mutex_unlock(&svc->qlock);
    while (op) {
        kgop_t *next = op->next;
        op->main_fn(op);
        op = next;
    }
    rearm(svc);
}

qr_kgsvc_t *qr_kgsvc_new(struct ev_loop *loop, qr_server_t *server,
                         const qr_kgsvc_conf_t *conf)
{
    qr_kgsvc_t *svc = qr_calloc(1, sizeof(*svc));
    uint64_t seed = (uint64_t)qr_clock_real_ms() ^
                    ((uint64_t)(uint32_t)conf->broker_id << 40) ^
                    (uint64_t)qr_clock_mono_ns();
    qr_kgc_conf_t kconf = {
        .min_session_timeout_ms = conf->min_session_timeout_ms,
        .max_session_timeout_ms = conf->max_session_timeout_ms,
        .initial_rebalance_delay_ms = conf->initial_rebalance_delay_ms,
        .member_id_seed = seed};
    svc->conf = *conf;
    svc->server = server;
    svc->loop = loop;
    svc->kgc = qr_kgc_new(&kconf);
    pthread_mutex_init(&svc->lock, NULL);
    pthread_mutex_init(&svc->qlock, NULL);
    svc->qtail = &svc->qhead;
    ev_async_init(&svc->wake, on_wake);
    svc->wake.data = svc;
    ev_async_start(loop, &svc->wake);
    ev_timer_init(&svc->timer, on_timer, RECHECK_MS / 1000.0, 0.);
    svc->timer.data = svc;
    ev_timer_start(loop, &svc->timer);
    return svc;
}

void qr_kgsvc_attach(qr_kgsvc_t *svc, qr_zk_t *zk)
{
    svc->zk = zk;
    atomic_store(&svc->attached, 1);
}

static int keep_nothing(void *arg, const char *group_id)
{
    (void)arg;
    (void)group_id;
    return 0;
}

void qr_kgsvc_close(qr_kgsvc_t *svc)
{
    atomic_store(&svc->closed, 1);
    pthread_mutex_lock(&svc->lock);
    qr_kgc_unload_if(svc->kgc, keep_nothing, NULL);
    pthread_mutex_unlock(&svc->lock);
    ev_timer_stop(svc->loop, &svc->timer);
}

void qr_kgsvc_detach(qr_kgsvc_t *svc)
{
    atomic_store(&svc->attached, 0);
    svc->zk = NULL;
    marks_free(svc); /* the nodes go with the session */
}

void qr_kgsvc_destroy(qr_kgsvc_t *svc)
{
    if (!svc)
        return;
    /* after qr_kgsvc_close() and the threads' drain nothing should wait;
     * an op still queued has no thread to answer on any more */
    while (svc->qhead) {
        kgop_t *op = svc->qhead;
        svc->qhead = op->next;
        QR_LOG_WARN("KGROUP", "group %s: request dropped at shutdown",
                    op->group ? op->group : "?");
        qr_karena_free(op->mem);
        free(op);
    }
    ev_timer_stop(svc->loop, &svc->timer);
    ev_async_stop(svc->loop, &svc->wake);
    qr_kgc_destroy(svc->kgc);
    marks_free(svc);
    pthread_mutex_destroy(&svc->lock);
    pthread_mutex_destroy(&svc->qlock);
    free(svc);
}
