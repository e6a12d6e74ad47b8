/*
 * zk_sync: blocking calls over zk.c's async ones. See zk_sync.h.
 */
#include "config.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "zk_sync.h"

typedef struct sync {
    int done;
    qr_zk_sres_t *res;
} sync_t;

void qr_zk_sres_free(qr_zk_sres_t *res)
{
    if (!res)
        return;
    free(res->data);
    for (size_t i = 0; i < res->child_cnt; i++)
        free(res->children[i]);
    free(res->children);
    free(res->op_errs);
    memset(res, 0, sizeof(*res));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_done(qr_zk_t *zk, const qr_zk_res_t *r, void *owner, void *arg)
{
    sync_t *s = owner;
    qr_zk_sres_t *res = s->res;

    (void)zk;
    (void)arg;
    res->rc = r->rc;
    res->len = -1;
    if (r->data && r->len >= 0) {
        res->data = qr_malloc((size_t)r->len + 1);
        memcpy(res->data, r->data, (size_t)r->len);
        res->data[r->len] = '\0';
        res->len = r->len;
    }
    if (r->stat) {
        res->stat = *r->stat;
        res->has_stat = 1;
    }
    if (r->children) {
        res->child_cnt = (size_t)r->children->count;
        res->children = qr_calloc(res->child_cnt + 1, sizeof(char *));
        for (size_t i = 0; i < res->child_cnt; i++)
            res->children[i] = qr_strdup(r->children->data[i]);
        qsort(res->children, res->child_cnt, sizeof(char *), cmp_str);
    }
    if (r->results) {
        res->op_cnt = r->count;
        res->op_errs = qr_calloc((size_t)r->count + 1, sizeof(int));
        for (int i = 0; i < r->count; i++)
            res->op_errs[i] = r->results[i].err;
    }
    s->done = 1;
}

static int is_done(void *arg)
{
    return ((sync_t *)arg)->done;
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    *(int *)w->data = 1;
}

int qr_zk_sync_wait(qr_zk_t *zk, int (*cond)(void *arg), void *arg,
                    int timeout_ms)
{
    struct ev_loop *loop = qr_zk_loop(zk);
    ev_timer deadline;
    int expired = 0;

    ev_timer_init(&deadline, on_deadline, timeout_ms / 1000., 0.);
    deadline.data = &expired;
    ev_timer_start(loop, &deadline);
    while (!cond(arg) && !expired)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &deadline);
    return cond(arg);
}

/* Waits for the request issued with owner @p s; on timeout makes sure its
 * completion can never write into @p s (it lives on the caller's stack). */
static quire_err_t finish(qr_zk_t *zk, sync_t *s, quire_err_t err,
                          int timeout_ms)
{
    if (err != QUIRE_ERR_NONE) {
        s->res->rc = err == QUIRE_ERR_ZK_CONNECTION_LOSS ? ZCONNECTIONLOSS
                                                         : ZSYSTEMERROR;
        return err;
    }
    if (!qr_zk_sync_wait(zk, is_done, s, timeout_ms)) {
        qr_zk_forget(zk, s);
        s->res->rc = ZOPERATIONTIMEOUT;
        return QUIRE_ERR_TIMED_OUT;
    }
    return qr_zk_err(s->res->rc);
}

#define SYNC_BEGIN                \
    sync_t s = {0, res};          \
    memset(res, 0, sizeof(*res)); \
    res->len = -1

quire_err_t qr_zk_sync_get(qr_zk_t *zk, const char *path, int timeout_ms,
                           qr_zk_sres_t *res)
{
    SYNC_BEGIN;
    return finish(zk, &s, qr_zk_get(zk, path, NULL, on_done, &s, NULL),
                  timeout_ms);
}

quire_err_t qr_zk_sync_exists(qr_zk_t *zk, const char *path, int timeout_ms,
                              qr_zk_sres_t *res)
{
    SYNC_BEGIN;
    return finish(zk, &s, qr_zk_exists(zk, path, NULL, on_done, &s, NULL),
                  timeout_ms);
}

quire_err_t qr_zk_sync_children(qr_zk_t *zk, const char *path, int timeout_ms,
                                qr_zk_sres_t *res)
{
    SYNC_BEGIN;
    return finish(zk, &s, qr_zk_children(zk, path, NULL, on_done, &s, NULL),
                  timeout_ms);
}

quire_err_t qr_zk_sync_create(qr_zk_t *zk, const char *path, const char *data,
                              int len, int flags, int timeout_ms,
                              qr_zk_sres_t *res)
{
    SYNC_BEGIN;
    return finish(zk, &s,
                  qr_zk_create(zk, path, data, len, flags, on_done, &s, NULL),
                  timeout_ms);
}

quire_err_t qr_zk_sync_set(qr_zk_t *zk, const char *path, const char *data,
                           int len, int version, int timeout_ms,
                           qr_zk_sres_t *res)
{
    SYNC_BEGIN;
    return finish(zk, &s,
                  qr_zk_set(zk, path, data, len, version, on_done, &s, NULL),
                  timeout_ms);
}

quire_err_t qr_zk_sync_delete(qr_zk_t *zk, const char *path, int version,
                              int timeout_ms, qr_zk_sres_t *res)
{
    SYNC_BEGIN;
    return finish(zk, &s, qr_zk_delete(zk, path, version, on_done, &s, NULL),
                  timeout_ms);
}

quire_err_t qr_zk_sync_multi(qr_zk_t *zk, qr_zk_multi_t *m, int timeout_ms,
                             qr_zk_sres_t *res)
{
    SYNC_BEGIN;
    return finish(zk, &s, qr_zk_multi_submit(zk, m, on_done, &s, NULL),
                  timeout_ms);
}

/* ---- connect ---- */

typedef struct conn_wait {
    int state; /* 0 waiting, 1 session, -1 fatal */
} conn_wait_t;

static void on_event(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    conn_wait_t *cw = owner;

    (void)zk;
    if (ev == QR_ZK_EV_SESSION)
        cw->state = 1;
    else if (ev == QR_ZK_EV_FATAL)
        cw->state = -1;
}

static int conn_done(void *arg)
{
    return ((conn_wait_t *)arg)->state != 0;
}

quire_err_t qr_zk_sync_connect(qr_zk_t *zk, int timeout_ms, char *errstr,
                               size_t errstr_size)
{
    conn_wait_t cw = {0};
    quire_err_t err = QUIRE_ERR_NONE;

    if (qr_zk_connected(zk))
        return QUIRE_ERR_NONE;
    err = qr_zk_start(zk, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE && err != QUIRE_ERR_STATE)
        return err; /* QUIRE_ERR_STATE: started already, just wait */
    err = QUIRE_ERR_NONE;
    qr_zk_listen(zk, on_event, &cw);
    if (!qr_zk_sync_wait(zk, conn_done, &cw, timeout_ms)) {
        snprintf(errstr, errstr_size, "no ZooKeeper session within %d ms",
                 timeout_ms);
        err = QUIRE_ERR_TIMED_OUT;
    } else if (cw.state < 0) {
        snprintf(errstr, errstr_size, "cannot connect to ZooKeeper");
        err = QUIRE_ERR_ZK;
    }
    qr_zk_forget(zk, &cw);
    return err;
}
