/*
 * offsets: committing positions to /consumers/<g>/offsets/<t>/<p> (DESIGN.md
 * §6): the next offset to read, in decimal, written only when it changed.
 *
 * A commit is a batch: one write per changed partition, issued at once;
 * batches go out one at a time, in order.
 * Each write is a set; a missing node (the first commit of a partition) is
 * created with its topic's parent, and a create that races another
 * member's becomes a set again. The batch's callback runs once every write
 * has completed, from an idle watcher, never from inside the call that
 * started it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "group_int.h"
#include "logging.h"

enum { STAGE_SET, STAGE_CREATE, STAGE_SET_AGAIN };

static void on_write(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                     void *arg);

static quire_err_t write_stage(qr_group_t *g, gop_t *op)
{
    char data[32];
    int len = snprintf(data, sizeof(data), "%" PRId64, op->value);
    char *path = qr_group_path(g, "offsets", op->topic, op->partition);
    quire_err_t err;
    if (op->stage == STAGE_CREATE) {
        char *dir = qr_group_path(g, "offsets", op->topic, -1);
        /* processed before the create below (one session, in order) */
        qr_zk_create(g->zk, dir, NULL, -1, 0, NULL, g, NULL);
        free(dir);
        err = qr_zk_create(g->zk, path, data, len, 0, on_write, g, op);
    } else {
        err = qr_zk_set(g->zk, path, data, len, -1, on_write, g, op);
    }
    free(path);
    return err;
}

static void batch_issue(commit_t *c);

/* Done: its callback runs from the idle watcher, and the next batch in
 * line goes out. */
static void batch_finish(commit_t *c)
{
    qr_group_t *g = c->g;
    c->done = 1;
    ev_idle_start(g->loop, &g->later);
    for (commit_t *n = g->commits; n; n = n->next) {
        if (!n->issued) {
            batch_issue(n);
            return;
        }
    }
}

static void on_write(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                     void *arg)
{
    qr_group_t *g = owner;
    gop_t *op = arg;
    (void)zk;
    QR_ASSERT(op->magic == QR_GROUP_OP_MAGIC);
    commit_t *c = op->commit;
    /* the same claim of the partition as when the write was issued */
    gpart_t *held = qr_group_part_find(g, op->topic, op->partition);
    if (held &&
        (!held->held || held->releasing || held->gen != (uint64_t)op->idx))
        held = NULL;
    int retry = (res->rc == ZNONODE && op->stage == STAGE_SET) ||
                (res->rc == ZNODEEXISTS && op->stage == STAGE_CREATE);
    if (retry && !held) {
        /* A second step goes out only while the partition is still ours,
         * under the same claim: issued later, it could land after the next
         * owner's commit and rewind the group. (The first step was issued while
         * it was ours, so it is ordered before our release, and the release
         * before any write of the next owner.) */
        QR_DBG(QR_DBG_GROUP, "GROUP",
               "%s: commit of %s-%d dropped: no longer ours", g->consumer_id,
               op->topic, (int)op->partition);
    } else if (res->rc == ZNONODE && op->stage == STAGE_SET) {
        op->stage = STAGE_CREATE;
        if (write_stage(g, op) == QUIRE_ERR_NONE)
            return; /* still pending */
        c->err = QUIRE_ERR_ZK_CONNECTION_LOSS;
    } else if (res->rc == ZNODEEXISTS && op->stage == STAGE_CREATE) {
        op->stage = STAGE_SET_AGAIN;
        if (write_stage(g, op) == QUIRE_ERR_NONE)
            return;
        c->err = QUIRE_ERR_ZK_CONNECTION_LOSS;
    } else if (res->rc == ZOK) {
        if (held)
            held->committed = op->value;
        QR_DBG(QR_DBG_GROUP, "GROUP", "%s: committed %s-%d at %" PRId64,
               g->consumer_id, op->topic, (int)op->partition, op->value);
    } else {
        /* a lost session is reported once, by group.c */
        int lost = res->rc == ZSESSIONEXPIRED || res->rc == ZCONNECTIONLOSS ||
                   res->rc == ZCLOSING;
        QR_LOG(lost ? QR_LOG_LVL_DEBUG : QR_LOG_LVL_WARNING, "GROUP",
               "%s: commit of %s-%d failed: %s", g->consumer_id, op->topic,
               (int)op->partition, zerror(res->rc));
        if (c->err == QUIRE_ERR_NONE)
            c->err = qr_zk_err(res->rc);
    }
    if (--c->pending == 0)
        batch_finish(c);
}

/* Writes every changed position of what we hold now. */
static void batch_issue(commit_t *c)
{
    qr_group_t *g = c->g;
    c->issued = 1;
    for (size_t i = 0; i < g->part_cnt; i++) {
        gpart_t *gp = &g->parts[i];
        /* not once its release went out (phase_release): the delete may
         * land first, and the next owner start before this write */
        if (!gp->held || gp->releasing || gp->stored == QR_GROUP_OFFSET_NONE ||
            gp->stored == gp->committed)
            continue;
        gop_t *op = qr_group_op_new(&c->ops, 0);
        op->commit = c;
        op->topic = qr_strdup(gp->topic);
        op->partition = gp->partition;
        op->value = gp->stored;
        op->idx = (size_t)gp->gen;
        op->stage = STAGE_SET;
        if (write_stage(g, op) == QUIRE_ERR_NONE)
            c->pending++;
        else
            c->err = QUIRE_ERR_ZK_CONNECTION_LOSS;
    }
    if (c->pending == 0)
        batch_finish(c);
}

int qr_offsets_busy(const qr_group_t *g)
{
    for (const commit_t *c = g->commits; c; c = c->next)
        if (!c->done)
            return 1;
    return 0;
}

void qr_offsets_commit(qr_group_t *g, qr_group_commit_cb_t *cb, void *opaque,
                       void (*then)(qr_group_t *g, quire_err_t err, void *arg),
                       void *then_arg)
{
    commit_t *c = qr_calloc(1, sizeof(*c)), **tail = &g->commits;
    c->g = g;
    c->cb = cb;
    c->opaque = opaque;
    c->then = then;
    c->then_arg = then_arg;
    /* One batch at a time, in the order asked: the writes of two batches
     * (each a set, maybe then a create and a set again) could otherwise
     * land out of order and leave an older position last. A queued batch
     * writes the positions stored when it goes out. */
    int busy = qr_offsets_busy(g);
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    if (!busy)
        batch_issue(c);
}

static void commit_free(commit_t *c)
{
    qr_group_ops_free(c->ops);
    free(c);
}

void qr_offsets_reap(qr_group_t *g)
{
    ev_idle_stop(g->loop, &g->later);
    /* callbacks may start new batches: take the finished ones off first,
     * keeping their order (oldest first) */
    commit_t *done = NULL, **dtail = &done;
    for (commit_t **pp = &g->commits; *pp;) {
        commit_t *c = *pp;
        if (c->done) {
            *pp = c->next;
            c->next = NULL;
            *dtail = c;
            dtail = &c->next;
        } else {
            pp = &c->next;
        }
    }
    while (done) {
        commit_t *c = done;
        done = c->next;
        if (c->then)
            c->then(g, c->err, c->then_arg);
        else if (c->cb)
            c->cb(g, c->err, c->opaque);
        commit_free(c);
    }
}

void qr_offsets_free_all(qr_group_t *g)
{
    while (g->commits) {
        commit_t *next = g->commits->next;
        commit_free(g->commits);
        g->commits = next;
    }
}
