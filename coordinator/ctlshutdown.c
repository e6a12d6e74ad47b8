/*
 * ctlshutdown: the broker's side of a controlled shutdown. See
 * ctlshutdown.h.
 */
#include "config.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "ctlshutdown.h"
#include "logging.h"
#include "znode.h"

struct qr_ctlshutdown {
    qr_zk_t *zk;
    qr_view_t *view;
    int32_t broker_id;
    int max_retries;
    int attempt;   /* 1-based, the one under way */
    int requested; /* our node exists */
    int creating;  /* its create is in flight */
    int done;
    int started;    /* the first look (from the loop) ran */
    ev_timer timer; /* at once, then once per attempt's backoff */
    qr_ctlshutdown_cb_t *cb;
    void *opaque;
};

size_t qr_ctlshutdown_movable(const qr_view_t *view, int32_t broker_id)
{
    size_t n = 0;

    for (size_t i = 0; i < view->topic_cnt; i++) {
        const qr_view_topic_t *t = &view->topics[i];
        for (size_t p = 0; t->loaded && p < t->assign.part_cnt; p++) {
            const qr_replicas_t *r = &t->assign.parts[p];
            int other = 0;
            if (!t->parts[p].has_state || t->parts[p].st.leader != broker_id ||
                r->n < 2)
                continue;
            for (size_t k = 0; k < r->n && !other; k++)
                other = r->ids[k] != broker_id &&
                        qr_view_broker_live(view, r->ids[k]);
            n += other;
        }
    }
    return n;
}

static void finish(qr_ctlshutdown_t *cs, int moved, const char *msg)
{
    if (cs->done)
        return;
    cs->done = 1;
    ev_timer_stop(qr_zk_loop(cs->zk), &cs->timer);
    cs->cb(cs->opaque, moved, msg);
}

static void on_created(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                       void *arg)
{
    qr_ctlshutdown_t *cs = owner;

    (void)zk;
    (void)arg;
    cs->creating = 0;
    if (res->rc == ZOK || res->rc == ZNODEEXISTS) {
        cs->requested = 1;
        QR_LOG_NOTICE("CTLSD",
                      "controlled shutdown requested: waiting for the "
                      "controller to move %zu leaderships",
                      qr_ctlshutdown_movable(cs->view, cs->broker_id));
    } else {
        QR_LOG_WARN("CTLSD", "creating %s: %s; trying again", res->path,
                    zerror(res->rc));
    }
}

static void request(qr_ctlshutdown_t *cs)
{
    char *path;

    if (cs->requested || cs->creating)
        return;
    path = qr_znode_controlled_shutdown_path(cs->broker_id);
    if (qr_zk_create(cs->zk, path, NULL, 0, ZOO_EPHEMERAL, on_created, cs,
                     NULL) == QUIRE_ERR_NONE)
        cs->creating = 1;
    free(path);
}

void qr_ctlshutdown_update(qr_ctlshutdown_t *cs)
{
    size_t left;

    if (cs->done || !cs->view->loaded)
        return;
    left = qr_ctlshutdown_movable(cs->view, cs->broker_id);
    if (left == 0) {
        QR_LOG_NOTICE("CTLSD", "controlled shutdown: leading nothing that "
                               "can move; stopping");
        finish(cs, 1, "leadership moved");
        return;
    }
    /* a new session lost our ephemeral: ask again (NODEEXISTS is fine) */
    if (!qr_view_broker_shutting_down(cs->view, cs->broker_id))
        cs->requested = 0;
    request(cs);
}

/* The first run is the first look, from the loop (so the callback never
 * runs inside qr_ctlshutdown_new()); each later one ends an attempt. */
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_ctlshutdown_t *cs = w->data;
    size_t left;
    char msg[160];

    (void)loop;
    (void)revents;
    qr_ctlshutdown_update(cs);
    if (cs->done || !cs->started) {
        cs->started = 1;
        return;
    }
    left = qr_ctlshutdown_movable(cs->view, cs->broker_id);
    if (cs->attempt >= cs->max_retries) {
        snprintf(msg, sizeof(msg),
                 "controlled shutdown gave up after %d attempts: still "
                 "leading %zu partitions with a live replica elsewhere",
                 cs->attempt, left);
        QR_LOG_WARN("CTLSD", "%s", msg);
        finish(cs, 0, msg);
        return;
    }
    QR_LOG_INFO("CTLSD",
                "controlled shutdown attempt %d of %d: still leading %zu "
                "partitions",
                cs->attempt, cs->max_retries, left);
    cs->attempt++;
}

qr_ctlshutdown_t *qr_ctlshutdown_new(qr_zk_t *zk, qr_view_t *view,
                                     int32_t broker_id, int max_retries,
                                     int64_t backoff_ms,
                                     qr_ctlshutdown_cb_t *cb, void *opaque)
{
    qr_ctlshutdown_t *cs = qr_calloc(1, sizeof(*cs));

    cs->zk = zk;
    cs->view = view;
    cs->broker_id = broker_id;
    cs->max_retries = max_retries > 0 ? max_retries : 1;
    cs->attempt = 1;
    cs->cb = cb;
    cs->opaque = opaque;
    ev_timer_init(&cs->timer, on_timer, 0.,
                  (double)(backoff_ms > 0 ? backoff_ms : 1) / 1000.);
    cs->timer.data = cs;
    ev_timer_start(qr_zk_loop(zk), &cs->timer);
    return cs;
}

void qr_ctlshutdown_destroy(qr_ctlshutdown_t *cs)
{
    if (!cs)
        return;
    qr_zk_forget(cs->zk, cs);
    ev_timer_stop(qr_zk_loop(cs->zk), &cs->timer);
    free(cs);
}
