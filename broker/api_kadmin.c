/*
 * api_kadmin: Kafka's topic-administration APIs on the broker (see
 * api_kadmin.h).
 *
 * Threads, as api_kgroup.c: a handler runs on the request's network
 * thread, checks and plans there (qr_admin_plan_* are pure), and queues
 * the op to the main loop (svc->queue + ev_async) when ZooKeeper is
 * needed; ZooKeeper is used from the main loop only (DESIGN.md §4, §5).
 * An op that waits for the metadata (timeout_ms) is kept on svc->waiting
 * and looked at by a main-loop timer. When done the op is posted back to
 * its network thread (qr_netthread_post), which encodes, completes the
 * reply slot and frees the op. An op is touched by one thread at a time.
 * svc->qlock guards the queue only.
 */
#include "config.h"

#include <ev.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "alloc.h"
#include "api_kadmin.h"
#include "brokerconf.h"
#include "clock.h"
#include "conn.h"
#include "kwire.h"
#include "logging.h"
#include "meta.h"
#include "topic.h"
#include "zk.h"
#include "znode.h"

#define OP_MAGIC 0x6b61706fu /* "kapo" */
/* How often a waiting request looks at the metadata again. */
#define POLL_MS 20

typedef struct kaop kaop_t;

/* One topic (create, delete) or resource (describe) of a request. */
typedef struct kaitem {
    uint32_t magic;
    kaop_t *op;
    const char *topic;
    qr_zk_multi_t *multi; /* to submit; NULL: nothing to write */
    int32_t partitions;   /* create: the partitions to wait for */
    int waiting;          /* written: waiting for the metadata */
    quire_err_t *err;     /* the answer's error code */
    const char **msg;     /* and message (create; else NULL) */
    /* describe */
    const qr_describe_resource_t *res;
    qr_describe_result_t *out;
    qr_topic_config_t cfg; /* the topic's overrides (owned) */
} kaitem_t;

struct kaop {
    qr_nt_work_t work; /* back to the request's thread */
    uint32_t magic;
    kaop_t *next; /* the main loop's queue, then svc->waiting */
    qr_kasvc_t *svc;
    qr_netthread_t *nt;
    qr_reply_t *reply;
    qr_api_t api;
    int16_t version;
    int32_t correlation_id;
    qr_karena_t *mem; /* the answer and copies of the request */
    qr_kadmin_resp_t resp;
    kaitem_t *items;
    size_t item_cnt;
    int32_t timeout_ms;
    int64_t deadline; /* monotonic ms */
    int pending;      /* ZooKeeper requests out (main loop) */
    int include_synonyms;
};

struct qr_kasvc {
    qr_server_t *server;
    struct ev_loop *loop;
    pthread_mutex_t qlock; /* the queue */
    kaop_t *qhead, **qtail;
    ev_async wake;
    ev_timer poll;
    kaop_t *waiting; /* main loop only */
    qr_zk_t *zk;     /* main loop only */
    atomic_int attached;
    atomic_int closed;
};

/* ---- ops ---- */

static kaop_t *op_new(qr_reqctx_t *ctx, size_t items)
{
    kaop_t *op = qr_calloc(1, sizeof(*op));
    op->magic = OP_MAGIC;
    op->svc = qr_server_kadmin(ctx->server);
    op->nt = ctx->nt;
    op->reply = ctx->reply;
    op->api = ctx->req->api;
    op->version = ctx->req->api_version;
    op->correlation_id = ctx->req->correlation_id;
    op->mem = qr_karena_new();
    op->items = qr_karena_alloc(op->mem, (items + 1) * sizeof(*op->items));
    op->item_cnt = items;
    for (size_t i = 0; i < items; i++) {
        op->items[i].magic = OP_MAGIC;
        op->items[i].op = op;
    }
    return op;
}

static char *op_strdup(kaop_t *op, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *out = qr_karena_alloc(op->mem, n);
    memcpy(out, s, n);
    return out;
}

/* @p s (owned, may be NULL) into the op's arena. */
static char *op_take(kaop_t *op, char *s)
{
    char *out = op_strdup(op, s);
    free(s);
    return out;
}

static void op_free(kaop_t *op)
{
    for (size_t i = 0; i < op->item_cnt; i++) {
        qr_zk_multi_destroy(op->items[i].multi);
        qr_topic_config_free(&op->items[i].cfg);
    }
    op->magic = 0;
    qr_karena_free(op->mem);
    free(op);
}

/* On the request's thread: answer and free. */
static void on_done(qr_nt_work_t *work)
{
    kaop_t *op = (kaop_t *)work;
    qr_resp_t resp = {0};
    QR_ASSERT(op->magic == OP_MAGIC);
    resp.api = op->api;
    resp.correlation_id = op->correlation_id;
    resp.u.kadmin = op->resp;
    if (!qr_reply_orphaned(op->reply))
        (void)qr_request_respond(op->reply, &resp);
    qr_reply_ready(op->reply);
    op_free(op);
}

/* From any thread: the answer is complete. */
static void finish(kaop_t *op)
{
    op->work.fn = on_done;
    qr_netthread_post(op->nt, &op->work);
}

static void to_main(kaop_t *op)
{
    qr_kasvc_t *svc = op->svc;
    op->next = NULL;
    pthread_mutex_lock(&svc->qlock);
    *svc->qtail = op;
    svc->qtail = &op->next;
    pthread_mutex_unlock(&svc->qlock);
    ev_async_send(svc->loop, &svc->wake);
}

static int usable(qr_kasvc_t *svc)
{
    return atomic_load(&svc->attached) && !atomic_load(&svc->closed);
}

/* Whether @p name is among the first @p n topics of a request. */
static int named_twice(const char *const *names, size_t n, const char *name)
{
    size_t seen = 0;
    for (size_t i = 0; i < n; i++)
        seen += strcmp(names[i], name) == 0;
    return seen > 1;
}

static void set_err(kaitem_t *it, quire_err_t err, const char *msg)
{
    *it->err = err;
    if (it->msg)
        *it->msg = op_strdup(it->op, msg);
}

/* ---- waiting for the metadata (main loop) ---- */

/* Whether @p it shows in @p meta as Kafka's broker waits for it. */
static int landed(const kaop_t *op, const kaitem_t *it, const qr_meta_t *meta)
{
    const qr_meta_topic_t *t = qr_meta_topic_find(meta, it->topic);
    if (op->api == QR_API_DELETE_TOPICS)
        return t == NULL;
    if (!t || t->part_cnt != (size_t)it->partitions)
        return 0;
    for (size_t p = 0; p < t->part_cnt; p++)
        if (t->parts[p].err != QUIRE_ERR_NONE)
            return 0;
    return 1;
}

/* Checks every waiting op; finishes those done or past their deadline
 * (every op when @p all). */
static void check_waiting(qr_kasvc_t *svc, int all)
{
    qr_meta_t *meta = qr_server_meta(svc->server);
    int64_t now = qr_clock_mono_ms();
    kaop_t **pp = &svc->waiting;
    while (*pp) {
        kaop_t *op = *pp;
        int left = 0;
        for (size_t i = 0; i < op->item_cnt; i++) {
            kaitem_t *it = &op->items[i];
            if (it->waiting && landed(op, it, meta))
                it->waiting = 0;
            left += it->waiting;
        }
        if (left && !all && now < op->deadline) {
            pp = &op->next;
            continue;
        }
        for (size_t i = 0; i < op->item_cnt; i++)
            if (op->items[i].waiting)
                set_err(&op->items[i], QUIRE_ERR_REQUEST_TIMED_OUT,
                        "not completed within timeout_ms; it goes on");
        *pp = op->next;
        finish(op);
    }
    qr_meta_release(meta);
    if (svc->waiting && !atomic_load(&svc->closed)) {
        if (!ev_is_active(&svc->poll)) {
            ev_timer_set(&svc->poll, POLL_MS / 1000.0, POLL_MS / 1000.0);
            ev_timer_start(svc->loop, &svc->poll);
        }
    } else {
        ev_timer_stop(svc->loop, &svc->poll);
    }
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    check_waiting(w->data, 0);
}

/* Every write of @p op is answered: wait, or answer now. */
static void writes_done(kaop_t *op)
{
    qr_kasvc_t *svc = op->svc;
    int wait = 0;
    for (size_t i = 0; i < op->item_cnt; i++) {
        kaitem_t *it = &op->items[i];
        if (!it->waiting)
            continue;
        if (op->timeout_ms <= 0) { /* Kafka: "in progress", at once */
            it->waiting = 0;
            set_err(it, QUIRE_ERR_REQUEST_TIMED_OUT, NULL);
        } else {
            wait = 1;
        }
    }
    if (!wait) {
        finish(op);
        return;
    }
    op->deadline = qr_clock_mono_ms() + op->timeout_ms;
    op->next = svc->waiting;
    svc->waiting = op;
    check_waiting(svc, 0);
}

static void on_written(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                       void *arg)
{
    kaitem_t *it = arg;
    kaop_t *op = it->op;
    char errstr[256] = "";
    int errs[8] = {0}, already;
    quire_err_t err;
    (void)zk;
    (void)owner;
    QR_ASSERT(it->magic == OP_MAGIC);
    for (int i = 0; res->results && i < res->count && i < 8; i++)
        errs[i] = res->results[i].err;
    if (op->api == QR_API_CREATE_TOPICS)
        err = qr_admin_create_result(it->topic, res->rc, errs,
                                     res->count < 8 ? res->count : 8, errstr,
                                     sizeof(errstr));
    else
        err = qr_admin_delete_result(it->topic, res->rc, errs,
                                     res->count < 8 ? res->count : 8, &already,
                                     errstr, sizeof(errstr));
    if (err == QUIRE_ERR_NONE) {
        it->waiting = 1;
        QR_LOG_INFO("KADMIN", "%s topic %s",
                    op->api == QR_API_CREATE_TOPICS ? "created"
                    : already ? "deleting (already marked) "
                              : "marked for deletion",
                    it->topic);
    } else {
        if (err != QUIRE_ERR_TOPIC_ALREADY_EXISTS &&
            err != QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION)
            err = QUIRE_ERR_NOT_CONTROLLER; /* ZooKeeper: ask again */
        set_err(it, err, errstr);
    }
    if (--op->pending == 0)
        writes_done(op);
}

/* Main loop: submits every planned multi. */
static void write_main(kaop_t *op)
{
    qr_kasvc_t *svc = op->svc;
    op->pending = 1;
    for (size_t i = 0; i < op->item_cnt; i++) {
        kaitem_t *it = &op->items[i];
        if (!it->multi)
            continue;
        qr_zk_multi_t *m = it->multi;
        it->multi = NULL; /* consumed by the submit */
        if (svc->zk &&
            qr_zk_multi_submit(svc->zk, m, on_written, svc, it) ==
                QUIRE_ERR_NONE)
            op->pending++;
        else
            set_err(it, QUIRE_ERR_NOT_CONTROLLER, "no ZooKeeper session");
    }
    if (--op->pending == 0)
        writes_done(op);
}

/* ---- CreateTopics ---- */

/* A request's assignment as quire-topics' --replica-assignment ("1:2,2:3"),
 * partitions in order; NULL (with @p errstr) unless they are 0..n-1. */
static char *assignment_spec(const qr_create_topic_t *t, char *errstr,
                             size_t errstr_size)
{
    size_t n = t->assignment_count, len = 1;
    const qr_create_assignment_t **by = qr_calloc(n + 1, sizeof(*by));
    for (size_t i = 0; i < n; i++) {
        int32_t p = t->assignments[i].partition_index;
        if (p < 0 || (size_t)p >= n || by[p]) {
            snprintf(errstr, errstr_size,
                     "partitions of a replica assignment must be 0..%zu, "
                     "each once",
                     n - 1);
            free(by);
            return NULL;
        }
        by[p] = &t->assignments[i];
        len += by[p]->broker_count * 12 + 1;
    }
    char *spec = qr_malloc(len), *w = spec;
    for (size_t p = 0; p < n; p++) {
        if (p)
            *w++ = ',';
        for (size_t b = 0; b < by[p]->broker_count; b++)
            w += sprintf(w, "%s%" PRId32, b ? ":" : "", by[p]->broker_ids[b]);
    }
    *w = '\0';
    free(by);
    return spec;
}

/* Checks and plans one topic; the item's error is set when it fails. */
static void plan_create(kaitem_t *it, const qr_create_topic_t *t,
                        const qr_brokerconf_t *bconf, const qr_meta_t *meta,
                        const int32_t *live, size_t nlive, int validate_only)
{
    char errstr[512] = "";
    const char *why = NULL;
    qr_topic_config_t cfg = {NULL, NULL, 0};
    quire_err_t err = QUIRE_ERR_NONE;
    qr_zk_multi_t *m = NULL;

    if (qr_topic_name_check(t->name, strlen(t->name), &why) != QUIRE_ERR_NONE) {
        snprintf(errstr, sizeof(errstr), "invalid topic name \"%.64s\": %s",
                 t->name, why ? why : "illegal");
        set_err(it, QUIRE_ERR_INVALID_TOPIC_EXCEPTION, errstr);
        return;
    }
    if (qr_meta_topic_find(meta, t->name)) {
        snprintf(errstr, sizeof(errstr), "Topic '%s' already exists.",
                 t->name);
        set_err(it, QUIRE_ERR_TOPIC_ALREADY_EXISTS, errstr);
        return;
    }
    for (size_t c = 0; c < t->config_count && !err; c++) {
        if (!t->configs[c].value) {
            snprintf(errstr, sizeof(errstr),
                     "Null value not supported for topic configs: %s",
                     t->configs[c].name);
            err = QUIRE_ERR_INVALID_REQUEST;
        } else {
            qr_topic_config_set(&cfg, t->configs[c].name, t->configs[c].value);
        }
    }
    if (err) {
    } else if (t->assignment_count) {
        if (t->num_partitions != -1 || t->replication_factor != -1) {
            snprintf(errstr, sizeof(errstr),
                     "Both numPartitions or replicationFactor and "
                     "replicasAssignments were set. Both cannot be used at "
                     "the same time.");
            err = QUIRE_ERR_INVALID_REQUEST;
        } else {
            char *spec = assignment_spec(t, errstr, sizeof(errstr));
            qr_assign_t a;
            if (!spec)
                err = QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
            else if (!(err = qr_admin_parse_assignment(spec, live, nlive, &a,
                                                       errstr,
                                                       sizeof(errstr)))) {
                err = qr_admin_plan_create_assigned(t->name, &a, &cfg, &m,
                                                    errstr, sizeof(errstr));
                it->partitions = (int32_t)a.part_cnt;
                qr_assign_free(&a);
            }
            free(spec);
        }
    } else {
        int32_t parts = t->num_partitions == -1 ? bconf->num_partitions
                                                : t->num_partitions;
        int32_t rf = t->replication_factor == -1
                         ? bconf->default_replication_factor
                         : t->replication_factor;
        uint32_t start, shift;
        qr_admin_placement_draws(&start, &shift);
        err = qr_admin_plan_create(t->name, parts, rf, &cfg, live, nlive, start,
                                   shift, &m, errstr, sizeof(errstr));
        if (err == QUIRE_ERR_BROKER_NOT_AVAILABLE)
            err = QUIRE_ERR_INVALID_REPLICATION_FACTOR;
        it->partitions = parts;
    }
    qr_topic_config_free(&cfg);
    if (err) {
        qr_zk_multi_destroy(m);
        set_err(it, err, errstr);
    } else if (validate_only) {
        qr_zk_multi_destroy(m);
    } else {
        it->multi = m;
    }
}

void qr_api_create_topics(qr_reqctx_t *ctx)
{
    const qr_create_topics_req_t *in = &ctx->req->u.kadmin.create;
    kaop_t *op = op_new(ctx, in->topic_count);
    qr_create_topic_result_t *rs =
        qr_karena_alloc(op->mem, (in->topic_count + 1) * sizeof(*rs));
    const char **names =
        qr_karena_alloc(op->mem, (in->topic_count + 1) * sizeof(*names));
    qr_meta_t *meta = qr_server_meta(ctx->server);
    int32_t *live = qr_calloc(meta->broker_cnt + 1, sizeof(*live));
    int writes = 0;

    for (size_t i = 0; i < meta->broker_cnt; i++)
        live[i] = meta->brokers[i].id;
    op->timeout_ms = in->timeout_ms;
    op->resp.create.topic_count = in->topic_count;
    op->resp.create.topics = rs;
    for (size_t i = 0; i < in->topic_count; i++)
        names[i] = rs[i].name = op_strdup(op, in->topics[i].name);
    for (size_t i = 0; i < in->topic_count; i++) {
        kaitem_t *it = &op->items[i];
        it->topic = rs[i].name;
        it->err = &rs[i].error_code;
        it->msg = op->version >= 1 ? &rs[i].error_message : NULL;
        if (named_twice(names, in->topic_count, rs[i].name))
            set_err(it, QUIRE_ERR_INVALID_REQUEST,
                    "the topic is named more than once in the request");
        else if (!usable(op->svc))
            set_err(it, QUIRE_ERR_NOT_CONTROLLER, "no ZooKeeper session");
        else
            plan_create(it, &in->topics[i], qr_server_conf(ctx->server), meta,
                        live, meta->broker_cnt, in->validate_only);
        writes += it->multi != NULL;
    }
    free(live);
    qr_meta_release(meta);
    if (writes)
        to_main(op);
    else
        finish(op);
}

/* ---- DeleteTopics ---- */

void qr_api_delete_topics(qr_reqctx_t *ctx)
{
    const qr_delete_topics_req_t *in = &ctx->req->u.kadmin.del;
    kaop_t *op = op_new(ctx, in->topic_count);
    qr_delete_topic_result_t *rs =
        qr_karena_alloc(op->mem, (in->topic_count + 1) * sizeof(*rs));
    int writes = 0;

    op->timeout_ms = in->timeout_ms;
    op->resp.del.topic_count = in->topic_count;
    op->resp.del.topics = rs;
    for (size_t i = 0; i < in->topic_count; i++) {
        kaitem_t *it = &op->items[i];
        char errstr[256];
        it->topic = rs[i].name = op_strdup(op, in->topics[i]);
        it->err = &rs[i].error_code;
        if (named_twice(in->topics, in->topic_count, it->topic))
            set_err(it, QUIRE_ERR_INVALID_REQUEST, NULL);
        else if (!usable(op->svc))
            set_err(it, QUIRE_ERR_NOT_CONTROLLER, NULL);
        /* an illegal name names no topic (Kafka: not in its metadata) */
        else if (qr_admin_plan_delete(it->topic, &it->multi, errstr,
                                      sizeof(errstr)))
            set_err(it, QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, NULL);
        writes += it->multi != NULL;
    }
    if (writes)
        to_main(op);
    else
        finish(op);
}

/* ---- DescribeConfigs ---- */

/* The topic keys quire implements (qr_topic_config_check()'s), each with
 * its broker keys in Kafka's synonym order (highest precedence first). */
typedef enum tkind { K_PLAIN, K_RETENTION, K_ROLL, K_FLUSH_MS, K_FIXED } tkind_t;

typedef struct tkey {
    const char *name;
    const char *broker[3]; /* NULL-terminated */
    tkind_t kind;
} tkey_t;

static const tkey_t tkeys[] = {
    {"cleanup.policy", {"log.cleanup.policy"}, K_FIXED},
    {"file.delete.delay.ms", {"log.segment.delete.delay.ms"}, K_PLAIN},
    {"flush.messages", {"log.flush.interval.messages"}, K_PLAIN},
    {"flush.ms", {"log.flush.interval.ms"}, K_FLUSH_MS},
    {"index.interval.bytes", {"log.index.interval.bytes"}, K_PLAIN},
    {"max.message.bytes", {"message.max.bytes"}, K_PLAIN},
    {"message.timestamp.type", {"log.message.timestamp.type"}, K_PLAIN},
    {"message.validate.compressed",
     {"log.message.validate.compressed"},
     K_PLAIN},
    {"min.insync.replicas", {"min.insync.replicas"}, K_PLAIN},
    {"retention.bytes", {"log.retention.bytes"}, K_PLAIN},
    {"retention.ms",
     {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
     K_RETENTION},
    {"segment.bytes", {"log.segment.bytes"}, K_PLAIN},
    {"segment.index.bytes", {"log.index.size.max.bytes"}, K_PLAIN},
    {"segment.ms", {"log.roll.ms", "log.roll.hours"}, K_ROLL},
    {"unclean.leader.election.enable",
     {"unclean.leader.election.enable"},
     K_PLAIN},
    {"write.caching", {"log.write.caching"}, K_PLAIN},
};

#define TKEY_CNT      (sizeof(tkeys) / sizeof(tkeys[0]))
#define SYNONYMS_MAX  5
#define FIXED_CLEANUP "delete"

static int wanted(const qr_describe_resource_t *res, const char *key)
{
    if (res->all_keys)
        return 1;
    for (size_t i = 0; i < res->key_count; i++)
        if (strcmp(res->keys[i], key) == 0)
            return 1;
    return 0;
}

static char *i64_str(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return qr_strdup(buf);
}

/* The broker's effective value of @p k (owned). */
static char *broker_value(const tkey_t *k, const qr_brokerconf_t *bconf)
{
    const qr_conf_prop_t *prop;
    switch (k->kind) {
    case K_RETENTION:
        return i64_str(qr_brokerconf_retention_ms(bconf));
    case K_ROLL:
        return i64_str(qr_brokerconf_roll_ms(bconf));
    case K_FLUSH_MS:
        return i64_str(bconf->log_flush_interval_ms < 0
                           ? INT64_MAX
                           : bconf->log_flush_interval_ms);
    case K_FIXED:
        return qr_strdup(FIXED_CLEANUP);
    case K_PLAIN:
        break;
    }
    prop = qr_conf_find(&qr_brokerconf_table, k->broker[0]);
    return prop ? qr_conf_value_str(prop, bconf) : NULL;
}

static void topic_entry(kaop_t *op, const tkey_t *k,
                        const qr_topic_config_t *cfg,
                        const qr_brokerconf_t *bconf, qr_config_entry_t *e)
{
    const char *override = NULL;
    qr_config_synonym_t *syn =
        qr_karena_alloc(op->mem, SYNONYMS_MAX * sizeof(*syn));
    size_t n = 0;
    int any_set = 0;

    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->keys[i], k->name) == 0)
            override = cfg->values[i];
    if (override)
        syn[n++] = (qr_config_synonym_t){op_strdup(op, k->name),
                                         op_strdup(op, override),
                                         QR_CONFIG_SOURCE_DYNAMIC_TOPIC};
    const qr_conf_prop_t *last = NULL;
    for (size_t b = 0; b < 3 && k->broker[b]; b++) {
        const qr_conf_prop_t *prop =
            qr_conf_find(&qr_brokerconf_table, k->broker[b]);
        if (!prop)
            continue;
        last = prop;
        if (qr_conf_is_set(&qr_brokerconf_table, bconf, k->broker[b]) == 1) {
            any_set = 1;
            syn[n++] = (qr_config_synonym_t){
                prop->name, op_take(op, qr_conf_value_str(prop, bconf)),
                QR_CONFIG_SOURCE_STATIC_BROKER};
        }
    }
    if (last && last->defval)
        syn[n++] = (qr_config_synonym_t){last->name, last->defval,
                                         QR_CONFIG_SOURCE_DEFAULT};
    else if (k->kind == K_FIXED)
        syn[n++] = (qr_config_synonym_t){k->broker[0], FIXED_CLEANUP,
                                         QR_CONFIG_SOURCE_DEFAULT};
    e->name = k->name;
    e->value = override ? op_strdup(op, override)
                        : op_take(op, broker_value(k, bconf));
    e->read_only = false;
    e->is_sensitive = false;
    e->source = override  ? QR_CONFIG_SOURCE_DYNAMIC_TOPIC
                : any_set ? QR_CONFIG_SOURCE_STATIC_BROKER
                          : QR_CONFIG_SOURCE_DEFAULT;
    e->synonym_count = op->include_synonyms ? n : 0;
    e->synonyms = syn;
}

static void describe_topic(kaop_t *op, kaitem_t *it,
                           const qr_brokerconf_t *bconf)
{
    qr_config_entry_t *es =
        qr_karena_alloc(op->mem, (TKEY_CNT + 1) * sizeof(*es));
    size_t n = 0;
    for (size_t k = 0; k < TKEY_CNT; k++)
        if (wanted(it->res, tkeys[k].name))
            topic_entry(op, &tkeys[k], &it->cfg, bconf, &es[n++]);
    it->out->config_count = n;
    it->out->configs = es;
}

static void describe_broker(kaop_t *op, kaitem_t *it,
                            const qr_brokerconf_t *bconf)
{
    const qr_conf_table_t *tab = &qr_brokerconf_table;
    qr_config_entry_t *es =
        qr_karena_alloc(op->mem, (tab->count + 1) * sizeof(*es));
    size_t n = 0;
    for (size_t i = 0; i < tab->count; i++) {
        const qr_conf_prop_t *prop = &tab->props[i];
        if (!wanted(it->res, prop->name))
            continue;
        qr_config_entry_t *e = &es[n++];
        int set = qr_conf_is_set(tab, bconf, prop->name) == 1;
        qr_config_synonym_t *syn = qr_karena_alloc(op->mem, 2 * sizeof(*syn));
        size_t sn = 0;
        e->name = prop->name;
        e->value = op_take(op, qr_conf_value_str(prop, bconf));
        e->read_only = true; /* nothing is dynamic */
        e->is_sensitive = false;
        e->source = set ? QR_CONFIG_SOURCE_STATIC_BROKER
                        : QR_CONFIG_SOURCE_DEFAULT;
        if (set)
            syn[sn++] = (qr_config_synonym_t){prop->name, e->value,
                                              QR_CONFIG_SOURCE_STATIC_BROKER};
        if (prop->defval)
            syn[sn++] = (qr_config_synonym_t){prop->name, prop->defval,
                                              QR_CONFIG_SOURCE_DEFAULT};
        e->synonym_count = op->include_synonyms ? sn : 0;
        e->synonyms = syn;
    }
    it->out->config_count = n;
    it->out->configs = es;
}

/* Main loop, or the handler's thread when no topic needs ZooKeeper. */
static void describe_finish(kaop_t *op)
{
    const qr_brokerconf_t *bconf = qr_server_conf(op->svc->server);
    for (size_t i = 0; i < op->item_cnt; i++) {
        kaitem_t *it = &op->items[i];
        if (it->out->error_code != QUIRE_ERR_NONE)
            continue;
        if (it->res->resource_type == QR_KADMIN_RESOURCE_TOPIC)
            describe_topic(op, it, bconf);
        else
            describe_broker(op, it, bconf);
    }
    finish(op);
}

static void on_config(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    kaitem_t *it = arg;
    kaop_t *op = it->op;
    char errstr[256];
    (void)zk;
    (void)owner;
    QR_ASSERT(it->magic == OP_MAGIC);
    if (res->rc == ZOK) {
        if (qr_znode_config_decode(res->data, res->len, &it->cfg, errstr,
                                   sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_WARN("KADMIN", "topic %s: %s; described without overrides",
                        it->topic, errstr);
            qr_topic_config_free(&it->cfg);
        }
    } else if (res->rc != ZNONODE) {
        it->out->error_code = QUIRE_ERR_BROKER_NOT_AVAILABLE;
        it->out->error_message = op_strdup(op, zerror(res->rc));
    }
    if (--op->pending == 0)
        describe_finish(op);
}

static void describe_main(kaop_t *op)
{
    qr_kasvc_t *svc = op->svc;
    op->pending = 1;
    for (size_t i = 0; i < op->item_cnt; i++) {
        kaitem_t *it = &op->items[i];
        if (it->out->error_code != QUIRE_ERR_NONE ||
            it->res->resource_type != QR_KADMIN_RESOURCE_TOPIC)
            continue;
        char *path = qr_znode_config_path(it->topic);
        if (svc->zk && qr_zk_get(svc->zk, path, NULL, on_config, svc, it) ==
                           QUIRE_ERR_NONE) {
            op->pending++;
        } else {
            it->out->error_code = QUIRE_ERR_BROKER_NOT_AVAILABLE;
            it->out->error_message = "no ZooKeeper session";
        }
        free(path);
    }
    if (--op->pending == 0)
        describe_finish(op);
}

/* Checks one resource: NONE, or the error (and message) it is answered. */
static quire_err_t describe_check(kaop_t *op, kaitem_t *it,
                                  const qr_meta_t *meta, int32_t me,
                                  const char **msg)
{
    const qr_describe_resource_t *r = it->res;
    const char *why = NULL;
    char buf[160];
    if (r->resource_type == QR_KADMIN_RESOURCE_TOPIC) {
        if (qr_topic_name_check(r->resource_name, strlen(r->resource_name),
                                &why) != QUIRE_ERR_NONE) {
            *msg = why;
            return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
        }
        if (!qr_meta_topic_find(meta, r->resource_name))
            return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return usable(op->svc) ? QUIRE_ERR_NONE
                               : QUIRE_ERR_BROKER_NOT_AVAILABLE;
    }
    if (r->resource_type != QR_KADMIN_RESOURCE_BROKER) {
        snprintf(buf, sizeof(buf), "Unsupported resource type: %d",
                 (int)r->resource_type);
        *msg = op_strdup(op, buf);
        return QUIRE_ERR_INVALID_REQUEST;
    }
    char *end;
    long id = strtol(r->resource_name, &end, 10);
    if (r->resource_name[0] == '\0' || (*end == '\0' && id == me))
        return QUIRE_ERR_NONE;
    snprintf(buf, sizeof(buf),
             "Unexpected broker id, expected %d or empty string, but "
             "received %.32s",
             (int)me, r->resource_name);
    *msg = op_strdup(op, buf);
    return QUIRE_ERR_INVALID_REQUEST;
}

void qr_api_describe_configs(qr_reqctx_t *ctx)
{
    const qr_describe_configs_req_t *in = &ctx->req->u.kadmin.describe;
    kaop_t *op = op_new(ctx, in->resource_count);
    qr_describe_result_t *rs =
        qr_karena_alloc(op->mem, (in->resource_count + 1) * sizeof(*rs));
    qr_describe_resource_t *cp =
        qr_karena_alloc(op->mem, (in->resource_count + 1) * sizeof(*cp));
    qr_meta_t *meta = qr_server_meta(ctx->server);
    int32_t me = qr_server_info(ctx->server)->broker_id;
    int reads = 0;

    op->include_synonyms = in->include_synonyms;
    op->resp.describe.result_count = in->resource_count;
    op->resp.describe.results = rs;
    for (size_t i = 0; i < in->resource_count; i++) {
        const qr_describe_resource_t *r = &in->resources[i];
        kaitem_t *it = &op->items[i];
        const char **ks =
            qr_karena_alloc(op->mem, (r->key_count + 1) * sizeof(*ks));
        for (size_t k = 0; k < r->key_count; k++)
            ks[k] = op_strdup(op, r->keys[k]);
        cp[i] = *r;
        cp[i].resource_name = op_strdup(op, r->resource_name);
        cp[i].keys = ks;
        it->res = &cp[i];
        it->topic = cp[i].resource_name;
        it->out = &rs[i];
        rs[i].resource_type = r->resource_type;
        rs[i].resource_name = cp[i].resource_name;
        rs[i].error_code =
            describe_check(op, it, meta, me, &rs[i].error_message);
        reads += rs[i].error_code == QUIRE_ERR_NONE &&
                 r->resource_type == QR_KADMIN_RESOURCE_TOPIC;
    }
    qr_meta_release(meta);
    if (reads)
        to_main(op);
    else
        describe_finish(op);
}

/* ---- the main loop's side ---- */

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    qr_kasvc_t *svc = w->data;
    (void)loop;
    (void)revents;
    pthread_mutex_lock(&svc->qlock);
    kaop_t *op = svc->qhead;
    svc->qhead = NULL;
    svc->qtail = &svc->qhead;
    pthread_mutex_unlock(&svc->qlock);
    while (op) {
        kaop_t *next = op->next;
        if (op->api == QR_API_DESCRIBE_CONFIGS)
            describe_main(op);
        else
            write_main(op);
        op = next;
    }
}

qr_kasvc_t *qr_kasvc_new(struct ev_loop *loop, qr_server_t *server)
{
    qr_kasvc_t *svc = qr_calloc(1, sizeof(*svc));
    svc->server = server;
    svc->loop = loop;
    pthread_mutex_init(&svc->qlock, NULL);
    svc->qtail = &svc->qhead;
    ev_async_init(&svc->wake, on_wake);
    svc->wake.data = svc;
    ev_async_start(loop, &svc->wake);
    ev_timer_init(&svc->poll, on_poll, POLL_MS / 1000.0, POLL_MS / 1000.0);
    svc->poll.data = svc;
    return svc;
}

void qr_kasvc_attach(qr_kasvc_t *svc, qr_zk_t *zk)
{
    svc->zk = zk;
    atomic_store(&svc->attached, 1);
}

void qr_kasvc_close(qr_kasvc_t *svc)
{
    atomic_store(&svc->closed, 1);
    check_waiting(svc, 1);
}

void qr_kasvc_detach(qr_kasvc_t *svc)
{
    atomic_store(&svc->attached, 0);
    svc->zk = NULL;
}

void qr_kasvc_destroy(qr_kasvc_t *svc)
{
    if (!svc)
        return;
    /* after qr_kasvc_close() and the threads' drain: an op still queued
     * has no thread to answer on any more */
    while (svc->qhead) {
        kaop_t *op = svc->qhead;
        svc->qhead = op->next;
        QR_LOG_WARN("KADMIN", "request dropped at shutdown");
        op_free(op);
    }
    ev_timer_stop(svc->loop, &svc->poll);
    ev_async_stop(svc->loop, &svc->wake);
    pthread_mutex_destroy(&svc->qlock);
    free(svc);
}
