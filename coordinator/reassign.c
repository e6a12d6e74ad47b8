/*
 * reassign: partition reassignment. See reassign.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adminnode.h"
#include "alloc.h"
#include "logging.h"
#include "reassign.h"
#include "znode.h"

struct qr_reassign {
    qr_zk_t *zk;
    qr_controller_t *ctl;
    qr_adminnode_t *req;
};

static int same(const qr_replicas_t *a, const qr_replicas_t *b)
{
    return a->n == b->n && memcmp(a->ids, b->ids, a->n * sizeof(int32_t)) == 0;
}

/* RAR first, then OAR's replicas not in RAR. */
static void expanded(const qr_replicas_t *ar, const qr_replicas_t *rar,
                     qr_replicas_t *out)
{
    out->n = 0;
    for (size_t i = 0; i < rar->n; i++)
        out->ids[out->n++] = rar->ids[i];
    for (size_t i = 0; i < ar->n; i++)
        if (!qr_partlist_has_id(rar->ids, rar->n, ar->ids[i]))
            out->ids[out->n++] = ar->ids[i];
}

static qr_reassign_action_t shrink(const qr_replicas_t *rar,
                                   const qr_pstate_t *cur, const int32_t *live,
                                   size_t nlive, qr_replicas_t *ar_out,
                                   qr_pstate_t *st_out, const char **why)
{
    int32_t leader = -1;

    if (qr_partlist_has_id(rar->ids, rar->n, cur->leader) &&
        qr_partlist_has_id(live, nlive, cur->leader))
        leader = cur->leader;
    for (size_t i = 0; i < rar->n && leader < 0; i++)
        if (qr_partlist_has_id(live, nlive, rar->ids[i]) &&
            qr_partlist_has_id(cur->isr, cur->isr_cnt, rar->ids[i]))
            leader = rar->ids[i];
    if (leader < 0) {
        *why = "no replica of the new set is live";
        return QR_REASSIGN_WAIT;
    }
    *st_out = *cur;
    st_out->leader = leader;
    st_out->isr_cnt = 0;
    for (size_t i = 0; i < cur->isr_cnt; i++)
        if (qr_partlist_has_id(rar->ids, rar->n, cur->isr[i]))
            st_out->isr[st_out->isr_cnt++] = cur->isr[i];
    st_out->leader_epoch = cur->leader_epoch + 1;
    ar_out->n = rar->n;
    memcpy(ar_out->ids, rar->ids, rar->n * sizeof(int32_t));
    return QR_REASSIGN_SHRINK;
}

qr_reassign_action_t
qr_reassign_step(const qr_replicas_t *ar, const qr_replicas_t *rar,
                 const qr_pstate_t *cur, const int32_t *live, size_t nlive,
                 qr_replicas_t *ar_out, qr_pstate_t *st_out, const char **why)
{
    *why = NULL;
    if (same(ar, rar))
        return QR_REASSIGN_DONE;
    for (size_t i = 0; i < rar->n; i++)
        if (!qr_partlist_has_id(ar->ids, ar->n, rar->ids[i])) {
            /* not started (or only partly): the new replicas must be live
             * to start, as in Kafka */
            for (size_t j = 0; j < rar->n; j++)
                if (!qr_partlist_has_id(live, nlive, rar->ids[j]) &&
                    !qr_partlist_has_id(ar->ids, ar->n, rar->ids[j])) {
                    *why = "a new replica is not a live broker";
                    return QR_REASSIGN_REFUSE;
                }
            expanded(ar, rar, ar_out);
            return QR_REASSIGN_EXPAND;
        }
    if (!cur || cur->leader < 0) {
        *why = "the partition has no leader";
        return QR_REASSIGN_WAIT;
    }
    for (size_t i = 0; i < rar->n; i++)
        if (!qr_partlist_has_id(cur->isr, cur->isr_cnt, rar->ids[i])) {
            *why = "waiting for the new replicas to join the ISR";
            return QR_REASSIGN_WAIT;
        }
    return shrink(rar, cur, live, nlive, ar_out, st_out, why);
}

/* ---- the duty ---- */

static void log_ids(char *buf, size_t size, const qr_replicas_t *r)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < r->n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%d", i ? "," : "",
                                (int)r->ids[i]);
}

/* Plans one topic's steps; its assignment is written at most once.
 * @returns 1 when something was planned. Done partitions are removed from
 * @p left. */
static int plan_topic(qr_ctl_plan_t *pl, qr_view_t *view, const char *topic,
                      qr_partlist_t *left, const int32_t *live, size_t nlive)
{
    qr_view_topic_t *t = qr_view_topic(view, topic);
    int32_t ids[2 * QR_ASSIGN_MAX_REPLICAS];
    qr_assign_t next = {NULL, 0};
    int planned = 0, changed = 0;

    if (t && t->loaded && !qr_view_marker(view, topic)) {
        next.part_cnt = t->assign.part_cnt;
        next.parts = qr_calloc(next.part_cnt + 1, sizeof(*next.parts));
        for (size_t p = 0; p < next.part_cnt; p++) {
            next.parts[p].n = t->assign.parts[p].n;
            next.parts[p].ids =
                qr_malloc((2 * QR_ASSIGN_MAX_REPLICAS) * sizeof(int32_t));
            memcpy(next.parts[p].ids, t->assign.parts[p].ids,
                   t->assign.parts[p].n * sizeof(int32_t));
        }
    }
    for (size_t i = 0; i < left->n;) {
        qr_partlist_entry_t *e = &left->v[i];
        qr_replicas_t out = {ids, 0};
        qr_pstate_t st;
        const char *why = "no such partition";
        qr_reassign_action_t act = QR_REASSIGN_REFUSE;
        char a[256], b[256];

        if (strcmp(e->topic, topic) != 0) {
            i++;
            continue;
        }
        if (next.parts && (size_t)e->partition < next.part_cnt) {
            qr_view_part_t *part = &t->parts[e->partition];
            act = qr_reassign_step(&t->assign.parts[e->partition], &e->replicas,
                                   part->has_state ? &part->st : NULL, live,
                                   nlive, &out, &st, &why);
            if (act == QR_REASSIGN_SHRINK)
                qr_controller_plan_state(pl, topic, e->partition, &st,
                                         part->version);
            if (act == QR_REASSIGN_EXPAND || act == QR_REASSIGN_SHRINK) {
                log_ids(a, sizeof(a), &t->assign.parts[e->partition]);
                log_ids(b, sizeof(b), &out);
                QR_LOG_INFO("CTRL",
                            "%s-%d: reassignment %s: replicas [%s] "
                            "-> [%s]",
                            topic, (int)e->partition,
                            act == QR_REASSIGN_EXPAND ? "adds replicas"
                                                      : "drops replicas",
                            a, b);
                next.parts[e->partition].n = out.n;
                memcpy(next.parts[e->partition].ids, out.ids,
                       out.n * sizeof(int32_t));
                changed = 1;
            }
        }
        if (act == QR_REASSIGN_REFUSE)
            QR_LOG_ERR("CTRL", "%s-%d: reassignment dropped: %s", topic,
                       (int)e->partition, why);
        else if (act == QR_REASSIGN_DONE)
            QR_LOG_NOTICE("CTRL", "%s-%d: reassignment complete", topic,
                          (int)e->partition);
        if (act == QR_REASSIGN_REFUSE || act == QR_REASSIGN_DONE) {
            qr_partlist_remove(left, i);
            planned = 1;
        } else {
            i++;
        }
    }
    if (changed) {
        char *path = qr_znode_topic_path(topic), *data;
        data = qr_znode_topic_encode(&next);
        qr_controller_plan_set(pl, path, data, -1);
        free(data);
        free(path);
        planned = 1;
    }
    qr_assign_free(&next);
    return planned;
}

static void duty(void *opaque, qr_ctl_plan_t *pl, qr_view_t *view,
                 const int32_t *live, size_t nlive)
{
    qr_reassign_t *ra = opaque;
    qr_adminnode_t *req = ra->req;
    qr_partlist_t left = {NULL, 0};
    int planned = 0;
    size_t before;

    if (!req->present || req->rechecking)
        return;
    for (size_t i = 0; i < req->list.n; i++) {
        qr_partlist_entry_t *e = &req->list.v[i];
        qr_partlist_add(&left, e->topic, e->partition, e->replicas.ids,
                        e->replicas.n);
    }
    before = left.n;
    /* topic by topic, in the order they first appear */
    for (size_t i = 0; i < req->list.n; i++) {
        const char *topic = req->list.v[i].topic;
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(req->list.v[j].topic, topic) != 0;
        if (first)
            planned |= plan_topic(pl, view, topic, &left, live, nlive);
    }
    if (left.n == 0) {
        qr_controller_plan_delete(pl, QR_ZNODE_REASSIGN, req->version);
        planned = 1;
    } else if (left.n != before) {
        char *data = qr_partlist_encode(&left, 1);
        qr_controller_plan_set(pl, QR_ZNODE_REASSIGN, data, req->version);
        free(data);
    }
    if (planned)
        qr_adminnode_recheck(req);
    qr_partlist_free(&left);
}

static void on_node(void *opaque)
{
    qr_reassign_t *ra = opaque;

    if (qr_controller_active(ra->ctl))
        qr_controller_update(ra->ctl);
}

qr_reassign_t *qr_reassign_new(qr_zk_t *zk, qr_controller_t *ctl)
{
    qr_reassign_t *ra = qr_calloc(1, sizeof(*ra));

    ra->zk = zk;
    ra->ctl = ctl;
    ra->req = qr_adminnode_new(zk, QR_ZNODE_REASSIGN, 1, on_node, ra);
    qr_controller_add_duty(ctl, duty, ra);
    return ra;
}

void qr_reassign_destroy(qr_reassign_t *ra)
{
    if (!ra)
        return;
    qr_adminnode_destroy(ra->req);
    free(ra);
}
