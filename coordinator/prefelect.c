/*
 * prefelect: preferred replica election. See prefelect.h.
 */
#include "config.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "adminnode.h"
#include "alloc.h"
#include "logging.h"
#include "prefelect.h"
#include "view.h"
#include "znode.h"

struct qr_prefelect {
    qr_zk_t *zk;
    qr_controller_t *ctl;
    qr_prefelect_conf_t conf;
    qr_adminnode_t *req;      /* /admin/preferred_replica_election */
    qr_adminnode_t *reassign; /* read only to leave those partitions alone */
    int rebalance_due;
    ev_timer check_timer;
};

static const char leads_already[] = "the preferred replica leads already";

int qr_prefelect_decide(const qr_replicas_t *r, const int32_t *live,
                        size_t nlive, const qr_pstate_t *cur, qr_pstate_t *out,
                        const char **why)
{
    int32_t pref;

    *why = NULL;
    if (r->n == 0 || !cur) {
        *why = "no state yet";
        return 0;
    }
    pref = r->ids[0];
    if (cur->leader == pref) {
        *why = leads_already;
        return 0;
    }
    if (!qr_partlist_has_id(live, nlive, pref)) {
        *why = "the preferred replica is not live";
        return 0;
    }
    if (!qr_partlist_has_id(cur->isr, cur->isr_cnt, pref)) {
        *why = "the preferred replica is not in the ISR";
        return 0;
    }
    *out = *cur;
    out->leader = pref;
    out->leader_epoch = cur->leader_epoch + 1;
    return 1;
}

/* Plans the election of @p t-@p p's preferred replica; 1 if planned. */
static int elect_one(qr_ctl_plan_t *pl, qr_view_t *view, const char *topic,
                     int32_t p, const int32_t *live, size_t nlive, int quiet)
{
    qr_view_topic_t *t = qr_view_topic(view, topic);
    qr_pstate_t st;
    const char *why;

    if (!t || !t->loaded || p < 0 || (size_t)p >= t->assign.part_cnt) {
        why = "no such partition";
    } else if (qr_view_marker(view, topic)) {
        why = "the topic is being deleted";
    } else if (qr_prefelect_decide(
                   &t->assign.parts[p], live, nlive,
                   t->parts[p].has_state ? &t->parts[p].st : NULL, &st, &why)) {
        QR_LOG_INFO("CTRL",
                    "%s-%d: preferred replica %d elected leader "
                    "(was %d), epoch %d",
                    topic, (int)p, (int)st.leader, (int)t->parts[p].st.leader,
                    (int)st.leader_epoch);
        qr_controller_plan_state(pl, topic, p, &st, t->parts[p].version);
        return 1;
    }
    if (!quiet && why == leads_already)
        QR_LOG_INFO("CTRL", "%s-%d: preferred replica election: %s", topic,
                    (int)p, why);
    else if (!quiet)
        QR_LOG_WARN("CTRL", "%s-%d: preferred replica election skipped: %s",
                    topic, (int)p, why);
    return 0;
}

static void run_requests(qr_prefelect_t *pe, qr_ctl_plan_t *pl, qr_view_t *view,
                         const int32_t *live, size_t nlive)
{
    qr_adminnode_t *req = pe->req;

    if (!req->present || req->rechecking)
        return;
    for (size_t i = 0; i < req->list.n; i++)
        elect_one(pl, view, req->list.v[i].topic, req->list.v[i].partition,
                  live, nlive, 0);
    qr_controller_plan_delete(pl, QR_ZNODE_PREFERRED_ELECTION, req->version);
    qr_adminnode_recheck(req);
}

/* Kafka's checkAndTriggerPartitionRebalance: per broker, the share of the
 * partitions it prefers that it does not lead. */
static void rebalance(qr_prefelect_t *pe, qr_ctl_plan_t *pl, qr_view_t *view,
                      const int32_t *live, size_t nlive)
{
    for (size_t b = 0; b < view->broker_cnt; b++) {
        int32_t id = view->brokers[b].id;
        size_t total = 0, off = 0;
        for (size_t i = 0; i < view->topic_cnt; i++) {
            qr_view_topic_t *t = &view->topics[i];
            for (size_t p = 0; t->loaded && p < t->assign.part_cnt; p++) {
                if (t->assign.parts[p].n == 0 ||
                    t->assign.parts[p].ids[0] != id)
                    continue;
                total++;
                off += !t->parts[p].has_state || t->parts[p].st.leader != id;
            }
        }
        if (total == 0 ||
            off * 100 <= (size_t)pe->conf.imbalance_percentage * total)
            continue;
        QR_LOG_INFO("CTRL",
                    "broker %d leads %zu of the %zu partitions it "
                    "prefers: rebalancing",
                    (int)id, total - off, total);
        for (size_t i = 0; i < view->topic_cnt; i++) {
            qr_view_topic_t *t = &view->topics[i];
            for (size_t p = 0; t->loaded && p < t->assign.part_cnt; p++)
                if (t->assign.parts[p].n && t->assign.parts[p].ids[0] == id &&
                    !qr_partlist_find(&pe->reassign->list, t->name, (int32_t)p))
                    elect_one(pl, view, t->name, (int32_t)p, live, nlive, 1);
        }
    }
}

static void duty(void *opaque, qr_ctl_plan_t *pl, qr_view_t *view,
                 const int32_t *live, size_t nlive)
{
    qr_prefelect_t *pe = opaque;
    /* A broker in a controlled shutdown is being drained of leadership by
     * the controller: handing it a partition back would undo that, so it
     * counts as not live here. */
    int32_t *up = qr_calloc(nlive + 1, sizeof(int32_t));
    size_t nup = 0;

    for (size_t i = 0; i < nlive; i++)
        if (!qr_view_broker_shutting_down(view, live[i]))
            up[nup++] = live[i];
    run_requests(pe, pl, view, up, nup);
    if (pe->rebalance_due && pe->conf.auto_rebalance) {
        pe->rebalance_due = 0;
        rebalance(pe, pl, view, up, nup);
    }
    free(up);
}

static void on_node(void *opaque)
{
    qr_prefelect_t *pe = opaque;

    if (qr_controller_active(pe->ctl))
        qr_controller_update(pe->ctl);
}

static void on_check(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_prefelect_t *pe = w->data;

    (void)loop;
    (void)revents;
    if (!qr_controller_active(pe->ctl))
        return;
    pe->rebalance_due = 1;
    qr_controller_update(pe->ctl);
}

qr_prefelect_t *qr_prefelect_new(qr_zk_t *zk, qr_controller_t *ctl,
                                 const qr_prefelect_conf_t *conf)
{
    qr_prefelect_t *pe = qr_calloc(1, sizeof(*pe));
    double every = conf->check_interval_s > 0 ? conf->check_interval_s : 300;

    pe->zk = zk;
    pe->ctl = ctl;
    pe->conf = *conf;
    pe->req = qr_adminnode_new(zk, QR_ZNODE_PREFERRED_ELECTION, 0, on_node, pe);
    pe->reassign = qr_adminnode_new(zk, QR_ZNODE_REASSIGN, 1, on_node, pe);
    ev_timer_init(&pe->check_timer, on_check, every, every);
    pe->check_timer.data = pe;
    if (conf->auto_rebalance)
        ev_timer_start(qr_zk_loop(zk), &pe->check_timer);
    qr_controller_add_duty(ctl, duty, pe);
    return pe;
}

void qr_prefelect_destroy(qr_prefelect_t *pe)
{
    if (!pe)
        return;
    ev_timer_stop(qr_zk_loop(pe->zk), &pe->check_timer);
    qr_adminnode_destroy(pe->req);
    qr_adminnode_destroy(pe->reassign);
    free(pe);
}
