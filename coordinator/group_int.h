/*
 * group_int: what group.c, rebalance.c and offsets.c share about one
 * member (see group.h). Not installed, not for other modules.
 *
 * Everything here lives on the group's loop; no locks.
 */
#ifndef QR_GROUP_INT_H
#define QR_GROUP_INT_H

#include <ev.h>
#include <regex.h>
#include <stdint.h>

#include "group.h"

#define QR_GROUP_OP_MAGIC   0x47524f50u /* "GROP" */
#define QR_GROUP_DEAD_MAGIC 0xdeadbeefu

/* A partition this member owns or fetches. */
typedef struct gpart {
    char *topic; /* owned */
    int32_t partition;
    int held;          /* our owner node exists (this session) */
    int unsure;        /* a claim of it whose answer was lost: settled by
                          reading the node (rebalance.c) */
    int verified;      /* read as ours by the attempt in progress */
    int releasing;     /* our delete of its owner node went out: no
                          commit of it is issued any more (offsets.c) */
    int32_t ver;       /* the owner node's version, as verified */
    int active;        /* the user fetches it (assigned, not revoked) */
    int64_t stored;    /* position the user stored; OFFSET_NONE */
    int64_t committed; /* what ZooKeeper has; OFFSET_NONE */
    uint64_t gen;      /* which claim of ours this is (g->claims) */
} gpart_t;

typedef struct att att_t;
typedef struct commit commit_t;

/* One ZooKeeper request of the group; owned by its attempt or commit
 * (freed with it), so a forgotten request leaks nothing. */
typedef struct gop {
    uint32_t magic;
    struct gop *next; /* in the owner's list */
    att_t *att;       /* or NULL */
    commit_t *commit; /* or NULL */
    int kind;
    size_t idx;  /* rebalance: index in its table; offsets: gpart_t.gen */
    char *topic; /* owned, or NULL */
    int32_t partition;
    int64_t value;
    int stage;
} gop_t;

/* A batch of offset writes (offsets.c). */
struct commit {
    qr_group_t *g;
    commit_t *next; /* g->commits */
    gop_t *ops;
    int pending;
    int issued; /* its writes went out (batches queue behind each other) */
    quire_err_t err;
    qr_group_commit_cb_t *cb;
    void *opaque;
    /* internal continuation (rebalance, close) instead of a user cb */
    void (*then)(qr_group_t *g, quire_err_t err, void *arg);
    void *then_arg;
    int done;
};

/* Something waiting for the deferred revocations (revoke_defer). */
typedef struct gwaiter {
    struct gwaiter *next;
    void (*fn)(qr_group_t *g, void *arg);
    void *arg;
} gwaiter_t;

typedef enum gstate {
    GS_NEW,     /* built, not started */
    GS_RUNNING, /* started: registers and rebalances as sessions come */
    GS_CLOSING, /* qr_group_close() in progress */
    GS_CLOSED
} gstate_t;

struct qr_group {
    qr_zk_t *zk; /* borrowed */
    struct ev_loop *loop;
    qr_group_conf_t conf; /* strings point at the owned copies below */
    qr_group_cbs_t cbs;
    char *group_id, *consumer_id; /* owned */
    char *ids_path;               /* /consumers/<g>/ids */
    char *my_path;                /* /consumers/<g>/ids/<consumer id> */

    /* subscription */
    int white_list;
    char **topics; /* owned, sorted; or one pattern */
    size_t topic_cnt;
    regex_t re; /* compiled pattern when white_list */
    int re_ok;

    gstate_t state;
    int registered;   /* our ids node exists in this session */
    int registering;  /* its create is in flight */
    int revoked_lost; /* revoked on a long disconnection */
    int64_t reg_ts;   /* registration time, ms since the epoch */

    gpart_t *parts; /* owned, sorted by (topic, partition) */
    size_t part_cnt, part_cap;
    qr_group_tp_t *tpview; /* owned: qr_group_assignment()'s answer */
    size_t tpview_cap;

    /* paths with a watch armed now, so a re-read does not pile up
     * watches; cleared when the watch fires and on every new session */
    char **watched;
    size_t watched_cnt, watched_cap;

    att_t *att;     /* the attempt in progress, or NULL */
    att_t *zombies; /* finished attempts with requests still in flight */
    int dirty;      /* a watch fired during the attempt */
    int retries;    /* failed attempts since the last success */
    uint64_t rebalances;
    uint64_t claims;   /* owner nodes created so far: gpart_t.gen */
    commit_t *commits; /* batches in flight */
    gop_t *misc_ops;   /* registration, close deletes */
    int close_pending;
    int close_recommit; /* close's commit lost its connection: again on
                           RECONNECTED, before any owner node goes */
    int holds;          /* qr_group_revoke_defer() not yet done */
    gwaiter_t *waiters; /* owned, run in order when holds reaches 0 */

    ev_timer coalesce; /* quiet time after a watch event */
    ev_timer retry;    /* backoff after a failed attempt */
    ev_timer autocommit;
    ev_timer lost; /* disconnected for a whole session timeout */
    ev_timer beat; /* a request every quarter session: the lease */
    int beat_inflight;
    int reg_dirty;  /* the subscription changed since the registration
                       was last written */
    int reg_failed; /* the last registration failure was reported */
    ev_idle later;  /* runs finished commits' callbacks */
};

/* ---- group.c ---- */

/* Sorted lookup; NULL when absent. */
gpart_t *qr_group_part_find(const qr_group_t *g, const char *topic,
                            int32_t partition);
/* Finds or inserts (held = active = 0, offsets NONE). */
gpart_t *qr_group_part_add(qr_group_t *g, const char *topic, int32_t partition);
/* Drops entries that are neither held, unsure nor active. */
void qr_group_part_gc(qr_group_t *g);
/* A ZooKeeper watch of the group fired, or something else changed:
 * rebalance after the quiet time. */
void qr_group_poke(qr_group_t *g);
/* Whether a watch on @p path is armed; arms the bookkeeping if not. */
int qr_group_watch_needed(qr_group_t *g, const char *path);
void qr_group_watch_fired(qr_group_t *g, const char *path);
/* Calls the revoked callback for every active partition matching @p keep
 * == 0 (all when @p keep is NULL), and marks them inactive. */
void qr_group_revoke(qr_group_t *g, const unsigned char *keep);
/* Runs @p fn(g, arg) once no revocation is deferred: now, or from
 * qr_group_revoke_done(). Forgotten (not run) by qr_group_destroy(). */
void qr_group_when_revoked(qr_group_t *g, void (*fn)(qr_group_t *g, void *arg),
                           void *arg);
/* Registers again (our ids node went missing). */
void qr_group_reregister(qr_group_t *g);
/* Path helpers; @returns owned. */
char *qr_group_path(const qr_group_t *g, const char *kind, const char *topic,
                    int32_t partition);
gop_t *qr_group_op_new(gop_t **list, int kind);
void qr_group_ops_free(gop_t *ops);
/* Takes @p op off @p list (without freeing it). */
void qr_group_op_unlink(gop_t **list, gop_t *op);
/* Compiles @p pattern anchored at both ends (Java's matches()).
 * @returns 0, or -1 with the reason in @p errstr. */
int qr_group_regex_compile(regex_t *re, const char *pattern, char *errstr,
                           size_t errstr_size);
/* Whether the owner node in @p res (a get's answer) is ours: our session
 * as its ephemeralOwner and our consumer id as its data. */
int qr_group_node_ours(const qr_group_t *g, const qr_zk_res_t *res);
/* Tells the user how long the lease on the owned partitions lasts. */
void qr_group_lease_publish(qr_group_t *g);
/* The session watch callback shared by every read of the group. */
void qr_group_on_watch(qr_zk_t *zk, int type, const char *path, void *owner);

/* ---- rebalance.c ---- */

/* Starts an attempt now (or marks dirty when one runs). */
void qr_rebalance_start(qr_group_t *g);
/* Drops the attempt in progress (session lost, closing): its requests'
 * results are ignored. */
void qr_rebalance_abort(qr_group_t *g);
/* Frees every attempt (group destroy, after qr_zk_forget). */
void qr_rebalance_free_all(qr_group_t *g);

/* ---- offsets.c ---- */

/* Commits every changed position of held or active partitions; @p then
 * runs (later, from the loop) when done. */
void qr_offsets_commit(qr_group_t *g, qr_group_commit_cb_t *cb, void *opaque,
                       void (*then)(qr_group_t *g, quire_err_t err, void *arg),
                       void *then_arg);
/* Whether a batch is in flight or queued. */
int qr_offsets_busy(const qr_group_t *g);
/* Runs finished commits' callbacks (from the idle watcher). */
void qr_offsets_reap(qr_group_t *g);
/* Frees every batch (group destroy, after qr_zk_forget). */
void qr_offsets_free_all(qr_group_t *g);

#endif /* QR_GROUP_INT_H */
