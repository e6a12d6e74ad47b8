/*
 * rebalance: one attempt to bring this member's owned partitions in line
 * with the group (DESIGN.md §6; the order is Kafka's
 * ZKRebalancerListener.rebalance(), made asynchronous):
 *
 *   verify   every owner node we hold, or claimed without hearing the
 *            answer (a connection loss): ours (our session and id) or not;
 *            only what is read as ours is held, and released later
 *   read     children of ids, /brokers/topics and /brokers/ids (watched);
 *            every member's registration (watched: a subscription change
 *            rebalances everyone); each subscribed topic's
 *            partition list (watched); with sticky, every owner node
 *   compute  the assignor over the sorted view (assignor.h)
 *   revoke   the revoked callback for what the user fetches and will no
 *            longer own (range, roundrobin: everything)
 *   commit   stored positions, waiting until ZooKeeper has them
 *   release  delete our owner nodes that are not in the new assignment,
 *            each at the version verify read (no commit of it after this)
 *   claim    create the missing ones (ephemeral); a node that exists is
 *            ours only if it carries our id and our session's
 *            ephemeralOwner, otherwise a watch is left on it and the
 *            attempt fails (retried when it goes, or after the backoff)
 *   offsets  read the committed offsets of what is newly assigned
 *   assign   the assigned callback
 *
 * Every phase issues its requests at once (a session processes them in
 * order) and the next phase starts when the last one completes. A failed
 * request fails the attempt at the end of its phase. An attempt that is
 * aborted (session event, close) is marked stale: its remaining results are
 * ignored, except that a claim it made after all (or may have made) is
 * settled by the next attempt's verify, which then releases it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "group_int.h"
#include "logging.h"

#define ATT_MAGIC 0x52424c43u /* "RBLC" */

enum {
    K_IDS,
    K_TOPICS,
    K_BROKERS,
    K_MEMBER,
    K_TOPIC,
    K_OWNER,
    K_RELEASE,
    K_CLAIM,
    K_CHECK,
    K_OFFSET,
    K_TOPICS_EXIST,
    K_VERIFY
};

struct att {
    uint32_t magic;
    qr_group_t *g;
    att_t *next; /* g->zombies */
    gop_t *ops;
    int pending;
    int stale;
    int failed;
    int conflict;
    void (*next_phase)(att_t *att);

    char **ids; /* children of ids, sorted */
    size_t id_cnt;
    qr_group_member_t *mem; /* per id */
    unsigned char *mem_ok;
    char **all; /* children of /brokers/topics */
    size_t all_cnt;
    char **tn; /* topics in the view, sorted */
    int32_t *tparts;
    size_t tcnt;
    size_t parts;   /* flat partitions */
    char **owners;  /* sticky: per flat partition, the owner id or NULL */
    int32_t *owner; /* the computed assignment */
    unsigned char *mine;
};

/* ---- the attempt's life ---- */

static void att_free(att_t *att)
{
    if (!att)
        return;
    att->magic = QR_GROUP_DEAD_MAGIC;
    qr_group_ops_free(att->ops);
    for (size_t i = 0; i < att->id_cnt; i++) {
        free(att->ids[i]);
        if (att->mem)
            qr_group_member_free(&att->mem[i]);
    }
    free(att->ids);
    free(att->mem);
    free(att->mem_ok);
    for (size_t i = 0; i < att->all_cnt; i++)
        free(att->all[i]);
    free(att->all);
    for (size_t i = 0; i < att->tcnt; i++)
        free(att->tn[i]);
    free(att->tn);
    free(att->tparts);
    for (size_t i = 0; att->owners && i < att->parts; i++)
        free(att->owners[i]);
    free(att->owners);
    free(att->owner);
    free(att->mine);
    free(att);
}

static void zombie_remove(qr_group_t *g, att_t *att)
{
    for (att_t **pp = &g->zombies; *pp; pp = &(*pp)->next) {
        if (*pp == att) {
            *pp = att->next;
            return;
        }
    }
}

void qr_rebalance_abort(qr_group_t *g)
{
    att_t *att = g->att;
    if (!att)
        return;
    g->att = NULL;
    att->stale = 1;
    if (att->pending == 0) {
        att_free(att);
        return;
    }
    att->next = g->zombies;
    g->zombies = att;
}

void qr_rebalance_free_all(qr_group_t *g)
{
    att_free(g->att);
    g->att = NULL;
    while (g->zombies) {
        att_t *next = g->zombies->next;
        att_free(g->zombies);
        g->zombies = next;
    }
}

static void att_fail(att_t *att, const char *why)
{
    qr_group_t *g = att->g;
    g->att = NULL;
    g->retries++;
    int slow = g->retries > g->conf.rebalance_max_retries;
    int ms = g->conf.rebalance_backoff_ms * (slow ? 4 : 1);
    QR_DBG(QR_DBG_GROUP, "GROUP", "%s: rebalance attempt %d failed (%s)",
           g->consumer_id, g->retries, why);
    if (slow) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "rebalance failed %d times (last: %s); retrying every %d ms",
                 g->retries, why, ms);
        QR_LOG_WARN("GROUP", "%s: %s", g->consumer_id, msg);
        if (g->cbs.error)
            g->cbs.error(g->cbs.opaque, g, QUIRE_ERR_REBALANCE_IN_PROGRESS,
                         msg);
    }
    att_free(att);
    ev_timer_stop(g->loop, &g->retry);
    ev_timer_set(&g->retry, ms / 1000.0, 0);
    ev_timer_start(g->loop, &g->retry);
    /* a watch that fired meanwhile (e.g. the node we wanted went) gets a
     * quicker try than the backoff */
    if (g->dirty) {
        g->dirty = 0;
        qr_group_poke(g);
    }
}

/* Runs the next phase once nothing is pending. */
static void att_wait(att_t *att, void (*next)(att_t *))
{
    att->next_phase = next;
    if (att->pending == 0)
        next(att);
}

static void on_op(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg);

static gop_t *op_new(att_t *att, int kind, size_t idx, const char *topic,
                     int32_t partition)
{
    gop_t *op = qr_group_op_new(&att->ops, kind);
    op->att = att;
    op->idx = idx;
    op->topic = topic ? qr_strdup(topic) : NULL;
    op->partition = partition;
    return op;
}

/* Accounts for a request just issued (or not). */
static void issued(att_t *att, quire_err_t err)
{
    if (err == QUIRE_ERR_NONE)
        att->pending++;
    else
        att->failed = 1;
}

static void read_node(att_t *att, int kind, size_t idx, const char *path,
                      int watch, int children)
{
    qr_group_t *g = att->g;
    qr_zk_watch_cb_t *wcb = NULL;
    if (watch && qr_group_watch_needed(g, path))
        wcb = qr_group_on_watch;
    gop_t *op = op_new(att, kind, idx, NULL, -1);
    quire_err_t err = children ? qr_zk_children(g->zk, path, wcb, on_op, g, op)
                               : qr_zk_get(g->zk, path, wcb, on_op, g, op);
    if (err != QUIRE_ERR_NONE && wcb)
        qr_group_watch_fired(g, path);
    issued(att, err);
}

/* ---- read ---- */

static char **copy_children(const struct String_vector *v, size_t *cnt)
{
    size_t n = v ? (size_t)v->count : 0;
    char **out = qr_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = qr_strdup(v->data[i]);
    *cnt = n;
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* {"version":1,"partitions":{"0":[...],...}}: the count, with every
 * key 0..n-1 present. */
static int topic_part_cnt(const char *data, int len, int32_t *out)
{
    if (!data || len <= 0)
        return -1;
    json_t *root = json_loadb(data, (size_t)len, 0, NULL);
    json_t *parts = root ? json_object_get(root, "partitions") : NULL;
    int rc = -1;
    if (json_is_object(parts) && json_object_size(parts) <= 1000000) {
        size_t n = json_object_size(parts);
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            char key[24];
            snprintf(key, sizeof(key), "%zu", i);
            if (!json_object_get(parts, key))
                rc = -1;
        }
        *out = (int32_t)n;
    }
    json_decref(root);
    return rc;
}

static void phase_members(att_t *att);
static void phase_topics(att_t *att);
static void phase_owners(att_t *att);
static void phase_compute(att_t *att);
static void phase_commit(att_t *att);
static void revoke_acked(qr_group_t *g, void *arg);
static void phase_release(att_t *att);
static void phase_claim(att_t *att);
static void phase_offsets(att_t *att);
static void phase_done(att_t *att);

/* Reads every owner node we hold or may hold: after a connection loss
 * an answer may be missing (a delete applied, a create applied), so what
 * we believe is checked before anything is done with it. */
static void verify_owned(att_t *att)
{
    qr_group_t *g = att->g;
    for (size_t i = 0; i < g->part_cnt; i++) {
        gpart_t *gp = &g->parts[i];
        gp->verified = 0;
        if (!gp->held && !gp->unsure)
            continue;
        char *path = qr_group_path(g, "owners", gp->topic, gp->partition);
        gop_t *op = op_new(att, K_VERIFY, 0, gp->topic, gp->partition);
        issued(att, qr_zk_get(g->zk, path, NULL, on_op, g, op));
        free(path);
    }
}

/* Fetched partitions that verify found not ours any more: revoked now. */
static void revoke_unheld(qr_group_t *g)
{
    unsigned char *keep = qr_calloc(g->part_cnt + 1, 1);
    int any = 0;
    for (size_t i = 0; i < g->part_cnt; i++) {
        keep[i] = g->parts[i].held || !g->parts[i].active;
        any |= !keep[i];
    }
    if (any) {
        QR_LOG_WARN("GROUP", "%s: owner nodes found not ours: revoked",
                    g->consumer_id);
        qr_group_revoke(g, keep);
    }
    free(keep);
}

void qr_rebalance_start(qr_group_t *g)
{
    if (g->state != GS_RUNNING || !g->registered)
        return;
    if (g->att) {
        g->dirty = 1;
        return;
    }
    if (!qr_zk_connected(g->zk))
        return; /* RECONNECTED or SESSION brings us back */
    att_t *att = qr_calloc(1, sizeof(*att));
    att->magic = ATT_MAGIC;
    att->g = g;
    g->att = att;
    g->dirty = 0;
    QR_DBG(QR_DBG_GROUP, "GROUP", "%s: rebalance attempt starts",
           g->consumer_id);
    verify_owned(att);
    read_node(att, K_IDS, 0, g->ids_path, 1, 1);
    read_node(att, K_TOPICS, 0, "/brokers/topics", 1, 1);
    read_node(att, K_BROKERS, 0, "/brokers/ids", 1, 1);
    att_wait(att, phase_members);
}

static void phase_members(att_t *att)
{
    qr_group_t *g = att->g;
    revoke_unheld(g);
    if (att->failed) {
        att_fail(att, "reading the members");
        return;
    }
    att->mem = qr_calloc(att->id_cnt ? att->id_cnt : 1, sizeof(*att->mem));
    att->mem_ok = qr_calloc(att->id_cnt ? att->id_cnt : 1, 1);
    for (size_t i = 0; i < att->id_cnt; i++) {
        char *p = qr_group_path(g, "ids", att->ids[i], -1);
        read_node(att, K_MEMBER, i, p, 1, 0);
        free(p);
    }
    att_wait(att, phase_topics);
}

/* Whether member @p m subscribes to @p topic. */
static int subscribes(const qr_group_member_t *m, const regex_t *re,
                      const char *topic)
{
    if (m->white_list)
        return re && regexec(re, topic, 0, NULL, 0) == 0;
    return bsearch(&topic, m->topics, m->topic_cnt, sizeof(char *), cmp_str) !=
           NULL;
}

static regex_t *member_regexes(att_t *att)
{
    regex_t *res = qr_calloc(att->id_cnt ? att->id_cnt : 1, sizeof(*res));
    for (size_t i = 0; i < att->id_cnt; i++) {
        char why[256];
        if (!att->mem_ok[i] || !att->mem[i].white_list)
            continue;
        if (qr_group_regex_compile(&res[i], att->mem[i].topics[0], why,
                                   sizeof(why)) != 0) {
            QR_LOG_WARN("GROUP", "%s: member %s: %s; left out",
                        att->g->consumer_id, att->ids[i], why);
            att->mem_ok[i] = 0;
        }
    }
    return res;
}

static void regexes_free(att_t *att, regex_t *res)
{
    for (size_t i = 0; i < att->id_cnt; i++)
        if (att->mem_ok[i] && att->mem[i].white_list)
            regfree(&res[i]);
    free(res);
}

static void phase_topics(att_t *att)
{
    qr_group_t *g = att->g;
    if (att->failed) {
        att_fail(att, "reading the registrations");
        return;
    }
    size_t self = att->id_cnt;
    for (size_t i = 0; i < att->id_cnt; i++)
        if (strcmp(att->ids[i], g->consumer_id) == 0)
            self = i;
    if (self == att->id_cnt || !att->mem_ok[self]) {
        QR_LOG_WARN("GROUP", "%s: own registration missing; joining again",
                    g->consumer_id);
        g->registered = 0;
        att_fail(att, "own registration missing");
        qr_group_reregister(g);
        return;
    }
    regex_t *res = member_regexes(att);
    /* the view's topics: existing topics that someone subscribes to */
    att->tn = qr_calloc(att->all_cnt ? att->all_cnt : 1, sizeof(char *));
    for (size_t t = 0; t < att->all_cnt; t++) {
        for (size_t i = 0; i < att->id_cnt; i++) {
            if (att->mem_ok[i] &&
                subscribes(&att->mem[i], &res[i], att->all[t])) {
                att->tn[att->tcnt++] = qr_strdup(att->all[t]);
                break;
            }
        }
    }
    regexes_free(att, res);
    qsort(att->tn, att->tcnt, sizeof(char *), cmp_str);
    att->tparts = qr_calloc(att->tcnt ? att->tcnt : 1, sizeof(int32_t));
    for (size_t t = 0; t < att->tcnt; t++) {
        size_t n = strlen(att->tn[t]) + 32;
        char *p = qr_malloc(n);
        snprintf(p, n, "/brokers/topics/%s", att->tn[t]);
        read_node(att, K_TOPIC, t, p, 1, 0);
        free(p);
    }
    att_wait(att, phase_owners);
}

static void phase_owners(att_t *att)
{
    qr_group_t *g = att->g;
    if (att->failed) {
        att_fail(att, "reading the topics");
        return;
    }
    att->parts = 0;
    for (size_t t = 0; t < att->tcnt; t++)
        att->parts += (size_t)att->tparts[t];
    if (att->parts > QR_ASG_MAX_PARTITIONS) {
        att_fail(att, "too many partitions");
        return;
    }
    att->owners = qr_calloc(att->parts ? att->parts : 1, sizeof(char *));
    if (g->conf.strategy == QR_ASSIGNOR_STICKY) {
        size_t flat = 0;
        for (size_t t = 0; t < att->tcnt; t++) {
            for (int32_t p = 0; p < att->tparts[t]; p++, flat++) {
                char *path = qr_group_path(g, "owners", att->tn[t], p);
                read_node(att, K_OWNER, flat, path, 0, 0);
                free(path);
            }
        }
    }
    att_wait(att, phase_compute);
}

/* ---- compute ---- */

static int find_member(const char *const *ids, size_t n, const char *id)
{
    const char *const *hit = bsearch(&id, ids, n, sizeof(char *), cmp_str);
    return hit ? (int)(hit - ids) : -1;
}

/* Builds the sorted view and runs the assignor; att->mine[flat] is set for
 * this member's share. */
static int compute(att_t *att)
{
    qr_group_t *g = att->g;
    size_t mc = 0, tc = att->tcnt;
    const char **members = qr_calloc(att->id_cnt + 1, sizeof(char *));
    size_t *midx = qr_calloc(att->id_cnt + 1, sizeof(size_t));
    for (size_t i = 0; i < att->id_cnt; i++) {
        if (att->mem_ok[i]) {
            midx[mc] = i;
            members[mc++] = att->ids[i];
        }
    }
    regex_t *res = member_regexes(att);
    uint8_t *subs = qr_calloc(mc * tc + 1, 1);
    for (size_t m = 0; m < mc; m++)
        for (size_t t = 0; t < tc; t++)
            subs[m * tc + t] = (uint8_t)subscribes(&att->mem[midx[m]],
                                                   &res[midx[m]], att->tn[t]);
    regexes_free(att, res);
    qr_asg_topic_t *topics = qr_calloc(tc + 1, sizeof(*topics));
    for (size_t t = 0; t < tc; t++) {
        topics[t].name = att->tn[t];
        topics[t].part_cnt = att->tparts[t];
    }
    int32_t *prev = NULL;
    if (g->conf.strategy == QR_ASSIGNOR_STICKY) {
        prev = qr_calloc(att->parts + 1, sizeof(*prev));
        for (size_t p = 0; p < att->parts; p++)
            prev[p] =
                att->owners[p] ? find_member(members, mc, att->owners[p]) : -1;
    }
    qr_asg_in_t in = {.topics = topics,
                      .topic_cnt = tc,
                      .members = members,
                      .member_cnt = mc,
                      .subs = subs,
                      .prev = prev};
    char errstr[256];
    att->owner = qr_calloc(att->parts + 1, sizeof(int32_t));
    att->mine = qr_calloc(att->parts + 1, 1);
    quire_err_t err = qr_assignor_run(g->conf.strategy, &in, att->owner, errstr,
                                      sizeof(errstr));
    int me = find_member(members, mc, g->consumer_id);
    for (size_t p = 0; err == QUIRE_ERR_NONE && p < att->parts; p++)
        att->mine[p] = me >= 0 && att->owner[p] == me;
    if (err != QUIRE_ERR_NONE)
        QR_LOG_ERR("GROUP", "%s: assignor: %s", g->consumer_id, errstr);
    free(members);
    free(midx);
    free(subs);
    free(topics);
    free(prev);
    return err == QUIRE_ERR_NONE ? 0 : -1;
}

/* Flat index of topic-partition in the view, or -1. */
static long flat_of(const att_t *att, const char *topic, int32_t partition)
{
    size_t base = 0;
    for (size_t t = 0; t < att->tcnt; t++) {
        if (strcmp(att->tn[t], topic) == 0)
            return partition >= 0 && partition < att->tparts[t]
                       ? (long)(base + (size_t)partition)
                       : -1;
        base += (size_t)att->tparts[t];
    }
    return -1;
}

static void att_done_one(att_t *att)
{
    att->pending--;
    if (att->stale) {
        if (att->pending == 0) {
            zombie_remove(att->g, att);
            att_free(att);
        }
        return;
    }
    if (att->pending == 0 && att->next_phase)
        att->next_phase(att);
}

static void after_commit(qr_group_t *g, quire_err_t err, void *arg)
{
    att_t *att = arg;
    (void)g;
    QR_ASSERT(att->magic == ATT_MAGIC);
    if (err != QUIRE_ERR_NONE)
        att->failed = 1;
    att_done_one(att);
}

static void phase_compute(att_t *att)
{
    qr_group_t *g = att->g;
    if (att->failed) {
        att_fail(att, "reading the owners");
        return;
    }
    if (compute(att) != 0) {
        att_fail(att, "the assignor refused the view");
        return;
    }
    /* revoke: sticky keeps fetching what stays ours */
    unsigned char *keep = qr_calloc(g->part_cnt + 1, 1);
    for (size_t i = 0;
         g->conf.strategy == QR_ASSIGNOR_STICKY && i < g->part_cnt; i++) {
        long f = flat_of(att, g->parts[i].topic, g->parts[i].partition);
        keep[i] = f >= 0 && att->mine[f];
    }
    qr_group_revoke(g, keep);
    free(keep);
    /* the user may have deferred the revocation (libquire's poll) */
    att->pending++;
    att->next_phase = phase_commit;
    qr_group_when_revoked(g, revoke_acked, att);
}

static void revoke_acked(qr_group_t *g, void *arg)
{
    att_t *att = arg;
    (void)g;
    QR_ASSERT(att->magic == ATT_MAGIC);
    att_done_one(att);
}

static void phase_commit(att_t *att)
{
    /* commit what the user stored (also inside revoked), and wait for
     * ZooKeeper before any owner node goes */
    att->pending++;
    att->next_phase = phase_release;
    qr_offsets_commit(att->g, NULL, NULL, after_commit, att);
}

/* ---- release, claim ---- */

static void phase_release(att_t *att)
{
    qr_group_t *g = att->g;
    if (att->failed) {
        att_fail(att, "committing offsets");
        return;
    }
    for (size_t i = 0; i < g->part_cnt; i++) {
        gpart_t *gp = &g->parts[i];
        long f = flat_of(att, gp->topic, gp->partition);
        if (!gp->held || (f >= 0 && att->mine[f]))
            continue;
        if (!gp->verified) {
            att->failed = 1; /* not read by this attempt: never deleted */
            continue;
        }
        /* from here on no commit of it goes out (offsets.c): one issued
         * after the delete could land after the next owner's start */
        gp->releasing = 1;
        char *path = qr_group_path(g, "owners", gp->topic, gp->partition);
        gop_t *op = op_new(att, K_RELEASE, 0, gp->topic, gp->partition);
        issued(att, qr_zk_delete(g->zk, path, gp->ver, on_op, g, op));
        free(path);
    }
    att_wait(att, phase_claim);
}

static void claim(att_t *att, const char *topic, int32_t partition)
{
    qr_group_t *g = att->g;
    char *path = qr_group_path(g, "owners", topic, partition);
    gop_t *op = op_new(att, K_CLAIM, 0, topic, partition);
    issued(att, qr_zk_create(g->zk, path, g->consumer_id,
                             (int)strlen(g->consumer_id), ZOO_EPHEMERAL, on_op,
                             g, op));
    free(path);
}

static void phase_claim(att_t *att)
{
    qr_group_t *g = att->g;
    if (att->failed) {
        att_fail(att, "releasing owner nodes");
        return;
    }
    qr_group_part_gc(g);
    size_t flat = 0;
    for (size_t t = 0; t < att->tcnt; t++) {
        int parent = 0;
        for (int32_t p = 0; p < att->tparts[t]; p++, flat++) {
            if (!att->mine[flat])
                continue;
            gpart_t *gp = qr_group_part_find(g, att->tn[t], p);
            if (gp && gp->held)
                continue;
            if (!parent) {
                /* the topic's owners node (persistent); processed before
                 * the ephemeral creates below */
                char *dir = qr_group_path(g, "owners", att->tn[t], -1);
                qr_zk_create(g->zk, dir, NULL, -1, 0, NULL, g, NULL);
                free(dir);
                parent = 1;
            }
            claim(att, att->tn[t], p);
        }
    }
    att_wait(att, phase_offsets);
}

static void phase_offsets(att_t *att)
{
    qr_group_t *g = att->g;
    if (att->failed || att->conflict) {
        att_fail(att, att->conflict ? "an owner node is still taken"
                                    : "claiming owner nodes");
        return;
    }
    for (size_t i = 0; i < g->part_cnt; i++) {
        gpart_t *gp = &g->parts[i];
        if (!gp->held || gp->active)
            continue;
        char *path = qr_group_path(g, "offsets", gp->topic, gp->partition);
        gop_t *op = op_new(att, K_OFFSET, 0, gp->topic, gp->partition);
        issued(att, qr_zk_get(g->zk, path, NULL, on_op, g, op));
        free(path);
    }
    att_wait(att, phase_done);
}

static void phase_done(att_t *att)
{
    qr_group_t *g = att->g;
    if (att->failed) {
        att_fail(att, "reading committed offsets");
        return;
    }
    size_t n = 0;
    qr_group_tp_t *tps = qr_calloc(g->part_cnt + 1, sizeof(*tps));
    for (size_t i = 0; i < g->part_cnt; i++) {
        gpart_t *gp = &g->parts[i];
        if (!gp->held || gp->active)
            continue;
        gp->active = 1;
        gp->stored = QR_GROUP_OFFSET_NONE;
        tps[n].topic = gp->topic;
        tps[n].partition = gp->partition;
        tps[n].offset = gp->committed;
        n++;
    }
    g->att = NULL;
    g->retries = 0;
    g->rebalances++;
    QR_LOG_INFO("GROUP", "%s: rebalanced (%s): %zu new, %zu in all",
                g->consumer_id, qr_assignor_name(g->conf.strategy), n,
                g->part_cnt);
    int dirty = g->dirty;
    g->dirty = 0;
    att_free(att);
    qr_group_lease_publish(g); /* the user checks it before any record */
    if (n && g->cbs.assigned)
        g->cbs.assigned(g->cbs.opaque, g, tps, n);
    free(tps);
    if (dirty)
        qr_group_poke(g);
}

/* ---- completions ---- */

/* A claim whose outcome we do not know (its answer was lost, or its
 * attempt was dropped): remembered, and settled by the next attempt's
 * verify, which reads the node. */
static void claim_unsure(qr_group_t *g, const gop_t *op)
{
    gpart_t *gp = qr_group_part_add(g, op->topic, op->partition);
    if (!gp->held)
        gp->unsure = 1;
}

static void stale_result(att_t *att, const qr_zk_res_t *res, gop_t *op)
{
    qr_group_t *g = att->g;
    /* a claim that succeeded (or may have) after its attempt was dropped:
     * the node may be ours while nobody tracks it. A new session has
     * forgotten everything (the node went with the old one). */
    if (op->kind == K_CLAIM && res->rc != ZNODEEXISTS &&
        res->rc != ZSESSIONEXPIRED && res->rc != ZCLOSING &&
        g->state != GS_CLOSED) {
        claim_unsure(g, op);
        qr_group_poke(g);
    }
}

static void result_verify(att_t *att, const qr_zk_res_t *res, gop_t *op)
{
    qr_group_t *g = att->g;
    gpart_t *gp = qr_group_part_find(g, op->topic, op->partition);
    if (res->rc != ZOK && res->rc != ZNONODE) {
        att->failed = 1;
        return;
    }
    if (!gp)
        return;
    gp->unsure = 0;
    if (qr_group_node_ours(g, res)) {
        if (!gp->held)
            gp->gen = ++g->claims; /* a claim whose answer was lost */
        gp->held = 1;
        gp->verified = 1;
        gp->ver = res->stat->version;
        gp->releasing = 0; /* a delete that did not happen after all */
    } else {
        if (gp->held)
            QR_LOG_WARN("GROUP", "%s: owner node of %s-%d is not ours any more",
                        g->consumer_id, gp->topic, (int)gp->partition);
        gp->held = 0;
    }
}

static void claimed(qr_group_t *g, const gop_t *op, int32_t ver)
{
    gpart_t *gp = qr_group_part_add(g, op->topic, op->partition);
    gp->held = 1;
    gp->unsure = gp->releasing = 0;
    gp->ver = ver;
    gp->gen = ++g->claims;
}

static void result_claim(att_t *att, const qr_zk_res_t *res, gop_t *op)
{
    qr_group_t *g = att->g;
    if (res->rc == ZOK) {
        claimed(g, op, 0); /* a new node's version */
    } else if (res->rc == ZNODEEXISTS) {
        /* ours (a create the client retried) or someone's: look, and
         * leave a watch so its deletion brings a quick retry */
        gop_t *chk = op_new(att, K_CHECK, 0, op->topic, op->partition);
        char *path = qr_group_path(g, "owners", op->topic, op->partition);
        issued(att, qr_zk_get(g->zk, path, qr_group_on_watch, on_op, g, chk));
        free(path);
    } else {
        /* the create may have been applied with its answer lost */
        if (res->rc == ZCONNECTIONLOSS || res->rc == ZOPERATIONTIMEOUT)
            claim_unsure(g, op);
        att->failed = 1;
    }
}

static void result_check(att_t *att, const qr_zk_res_t *res, gop_t *op)
{
    qr_group_t *g = att->g;
    if (qr_group_node_ours(g, res)) {
        claimed(g, op, res->stat->version);
        return;
    }
    att->conflict = 1;
    if (res->rc == ZNONODE)
        g->dirty = 1; /* gone already: retry soon */
}

static void result_offset(att_t *att, const qr_zk_res_t *res, gop_t *op)
{
    qr_group_t *g = att->g;
    gpart_t *gp = qr_group_part_find(g, op->topic, op->partition);
    int64_t v = QR_GROUP_OFFSET_NONE;
    if (res->rc == ZOK) {
        if (qr_group_offset_decode(res->data, res->len, &v) != QUIRE_ERR_NONE) {
            QR_LOG_WARN("GROUP",
                        "%s: committed offset of %s-%d unreadable; treated "
                        "as none",
                        g->consumer_id, op->topic, (int)op->partition);
            v = QR_GROUP_OFFSET_NONE;
        }
    } else if (res->rc != ZNONODE) {
        att->failed = 1;
    }
    if (gp)
        gp->committed = v;
}

static void store_result(att_t *att, const qr_zk_res_t *res, gop_t *op)
{
    qr_group_t *g = att->g;
    char why[256];
    /* a read that failed left no watch: arm it again next time */
    if (res->rc != ZOK && res->path &&
        (op->kind == K_IDS || op->kind == K_TOPICS || op->kind == K_BROKERS ||
         op->kind == K_TOPIC || op->kind == K_MEMBER))
        qr_group_watch_fired(g, res->path);
    switch (op->kind) {
    case K_IDS:
        if (res->rc != ZOK) {
            att->failed = 1;
            break;
        }
        att->ids = copy_children(res->children, &att->id_cnt);
        qsort(att->ids, att->id_cnt, sizeof(char *), cmp_str);
        break;
    case K_TOPICS:
        if (res->rc == ZOK) {
            att->all = copy_children(res->children, &att->all_cnt);
        } else if (res->rc == ZNONODE) {
            /* no topic yet (a fresh or wiped cluster): a child watch
             * cannot sit on a missing node, so watch for its creation */
            att->all = qr_calloc(1, sizeof(char *));
            qr_group_watch_fired(g, "/brokers/topics");
            if (qr_group_watch_needed(g, "/brokers/topics")) {
                gop_t *w = op_new(att, K_TOPICS_EXIST, 0, NULL, -1);
                issued(att, qr_zk_exists(g->zk, "/brokers/topics",
                                         qr_group_on_watch, on_op, g, w));
            }
        } else {
            att->failed = 1;
        }
        break;
    case K_TOPICS_EXIST:
        if (res->rc == ZOK)
            g->dirty = 1; /* created since we listed it: look again */
        break;
    case K_BROKERS: /* only the watch matters */
        if (res->rc != ZOK && res->rc != ZNONODE)
            att->failed = 1;
        break;
    case K_MEMBER:
        if (res->rc == ZNONODE)
            break; /* left meanwhile */
        if (res->rc != ZOK) {
            att->failed = 1;
            break;
        }
        if (qr_group_member_decode(res->data, res->len, &att->mem[op->idx], why,
                                   sizeof(why)) == QUIRE_ERR_NONE)
            att->mem_ok[op->idx] = 1;
        else
            QR_LOG_WARN("GROUP", "%s: member %s left out: %s", g->consumer_id,
                        att->ids[op->idx], why);
        break;
    case K_TOPIC:
        if (res->rc == ZOK) {
            if (topic_part_cnt(res->data, res->len, &att->tparts[op->idx]) !=
                0) {
                QR_LOG_WARN("GROUP", "%s: topic %s: bad partition list",
                            g->consumer_id, att->tn[op->idx]);
                att->tparts[op->idx] = 0;
            }
        } else if (res->rc != ZNONODE) {
            att->failed = 1;
        }
        break;
    case K_OWNER:
        if (res->rc == ZOK && res->data && res->len > 0)
            att->owners[op->idx] = qr_strndup(res->data, (size_t)res->len);
        else if (res->rc != ZOK && res->rc != ZNONODE)
            att->failed = 1;
        break;
    case K_RELEASE:
        /* anything but a clear answer (a lost one, a version that moved)
         * leaves it held and releasing: the next attempt reads it again */
        if (res->rc == ZOK || res->rc == ZNONODE) {
            gpart_t *gp = qr_group_part_find(g, op->topic, op->partition);
            if (gp)
                gp->held = gp->releasing = 0;
        } else {
            att->failed = 1;
        }
        break;
    case K_VERIFY:
        result_verify(att, res, op);
        break;
    case K_CLAIM:
        result_claim(att, res, op);
        break;
    case K_CHECK:
        result_check(att, res, op);
        break;
    case K_OFFSET:
        result_offset(att, res, op);
        break;
    }
}

static void on_op(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg)
{
    gop_t *op = arg;
    (void)zk;
    (void)owner;
    QR_ASSERT(op->magic == QR_GROUP_OP_MAGIC);
    att_t *att = op->att;
    QR_ASSERT(att->magic == ATT_MAGIC);
    if (att->stale)
        stale_result(att, res, op);
    else
        store_result(att, res, op);
    att_done_one(att);
}
