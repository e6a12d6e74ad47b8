/*
 * adminnode: a watched admin request znode. See adminnode.h.
 */
#include "config.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "adminnode.h"
#include "alloc.h"
#include "logging.h"

static void read_node(qr_adminnode_t *an);

static void set_absent(qr_adminnode_t *an)
{
    qr_partlist_free(&an->list);
    an->present = 0;
    an->malformed = 0;
    an->version = -1;
}

static void on_watch(qr_zk_t *zk, int type, const char *path, void *owner)
{
    (void)zk;
    (void)type;
    (void)path;
    read_node(owner);
}

static void on_get(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg)
{
    qr_adminnode_t *an = owner;
    char errstr[256];

    (void)zk;
    (void)arg;
    if (res->rc == ZCONNECTIONLOSS || res->rc == ZCLOSING)
        return; /* read again on the next session event */
    an->rechecking = 0;
    set_absent(an);
    if (res->rc == ZOK) {
        an->present = 1;
        an->version = res->stat->version;
        if (qr_partlist_decode(res->data ? res->data : "",
                               res->len > 0 ? (size_t)res->len : 0,
                               an->with_replicas, &an->list, errstr,
                               sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_ERR("CTRL", "%s: %s; it will be removed", an->path, errstr);
            an->malformed = 1;
        }
    }
    an->cb(an->opaque);
}

static void on_exists(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    qr_adminnode_t *an = owner;

    (void)arg;
    if (res->rc == ZOK) {
        qr_zk_get(zk, an->path, on_watch, on_get, an, NULL);
    } else if (res->rc == ZNONODE) {
        an->rechecking = 0;
        set_absent(an);
        an->cb(an->opaque);
    }
}

static void read_node(qr_adminnode_t *an)
{
    if (qr_zk_connected(an->zk))
        qr_zk_exists(an->zk, an->path, on_watch, on_exists, an, NULL);
}

static void on_session(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    (void)zk;
    if (ev == QR_ZK_EV_SESSION || ev == QR_ZK_EV_RECONNECTED)
        read_node(owner);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    read_node(w->data);
}

qr_adminnode_t *qr_adminnode_new(qr_zk_t *zk, const char *path,
                                 int with_replicas, qr_adminnode_cb_t *cb,
                                 void *opaque)
{
    qr_adminnode_t *an = qr_calloc(1, sizeof(*an));
    ev_timer *t = qr_calloc(1, sizeof(*t));

    an->zk = zk;
    an->path = qr_strdup(path);
    an->with_replicas = with_replicas;
    an->cb = cb;
    an->opaque = opaque;
    an->version = -1;
    ev_timer_init(t, on_timer, 0., 0.);
    t->data = an;
    an->timer = t;
    qr_zk_listen(zk, on_session, an);
    read_node(an);
    return an;
}

void qr_adminnode_recheck(qr_adminnode_t *an)
{
    an->rechecking = 1;
    ev_timer_stop(qr_zk_loop(an->zk), an->timer);
    ev_timer_set((ev_timer *)an->timer, 0., 0.);
    ev_timer_start(qr_zk_loop(an->zk), an->timer);
}

void qr_adminnode_destroy(qr_adminnode_t *an)
{
    if (!an)
        return;
    qr_zk_forget(an->zk, an);
    ev_timer_stop(qr_zk_loop(an->zk), an->timer);
    free(an->timer);
    qr_partlist_free(&an->list);
    free(an->path);
    free(an);
}
