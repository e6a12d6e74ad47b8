/*
 * kgroupcoord: Kafka's group coordinator state machine (see kgroupcoord.h).
 * Follows Kafka 2.x's GroupCoordinator (doJoinGroup, doSyncGroup,
 * handleHeartbeat, handleLeaveGroup, onCompleteJoin), minus the offsets
 * topic and static membership. Groups are few and members per group tens:
 * lists searched linearly.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "kgroupcoord.h"
#include "logging.h"

enum { ST_EMPTY, ST_PREPARING, ST_COMPLETING, ST_STABLE, ST_DEAD, ST_COUNT };

static const char *const state_names[] = {
    "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"};
_Static_assert(sizeof(state_names) / sizeof(state_names[0]) == ST_COUNT,
               "state_names");

typedef struct proto {
    char *name;
    uint8_t *metadata;
    size_t metadata_len;
} proto_t;

typedef struct member {
    struct member *next; /* join order */
    char *member_id;
    char *instance_id; /* NULL when none */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    proto_t *protos;
    size_t proto_cnt;
    uint8_t *assignment;
    size_t assignment_len;
    int64_t heard; /* last join, sync, heartbeat or commit */
    qr_kgc_join_cb_t *join_cb;
    void *join_arg;
    qr_kgc_sync_cb_t *sync_cb;
    void *sync_arg;
} member_t;

/* A new member told MEMBER_ID_REQUIRED: known until it rejoins with the id
 * or its session timeout passes. */
typedef struct pending {
    struct pending *next;
    char *member_id;
    int64_t expires;
} pending_t;

typedef struct group {
    struct group *next;
    char *group_id;
    int state;
    int32_t generation;
    char *protocol_type; /* NULL when Empty */
    char *protocol;      /* chosen at the end of a join phase */
    char *leader_id;     /* borrowed from a member, NULL when none */
    member_t *members;
    pending_t *pending;
    int64_t join_deadline;   /* PreparingRebalance: rebalance timeout */
    int64_t join_not_before; /* the initial delay of an Empty group */
} group_t;

struct qr_kgc {
    qr_kgc_conf_t conf;
    group_t *groups;
    uint64_t next_member;
    /* scratch for answers (borrowed until the next call) */
    qr_kgc_join_member_t *jm;
    qr_kgc_desc_member_t *dm;
};

/* ---- small helpers ---- */

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *out = qr_malloc(n ? n : 1);
    if (n)
        memcpy(out, p, n);
    return out;
}

static char *dup_opt(const char *s)
{
    return s ? qr_strdup(s) : NULL;
}

static group_t *group_find(const qr_kgc_t *kgc, const char *group_id)
{
    for (group_t *g = kgc->groups; g; g = g->next)
        if (!strcmp(g->group_id, group_id))
            return g;
    return NULL;
}

static member_t *member_find(const group_t *g, const char *member_id)
{
    for (member_t *m = g->members; m; m = m->next)
        if (!strcmp(m->member_id, member_id))
            return m;
    return NULL;
}

/* The static member of @p instance_id (KIP-345), NULL when none. */
static member_t *static_find(const group_t *g, const char *instance_id)
{
    if (!instance_id)
        return NULL;
    for (member_t *m = g->members; m; m = m->next)
        if (m->instance_id && !strcmp(m->instance_id, instance_id))
            return m;
    return NULL;
}

/* Kafka's isStaticMemberFenced: the instance id belongs to another member
 * id now (a newer process with the same group.instance.id took over). */
static int fenced(const group_t *g, const char *member_id,
                  const char *instance_id)
{
    const member_t *sm = static_find(g, instance_id);
    return sm && member_id[0] && strcmp(sm->member_id, member_id);
}

static size_t member_count(const group_t *g)
{
    size_t n = 0;
    for (const member_t *m = g->members; m; m = m->next)
        n++;
    return n;
}

static void protos_free(member_t *m)
{
    for (size_t i = 0; i < m->proto_cnt; i++) {
        free(m->protos[i].name);
        free(m->protos[i].metadata);
    }
    free(m->protos);
    m->protos = NULL;
    m->proto_cnt = 0;
}

static void protos_set(member_t *m, const qr_kgc_join_req_t *req)
{
    protos_free(m);
    m->protos = qr_calloc(req->protocol_count, sizeof(*m->protos));
    for (size_t i = 0; i < req->protocol_count; i++) {
        m->protos[i].name = qr_strdup(req->protocols[i].name);
        m->protos[i].metadata = dup_bytes(req->protocols[i].metadata,
                                          req->protocols[i].metadata_len);
        m->protos[i].metadata_len = req->protocols[i].metadata_len;
    }
    m->proto_cnt = req->protocol_count;
}

static const proto_t *member_proto(const member_t *m, const char *name)
{
    for (size_t i = 0; i < m->proto_cnt; i++)
        if (!strcmp(m->protos[i].name, name))
            return &m->protos[i];
    return NULL;
}

/* Same protocols, same metadata, same order: a rejoin that changes
 * nothing (Kafka's MemberMetadata.matches). */
static int member_matches(const member_t *m, const qr_kgc_join_req_t *req)
{
    if (m->proto_cnt != req->protocol_count)
        return 0;
    for (size_t i = 0; i < m->proto_cnt; i++) {
        const qr_kgc_protocol_t *p = &req->protocols[i];
        if (strcmp(m->protos[i].name, p->name) ||
            m->protos[i].metadata_len != p->metadata_len ||
            (p->metadata_len &&
             memcmp(m->protos[i].metadata, p->metadata, p->metadata_len)))
            return 0;
    }
    return 1;
}

static void member_free(member_t *m)
{
    free(m->member_id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    protos_free(m);
    free(m->assignment);
    free(m);
}

static void set_assignment(member_t *m, const uint8_t *p, size_t n)
{
    free(m->assignment);
    m->assignment = n ? dup_bytes(p, n) : NULL;
    m->assignment_len = n;
}

/* ---- answering ---- */

static void join_fail(qr_kgc_join_cb_t *cb, void *arg, quire_err_t err,
                      const char *member_id)
{
    qr_kgc_join_res_t res = {.error_code = err,
                             .generation_id = -1,
                             .protocol_name = "",
                             .leader_id = "",
                             .member_id = member_id ? member_id : ""};
    cb(arg, &res);
}

static void join_fire(member_t *m, quire_err_t err)
{
    qr_kgc_join_cb_t *cb = m->join_cb;
    m->join_cb = NULL;
    if (cb)
        join_fail(cb, m->join_arg, err, m->member_id);
}

static void sync_fire(member_t *m, quire_err_t err)
{
    qr_kgc_sync_cb_t *cb = m->sync_cb;
    m->sync_cb = NULL;
    if (cb) {
        if (err == QUIRE_ERR_NONE)
            cb(m->sync_arg, err, m->assignment, m->assignment_len);
        else
            cb(m->sync_arg, err, NULL, 0);
    }
}

/* The answer of a member joining the current generation; the leader's
 * lists every member with its metadata for the chosen protocol. */
static void join_answer(qr_kgc_t *kgc, group_t *g, member_t *m,
                        qr_kgc_join_cb_t *cb, void *arg)
{
    qr_kgc_join_res_t res = {.error_code = QUIRE_ERR_NONE,
                             .generation_id = g->generation,
                             .protocol_name = g->protocol ? g->protocol : "",
                             .leader_id = g->leader_id ? g->leader_id : "",
                             .member_id = m->member_id};
    if (g->leader_id && !strcmp(g->leader_id, m->member_id)) {
        size_t n = member_count(g), i = 0;
        kgc->jm = qr_realloc(kgc->jm, (n ? n : 1) * sizeof(*kgc->jm));
        for (member_t *o = g->members; o; o = o->next, i++) {
            const proto_t *p = member_proto(o, g->protocol);
            kgc->jm[i] =
                (qr_kgc_join_member_t){.member_id = o->member_id,
                                       .group_instance_id = o->instance_id,
                                       .metadata = p ? p->metadata : NULL,
                                       .metadata_len = p ? p->metadata_len : 0};
        }
        res.member_count = n;
        res.members = kgc->jm;
    }
    cb(arg, &res);
}

/* ---- protocol choice ---- */

/* Whether every member supports @p name. */
static int all_support(const group_t *g, const char *name)
{
    for (const member_t *m = g->members; m; m = m->next)
        if (!member_proto(m, name))
            return 0;
    return 1;
}

/* Kafka's selectProtocol: among the protocols every member supports, each
 * member votes for its most preferred; most votes wins, a tie goes to the
 * first member's preference. */
static const char *choose_protocol(const group_t *g)
{
    const member_t *first = g->members;
    const char *best = NULL;
    size_t best_votes = 0;
    for (size_t i = 0; first && i < first->proto_cnt; i++) {
        const char *cand = first->protos[i].name;
        if (!all_support(g, cand))
            continue;
        size_t votes = 0;
        for (const member_t *m = g->members; m; m = m->next) {
            for (size_t j = 0; j < m->proto_cnt; j++) {
                if (all_support(g, m->protos[j].name)) {
                    votes += !strcmp(m->protos[j].name, cand);
                    break;
                }
            }
        }
        if (!best || votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

/* Whether a new or changed member with these protocols fits the group. */
static int protocols_fit(const group_t *g, const qr_kgc_join_req_t *req,
                         const member_t *except)
{
    if (req->protocol_type[0] == '\0' || req->protocol_count == 0)
        return 0;
    if (!g->members || (g->members == except && !except->next))
        return 1;
    if (!g->protocol_type || strcmp(g->protocol_type, req->protocol_type))
        return 0;
    /* some protocol every other member supports */
    for (size_t i = 0; i < req->protocol_count; i++) {
        int all = 1;
        for (const member_t *m = g->members; m && all; m = m->next)
            if (m != except && !member_proto(m, req->protocols[i].name))
                all = 0;
        if (all)
            return 1;
    }
    return 0;
}

/* ---- rebalancing ---- */

static int32_t max_rebalance_timeout(const group_t *g)
{
    int32_t t = 0;
    for (const member_t *m = g->members; m; m = m->next)
        if (m->rebalance_timeout_ms > t)
            t = m->rebalance_timeout_ms;
    return t;
}

static void prepare_rebalance(qr_kgc_t *kgc, group_t *g, int64_t now)
{
    if (g->state == ST_COMPLETING) {
        /* the assignment being handed out is void */
        for (member_t *m = g->members; m; m = m->next) {
            set_assignment(m, NULL, 0);
            sync_fire(m, QUIRE_ERR_REBALANCE_IN_PROGRESS);
        }
    }
    int32_t rt = max_rebalance_timeout(g);
    g->join_not_before = now;
    if (g->state == ST_EMPTY) {
        int32_t d = kgc->conf.initial_rebalance_delay_ms;
        g->join_not_before = now + (d < rt ? d : rt);
    }
    g->join_deadline = now + rt;
    g->state = ST_PREPARING;
    QR_DBG(QR_DBG_GROUP, "KGROUP",
           "group %s: preparing rebalance "
           "(generation %d, rebalance timeout %d ms)",
           g->group_id, (int)g->generation, (int)rt);
}

static void member_remove(group_t *g, member_t *m)
{
    for (member_t **pp = &g->members; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    if (g->leader_id == m->member_id)
        g->leader_id = g->members ? g->members->member_id : NULL;
    join_fire(m, QUIRE_ERR_UNKNOWN_MEMBER_ID);
    sync_fire(m, QUIRE_ERR_UNKNOWN_MEMBER_ID);
    member_free(m);
}

static void group_free(group_t *g)
{
    while (g->members)
        member_remove(g, g->members);
    while (g->pending) {
        pending_t *p = g->pending;
        g->pending = p->next;
        free(p->member_id);
        free(p);
    }
    free(g->group_id);
    free(g->protocol_type);
    free(g->protocol);
    free(g);
}

/* The join phase ends: members that did not rejoin are gone, the
 * generation goes up, and every waiting JoinGroup is answered. */
static void complete_join(qr_kgc_t *kgc, group_t *g, int64_t now)
{
    for (member_t *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!m->join_cb) {
            QR_LOG_INFO("KGROUP",
                        "group %s: member %s removed: it did not "
                        "rejoin within the rebalance timeout",
                        g->group_id, m->member_id);
            member_remove(g, m);
        }
    }
    g->generation++;
    free(g->protocol);
    g->protocol = NULL;
    if (!g->members) {
        g->state = ST_EMPTY;
        free(g->protocol_type);
        g->protocol_type = NULL;
        QR_DBG(QR_DBG_GROUP, "KGROUP", "group %s: empty at generation %d",
               g->group_id, (int)g->generation);
        return;
    }
    g->protocol = qr_strdup(choose_protocol(g));
    g->state = ST_COMPLETING;
    QR_LOG_INFO("KGROUP",
                "group %s: generation %d with %zu members, "
                "protocol %s, leader %s",
                g->group_id, (int)g->generation, member_count(g), g->protocol,
                g->leader_id);
    for (member_t *m = g->members; m; m = m->next) {
        qr_kgc_join_cb_t *cb = m->join_cb;
        m->join_cb = NULL;
        m->heard = now;
        join_answer(kgc, g, m, cb, m->join_arg);
    }
}

static int all_joined(const group_t *g)
{
    for (const member_t *m = g->members; m; m = m->next)
        if (!m->join_cb)
            return 0;
    return g->pending == NULL;
}

static void try_complete_join(qr_kgc_t *kgc, group_t *g, int64_t now)
{
    if (g->state == ST_PREPARING && now >= g->join_not_before && all_joined(g))
        complete_join(kgc, g, now);
}

/* After a member went (leave, expiry): the others rebalance. */
static void after_removal(qr_kgc_t *kgc, group_t *g, int64_t now)
{
    if (g->state == ST_STABLE || g->state == ST_COMPLETING)
        prepare_rebalance(kgc, g, now);
    try_complete_join(kgc, g, now);
}

/* Drops @p g from the list if it has nobody left. */
static void maybe_drop(qr_kgc_t *kgc, group_t *g)
{
    if (g->state != ST_EMPTY || g->members || g->pending)
        return;
    for (group_t **pp = &kgc->groups; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    group_free(g);
}

/* ---- JoinGroup ---- */

static member_t *member_add(qr_kgc_t *kgc, group_t *g,
                            const qr_kgc_join_req_t *req, const char *id,
                            int64_t now)
{
    member_t *m = qr_calloc(1, sizeof(*m)), **tail = &g->members;
    m->member_id = qr_strdup(id);
    m->instance_id = dup_opt(req->group_instance_id);
    m->client_id = qr_strdup(req->client_id);
    m->client_host = qr_strdup(req->client_host);
    m->heard = now;
    while (*tail)
        tail = &(*tail)->next;
    *tail = m;
    if (!g->leader_id)
        g->leader_id = m->member_id;
    if (!g->protocol_type)
        g->protocol_type = qr_strdup(req->protocol_type);
    (void)kgc;
    return m;
}

static char *new_member_id(qr_kgc_t *kgc, const qr_kgc_join_req_t *req)
{
    /* Kafka: (group_instance_id or client_id)-UUID; ours: the same name,
     * then seed-counter, unique per run by the counter and across runs
     * and brokers by the random seed */
    const char *client_id =
        req->group_instance_id ? req->group_instance_id : req->client_id;
    size_t n = strlen(client_id) + 48;
    char *id = qr_malloc(n);
    snprintf(id, n, "%s-%016" PRIx64 "-%" PRIu64, client_id,
             kgc->conf.member_id_seed, ++kgc->next_member);
    return id;
}

static void join_rebalance(qr_kgc_t *kgc, group_t *g, member_t *m,
                           const qr_kgc_join_req_t *req, int64_t now,
                           qr_kgc_join_cb_t *cb, void *arg)
{
    protos_set(m, req);
    m->session_timeout_ms = req->session_timeout_ms;
    m->rebalance_timeout_ms = req->rebalance_timeout_ms;
    if (m->join_cb) /* the same member again: the older join is void */
        join_fire(m, QUIRE_ERR_REBALANCE_IN_PROGRESS);
    m->join_cb = cb;
    m->join_arg = arg;
    m->heard = now;
    if (g->state != ST_PREPARING)
        prepare_rebalance(kgc, g, now);
    try_complete_join(kgc, g, now);
}

static pending_t *pending_take(group_t *g, const char *member_id)
{
    for (pending_t **pp = &g->pending; *pp; pp = &(*pp)->next) {
        pending_t *p = *pp;
        if (!strcmp(p->member_id, member_id)) {
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

static void join_new(qr_kgc_t *kgc, group_t *g, const qr_kgc_join_req_t *req,
                     int64_t now, qr_kgc_join_cb_t *cb, void *arg)
{
    char *id = new_member_id(kgc, req);
    if (req->require_known_member_id && !req->group_instance_id) {
        pending_t *p = qr_calloc(1, sizeof(*p));
        p->member_id = id;
        p->expires = now + req->session_timeout_ms;
        p->next = g->pending;
        g->pending = p;
        join_fail(cb, arg, QUIRE_ERR_MEMBER_ID_REQUIRED, id);
        return;
    }
    member_t *m = member_add(kgc, g, req, id, now);
    free(id);
    join_rebalance(kgc, g, m, req, now, cb, arg);
}

/* Kafka's updateStaticMemberAndRebalance: a static member joins with no
 * member id while its instance id is in the group (it restarted within
 * its session timeout). It takes over the old member's place under a new
 * id, with its assignment: the old id is fenced (FENCED_INSTANCE_ID).
 * In Stable, when the group's protocol would stay the same, nothing
 * rebalances: the answer is the current generation, naming the current
 * leader (never this member, so it assigns nothing), and its SyncGroup
 * gets its old share. Otherwise the group rebalances. */
static void join_static(qr_kgc_t *kgc, group_t *g, member_t *m,
                        const qr_kgc_join_req_t *req, int64_t now,
                        qr_kgc_join_cb_t *cb, void *arg)
{
    char *old_id = m->member_id;
    char *leader = g->leader_id ? qr_strdup(g->leader_id) : NULL;
    join_fire(m, QUIRE_ERR_FENCED_INSTANCE_ID);
    sync_fire(m, QUIRE_ERR_FENCED_INSTANCE_ID);
    m->member_id = new_member_id(kgc, req);
    if (g->leader_id == old_id)
        g->leader_id = m->member_id;
    QR_LOG_INFO("KGROUP",
                "group %s: static member %s (instance %s) replaced by %s",
                g->group_id, old_id, m->instance_id, m->member_id);
    free(old_id);
    free(m->client_id);
    m->client_id = qr_strdup(req->client_id);
    free(m->client_host);
    m->client_host = qr_strdup(req->client_host);
    m->heard = now;
    if (g->state == ST_STABLE) {
        int same = member_matches(m, req);
        if (!same) {
            protos_set(m, req);
            const char *next = choose_protocol(g);
            same = next && g->protocol && !strcmp(next, g->protocol);
        }
        if (same) {
            m->session_timeout_ms = req->session_timeout_ms;
            m->rebalance_timeout_ms = req->rebalance_timeout_ms;
            qr_kgc_join_res_t res = {.error_code = QUIRE_ERR_NONE,
                                     .generation_id = g->generation,
                                     .protocol_name = g->protocol,
                                     .leader_id = leader ? leader : "",
                                     .member_id = m->member_id};
            cb(arg, &res);
            free(leader);
            return;
        }
    }
    free(leader);
    join_rebalance(kgc, g, m, req, now, cb, arg);
}

static void join_known(qr_kgc_t *kgc, group_t *g, const qr_kgc_join_req_t *req,
                       int64_t now, qr_kgc_join_cb_t *cb, void *arg)
{
    pending_t *p = pending_take(g, req->member_id);
    if (p) {
        member_t *m = member_add(kgc, g, req, p->member_id, now);
        free(p->member_id);
        free(p);
        join_rebalance(kgc, g, m, req, now, cb, arg);
        return;
    }
    if (fenced(g, req->member_id, req->group_instance_id)) {
        join_fail(cb, arg, QUIRE_ERR_FENCED_INSTANCE_ID, req->member_id);
        return;
    }
    member_t *m = member_find(g, req->member_id);
    if (!m ||
        (req->group_instance_id && !static_find(g, req->group_instance_id))) {
        join_fail(cb, arg, QUIRE_ERR_UNKNOWN_MEMBER_ID, req->member_id);
        return;
    }
    int is_leader = g->leader_id && !strcmp(g->leader_id, m->member_id);
    switch (g->state) {
    case ST_COMPLETING:
        if (member_matches(m, req)) {
            m->heard = now;
            join_answer(kgc, g, m, cb, arg);
            return;
        }
        break;
    case ST_STABLE:
        if (!is_leader && member_matches(m, req)) {
            m->heard = now;
            join_answer(kgc, g, m, cb, arg);
            return;
        }
        break;
    default:
        break;
    }
    join_rebalance(kgc, g, m, req, now, cb, arg);
}

void qr_kgc_join(qr_kgc_t *kgc, const qr_kgc_join_req_t *req, int64_t now,
                 qr_kgc_join_cb_t *cb, void *arg)
{
    if (req->group_id[0] == '\0') {
        join_fail(cb, arg, QUIRE_ERR_INVALID_GROUP_ID, req->member_id);
        return;
    }
    if (req->session_timeout_ms < kgc->conf.min_session_timeout_ms ||
        req->session_timeout_ms > kgc->conf.max_session_timeout_ms) {
        join_fail(cb, arg, QUIRE_ERR_INVALID_SESSION_TIMEOUT, req->member_id);
        return;
    }
    qr_kgc_join_req_t r = *req;
    if (r.rebalance_timeout_ms < 0)
        r.rebalance_timeout_ms = r.session_timeout_ms;
    group_t *g = group_find(kgc, r.group_id);
    if (!g) {
        if (r.member_id[0] != '\0') {
            join_fail(cb, arg, QUIRE_ERR_UNKNOWN_MEMBER_ID, r.member_id);
            return;
        }
        g = qr_calloc(1, sizeof(*g));
        g->group_id = qr_strdup(r.group_id);
        g->state = ST_EMPTY;
        g->next = kgc->groups;
        kgc->groups = g;
    }
    member_t *sm = r.member_id[0] ? NULL : static_find(g, r.group_instance_id);
    member_t *m = r.member_id[0] ? member_find(g, r.member_id) : sm;
    if (!protocols_fit(g, &r, m)) {
        join_fail(cb, arg, QUIRE_ERR_INCONSISTENT_GROUP_PROTOCOL, r.member_id);
    } else if (sm) {
        join_static(kgc, g, sm, &r, now, cb, arg);
    } else if (r.member_id[0] == '\0') {
        join_new(kgc, g, &r, now, cb, arg);
    } else {
        join_known(kgc, g, &r, now, cb, arg);
    }
    maybe_drop(kgc, g);
}

/* ---- SyncGroup ---- */

/* Common checks of Sync/Heartbeat/Commit: group, member, generation. */
static quire_err_t member_check(qr_kgc_t *kgc, const char *group_id,
                                const char *member_id, const char *instance_id,
                                int32_t generation_id, group_t **gp,
                                member_t **mp)
{
    group_t *g = group_find(kgc, group_id);
    member_t *m = g ? member_find(g, member_id) : NULL;
    *gp = g;
    *mp = m;
    if (g && fenced(g, member_id, instance_id))
        return QUIRE_ERR_FENCED_INSTANCE_ID;
    if (!m)
        return QUIRE_ERR_UNKNOWN_MEMBER_ID;
    if (generation_id != g->generation)
        return QUIRE_ERR_ILLEGAL_GENERATION;
    return QUIRE_ERR_NONE;
}

void qr_kgc_sync(qr_kgc_t *kgc, const qr_kgc_sync_req_t *req, int64_t now,
                 qr_kgc_sync_cb_t *cb, void *arg)
{
    group_t *g;
    member_t *m;
    quire_err_t err =
        member_check(kgc, req->group_id, req->member_id, req->group_instance_id,
                     req->generation_id, &g, &m);
    if (err == QUIRE_ERR_NONE && g->state == ST_PREPARING)
        err = QUIRE_ERR_REBALANCE_IN_PROGRESS;
    if (err != QUIRE_ERR_NONE) {
        cb(arg, err, NULL, 0);
        return;
    }
    m->heard = now;
    if (g->state == ST_STABLE) {
        cb(arg, QUIRE_ERR_NONE, m->assignment, m->assignment_len);
        return;
    }
    /* CompletingRebalance */
    if (m->sync_cb)
        sync_fire(m, QUIRE_ERR_REBALANCE_IN_PROGRESS);
    m->sync_cb = cb;
    m->sync_arg = arg;
    if (strcmp(g->leader_id, m->member_id))
        return;
    for (member_t *o = g->members; o; o = o->next) {
        set_assignment(o, NULL, 0);
        for (size_t i = 0; i < req->assignment_count; i++) {
            const qr_kgc_assignment_t *a = &req->assignments[i];
            if (!strcmp(a->member_id, o->member_id))
                set_assignment(o, a->assignment, a->len);
        }
    }
    g->state = ST_STABLE;
    QR_DBG(QR_DBG_GROUP, "KGROUP", "group %s: stable at generation %d",
           g->group_id, (int)g->generation);
    for (member_t *o = g->members; o; o = o->next) {
        if (o->sync_cb)
            o->heard = now;
        sync_fire(o, QUIRE_ERR_NONE);
    }
}

/* ---- Heartbeat, LeaveGroup, commits ---- */

quire_err_t qr_kgc_heartbeat(qr_kgc_t *kgc, const char *group_id,
                             const char *member_id, const char *instance_id,
                             int32_t generation_id, int64_t now)
{
    group_t *g;
    member_t *m;
    quire_err_t err = member_check(kgc, group_id, member_id, instance_id,
                                   generation_id, &g, &m);
    if (err != QUIRE_ERR_NONE)
        return err;
    m->heard = now;
    /* CompletingRebalance: the member has its JoinGroup answer and syncs
     * next; Kafka 2.5+ keeps its session and answers NONE there (older
     * brokers said REBALANCE_IN_PROGRESS, which made a member that
     * heartbeats before syncing join all over again) */
    return g->state == ST_PREPARING ? QUIRE_ERR_REBALANCE_IN_PROGRESS
                                    : QUIRE_ERR_NONE;
}

quire_err_t qr_kgc_leave(qr_kgc_t *kgc, const char *group_id,
                         const char *member_id, const char *instance_id,
                         int64_t now)
{
    group_t *g = group_find(kgc, group_id);
    if (!g)
        return QUIRE_ERR_UNKNOWN_MEMBER_ID;
    pending_t *p = member_id[0] ? pending_take(g, member_id) : NULL;
    if (p) {
        free(p->member_id);
        free(p);
        try_complete_join(kgc, g, now);
        maybe_drop(kgc, g);
        return QUIRE_ERR_NONE;
    }
    if (fenced(g, member_id, instance_id))
        return QUIRE_ERR_FENCED_INSTANCE_ID;
    /* LeaveGroup v3+ may name a static member by its instance id alone */
    member_t *m = static_find(g, instance_id);
    if (!m)
        m = member_find(g, member_id);
    if (!m)
        return QUIRE_ERR_UNKNOWN_MEMBER_ID;
    QR_LOG_INFO("KGROUP", "group %s: member %s left", g->group_id,
                m->member_id);
    member_remove(g, m);
    after_removal(kgc, g, now);
    maybe_drop(kgc, g);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_kgc_commit_check(qr_kgc_t *kgc, const char *group_id,
                                const char *member_id, const char *instance_id,
                                int32_t generation_id, int64_t now)
{
    if (group_id[0] == '\0')
        return QUIRE_ERR_INVALID_GROUP_ID;
    group_t *g = group_find(kgc, group_id);
    if (!g)
        return generation_id < 0 ? QUIRE_ERR_NONE
                                 : QUIRE_ERR_ILLEGAL_GENERATION;
    if (fenced(g, member_id, instance_id))
        return QUIRE_ERR_FENCED_INSTANCE_ID;
    if (generation_id < 0 && g->state == ST_EMPTY)
        return QUIRE_ERR_NONE;
    if (g->state == ST_COMPLETING)
        return QUIRE_ERR_REBALANCE_IN_PROGRESS;
    member_t *m = member_find(g, member_id);
    if (!m)
        return QUIRE_ERR_UNKNOWN_MEMBER_ID;
    if (generation_id != g->generation)
        return QUIRE_ERR_ILLEGAL_GENERATION;
    m->heard = now;
    return QUIRE_ERR_NONE;
}

/* ---- describe, list, unload ---- */

void qr_kgc_describe(qr_kgc_t *kgc, const char *group_id, qr_kgc_desc_t *out)
{
    group_t *g = group_find(kgc, group_id);
    *out = (qr_kgc_desc_t){.group_id = group_id,
                           .state = state_names[ST_DEAD],
                           .protocol_type = "",
                           .protocol = "",
                           .generation_id = -1};
    if (!g)
        return;
    int stable = g->state == ST_STABLE;
    out->state = state_names[g->state];
    out->protocol_type = g->protocol_type ? g->protocol_type : "";
    out->protocol = stable && g->protocol ? g->protocol : "";
    out->generation_id = g->generation;
    size_t n = member_count(g), i = 0;
    kgc->dm = qr_realloc(kgc->dm, (n ? n : 1) * sizeof(*kgc->dm));
    for (member_t *m = g->members; m; m = m->next, i++) {
        const proto_t *p = stable ? member_proto(m, g->protocol) : NULL;
        kgc->dm[i] = (qr_kgc_desc_member_t){
            .member_id = m->member_id,
            .group_instance_id = m->instance_id,
            .client_id = m->client_id,
            .client_host = m->client_host,
            .metadata = p ? p->metadata : NULL,
            .metadata_len = p ? p->metadata_len : 0,
            .assignment = stable ? m->assignment : NULL,
            .assignment_len = stable ? m->assignment_len : 0};
    }
    out->member_count = n;
    out->members = kgc->dm;
}

void qr_kgc_list(qr_kgc_t *kgc,
                 void (*fn)(void *arg, const char *group_id,
                            const char *protocol_type, const char *state),
                 void *arg)
{
    for (group_t *g = kgc->groups; g; g = g->next)
        fn(arg, g->group_id, g->protocol_type ? g->protocol_type : "",
           state_names[g->state]);
}

int qr_kgc_has_group(const qr_kgc_t *kgc, const char *group_id)
{
    return group_find(kgc, group_id) != NULL;
}

static void unload(qr_kgc_t *kgc, group_t *g)
{
    for (group_t **pp = &kgc->groups; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    for (member_t *m = g->members; m; m = m->next) {
        join_fire(m, QUIRE_ERR_NOT_COORDINATOR);
        sync_fire(m, QUIRE_ERR_NOT_COORDINATOR);
    }
    QR_LOG_INFO("KGROUP", "group %s unloaded: another broker coordinates it",
                g->group_id);
    group_free(g);
}

void qr_kgc_unload(qr_kgc_t *kgc, const char *group_id)
{
    group_t *g = group_find(kgc, group_id);
    if (g)
        unload(kgc, g);
}

void qr_kgc_unload_if(qr_kgc_t *kgc,
                      int (*keep)(void *arg, const char *group_id), void *arg)
{
    for (group_t *g = kgc->groups, *next; g; g = next) {
        next = g->next;
        if (!keep(arg, g->group_id))
            unload(kgc, g);
    }
}

/* ---- time ---- */

static int member_kept_alive(const member_t *m)
{
    return m->join_cb || m->sync_cb;
}

static int64_t member_expiry(const member_t *m)
{
    return m->heard + m->session_timeout_ms;
}

static void tick_group(qr_kgc_t *kgc, group_t *g, int64_t now)
{
    for (pending_t **pp = &g->pending; *pp;) {
        pending_t *p = *pp;
        if (now >= p->expires) {
            *pp = p->next;
            free(p->member_id);
            free(p);
        } else {
            pp = &p->next;
        }
    }
    int removed = 0;
    for (member_t *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!member_kept_alive(m) && now >= member_expiry(m)) {
            QR_LOG_INFO("KGROUP",
                        "group %s: member %s removed: no "
                        "heartbeat within its session timeout (%d ms)",
                        g->group_id, m->member_id, (int)m->session_timeout_ms);
            member_remove(g, m);
            removed = 1;
        }
    }
    if (removed)
        after_removal(kgc, g, now);
    if (g->state == ST_PREPARING && now >= g->join_deadline)
        complete_join(kgc, g, now);
    else
        try_complete_join(kgc, g, now);
}

void qr_kgc_tick(qr_kgc_t *kgc, int64_t now)
{
    for (group_t *g = kgc->groups, *next; g; g = next) {
        next = g->next;
        tick_group(kgc, g, now);
        maybe_drop(kgc, g);
    }
}

int64_t qr_kgc_next_deadline(const qr_kgc_t *kgc)
{
    int64_t t = INT64_MAX;
#define EARLIER(x)   \
    do {             \
        if ((x) < t) \
            t = (x); \
    } while (0)
    for (const group_t *g = kgc->groups; g; g = g->next) {
        for (const pending_t *p = g->pending; p; p = p->next)
            EARLIER(p->expires);
        for (const member_t *m = g->members; m; m = m->next)
            if (!member_kept_alive(m))
                EARLIER(member_expiry(m));
        if (g->state == ST_PREPARING) {
            EARLIER(g->join_deadline);
            if (all_joined(g))
                EARLIER(g->join_not_before);
        }
    }
#undef EARLIER
    return t;
}

/* splitmix64's finaliser: spreads every input bit over the output */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

int32_t qr_kgc_pick(const int32_t *ids, size_t n, const char *group_id)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, 64 bits */
    for (const unsigned char *p = (const unsigned char *)group_id; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    int32_t best = -1;
    uint64_t best_score = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t score = mix64(h ^ mix64((uint64_t)(uint32_t)ids[i]));
        if (best < 0 || score > best_score ||
            (score == best_score && ids[i] < best)) {
            best = ids[i];
            best_score = score;
        }
    }
    return best;
}

const char *qr_kgc_state_name(int state)
{
    return state >= 0 && state < ST_COUNT ? state_names[state] : "?";
}

/* ---- life ---- */

qr_kgc_t *qr_kgc_new(const qr_kgc_conf_t *conf)
{
    qr_kgc_t *kgc = qr_calloc(1, sizeof(*kgc));
    kgc->conf = *conf;
    return kgc;
}

void qr_kgc_destroy(qr_kgc_t *kgc)
{
    if (!kgc)
        return;
    while (kgc->groups) {
        group_t *g = kgc->groups;
        kgc->groups = g->next;
        for (member_t *m = g->members; m; m = m->next) {
            join_fire(m, QUIRE_ERR_COORDINATOR_NOT_AVAILABLE);
            sync_fire(m, QUIRE_ERR_COORDINATOR_NOT_AVAILABLE);
        }
        group_free(g);
    }
    free(kgc->jm);
    free(kgc->dm);
    free(kgc);
}
