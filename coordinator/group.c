/*
 * group: a consumer group member's life (see group.h): configuration,
 * subscription, registration under /consumers/<g>/ids, the session events,
 * the partition table, close. The rebalance attempt is rebalance.c, offset
 * commits offsets.c.
 */
#include "config.h"

#include <ev.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "group_int.h"
#include "logging.h"
#include "topic.h"
#include "znode.h"

/* ---- ids and the registration JSON ---- */

static int id_chars_ok(const char *id, size_t max)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > max || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int qr_group_id_valid(const char *id)
{
    return id_chars_ok(id, QR_GROUP_ID_MAX);
}

char *qr_group_make_consumer_id(const char *group_id)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || !id_chars_ok(host, 255))
        snprintf(host, sizeof(host), "localhost");
    uint32_t rnd = 0;
    FILE *fp = fopen("/dev/urandom", "rb");
    if (!fp || fread(&rnd, sizeof(rnd), 1, fp) != 1)
        rnd = (uint32_t)qr_clock_mono_ns() ^ ((uint32_t)getpid() << 16);
    if (fp)
        fclose(fp);
    size_t n = strlen(group_id) + strlen(host) + 48;
    char *id = qr_malloc(n);
    snprintf(id, n, "%s_%s-%" PRId64 "-%08x", group_id, host,
             qr_clock_real_ms(), rnd);
    return id;
}

char *qr_group_member_encode(int white_list, const char *const *topics,
                             size_t n, int64_t ts_ms)
{
    json_t *root = json_object(), *sub = json_object();
    char ts[32];
    for (size_t i = 0; i < n; i++)
        json_object_set_new(sub, topics[i], json_integer(1));
    snprintf(ts, sizeof(ts), "%" PRId64, ts_ms);
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "subscription", sub);
    json_object_set_new(root, "pattern",
                        json_string(white_list ? "white_list" : "static"));
    json_object_set_new(root, "timestamp", json_string(ts));
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    QR_ASSERT(s != NULL);
    char *out = qr_strdup(s);
    free(s);
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static quire_err_t bad_json(char *errstr, size_t errstr_size, const char *why)
{
    snprintf(errstr, errstr_size, "consumer registration: %s", why);
    return QUIRE_ERR_BAD_JSON;
}

static quire_err_t decode_timestamp(json_t *ts, int64_t *out)
{
    *out = 0;
    if (!ts)
        return QUIRE_ERR_NONE;
    if (json_is_integer(ts)) {
        *out = json_integer_value(ts);
        return QUIRE_ERR_NONE;
    }
    if (!json_is_string(ts))
        return QUIRE_ERR_BAD_JSON;
    char *end = NULL;
    long long v = strtoll(json_string_value(ts), &end, 10);
    if (end == json_string_value(ts) || *end)
        return QUIRE_ERR_BAD_JSON;
    *out = v;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_group_member_decode(const char *data, int len,
                                   qr_group_member_t *out, char *errstr,
                                   size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    if (!data || len <= 0)
        return bad_json(errstr, errstr_size, "no data");
    json_error_t jerr;
    json_t *root = json_loadb(data, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bad_json(errstr, errstr_size, jerr.text);
    quire_err_t err = QUIRE_ERR_BAD_JSON;
    const char *why = NULL;
    json_t *ver = json_object_get(root, "version");
    json_t *sub = json_object_get(root, "subscription");
    json_t *pat = json_object_get(root, "pattern");
    const char *ps = json_is_string(pat) ? json_string_value(pat) : NULL;
    if (!json_is_object(root) || !json_is_integer(ver) ||
        json_integer_value(ver) != 1)
        why = "version is not 1";
    else if (!json_is_object(sub) || json_object_size(sub) == 0)
        why = "subscription is not a non-empty object";
    else if (!ps || (strcmp(ps, "static") && strcmp(ps, "white_list")))
        why = "pattern is not \"static\" or \"white_list\"";
    else if (strcmp(ps, "white_list") == 0 && json_object_size(sub) != 1)
        why = "a white_list subscription has one pattern";
    else if (decode_timestamp(json_object_get(root, "timestamp"),
                              &out->timestamp) != QUIRE_ERR_NONE)
        why = "bad timestamp";
    if (why)
        goto done;
    out->white_list = strcmp(ps, "white_list") == 0;
    out->topics = qr_calloc(json_object_size(sub), sizeof(char *));
    const char *key;
    json_t *cnt;
    json_object_foreach(sub, key, cnt)
    {
        if (!json_is_integer(cnt) || json_integer_value(cnt) < 1) {
            why = "a topic's count is not a positive integer";
            goto done;
        }
        if (!out->white_list &&
            qr_topic_name_check(key, strlen(key), NULL) != QUIRE_ERR_NONE) {
            why = "a subscribed topic name is not legal";
            goto done;
        }
        out->topics[out->topic_cnt++] = qr_strdup(key);
    }
    qsort(out->topics, out->topic_cnt, sizeof(char *), cmp_str);
    err = QUIRE_ERR_NONE;
done:
    json_decref(root);
    if (err != QUIRE_ERR_NONE) {
        qr_group_member_free(out);
        return bad_json(errstr, errstr_size, why);
    }
    return err;
}

void qr_group_member_free(qr_group_member_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->topic_cnt; i++)
        free(m->topics[i]);
    free(m->topics);
    memset(m, 0, sizeof(*m));
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

quire_err_t qr_group_offset_decode_meta(const char *data, int len, int64_t *out,
                                        const char **meta, size_t *meta_len)
{
    if (!data || len <= 0)
        return QUIRE_ERR_BAD_ARG;
    const char *s = data, *end = data + len;
    while (s < end && is_space(*s))
        s++;
    if (s == end || *s < '0' || *s > '9')
        return QUIRE_ERR_BAD_ARG;
    int64_t v = 0;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - (*s - '0')) / 10)
            return QUIRE_ERR_BAD_ARG;
        v = v * 10 + (*s - '0');
    }
    *meta = s;
    *meta_len = 0;
    if (s < end && *s == '\n') { /* the metadata, verbatim */
        *meta = s + 1;
        *meta_len = (size_t)(end - s - 1);
        s = end;
    }
    while (s < end && is_space(*s))
        s++;
    if (s != end)
        return QUIRE_ERR_BAD_ARG;
    *out = v;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_group_offset_decode(const char *data, int len, int64_t *out)
{
    const char *meta;
    size_t meta_len;
    return qr_group_offset_decode_meta(data, len, out, &meta, &meta_len);
}

char *qr_group_offset_encode(int64_t offset, const char *meta, int *len)
{
    size_t mn = meta ? strlen(meta) : 0, n = mn + 24;
    char *s = qr_malloc(n);
    int k = snprintf(s, n, "%" PRId64, offset);
    if (mn) {
        s[k++] = '\n';
        memcpy(s + k, meta, mn);
        k += (int)mn;
        s[k] = '\0';
    }
    *len = k;
    return s;
}

/* ---- paths ---- */

char *qr_group_path(const qr_group_t *g, const char *kind, const char *topic,
                    int32_t partition)
{
    size_t n = strlen(g->group_id) + (topic ? strlen(topic) : 0) + 64;
    char *p = qr_malloc(n);
    if (!topic)
        snprintf(p, n, "/consumers/%s/%s", g->group_id, kind);
    else if (partition < 0)
        snprintf(p, n, "/consumers/%s/%s/%s", g->group_id, kind, topic);
    else
        snprintf(p, n, "/consumers/%s/%s/%s/%d", g->group_id, kind, topic,
                 (int)partition);
    return p;
}

/* ---- requests ---- */

gop_t *qr_group_op_new(gop_t **list, int kind)
{
    gop_t *op = qr_calloc(1, sizeof(*op));
    op->magic = QR_GROUP_OP_MAGIC;
    op->kind = kind;
    op->next = *list;
    *list = op;
    return op;
}

void qr_group_op_unlink(gop_t **list, gop_t *op)
{
    for (gop_t **pp = list; *pp; pp = &(*pp)->next) {
        if (*pp == op) {
            *pp = op->next;
            op->next = NULL;
            return;
        }
    }
}

void qr_group_ops_free(gop_t *ops)
{
    while (ops) {
        gop_t *next = ops->next;
        ops->magic = QR_GROUP_DEAD_MAGIC;
        free(ops->topic);
        free(ops);
        ops = next;
    }
}

/* ---- partitions ---- */

static int part_cmp(const gpart_t *gp, const char *topic, int32_t partition)
{
    int c = strcmp(gp->topic, topic);
    if (c)
        return c;
    return gp->partition < partition ? -1 : gp->partition > partition;
}

static size_t part_lower(const qr_group_t *g, const char *topic,
                         int32_t partition)
{
    size_t lo = 0, hi = g->part_cnt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (part_cmp(&g->parts[mid], topic, partition) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

gpart_t *qr_group_part_find(const qr_group_t *g, const char *topic,
                            int32_t partition)
{
    size_t i = part_lower(g, topic, partition);
    if (i < g->part_cnt && part_cmp(&g->parts[i], topic, partition) == 0)
        return &g->parts[i];
    return NULL;
}

gpart_t *qr_group_part_add(qr_group_t *g, const char *topic, int32_t partition)
{
    size_t i = part_lower(g, topic, partition);
    if (i < g->part_cnt && part_cmp(&g->parts[i], topic, partition) == 0)
        return &g->parts[i];
    if (g->part_cnt == g->part_cap) {
        g->part_cap = g->part_cap ? g->part_cap * 2 : 16;
        g->parts = qr_realloc(g->parts, g->part_cap * sizeof(*g->parts));
    }
    memmove(&g->parts[i + 1], &g->parts[i],
            (g->part_cnt - i) * sizeof(*g->parts));
    g->part_cnt++;
    gpart_t *gp = &g->parts[i];
    memset(gp, 0, sizeof(*gp));
    gp->topic = qr_strdup(topic);
    gp->partition = partition;
    gp->stored = gp->committed = QR_GROUP_OFFSET_NONE;
    return gp;
}

void qr_group_part_gc(qr_group_t *g)
{
    size_t w = 0;
    for (size_t i = 0; i < g->part_cnt; i++) {
        if (g->parts[i].held || g->parts[i].unsure || g->parts[i].active)
            g->parts[w++] = g->parts[i];
        else
            free(g->parts[i].topic);
    }
    g->part_cnt = w;
}

void qr_group_revoke(qr_group_t *g, const unsigned char *keep)
{
    size_t n = 0;
    qr_group_tp_t *tps = qr_calloc(g->part_cnt ? g->part_cnt : 1, sizeof(*tps));
    for (size_t i = 0; i < g->part_cnt; i++) {
        gpart_t *gp = &g->parts[i];
        if (!gp->active || (keep && keep[i]))
            continue;
        tps[n].topic = gp->topic;
        tps[n].partition = gp->partition;
        tps[n].offset = gp->stored;
        n++;
    }
    if (n) {
        QR_LOG_INFO("GROUP", "%s: %zu partition(s) revoked (first %s-%d)",
                    g->consumer_id, n, tps[0].topic, (int)tps[0].partition);
        /* the user may store positions inside: they stay in gp->stored
         * and are committed before the owner nodes go */
        if (g->cbs.revoked)
            g->cbs.revoked(g->cbs.opaque, g, tps, n);
    }
    for (size_t i = 0; i < g->part_cnt; i++)
        if (!(keep && keep[i]))
            g->parts[i].active = 0;
    free(tps);
}

void qr_group_revoke_defer(qr_group_t *g)
{
    g->holds++;
}

void qr_group_when_revoked(qr_group_t *g, void (*fn)(qr_group_t *g, void *arg),
                           void *arg)
{
    if (g->holds == 0) {
        fn(g, arg);
        return;
    }
    gwaiter_t *w = qr_calloc(1, sizeof(*w)), **tail = &g->waiters;
    w->fn = fn;
    w->arg = arg;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
}

void qr_group_revoke_done(qr_group_t *g)
{
    QR_ASSERT(g->holds > 0);
    if (--g->holds > 0)
        return;
    /* a waiter may defer again (a close right after): take the list */
    gwaiter_t *w = g->waiters;
    g->waiters = NULL;
    while (w) {
        gwaiter_t *next = w->next;
        w->fn(g, w->arg);
        free(w);
        w = next;
    }
}

static void waiters_free(qr_group_t *g)
{
    while (g->waiters) {
        gwaiter_t *next = g->waiters->next;
        free(g->waiters);
        g->waiters = next;
    }
}

static void forget_held(qr_group_t *g)
{
    for (size_t i = 0; i < g->part_cnt; i++) {
        gpart_t *gp = &g->parts[i];
        gp->held = gp->unsure = gp->verified = gp->releasing = 0;
    }
    qr_group_part_gc(g);
}

int qr_group_node_ours(const qr_group_t *g, const qr_zk_res_t *res)
{
    return res->rc == ZOK && res->stat &&
           res->stat->ephemeralOwner == qr_zk_session_id(g->zk) &&
           res->len == (int)strlen(g->consumer_id) &&
           memcmp(res->data, g->consumer_id, (size_t)res->len) == 0;
}

/* ---- the lease ---- */

int64_t qr_group_lease_until_ns(const qr_group_t *g)
{
    int64_t heard = qr_zk_heard_ns(g->zk);
    if (heard == 0)
        return 0;
    return heard + (int64_t)qr_zk_session_timeout(g->zk) * 1000000 *
                       QR_GROUP_LEASE_NUM / QR_GROUP_LEASE_DEN;
}

void qr_group_lease_publish(qr_group_t *g)
{
    if (g->cbs.lease)
        g->cbs.lease(g->cbs.opaque, g, qr_group_lease_until_ns(g));
}

static void do_register(qr_group_t *g);

static void on_beat_done(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                         void *arg)
{
    qr_group_t *g = owner;
    (void)zk;
    (void)res;
    (void)arg;
    g->beat_inflight = 0;
    qr_group_lease_publish(g);
}

/* Every quarter of the session timeout: one small request, so that the
 * lease is renewed while ZooKeeper answers (the client's own pings are
 * invisible to us), and a registration that failed is tried again. */
static void on_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_group_t *g = w->data;
    (void)revents;
    w->repeat = qr_zk_session_timeout(g->zk) / 4000.0;
    ev_timer_again(loop, w);
    if (g->state != GS_RUNNING || !qr_zk_connected(g->zk))
        return;
    if (!g->registered && !g->registering)
        do_register(g);
    if (!g->beat_inflight &&
        qr_zk_exists(g->zk, g->ids_path, NULL, on_beat_done, g, NULL) ==
            QUIRE_ERR_NONE)
        g->beat_inflight = 1;
}

/* ---- watches ---- */

int qr_group_watch_needed(qr_group_t *g, const char *path)
{
    for (size_t i = 0; i < g->watched_cnt; i++)
        if (strcmp(g->watched[i], path) == 0)
            return 0;
    if (g->watched_cnt == g->watched_cap) {
        g->watched_cap = g->watched_cap ? g->watched_cap * 2 : 16;
        g->watched =
            qr_realloc(g->watched, g->watched_cap * sizeof(*g->watched));
    }
    g->watched[g->watched_cnt++] = qr_strdup(path);
    return 1;
}

void qr_group_watch_fired(qr_group_t *g, const char *path)
{
    for (size_t i = 0; i < g->watched_cnt; i++) {
        if (strcmp(g->watched[i], path) == 0) {
            free(g->watched[i]);
            g->watched[i] = g->watched[--g->watched_cnt];
            return;
        }
    }
}

static void watches_clear(qr_group_t *g)
{
    for (size_t i = 0; i < g->watched_cnt; i++)
        free(g->watched[i]);
    g->watched_cnt = 0;
}

void qr_group_on_watch(qr_zk_t *zk, int type, const char *path, void *owner)
{
    qr_group_t *g = owner;
    (void)zk;
    QR_DBG(QR_DBG_GROUP, "GROUP", "%s: watch %d on %s", g->consumer_id, type,
           path);
    qr_group_watch_fired(g, path);
    qr_group_poke(g);
}

void qr_group_poke(qr_group_t *g)
{
    if (g->state != GS_RUNNING || !g->registered)
        return;
    if (g->att) {
        g->dirty = 1;
        return;
    }
    if (!ev_is_active(&g->coalesce)) {
        ev_timer_set(&g->coalesce, g->conf.rebalance_coalesce_ms / 1000.0, 0);
        ev_timer_start(g->loop, &g->coalesce);
    }
}

static void on_coalesce(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_group_t *g = w->data;
    (void)loop;
    (void)revents;
    ev_timer_stop(g->loop, &g->retry);
    qr_rebalance_start(g);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_group_t *g = w->data;
    (void)loop;
    (void)revents;
    ev_timer_stop(g->loop, &g->coalesce);
    qr_rebalance_start(g);
}

static void on_autocommit(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_group_t *g = w->data;
    (void)loop;
    (void)revents;
    /* skipped while a batch is in flight: it would only queue up */
    if (g->state == GS_RUNNING && qr_zk_connected(g->zk) && !qr_offsets_busy(g))
        qr_offsets_commit(g, NULL, NULL, NULL, NULL);
}

static void on_later(struct ev_loop *loop, ev_idle *w, int revents)
{
    qr_group_t *g = w->data;
    (void)loop;
    (void)revents;
    qr_offsets_reap(g);
}

/* ---- registration ---- */

enum {
    REG_CREATE = 100,
    REG_CHECK,
    REG_KAFKA,
    REG_BACKOUT,
    REG_WRITE,
    CLOSE_READ,
    CLOSE_DELETE
};

static void close_finish(qr_group_t *g);
static void close_revoked(qr_group_t *g, void *arg);
static void report(qr_group_t *g, quire_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reg_write(qr_group_t *g);
static void on_misc(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                    void *arg);
static void close_read_done(qr_group_t *g, const qr_zk_res_t *res, gop_t *op);

/* Whether @p rc only says the connection or session went (reported by
 * the session events, and retried on RECONNECTED or SESSION). */
static int rc_lost(int rc)
{
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZCLOSING ||
           rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE;
}

/* A registration that failed for another reason than a lost connection:
 * the application hears of it (libquire: through poll), and the heartbeat
 * tries again. */
static void reg_failed(qr_group_t *g, int rc)
{
    if (rc_lost(rc))
        return;
    report(g, qr_zk_err(rc),
           "registration as %s in group %s failed: %s; trying again",
           g->consumer_id, g->group_id, zerror(rc));
}

/* Our ids node exists: before counting as registered, make sure no
 * Kafka-protocol members hold the group (znode.h, QR_ZNODE_GROUP_KAFKA).
 * The check comes after the create, and the coordinator checks ids after
 * creating its node, so one of two joining at once always sees the other. */
static void check_kafka(qr_group_t *g)
{
    char *path = qr_group_path(g, QR_ZNODE_GROUP_KAFKA, NULL, -1);
    gop_t *op = qr_group_op_new(&g->misc_ops, REG_KAFKA);
    g->registering = 1;
    if (qr_zk_children(g->zk, path, NULL, on_misc, g, op) != QUIRE_ERR_NONE) {
        g->registering = 0;
        qr_group_op_unlink(&g->misc_ops, op);
        qr_group_ops_free(op);
    }
    free(path);
}

/* Kafka-protocol members hold the group: take our ids node back, say so
 * (once per refusal streak), and try again at the next heartbeat. */
static void kafka_refused(qr_group_t *g, const qr_zk_res_t *res)
{
    if (!g->reg_failed)
        report(g, QUIRE_ERR_INCONSISTENT_GROUP_PROTOCOL,
               "group %s is in use by Kafka-protocol consumers (coordinated "
               "by broker %s): a group id serves one kind of consumer at a "
               "time; not joining while they are there",
               g->group_id, res->children->data[0]);
    g->reg_failed = 1;
    gop_t *op = qr_group_op_new(&g->misc_ops, REG_BACKOUT);
    if (qr_zk_delete(g->zk, g->my_path, -1, on_misc, g, op) != QUIRE_ERR_NONE) {
        g->registering = 0;
        qr_group_op_unlink(&g->misc_ops, op);
        qr_group_ops_free(op);
    }
}

static void registered(qr_group_t *g)
{
    g->registered = 1;
    g->reg_failed = 0;
    QR_LOG_INFO("GROUP", "%s: registered in group %s", g->consumer_id,
                g->group_id);
    /* the subscription changed while the create was out */
    if (g->reg_dirty)
        reg_write(g);
    qr_group_poke(g);
}

static char *registration(const qr_group_t *g)
{
    return qr_group_member_encode(g->white_list, (const char *const *)g->topics,
                                  g->topic_cnt, g->reg_ts);
}

static void on_reg_watch(qr_zk_t *zk, int type, const char *path, void *owner)
{
    qr_group_t *g = owner;
    (void)zk;
    (void)path;
    /* an old registration of ours went away: take the name again */
    if (type == ZOO_DELETED_EVENT && g->state == GS_RUNNING && !g->registered &&
        !g->registering)
        do_register(g);
}

static void on_misc(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg)
{
    qr_group_t *g = owner;
    gop_t *op = arg;
    QR_ASSERT(op->magic == QR_GROUP_OP_MAGIC);
    switch (op->kind) {
    case REG_CREATE:
        g->registering = 0;
        if (res->rc == ZOK) {
            check_kafka(g);
        } else if (res->rc == ZNODEEXISTS) {
            /* ours from this session (a retried create), or left by an
             * older session of ours: tell them apart by ephemeralOwner */
            g->registering = 1;
            gop_t *chk = qr_group_op_new(&g->misc_ops, REG_CHECK);
            if (qr_zk_get(zk, g->my_path, on_reg_watch, on_misc, g, chk) !=
                QUIRE_ERR_NONE)
                g->registering = 0;
        } else {
            reg_failed(g, res->rc);
        }
        break;
    case REG_CHECK:
        g->registering = 0;
        if (res->rc == ZOK && res->stat &&
            res->stat->ephemeralOwner == qr_zk_session_id(zk)) {
            /* ours: written by this session, maybe with an older
             * subscription */
            g->reg_dirty = 1;
            check_kafka(g);
        } else if (res->rc == ZNONODE) {
            do_register(g);
        } else if (res->rc == ZOK) {
            /* an older session of ours, or another process with our id:
             * wait for it to go (on_reg_watch), and say so once */
            if (!g->reg_failed)
                report(g, QUIRE_ERR_EXISTS,
                       "consumer id %s is registered in group %s by another "
                       "session (0x%llx); waiting for it to go",
                       g->consumer_id, g->group_id,
                       (unsigned long long)(res->stat
                                                ? res->stat->ephemeralOwner
                                                : 0));
            g->reg_failed = 1;
        } else {
            reg_failed(g, res->rc);
        }
        break;
    case REG_KAFKA:
        if (res->rc == ZOK && res->children && res->children->count > 0) {
            kafka_refused(g, res);
        } else if (res->rc == ZOK || res->rc == ZNONODE) {
            g->registering = 0;
            registered(g);
        } else {
            g->registering = 0; /* the node stays: RECONNECTED or the
                                   heartbeat finds it ours and checks again */
            reg_failed(g, res->rc);
        }
        break;
    case REG_BACKOUT:
        /* a lost answer leaves the node maybe there: the next attempt
         * finds it ours (REG_CHECK) and checks again */
        g->registering = 0;
        break;
    case REG_WRITE:
        if (res->rc == ZNONODE) {
            g->registered = 0; /* gone: join again, with the new data */
            do_register(g);
        } else if (res->rc != ZOK && !rc_lost(res->rc)) {
            reg_failed(g, res->rc);
        } else if (res->rc != ZOK) {
            g->reg_dirty = 1; /* written again on RECONNECTED */
        }
        break;
    case CLOSE_READ:
        close_read_done(g, res, op);
        break;
    case CLOSE_DELETE:
        if (--g->close_pending == 0)
            close_finish(g);
        break;
    }
    qr_group_op_unlink(&g->misc_ops, op);
    qr_group_ops_free(op);
}

static void do_register(qr_group_t *g)
{
    static const char *const kinds[] = {"ids", "owners", "offsets"};
    if (g->registering || g->registered || !qr_zk_connected(g->zk))
        return;
    /* persistent parents first; requests on a session are processed in
     * order, so the ephemeral create below sees them */
    qr_zk_create(g->zk, "/consumers", NULL, -1, 0, NULL, g, NULL);
    char *p = qr_group_path(g, "", NULL, -1);
    p[strlen(p) - 1] = '\0'; /* "/consumers/<g>" */
    qr_zk_create(g->zk, p, NULL, -1, 0, NULL, g, NULL);
    free(p);
    for (size_t i = 0; i < QR_ARRAY_LEN(kinds); i++) {
        p = qr_group_path(g, kinds[i], NULL, -1);
        qr_zk_create(g->zk, p, NULL, -1, 0, NULL, g, NULL);
        free(p);
    }
    if (!g->reg_ts)
        g->reg_ts = qr_clock_real_ms();
    char *data = registration(g);
    gop_t *op = qr_group_op_new(&g->misc_ops, REG_CREATE);
    g->registering = 1;
    g->reg_dirty = 0; /* the create carries the subscription of now */
    if (qr_zk_create(g->zk, g->my_path, data, (int)strlen(data), ZOO_EPHEMERAL,
                     on_misc, g, op) != QUIRE_ERR_NONE)
        g->registering = 0;
    free(data);
}

/* Writes the subscription into our registration; every member watches
 * the member nodes, so each rebalances. */
static void reg_write(qr_group_t *g)
{
    char *data = registration(g);
    gop_t *op = qr_group_op_new(&g->misc_ops, REG_WRITE);
    g->reg_dirty = 0;
    if (qr_zk_set(g->zk, g->my_path, data, (int)strlen(data), -1, on_misc, g,
                  op) != QUIRE_ERR_NONE) {
        g->reg_dirty = 1;
        qr_group_op_unlink(&g->misc_ops, op);
        qr_group_ops_free(op);
    }
    free(data);
}

void qr_group_reregister(qr_group_t *g)
{
    if (g->state == GS_RUNNING)
        do_register(g);
}

/* ---- sessions ---- */

static void report(qr_group_t *g, quire_err_t err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    QR_LOG_WARN("GROUP", "%s: %s", g->consumer_id, msg);
    if (g->cbs.error)
        g->cbs.error(g->cbs.opaque, g, err, msg);
}

static void on_lost(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_group_t *g = w->data;
    (void)loop;
    (void)revents;
    /* Disconnected past the lease: the session may expire any moment
     * now, and another member own our partitions. */
    if (qr_zk_connected(g->zk))
        return;
    if (g->state == GS_CLOSING) {
        close_finish(g); /* the nodes go with the session */
        return;
    }
    report(g, QUIRE_ERR_ZK_CONNECTION_LOSS,
           "no answer from ZooKeeper within the lease (%d/%d of the %d ms "
           "session timeout): stopped fetching",
           QR_GROUP_LEASE_NUM, QR_GROUP_LEASE_DEN,
           qr_zk_session_timeout(g->zk));
    qr_group_revoke(g, NULL);
    g->revoked_lost = 1;
}

static void on_session(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    qr_group_t *g = owner;
    switch (ev) {
    case QR_ZK_EV_SESSION:
        ev_timer_stop(g->loop, &g->lost);
        watches_clear(g);
        qr_rebalance_abort(g);
        qr_group_revoke(g, NULL);
        forget_held(g);
        g->registered = g->registering = 0;
        g->revoked_lost = 0;
        if (g->state == GS_RUNNING)
            do_register(g);
        else if (g->state == GS_CLOSING && g->close_pending == 0)
            close_finish(g);
        break;
    case QR_ZK_EV_RECONNECTED:
        ev_timer_stop(g->loop, &g->lost);
        /* reads that failed with the connection left no watch; arming
         * some twice is harmless */
        watches_clear(g);
        if (g->state == GS_CLOSING && g->close_recommit) {
            g->close_recommit = 0;
            close_revoked(g, NULL);
        }
        if (g->state != GS_RUNNING)
            break;
        if (!g->registered)
            do_register(g);
        else if (g->reg_dirty)
            reg_write(g);
        g->revoked_lost = 0;
        qr_group_poke(g);
        break;
    case QR_ZK_EV_DISCONNECTED:
        /* at the end of the lease (group.h), not a whole session timeout
         * after the client noticed: it notices only after 2/3 of it */
        if (!ev_is_active(&g->lost)) {
            int64_t left = qr_group_lease_until_ns(g) - qr_clock_mono_ns();
            ev_timer_set(&g->lost, left > 0 ? left / 1e9 : 0, 0);
            ev_timer_start(g->loop, &g->lost);
        }
        (void)zk;
        break;
    case QR_ZK_EV_EXPIRED:
        ev_timer_stop(g->loop, &g->lost);
        qr_rebalance_abort(g);
        /* told first, so the user knows the revocation below comes
         * without a commit (the session is gone) */
        report(g, QUIRE_ERR_ZK_SESSION_EXPIRED,
               "ZooKeeper session expired: stopped fetching, joining again");
        qr_group_revoke(g, NULL);
        forget_held(g);
        g->registered = g->registering = 0;
        break;
    case QR_ZK_EV_FATAL:
        report(g, QUIRE_ERR_ZK, "no ZooKeeper connection");
        break;
    case QR_ZK_EV_COUNT:
        break;
    }
}

/* ---- the public API ---- */

void qr_group_conf_init(qr_group_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->strategy = QR_ASSIGNOR_RANGE;
    conf->rebalance_backoff_ms = 2000;
    conf->rebalance_max_retries = 4;
    conf->rebalance_coalesce_ms = 100;
    conf->auto_commit_interval_ms = 5000;
}

qr_group_t *qr_group_new(qr_zk_t *zk, const qr_group_conf_t *conf,
                         const qr_group_cbs_t *cbs, char *errstr,
                         size_t errstr_size)
{
    if (!qr_group_id_valid(conf->group_id)) {
        snprintf(errstr, errstr_size,
                 "group.id \"%s\": 1 to %d characters of [A-Za-z0-9._-]",
                 conf->group_id ? conf->group_id : "", QR_GROUP_ID_MAX);
        return NULL;
    }
    if (conf->consumer_id && !id_chars_ok(conf->consumer_id, 1024)) {
        snprintf(errstr, errstr_size,
                 "consumer id \"%s\": 1 to 1024 characters of [A-Za-z0-9._-]",
                 conf->consumer_id);
        return NULL;
    }
    if ((unsigned)conf->strategy >= QR_ASSIGNOR_COUNT ||
        conf->rebalance_backoff_ms < 1 || conf->rebalance_max_retries < 0 ||
        conf->rebalance_coalesce_ms < 0 || conf->auto_commit_interval_ms < 0) {
        snprintf(errstr, errstr_size,
                 "bad group settings (strategy, rebalance.backoff.ms >= 1, "
                 "rebalance.max.retries >= 0, intervals >= 0)");
        return NULL;
    }
    qr_group_t *g = qr_calloc(1, sizeof(*g));
    g->zk = zk;
    g->loop = qr_zk_loop(zk);
    g->conf = *conf;
    g->cbs = *cbs;
    g->group_id = qr_strdup(conf->group_id);
    g->consumer_id = conf->consumer_id
                         ? qr_strdup(conf->consumer_id)
                         : qr_group_make_consumer_id(conf->group_id);
    g->conf.group_id = g->group_id;
    g->conf.consumer_id = g->consumer_id;
    g->ids_path = qr_group_path(g, "ids", NULL, -1);
    g->my_path = qr_group_path(g, "ids", g->consumer_id, -1);
    ev_timer_init(&g->coalesce, on_coalesce, 0, 0);
    ev_timer_init(&g->retry, on_retry, 0, 0);
    ev_timer_init(&g->lost, on_lost, 0, 0);
    ev_init(&g->beat, on_beat);
    g->beat.data = g;
    double ac = conf->auto_commit_interval_ms / 1000.0;
    ev_timer_init(&g->autocommit, on_autocommit, ac, ac);
    ev_idle_init(&g->later, on_later);
    g->coalesce.data = g->retry.data = g->lost.data = g;
    g->autocommit.data = g->later.data = g;
    g->state = GS_NEW;
    return g;
}

static void subscription_free(qr_group_t *g)
{
    for (size_t i = 0; i < g->topic_cnt; i++)
        free(g->topics[i]);
    free(g->topics);
    g->topics = NULL;
    g->topic_cnt = 0;
    if (g->re_ok)
        regfree(&g->re);
    g->re_ok = 0;
    g->white_list = 0;
}

static void subscription_changed(qr_group_t *g)
{
    if (g->state != GS_RUNNING)
        return;
    g->reg_dirty = 1;
    if (!g->registered)
        return; /* written once the registration is in */
    reg_write(g);
    qr_group_poke(g);
}

quire_err_t qr_group_subscribe(qr_group_t *g, const char *const *topics,
                               size_t n, char *errstr, size_t errstr_size)
{
    if (n == 0 || !topics) {
        snprintf(errstr, errstr_size, "no topic to subscribe to");
        return QUIRE_ERR_BAD_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        const char *why = "no name";
        if (!topics[i] || qr_topic_name_check(topics[i], strlen(topics[i]),
                                              &why) != QUIRE_ERR_NONE) {
            snprintf(errstr, errstr_size, "topic \"%s\": %s",
                     topics[i] ? topics[i] : "", why);
            return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
        }
    }
    subscription_free(g);
    g->topics = qr_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        g->topics[i] = qr_strdup(topics[i]);
    qsort(g->topics, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(g->topics[i - 1], g->topics[i]) == 0) {
            free(g->topics[i]);
            continue;
        }
        g->topics[g->topic_cnt++] = g->topics[i];
    }
    subscription_changed(g);
    return QUIRE_ERR_NONE;
}

/* Java's matches() is anchored at both ends; POSIX regexec() is not. */
int qr_group_regex_compile(regex_t *re, const char *pattern, char *errstr,
                           size_t errstr_size)
{
    size_t n = strlen(pattern) + 8;
    char *anchored = qr_malloc(n);
    snprintf(anchored, n, "^(%s)$", pattern);
    int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc != 0) {
        char why[128];
        regerror(rc, re, why, sizeof(why));
        snprintf(errstr, errstr_size, "pattern \"%s\": %s", pattern, why);
        return -1;
    }
    return 0;
}

quire_err_t qr_group_subscribe_regex(qr_group_t *g, const char *pattern,
                                     char *errstr, size_t errstr_size)
{
    regex_t re;
    if (!pattern || !*pattern) {
        snprintf(errstr, errstr_size, "empty pattern");
        return QUIRE_ERR_BAD_ARG;
    }
    if (qr_group_regex_compile(&re, pattern, errstr, errstr_size) != 0)
        return QUIRE_ERR_BAD_ARG;
    subscription_free(g);
    g->white_list = 1;
    g->re = re;
    g->re_ok = 1;
    g->topics = qr_calloc(1, sizeof(char *));
    g->topics[0] = qr_strdup(pattern);
    g->topic_cnt = 1;
    subscription_changed(g);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_group_start(qr_group_t *g)
{
    if (g->state != GS_NEW || g->topic_cnt == 0)
        return QUIRE_ERR_STATE;
    g->state = GS_RUNNING;
    qr_zk_listen(g->zk, on_session, g);
    if (g->conf.auto_commit_interval_ms > 0)
        ev_timer_start(g->loop, &g->autocommit);
    g->beat.repeat = qr_zk_session_timeout(g->zk) / 4000.0;
    ev_timer_again(g->loop, &g->beat);
    do_register(g); /* or on the first SESSION event */
    return QUIRE_ERR_NONE;
}

const char *qr_group_consumer_id(const qr_group_t *g)
{
    return g->consumer_id;
}

quire_err_t qr_group_offset_store(qr_group_t *g, const char *topic,
                                  int32_t partition, int64_t offset)
{
    if (offset < 0 || !topic)
        return QUIRE_ERR_BAD_ARG;
    gpart_t *gp = qr_group_part_find(g, topic, partition);
    if (!gp || !gp->held || gp->releasing)
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    gp->stored = offset;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_group_commit(qr_group_t *g, qr_group_commit_cb_t *cb,
                            void *opaque)
{
    if (g->state == GS_CLOSED)
        return QUIRE_ERR_STATE;
    qr_offsets_commit(g, cb, opaque, NULL, NULL);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_group_committed(const qr_group_t *g, const char *topic,
                               int32_t partition, int64_t *offset)
{
    const gpart_t *gp = topic ? qr_group_part_find(g, topic, partition) : NULL;
    if (!gp || !gp->held)
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    *offset = gp->committed;
    return QUIRE_ERR_NONE;
}

size_t qr_group_assignment(const qr_group_t *g, const qr_group_tp_t **tps)
{
    qr_group_t *mg = (qr_group_t *)g; /* the view is a cache */
    size_t n = 0;
    if (mg->tpview_cap < g->part_cnt + 1) {
        mg->tpview_cap = g->part_cnt + 1;
        mg->tpview =
            qr_realloc(mg->tpview, mg->tpview_cap * sizeof(*mg->tpview));
    }
    for (size_t i = 0; i < g->part_cnt; i++) {
        if (!g->parts[i].active)
            continue;
        mg->tpview[n].topic = g->parts[i].topic;
        mg->tpview[n].partition = g->parts[i].partition;
        mg->tpview[n].offset = g->parts[i].stored;
        n++;
    }
    *tps = mg->tpview;
    return n;
}

uint64_t qr_group_rebalances(const qr_group_t *g)
{
    return g->rebalances;
}

/* ---- close ---- */

static void close_finish(qr_group_t *g)
{
    if (g->state == GS_CLOSED)
        return;
    forget_held(g);
    g->registered = 0;
    g->state = GS_CLOSED;
    QR_LOG_INFO("GROUP", "%s: left group %s", g->consumer_id, g->group_id);
    if (g->cbs.closed)
        g->cbs.closed(g->cbs.opaque, g);
}

static void close_after_commit(qr_group_t *g, quire_err_t err, void *arg)
{
    (void)arg;
    if (err == QUIRE_ERR_ZK_CONNECTION_LOSS && g->state == GS_CLOSING) {
        /* the session may still be alive and our nodes with it: commit
         * again once connected, so the next owner starts where the
         * revocation stopped (a new session ends the close instead) */
        if (qr_zk_connected(g->zk))
            close_revoked(g, NULL);
        else
            g->close_recommit = 1;
        return;
    }
    if (err != QUIRE_ERR_NONE)
        QR_LOG_WARN("GROUP", "%s: final commit failed: %s", g->consumer_id,
                    quire_err2str(err));
    g->close_pending = 1; /* held until every delete is issued */
    for (size_t i = 0; i < g->part_cnt; i++) {
        gpart_t *gp = &g->parts[i];
        if (!gp->held && !gp->unsure)
            continue;
        /* read first: deleted only if still ours (close_read_done) */
        char *p = qr_group_path(g, "owners", gp->topic, gp->partition);
        gop_t *op = qr_group_op_new(&g->misc_ops, CLOSE_READ);
        op->topic = qr_strdup(gp->topic);
        op->partition = gp->partition;
        gp->releasing = 1;
        if (qr_zk_get(g->zk, p, NULL, on_misc, g, op) == QUIRE_ERR_NONE) {
            g->close_pending++;
        } else {
            qr_group_op_unlink(&g->misc_ops, op);
            qr_group_ops_free(op);
        }
        free(p);
    }
    if (g->registered) {
        gop_t *op = qr_group_op_new(&g->misc_ops, CLOSE_DELETE);
        if (qr_zk_delete(g->zk, g->my_path, -1, on_misc, g, op) ==
            QUIRE_ERR_NONE)
            g->close_pending++;
    }
    if (--g->close_pending == 0)
        close_finish(g);
}

/* An owner node read at close: deleted (the version read) when ours. */
static void close_read_done(qr_group_t *g, const qr_zk_res_t *res, gop_t *op)
{
    if (qr_group_node_ours(g, res)) {
        char *p = qr_group_path(g, "owners", op->topic, op->partition);
        gop_t *del = qr_group_op_new(&g->misc_ops, CLOSE_DELETE);
        if (qr_zk_delete(g->zk, p, res->stat->version, on_misc, g, del) ==
            QUIRE_ERR_NONE) {
            free(p);
            return; /* close_pending passes to the delete */
        }
        qr_group_op_unlink(&g->misc_ops, del);
        qr_group_ops_free(del);
        free(p);
    }
    if (--g->close_pending == 0)
        close_finish(g);
}

static void close_revoked(qr_group_t *g, void *arg)
{
    (void)arg;
    if (g->state != GS_CLOSING)
        return;
    if (!qr_zk_connected(g->zk)) {
        /* the connection is down, maybe not the session: while the lease
         * lasts our nodes may still stand, so commit once connected
         * again (on_session); past it they go with the session */
        if (ev_is_active(&g->lost) && qr_zk_session_id(g->zk) != 0)
            g->close_recommit = 1;
        else
            close_finish(g);
        return;
    }
    qr_offsets_commit(g, NULL, NULL, close_after_commit, NULL);
}

void qr_group_close(qr_group_t *g)
{
    if (g->state == GS_CLOSING || g->state == GS_CLOSED)
        return;
    if (g->state == GS_NEW) {
        close_finish(g);
        return;
    }
    g->state = GS_CLOSING;
    ev_timer_stop(g->loop, &g->coalesce);
    ev_timer_stop(g->loop, &g->retry);
    ev_timer_stop(g->loop, &g->autocommit);
    qr_rebalance_abort(g);
    qr_group_revoke(g, NULL);
    /* the user's revocation (and its commits) first, then ours */
    qr_group_when_revoked(g, close_revoked, NULL);
}

void qr_group_destroy(qr_group_t *g)
{
    if (!g)
        return;
    qr_zk_forget(g->zk, g);
    ev_timer_stop(g->loop, &g->coalesce);
    ev_timer_stop(g->loop, &g->retry);
    ev_timer_stop(g->loop, &g->autocommit);
    ev_timer_stop(g->loop, &g->lost);
    ev_timer_stop(g->loop, &g->beat);
    ev_idle_stop(g->loop, &g->later);
    waiters_free(g);
    qr_rebalance_free_all(g);
    qr_offsets_free_all(g);
    qr_group_ops_free(g->misc_ops);
    for (size_t i = 0; i < g->part_cnt; i++)
        free(g->parts[i].topic);
    free(g->parts);
    free(g->tpview);
    watches_clear(g);
    free(g->watched);
    subscription_free(g);
    free(g->group_id);
    free(g->consumer_id);
    free(g->ids_path);
    free(g->my_path);
    free(g);
}
