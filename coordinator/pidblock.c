/*
 * pidblock: producer id blocks from ZooKeeper (see pidblock.h).
 */
#include "config.h"

#include <ev.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "logging.h"
#include "pidblock.h"

#define RETRY_S 1.0 /* after a ZooKeeper failure */

struct qr_pidblock {
    struct ev_loop *loop;
    int32_t broker_id;
    qr_zk_t *zk;    /* main loop only */
    ev_async wake;  /* a network thread wants the next block */
    ev_timer retry; /* after a failed attempt */
    int fetching;   /* a ZooKeeper exchange is out (main loop) */
    /* the block being written while fetching (main loop): kept here, not
     * in the request's arg, so a request qr_zk_forget() drops at shutdown
     * leaves nothing to free */
    int64_t wstart, wend;
    pthread_mutex_t mu;
    /* guarded by mu: the current block [next, end] and the one after */
    int64_t next, end;
    int64_t ahead_start, ahead_end; /* ahead_start < 0: none */
    int want;                       /* a block should be fetched */
};

/* ---- JSON ---- */

char *qr_pidblock_json(int32_t broker_id, int64_t start, int64_t end)
{
    char buf[160];

    snprintf(buf, sizeof(buf),
             "{\"version\":1,\"broker\":%" PRId32 ",\"block_start\":\"%" PRId64
             "\",\"block_end\":\"%" PRId64 "\"}",
             broker_id, start, end);
    return qr_strdup(buf);
}

static int get_i64(json_t *v, int64_t *out)
{
    char *endp;

    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return 0;
    *out = strtoll(json_string_value(v), &endp, 10);
    return *endp == '\0';
}

quire_err_t qr_pidblock_parse(const char *data, int len, int32_t *broker_id,
                              int64_t *start, int64_t *end)
{
    json_t *root;
    json_error_t jerr;
    int64_t b = -1;
    int ok;

    if (!data || len <= 0)
        return QUIRE_ERR_BAD_JSON;
    root = json_loadb(data, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return QUIRE_ERR_BAD_JSON;
    ok = json_is_object(root) &&
         get_i64(json_object_get(root, "block_start"), start) &&
         get_i64(json_object_get(root, "block_end"), end) && *start >= 0 &&
         *end >= *start;
    if (ok && get_i64(json_object_get(root, "broker"), &b))
        *broker_id = (int32_t)b;
    json_decref(root);
    return ok ? QUIRE_ERR_NONE : QUIRE_ERR_BAD_JSON;
}

/* ---- fetching (main loop) ---- */

static void fetch(qr_pidblock_t *pb);

static void install(qr_pidblock_t *pb, int64_t start, int64_t end)
{
    pthread_mutex_lock(&pb->mu);
    if (pb->next > pb->end) {
        pb->next = start;
        pb->end = end;
    } else {
        pb->ahead_start = start;
        pb->ahead_end = end;
    }
    pb->want = 0;
    pthread_mutex_unlock(&pb->mu);
    pb->fetching = 0;
    QR_LOG_INFO("PID",
                "producer ids %" PRId64 "..%" PRId64
                " reserved in " QR_PIDBLOCK_PATH,
                start, end);
}

static void failed(qr_pidblock_t *pb, const char *what, int rc)
{
    QR_LOG_WARN("PID",
                "%s " QR_PIDBLOCK_PATH ": ZooKeeper error %d; "
                "retrying",
                what, rc);
    pb->fetching = 0;
    ev_timer_stop(pb->loop, &pb->retry);
    ev_timer_set(&pb->retry, RETRY_S, 0.);
    ev_timer_start(pb->loop, &pb->retry);
}

static void on_written(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                       void *arg)
{
    qr_pidblock_t *pb = owner;

    (void)zk;
    (void)arg;
    if (res->rc == ZOK)
        install(pb, pb->wstart, pb->wend);
    else if (res->rc == ZBADVERSION || res->rc == ZNODEEXISTS) {
        pb->fetching = 0; /* another broker was first: read again */
        fetch(pb);
    } else
        failed(pb, "writing", res->rc);
}

static void write_block(qr_pidblock_t *pb, int64_t start, int version,
                        int create)
{
    char *json;
    quire_err_t err;

    pb->wstart = start;
    pb->wend = start + QR_PIDBLOCK_SIZE - 1;
    json = qr_pidblock_json(pb->broker_id, pb->wstart, pb->wend);
    err = create ? qr_zk_create(pb->zk, QR_PIDBLOCK_PATH, json,
                                (int)strlen(json), 0, on_written, pb, NULL)
                 : qr_zk_set(pb->zk, QR_PIDBLOCK_PATH, json, (int)strlen(json),
                             version, on_written, pb, NULL);
    free(json);
    if (err != QUIRE_ERR_NONE)
        failed(pb, "writing", ZCONNECTIONLOSS);
}

static void on_read(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg)
{
    qr_pidblock_t *pb = owner;
    int64_t start, end;
    int32_t by = -1;

    (void)zk;
    (void)arg;
    if (res->rc == ZNONODE) {
        write_block(pb, 0, -1, 1);
        return;
    }
    if (res->rc != ZOK) {
        failed(pb, "reading", res->rc);
        return;
    }
    if (qr_pidblock_parse(res->data, res->len, &by, &start, &end) !=
        QUIRE_ERR_NONE) {
        /* never reuse ids: a node we cannot read is not overwritten */
        QR_LOG_ERR("PID", QR_PIDBLOCK_PATH " holds no block we can read; "
                                           "no producer ids until it is fixed");
        failed(pb, "parsing", ZOK);
        return;
    }
    if (end > INT64_MAX - QR_PIDBLOCK_SIZE) {
        QR_LOG_ERR("PID",
                   "producer ids exhausted (" QR_PIDBLOCK_PATH
                   " ends at %" PRId64 ")",
                   end);
        failed(pb, "using", ZOK);
        return;
    }
    write_block(pb, end + 1, res->stat ? res->stat->version : -1, 0);
}

static void fetch(qr_pidblock_t *pb)
{
    if (pb->fetching || !pb->zk || !qr_zk_connected(pb->zk))
        return;
    pb->fetching = 1;
    if (qr_zk_get(pb->zk, QR_PIDBLOCK_PATH, NULL, on_read, pb, NULL) !=
        QUIRE_ERR_NONE)
        failed(pb, "reading", ZCONNECTIONLOSS);
}

static void maybe_fetch(qr_pidblock_t *pb)
{
    int want;

    pthread_mutex_lock(&pb->mu);
    want = pb->want;
    pthread_mutex_unlock(&pb->mu);
    if (want)
        fetch(pb);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    maybe_fetch(w->data);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    maybe_fetch(w->data);
}

/* ---- API ---- */

qr_pidblock_t *qr_pidblock_new(struct ev_loop *loop, int32_t broker_id)
{
    qr_pidblock_t *pb = qr_calloc(1, sizeof(*pb));

    pb->loop = loop;
    pb->broker_id = broker_id;
    pb->next = 0;
    pb->end = -1; /* empty */
    pb->ahead_start = -1;
    pb->want = 1;
    pthread_mutex_init(&pb->mu, NULL);
    ev_async_init(&pb->wake, on_wake);
    pb->wake.data = pb;
    ev_async_start(loop, &pb->wake);
    ev_init(&pb->retry, on_retry);
    pb->retry.data = pb;
    return pb;
}

void qr_pidblock_attach(qr_pidblock_t *pb, qr_zk_t *zk)
{
    pb->zk = zk;
    pb->fetching = 0; /* a new session: what was out is lost */
    maybe_fetch(pb);
}

void qr_pidblock_detach(qr_pidblock_t *pb)
{
    if (pb->zk)
        qr_zk_forget(pb->zk, pb);
    pb->zk = NULL;
    pb->fetching = 0;
    ev_timer_stop(pb->loop, &pb->retry);
}

quire_err_t qr_pidblock_next(qr_pidblock_t *pb, int64_t *producer_id)
{
    quire_err_t err = QUIRE_ERR_NONE;
    int wake = 0;

    pthread_mutex_lock(&pb->mu);
    if (pb->next > pb->end && pb->ahead_start >= 0) {
        pb->next = pb->ahead_start;
        pb->end = pb->ahead_end;
        pb->ahead_start = -1;
    }
    if (pb->next > pb->end) {
        err = QUIRE_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    } else {
        *producer_id = pb->next++;
    }
    /* 90% used and nothing ahead: fetch the next block now */
    if (pb->ahead_start < 0 && !pb->want &&
        pb->end - pb->next < QR_PIDBLOCK_SIZE / 10) {
        pb->want = 1;
        wake = 1;
    } else if (err != QUIRE_ERR_NONE && pb->want) {
        wake = 1;
    }
    pthread_mutex_unlock(&pb->mu);
    if (wake)
        ev_async_send(pb->loop, &pb->wake);
    return err;
}

void qr_pidblock_destroy(qr_pidblock_t *pb)
{
    if (!pb)
        return;
    qr_pidblock_detach(pb);
    ev_async_stop(pb->loop, &pb->wake);
    pthread_mutex_destroy(&pb->mu);
    free(pb);
}
