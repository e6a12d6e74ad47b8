/*
 * registry: /brokers/ids/<id>. See registry.h.
 */
#include "config.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "alloc.h"
#include "logging.h"
#include "registry.h"
#include "znode.h"

struct qr_registry {
    qr_zk_t *zk;
    int32_t id;
    char *host;
    int port;
    int kafka_port; /* 0: no Kafka listener */
    char *path;
    qr_registry_cb_t *cb;
    void *opaque;
    int registered;
    int ever_registered; /* a duplicate before this is fatal */
    int busy;            /* a create/exists chain is in flight */
    int fatal;
    ev_timer retry; /* waits out a stale node of our old session */
};

static void try_register(qr_registry_t *reg);

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

quire_err_t qr_registry_create_roots(qr_zk_t *zk, qr_zk_cb_t *cb, void *owner,
                                     void *arg)
{
    quire_err_t err = QUIRE_ERR_NONE;

    for (size_t i = 0; i < qr_znode_root_cnt && !err; i++)
        err = qr_zk_create(zk, qr_znode_roots[i], NULL, 0, 0,
                           i + 1 == qr_znode_root_cnt ? cb : NULL, owner, arg);
    return err;
}

static void registered(qr_registry_t *reg)
{
    reg->registered = 1;
    reg->ever_registered = 1;
    QR_LOG_INFO("ZK", "registered broker %d at %s:%d as %s", (int)reg->id,
                reg->host, reg->port, reg->path);
    if (reg->cb)
        reg->cb(reg, QUIRE_ERR_NONE, NULL, reg->opaque);
}

static void schedule_retry(qr_registry_t *reg, double after)
{
    struct ev_loop *loop = qr_zk_loop(reg->zk);

    ev_timer_stop(loop, &reg->retry);
    ev_timer_set(&reg->retry, after, 0.);
    ev_timer_start(loop, &reg->retry);
}

/* The stale node went away (or changed): try again. */
static void on_node_watch(qr_zk_t *zk, int type, const char *path, void *owner)
{
    qr_registry_t *reg = owner;

    (void)zk;
    (void)path;
    if (type == ZOO_DELETED_EVENT && !reg->registered && !reg->busy)
        try_register(reg);
}

static void on_exists(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    qr_registry_t *reg = owner;
    char msg[256];

    (void)zk;
    (void)arg;
    reg->busy = 0;
    if (res->rc == ZNONODE) { /* gone in between */
        try_register(reg);
        return;
    }
    if (res->rc != ZOK)
        return; /* connection trouble: the next (re)connect retries */
    if (res->stat->ephemeralOwner == qr_zk_session_id(reg->zk)) {
        registered(reg);
        return;
    }
    if (!reg->ever_registered) {
        snprintf(msg, sizeof(msg),
                 "broker id %d is already registered at %s by another live "
                 "session (0x%llx): is broker.id %d in use by another "
                 "broker, or was this one restarted faster than "
                 "zookeeper.session.timeout.ms?",
                 (int)reg->id, reg->path,
                 (unsigned long long)res->stat->ephemeralOwner, (int)reg->id);
        QR_LOG_ERR("ZK", "%s", msg);
        reg->fatal = 1;
        if (reg->cb)
            reg->cb(reg, QUIRE_ERR_EXISTS, msg, reg->opaque);
        return;
    }
    /* KAFKA-1387: our previous session's node, not yet expired on the
     * server. The exists watch above fires when it goes; a slow timer
     * guards against a missed event. */
    QR_LOG_WARN("ZK",
                "%s still held by session 0x%llx (ours is 0x%llx); waiting "
                "for it to expire",
                reg->path, (unsigned long long)res->stat->ephemeralOwner,
                (unsigned long long)qr_zk_session_id(reg->zk));
    schedule_retry(reg, qr_zk_session_timeout(reg->zk) / 1000.);
}

static void on_created(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                       void *arg)
{
    qr_registry_t *reg = owner;

    (void)arg;
    if (res->rc == ZOK) {
        reg->busy = 0;
        registered(reg);
    } else if (res->rc == ZNODEEXISTS) {
        if (qr_zk_exists(zk, reg->path, on_node_watch, on_exists, reg, NULL) !=
            QUIRE_ERR_NONE)
            reg->busy = 0;
    } else {
        reg->busy = 0;
        if (res->rc != ZCONNECTIONLOSS && res->rc != ZCLOSING &&
            res->rc != ZSESSIONEXPIRED) {
            QR_LOG_ERR("ZK", "cannot create %s: %s; retrying", reg->path,
                       zerror(res->rc));
            schedule_retry(reg, 1.);
        }
    }
}

static void on_roots(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                     void *arg)
{
    qr_registry_t *reg = owner;
    char *data;

    (void)arg;
    if (res->rc != ZOK && res->rc != ZNODEEXISTS) {
        reg->busy = 0;
        /* connection trouble is retried on the next (re)connect */
        if (res->rc != ZCONNECTIONLOSS && res->rc != ZCLOSING &&
            res->rc != ZSESSIONEXPIRED) {
            QR_LOG_ERR("ZK",
                       "cannot create the persistent roots: %s; "
                       "retrying",
                       zerror(res->rc));
            schedule_retry(reg, 1.);
        }
        return;
    }
    data = qr_znode_broker_encode_ep(reg->host, reg->port, reg->kafka_port,
                                     now_ms());
    if (qr_zk_create(zk, reg->path, data, (int)strlen(data), ZOO_EPHEMERAL,
                     on_created, reg, NULL) != QUIRE_ERR_NONE)
        reg->busy = 0;
    free(data);
}

static void try_register(qr_registry_t *reg)
{
    if (reg->busy || reg->registered || reg->fatal)
        return;
    reg->busy = 1;
    if (qr_registry_create_roots(reg->zk, on_roots, reg, NULL) !=
        QUIRE_ERR_NONE)
        reg->busy = 0;
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_registry_t *reg = w->data;

    (void)loop;
    (void)revents;
    try_register(reg);
}

static void on_session(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    qr_registry_t *reg = owner;

    (void)zk;
    switch (ev) {
    case QR_ZK_EV_SESSION:
        reg->registered = 0;
        reg->busy = 0; /* the old session's requests are gone */
        try_register(reg);
        break;
    case QR_ZK_EV_RECONNECTED:
        try_register(reg); /* no-op when registered */
        break;
    case QR_ZK_EV_EXPIRED:
        reg->registered = 0;
        break;
    default:
        break;
    }
}

qr_registry_t *qr_registry_new(qr_zk_t *zk, int32_t id, const char *host,
                               int port, int kafka_port, qr_registry_cb_t *cb,
                               void *opaque)
{
    qr_registry_t *reg = qr_calloc(1, sizeof(*reg));

    reg->zk = zk;
    reg->id = id;
    reg->host = qr_strdup(host);
    reg->port = port;
    reg->kafka_port = kafka_port;
    reg->path = qr_znode_broker_path(id);
    reg->cb = cb;
    reg->opaque = opaque;
    ev_timer_init(&reg->retry, on_retry, 0., 0.);
    reg->retry.data = reg;
    qr_zk_listen(zk, on_session, reg);
    if (qr_zk_connected(zk))
        try_register(reg);
    return reg;
}

int qr_registry_registered(const qr_registry_t *reg)
{
    return reg->registered;
}

void qr_registry_destroy(qr_registry_t *reg)
{
    if (!reg)
        return;
    qr_zk_forget(reg->zk, reg);
    ev_timer_stop(qr_zk_loop(reg->zk), &reg->retry);
    if (reg->registered)
        qr_zk_delete(reg->zk, reg->path, -1, NULL, NULL, NULL);
    free(reg->host);
    free(reg->path);
    free(reg);
}
