/*
 * cgroup: the consumer's group membership (see cgroup.h).
 *
 * Everything touching the qr_group_t or the qr_zk_t runs on the loop
 * thread. c->lock is never held while calling into the group, because
 * the group may call back (assigned, revoked) from inside any of its
 * functions and those callbacks take c->lock.
 */
#include "config.h"

#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup.h"
#include "clconf.h"
#include "clock.h"
#include "consumer_int.h"
#include "group.h"
#include "logging.h"
#include "topic.h"
#include "zk.h"

typedef enum cmd_kind {
    CMD_SUBSCRIBE,
    CMD_COMMIT,
    CMD_COMMITTED,
    CMD_REVOKE_DONE,
    CMD_CLOSE
} cmd_kind_t;

typedef struct cmd {
    struct cmd *next; /* cg->cmds, then cg->inflight */
    struct qr_cgroup *cg;
    cmd_kind_t kind;
    int sync;      /* a caller waits on c->cv */
    int done;      /* c->lock */
    int abandoned; /* the waiter gave up: the loop frees it; c->lock */
    quire_err_t err;
    /* subscribe */
    char **topics;
    size_t topic_cnt;
    int regex;
    char errstr[256];
    /* commit, revoke done: owned copies */
    quire_topic_partition_t *tps;
    size_t n;
    int all; /* commit: every owned partition's position */
    uint64_t seq;
    quire_commit_cb_t *cb;
    void *cb_opaque;
    /* committed */
    char *topic;
    int32_t partition;
    int64_t offset;
} cmd_t;

struct qr_cgroup {
    quire_consumer_t *c; /* borrowed: our owner */
    const quire_conf_t *conf;
    char *consumer_id; /* owned */
    /* ---- c->lock ---- */
    cmd_t *cmds, **cmds_tail; /* to run on the loop */
    int subscribed;
    int leaving, left;
    int ids_checked; /* issue 18: /brokers/ids looked at once */
    /* ---- loop only ---- */
    qr_zk_t *zk;     /* owned */
    qr_group_t *g;   /* owned */
    int started;     /* qr_group_start() done */
    cmd_t *inflight; /* waiting for ZooKeeper */
    cmd_t *await;    /* committed reads waiting for a session */
    uint64_t revoke_seq, revoke_acked;
    int revokes_pending; /* qr_group_revoke_defer() not yet done */
    /* ---- atomic ---- */
    int64_t lease_until_ns; /* qr_group_lease_until_ns(), for poll */
    ev_timer autocommit;
    ev_timer poll_wait; /* max.poll.interval.ms for a revocation */
};

/* ---- helpers ---- */

void qr_cgev_free(qr_cgev_t *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->n; i++)
        free((char *)ev->tps[i].topic);
    free(ev->tps);
    free(ev->msg);
    free(ev);
}

/* Owned copies of @p n partitions (topics copied). NULL when out of
 * memory (or n is 0: then *okp says it is fine). */
static quire_topic_partition_t *tps_copy(const quire_topic_partition_t *src,
                                         size_t n, int *okp)
{
    quire_topic_partition_t *tps;

    *okp = 1;
    if (n == 0)
        return NULL;
    tps = calloc(n, sizeof(*tps));
    if (!tps) {
        *okp = 0;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        tps[i] = src[i];
        tps[i].topic = strdup(src[i].topic);
        if (!tps[i].topic) {
            for (size_t j = 0; j < i; j++)
                free((char *)tps[j].topic);
            free(tps);
            *okp = 0;
            return NULL;
        }
    }
    return tps;
}

static void cmd_free(cmd_t *cmd)
{
    if (!cmd)
        return;
    for (size_t i = 0; i < cmd->topic_cnt; i++)
        free(cmd->topics[i]);
    free(cmd->topics);
    for (size_t i = 0; i < cmd->n; i++)
        free((char *)cmd->tps[i].topic);
    free(cmd->tps);
    free(cmd->topic);
    free(cmd);
}

/* Queues an event for poll; dropped (with a log line) when out of
 * memory. c->lock held. */
static void queue_event(qr_cgroup_t *cg, qr_cgev_t *ev)
{
    if (qr_consumer_queue_event(cg->c, ev) != QUIRE_ERR_NONE) {
        QR_LOG_ERR("GROUP", "out of memory: a group event was dropped");
        qr_cgev_free(ev);
    }
}

static qr_cgev_t *event_new(qr_cgev_kind_t kind,
                            const quire_topic_partition_t *tps, size_t n)
{
    qr_cgev_t *ev = calloc(1, sizeof(*ev));
    int ok;

    if (!ev)
        return NULL;
    ev->kind = kind;
    ev->tps = tps_copy(tps, n, &ok);
    if (!ok) {
        free(ev);
        return NULL;
    }
    ev->n = n;
    return ev;
}

/* The command is finished (loop): wake its waiter, or free it. */
static void cmd_complete(qr_cgroup_t *cg, cmd_t *cmd, quire_err_t err)
{
    quire_consumer_t *c = cg->c;

    pthread_mutex_lock(&c->lock);
    cmd->err = err;
    if (cmd->sync && !cmd->abandoned) {
        cmd->done = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (!cmd->sync && cmd->kind == CMD_COMMIT && cmd->cb) {
        qr_cgev_t *ev = event_new(QR_CGEV_COMMIT, NULL, 0);

        if (ev) {
            ev->err = err;
            ev->cb = cmd->cb;
            ev->cb_opaque = cmd->cb_opaque;
            queue_event(cg, ev);
        } else
            QR_LOG_ERR("GROUP", "out of memory: a commit callback was lost");
    }
    pthread_mutex_unlock(&c->lock);
    cmd_free(cmd);
}

static void inflight_add(qr_cgroup_t *cg, cmd_t *cmd)
{
    cmd->next = cg->inflight;
    cg->inflight = cmd;
}

static void inflight_remove(qr_cgroup_t *cg, cmd_t *cmd)
{
    for (cmd_t **pp = &cg->inflight; *pp; pp = &(*pp)->next) {
        if (*pp == cmd) {
            *pp = cmd->next;
            cmd->next = NULL;
            return;
        }
    }
}

/* ---- the group's callbacks (loop) ---- */

static void stop_poll_wait(qr_cgroup_t *cg)
{
    ev_timer_stop(cg->c->cl->loop, &cg->poll_wait);
}

/* The REVOKED event for poll, or NULL when out of memory. */
static qr_cgev_t *revoked_event(const qr_group_tp_t *tps, size_t n)
{
    quire_topic_partition_t *v = calloc(n ? n : 1, sizeof(*v));
    qr_cgev_t *ev;

    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i].topic = tps[i].topic;
        v[i].partition = tps[i].partition;
        v[i].offset = -1; /* the position, filled in by poll */
    }
    ev = event_new(QR_CGEV_REVOKED, v, n);
    free(v);
    return ev;
}

static void on_revoked(void *opaque, qr_group_t *g, const qr_group_tp_t *tps,
                       size_t n)
{
    qr_cgroup_t *cg = opaque;
    quire_consumer_t *c = cg->c;
    qr_cgev_t *ev = cg->conf->rebalance_cb ? revoked_event(tps, n) : NULL;
    int64_t *store = calloc(n ? n : 1, sizeof(*store));

    if (cg->conf->rebalance_cb && !ev)
        QR_LOG_ERR("GROUP", "out of memory: revocation not handed to poll");
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        cpart_t *cp = qr_consumer_part_find(c, tps[i].topic, tps[i].partition);

        if (store)
            store[i] = -1;
        if (!cp || cp->removed)
            continue;
        /* without a callback the records the application was done with
         * are what it consumed (all it was given, when it is closing);
         * with one, poll decides */
        if (!ev && store && cg->conf->enable_auto_commit)
            store[i] = __atomic_load_n(cg->leaving ? &cp->pos : &cp->consumed,
                                       __ATOMIC_ACQUIRE);
        qr_consumer_part_stop(c, cp, ev == NULL);
    }
    if (ev) {
        ev->seq = ++cg->revoke_seq;
        queue_event(cg, ev);
        qr_group_revoke_defer(g);
        cg->revokes_pending++;
        if (!ev_is_active(&cg->poll_wait)) {
            ev_timer_set(&cg->poll_wait,
                         cg->conf->max_poll_interval_ms / 1000.0, 0);
            ev_timer_start(c->cl->loop, &cg->poll_wait);
        }
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; store && i < n; i++)
        if (store[i] >= 0)
            qr_group_offset_store(g, tps[i].topic, tps[i].partition, store[i]);
    free(store);
}

static void on_assigned(void *opaque, qr_group_t *g, const qr_group_tp_t *tps,
                        size_t n)
{
    qr_cgroup_t *cg = opaque;
    quire_consumer_t *c = cg->c;
    quire_topic_partition_t *v = calloc(n ? n : 1, sizeof(*v));
    quire_err_t *errs = calloc(n ? n : 1, sizeof(*errs));

    (void)g;
    if (!v || !errs) {
        QR_LOG_ERR("GROUP",
                   "out of memory: %zu assigned partitions not "
                   "fetched",
                   n);
        free(v);
        free(errs);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        v[i].topic = tps[i].topic;
        v[i].partition = tps[i].partition;
        v[i].offset = tps[i].offset;
        errs[i] = QUIRE_ERR_NONE;
        if (v[i].offset >= 0)
            continue;
        switch (cg->conf->auto_offset_reset) {
        case QR_CCONF_RESET_EARLIEST:
            v[i].offset = QUIRE_OFFSET_BEGINNING;
            break;
        case QR_CCONF_RESET_LATEST:
            v[i].offset = QUIRE_OFFSET_END;
            break;
        default:
            errs[i] = QUIRE_ERR_NO_OFFSET;
            QR_LOG_WARN("GROUP",
                        "%s-%d: no committed offset and auto.offset.reset "
                        "is none",
                        tps[i].topic, (int)tps[i].partition);
            break;
        }
    }
    pthread_mutex_lock(&c->lock);
    /* the application hears of the partitions before their records */
    if (cg->conf->rebalance_cb && n) {
        qr_cgev_t *ev = event_new(QR_CGEV_ASSIGNED, v, n);

        if (ev)
            queue_event(cg, ev);
        else
            QR_LOG_ERR("GROUP", "out of memory: assignment callback dropped");
    }
    for (size_t i = 0; i < n; i++) {
        if (qr_consumer_part_start(c, v[i].topic, v[i].partition, v[i].offset,
                                   errs[i]) != QUIRE_ERR_NONE)
            QR_LOG_ERR("GROUP", "%s-%d: out of memory: not fetched", v[i].topic,
                       (int)v[i].partition);
        qr_client_meta_stale(c->cl, v[i].topic);
    }
    pthread_mutex_unlock(&c->lock);
    free(v);
    free(errs);
    qr_client_kick(c->cl);
}

static void on_error(void *opaque, qr_group_t *g, quire_err_t err,
                     const char *msg)
{
    qr_cgroup_t *cg = opaque;
    qr_cgev_t *ev = event_new(QR_CGEV_ERROR, NULL, 0);

    (void)g;
    if (!ev)
        return;
    ev->err = err;
    ev->msg = strdup(msg ? msg : quire_err2str(err));
    pthread_mutex_lock(&cg->c->lock);
    queue_event(cg, ev);
    pthread_mutex_unlock(&cg->c->lock);
}

/* The group's lease moved: poll reads it (qr_cgroup_lease_wait()). */
static void on_lease(void *opaque, qr_group_t *g, int64_t until_ns)
{
    qr_cgroup_t *cg = opaque;

    (void)g;
    __atomic_store_n(&cg->lease_until_ns, until_ns, __ATOMIC_RELEASE);
    pthread_mutex_lock(&cg->c->lock);
    pthread_cond_broadcast(&cg->c->cv); /* a poll waiting for it */
    pthread_mutex_unlock(&cg->c->lock);
}

int qr_cgroup_lease_wait(qr_cgroup_t *cg, cpart_t *cp, uint64_t gen,
                         int64_t deadline_ms)
{
    quire_consumer_t *c = cg->c;
    int ok;

    for (;;) {
        int64_t now = qr_clock_mono_ms();
        int64_t step = now + 50 < deadline_ms ? now + 50 : deadline_ms;
        struct timespec ts;

        ok = qr_clock_mono_ns() <
             __atomic_load_n(&cg->lease_until_ns, __ATOMIC_ACQUIRE);
        if (ok || now >= deadline_ms ||
            __atomic_load_n(&cp->gen, __ATOMIC_ACQUIRE) != gen)
            return ok;
        /* woken by a renewal (on_lease) or a revocation; the step bounds
         * a wake-up missed between the check and the wait */
        ts.tv_sec = (time_t)(step / 1000);
        ts.tv_nsec = (long)(step % 1000) * 1000000L;
        pthread_mutex_lock(&c->lock);
        pthread_cond_timedwait(&c->cv, &c->lock, &ts);
        pthread_mutex_unlock(&c->lock);
    }
}

static void on_closed(void *opaque, qr_group_t *g)
{
    qr_cgroup_t *cg = opaque;

    (void)g;
    pthread_mutex_lock(&cg->c->lock);
    cg->left = 1;
    pthread_cond_broadcast(&cg->c->cv);
    pthread_mutex_unlock(&cg->c->lock);
}

static void run_committed(qr_cgroup_t *cg, cmd_t *cmd);

/* issue 18 item 11: a group under a ZooKeeper path without brokers (the
 * chroot left out) would rebalance to nothing, silently: say so. */
static void on_ids_checked(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                           void *arg)
{
    qr_cgroup_t *cg = owner;
    const char *connect = cg->conf->zookeeper_connect;

    (void)zk;
    (void)arg;
    if (res->rc == ZNONODE ||
        (res->rc == ZOK && (!res->children || res->children->count == 0))) {
        char msg[512];

        snprintf(msg, sizeof(msg),
                 "no brokers registered under %s%s: is the chroot missing?",
                 connect, strchr(connect, '/') ? "" : "/");
        qr_client_error(cg->c->cl, QUIRE_ERR_NOT_FOUND, "%s", msg);
        on_error(cg, cg->g, QUIRE_ERR_NOT_FOUND, msg);
    }
}

static void on_zk_event(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    qr_cgroup_t *cg = owner;

    if (ev == QR_ZK_EV_SESSION && !cg->ids_checked) {
        cg->ids_checked = 1;
        qr_zk_children(zk, "/brokers/ids", NULL, on_ids_checked, cg, NULL);
    }
    /* issue 18 item 7: the application hears of ZooKeeper going away */
    if (ev == QR_ZK_EV_DISCONNECTED)
        qr_client_error(cg->c->cl, QUIRE_ERR_ZK_CONNECTION_LOSS,
                        "lost the connection to ZooKeeper (%s); the group's "
                        "session may survive if it comes back within "
                        "zookeeper.session.timeout.ms",
                        cg->conf->zookeeper_connect);
    else if (ev == QR_ZK_EV_EXPIRED)
        qr_client_error(cg->c->cl, QUIRE_ERR_ZK_SESSION_EXPIRED,
                        "the ZooKeeper session expired (%s): the group "
                        "rebalances when a new one is up",
                        cg->conf->zookeeper_connect);
    else if (ev == QR_ZK_EV_FATAL)
        qr_client_error(cg->c->cl, QUIRE_ERR_ZK_CONNECTION_LOSS,
                        "no ZooKeeper session with %s within "
                        "zookeeper.connection.timeout.ms",
                        cg->conf->zookeeper_connect);
    if (ev == QR_ZK_EV_SESSION || ev == QR_ZK_EV_RECONNECTED) {
        cmd_t *list = cg->await;

        cg->await = NULL;
        while (list) {
            cmd_t *cmd = list;

            list = cmd->next;
            cmd->next = NULL;
            run_committed(cg, cmd);
        }
    }
    if (ev == QR_ZK_EV_FATAL)
        on_error(cg, cg->g, QUIRE_ERR_ZK_CONNECTION_LOSS,
                 "no ZooKeeper session within "
                 "zookeeper.connection.timeout.ms: the group cannot be "
                 "joined");
}

/* Stores the position of every group partition into the group (only
 * changed ones are written on the next commit); with @p consumed, the
 * position when the application's last poll began instead: the records
 * it is done with. */
static void store_positions(qr_cgroup_t *cg, int consumed)
{
    quire_consumer_t *c = cg->c;
    quire_topic_partition_t *v;
    size_t n = 0;

    pthread_mutex_lock(&c->lock);
    v = calloc(c->part_cnt ? c->part_cnt : 1, sizeof(*v));
    for (size_t i = 0; v && i < c->part_cnt; i++) {
        cpart_t *cp = c->parts[i];
        int64_t off;

        if (!cp->grp || cp->removed)
            continue;
        off = __atomic_load_n(consumed ? &cp->consumed : &cp->pos,
                              __ATOMIC_ACQUIRE);
        if (off < 0)
            continue;
        v[n].topic = strdup(cp->topic);
        if (!v[n].topic)
            break;
        v[n].partition = cp->partition;
        v[n].offset = off;
        n++;
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        qr_group_offset_store(cg->g, v[i].topic, v[i].partition, v[i].offset);
        free((char *)v[i].topic);
    }
    free(v);
}

static void on_autocommit(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_cgroup_t *cg = w->data;

    (void)loop;
    (void)revents;
    if (!cg->started)
        return;
    store_positions(cg, 1);
    qr_group_commit(cg->g, NULL, NULL);
}

/* Removes the paused partitions of revocations poll has not served,
 * storing what the application was done with. */
static void drop_paused(qr_cgroup_t *cg)
{
    quire_consumer_t *c = cg->c;

    if (cg->conf->enable_auto_commit)
        store_positions(cg, 1); /* every group partition: harmless */
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->part_cnt; i++) {
        cpart_t *cp = c->parts[i];

        if (cp->grp && !cp->removed && cp->state == CP_PAUSED)
            qr_consumer_part_stop(c, cp, 1);
    }
    pthread_mutex_unlock(&c->lock);
}

static void on_poll_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_cgroup_t *cg = w->data;
    int n = cg->revokes_pending;

    (void)loop;
    (void)revents;
    if (n == 0)
        return;
    QR_LOG_WARN("GROUP",
                "%s: poll() did not run the revocation callback within "
                "max.poll.interval.ms (%d ms): rebalancing without it",
                cg->consumer_id, cg->conf->max_poll_interval_ms);
    drop_paused(cg);
    cg->revoke_acked = cg->revoke_seq;
    cg->revokes_pending = 0;
    while (n-- > 0)
        qr_group_revoke_done(cg->g);
}

/* ---- commands (loop) ---- */

static void run_commit(qr_cgroup_t *cg, cmd_t *cmd);

/* Poll ran the revocation callback: the partitions go (their positions
 * stored: every record poll returned before is done with), and the group
 * may go on. A revocation max.poll.interval.ms already ended is skipped. */
static void revoke_done(qr_cgroup_t *cg, const cmd_t *cmd)
{
    quire_consumer_t *c = cg->c;
    int64_t *pos;

    if (cmd->seq <= cg->revoke_acked)
        return;
    cg->revoke_acked = cmd->seq;
    pos = calloc(cmd->n ? cmd->n : 1, sizeof(*pos));
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < cmd->n; i++) {
        cpart_t *cp =
            qr_consumer_part_find(c, cmd->tps[i].topic, cmd->tps[i].partition);

        if (pos)
            pos[i] = -1;
        if (!cp || cp->removed || cp->state != CP_PAUSED)
            continue;
        if (pos && cg->conf->enable_auto_commit)
            pos[i] = __atomic_load_n(&cp->pos, __ATOMIC_ACQUIRE);
        qr_consumer_part_stop(c, cp, 1);
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; pos && i < cmd->n; i++)
        if (pos[i] >= 0)
            qr_group_offset_store(cg->g, cmd->tps[i].topic,
                                  cmd->tps[i].partition, pos[i]);
    free(pos);
    if (cg->revokes_pending > 0) {
        if (--cg->revokes_pending == 0)
            stop_poll_wait(cg);
        qr_group_revoke_done(cg->g);
    }
}

static void run_cmd(qr_cgroup_t *cg, cmd_t *cmd)
{
    quire_err_t err = QUIRE_ERR_NONE;

    switch (cmd->kind) {
    case CMD_SUBSCRIBE:
        if (cmd->regex)
            err = qr_group_subscribe_regex(cg->g, cmd->topics[0], cmd->errstr,
                                           sizeof(cmd->errstr));
        else
            err = qr_group_subscribe(cg->g, (const char *const *)cmd->topics,
                                     cmd->topic_cnt, cmd->errstr,
                                     sizeof(cmd->errstr));
        if (err == QUIRE_ERR_NONE && !cg->started) {
            err = qr_group_start(cg->g);
            if (err == QUIRE_ERR_NONE) {
                cg->started = 1;
                if (cg->conf->enable_auto_commit)
                    ev_timer_again(cg->c->cl->loop, &cg->autocommit);
            }
        }
        if (err == QUIRE_ERR_NONE) {
            pthread_mutex_lock(&cg->c->lock);
            cg->subscribed = 1;
            pthread_mutex_unlock(&cg->c->lock);
        }
        cmd_complete(cg, cmd, err);
        return;
    case CMD_COMMIT:
        run_commit(cg, cmd);
        return;
    case CMD_COMMITTED:
        run_committed(cg, cmd);
        return;
    case CMD_REVOKE_DONE:
        revoke_done(cg, cmd);
        cmd_complete(cg, cmd, QUIRE_ERR_NONE);
        return;
    case CMD_CLOSE:
        ev_timer_stop(cg->c->cl->loop, &cg->autocommit);
        if (cg->started) {
            if (cg->conf->enable_auto_commit)
                store_positions(cg, 0);
            /* a revocation poll will not serve any more: the close's own
             * revocation is served by close itself */
            qr_group_close(cg->g);
        } else
            on_closed(cg, cg->g);
        cmd_complete(cg, cmd, QUIRE_ERR_NONE);
        return;
    }
}

static void on_commit(qr_group_t *g, quire_err_t err, void *opaque)
{
    cmd_t *cmd = opaque;

    (void)g;
    inflight_remove(cmd->cg, cmd);
    cmd_complete(cmd->cg, cmd, err);
}

static void run_commit(qr_cgroup_t *cg, cmd_t *cmd)
{
    quire_err_t err;

    if (!cg->started) {
        cmd_complete(cg, cmd, QUIRE_ERR_STATE);
        return;
    }
    if (cmd->all)
        store_positions(cg, 0);
    for (size_t i = 0; i < cmd->n; i++) {
        err = qr_group_offset_store(cg->g, cmd->tps[i].topic,
                                    cmd->tps[i].partition, cmd->tps[i].offset);
        if (err != QUIRE_ERR_NONE) {
            cmd_complete(cg, cmd, err);
            return;
        }
    }
    err = qr_group_commit(cg->g, on_commit, cmd);
    if (err != QUIRE_ERR_NONE) {
        cmd_complete(cg, cmd, err);
        return;
    }
    inflight_add(cg, cmd);
}

static void on_committed_read(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                              void *arg)
{
    qr_cgroup_t *cg = owner;
    cmd_t *cmd = arg;
    quire_err_t err = QUIRE_ERR_NONE;

    (void)zk;
    inflight_remove(cg, cmd);
    if (res->rc == ZNONODE)
        cmd->offset = -1;
    else if (res->rc != ZOK)
        err = qr_zk_err(res->rc);
    else if (qr_group_offset_decode(res->data, res->len, &cmd->offset) !=
             QUIRE_ERR_NONE) {
        QR_LOG_WARN("GROUP", "%s: not an offset: '%.*s'", res->path,
                    res->len > 64  ? 64
                    : res->len < 0 ? 0
                                   : res->len,
                    res->data ? res->data : "");
        err = QUIRE_ERR_BAD_ARG;
    }
    cmd_complete(cg, cmd, err);
}

static void run_committed(qr_cgroup_t *cg, cmd_t *cmd)
{
    char *path;
    size_t len;
    quire_err_t err;

    if (cg->started && qr_group_committed(cg->g, cmd->topic, cmd->partition,
                                          &cmd->offset) == QUIRE_ERR_NONE) {
        cmd_complete(cg, cmd, QUIRE_ERR_NONE);
        return;
    }
    len = strlen(cg->conf->group_id) + strlen(cmd->topic) + 64;
    path = malloc(len);
    if (!path) {
        cmd_complete(cg, cmd, QUIRE_ERR_NO_MEMORY);
        return;
    }
    snprintf(path, len, "/consumers/%s/offsets/%s/%d", cg->conf->group_id,
             cmd->topic, (int)cmd->partition);
    err = qr_zk_get(cg->zk, path, NULL, on_committed_read, cg, cmd);
    free(path);
    if (err == QUIRE_ERR_ZK_CONNECTION_LOSS) {
        /* no session yet (or for now): asked again when one is up; the
         * caller's own timeout bounds the wait */
        cmd->next = cg->await;
        cg->await = cmd;
        return;
    }
    if (err != QUIRE_ERR_NONE) {
        cmd_complete(cg, cmd, err);
        return;
    }
    inflight_add(cg, cmd);
}

/* Completes every command of @p list with DESTROYED (the loop stops). */
static void cmds_fail(qr_cgroup_t *cg, cmd_t **list)
{
    while (*list) {
        cmd_t *cmd = *list;

        *list = cmd->next;
        cmd->next = NULL;
        cmd_complete(cg, cmd, QUIRE_ERR_DESTROYED);
    }
}

/* The next queued command, or NULL; with @p leave the group is marked
 * left under the same lock, so nothing can be queued behind it. */
static cmd_t *cmd_pop(qr_cgroup_t *cg, int leave)
{
    quire_consumer_t *c = cg->c;
    cmd_t *cmd;

    pthread_mutex_lock(&c->lock);
    cmd = cg->cmds;
    if (cmd) {
        cg->cmds = cmd->next;
        if (!cg->cmds)
            cg->cmds_tail = &cg->cmds;
        cmd->next = NULL;
    }
    if (leave) {
        cg->left = 1;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->lock);
    return cmd;
}

void qr_cgroup_run(qr_cgroup_t *cg)
{
    cmd_t *cmd;

    while ((cmd = cmd_pop(cg, 0)) != NULL)
        run_cmd(cg, cmd);
}

void qr_cgroup_stopping(qr_cgroup_t *cg)
{
    quire_consumer_t *c = cg->c;
    cmd_t *cmd;

    if (!cg->zk)
        return; /* already stopped */
    ev_timer_stop(c->cl->loop, &cg->autocommit);
    stop_poll_wait(cg);
    /* nothing of the group or the session runs after this */
    qr_group_destroy(cg->g);
    cg->g = NULL;
    qr_zk_forget(cg->zk, cg);
    qr_zk_destroy(cg->zk);
    cg->zk = NULL;
    cmds_fail(cg, &cg->inflight);
    cmds_fail(cg, &cg->await);
    while ((cmd = cmd_pop(cg, 1)) != NULL)
        cmd_complete(cg, cmd, QUIRE_ERR_DESTROYED);
}

/* ---- construction ---- */

quire_err_t qr_cgroup_new(quire_consumer_t *c, qr_cgroup_t **cgp, char *errstr,
                          size_t errstr_size)
{
    const quire_conf_t *conf = c->conf;
    qr_group_conf_t gconf;
    qr_group_cbs_t cbs;
    qr_cgroup_t *cg;
    char zerr[256];

    if (!*conf->zookeeper_connect) {
        snprintf(errstr, errstr_size,
                 "group.id: consumer groups live in ZooKeeper: set "
                 "zookeeper.connect");
        return QUIRE_ERR_CONF_INVALID;
    }
    if (!qr_group_id_valid(conf->group_id)) {
        snprintf(errstr, errstr_size,
                 "group.id: '%s' is not 1 to %d of [A-Za-z0-9._-] (and not "
                 "'.' or '..')",
                 conf->group_id, QR_GROUP_ID_MAX);
        return QUIRE_ERR_CONF_INVALID;
    }
    cg = calloc(1, sizeof(*cg));
    if (!cg)
        return QUIRE_ERR_NO_MEMORY;
    cg->c = c;
    cg->conf = conf;
    cg->cmds_tail = &cg->cmds;
    cg->consumer_id = qr_group_make_consumer_id(conf->group_id);
    cg->zk =
        qr_zk_new(c->cl->loop, conf->zookeeper_connect,
                  conf->zookeeper_session_timeout_ms,
                  conf->zookeeper_connection_timeout_ms, zerr, sizeof(zerr));
    if (!cg->zk) {
        snprintf(errstr, errstr_size, "zookeeper.connect: %s", zerr);
        free(cg->consumer_id);
        free(cg);
        return QUIRE_ERR_CONF_INVALID;
    }
    qr_group_conf_init(&gconf);
    gconf.group_id = conf->group_id;
    gconf.consumer_id = cg->consumer_id;
    gconf.strategy = (qr_assignor_kind_t)conf->assignment_strategy;
    gconf.rebalance_backoff_ms = conf->rebalance_backoff_ms;
    gconf.rebalance_max_retries = conf->rebalance_max_retries;
    gconf.auto_commit_interval_ms = 0; /* ours: positions stored first */
    memset(&cbs, 0, sizeof(cbs));
    cbs.opaque = cg;
    cbs.revoked = on_revoked;
    cbs.assigned = on_assigned;
    cbs.error = on_error;
    cbs.closed = on_closed;
    cbs.lease = on_lease;
    cg->g = qr_group_new(cg->zk, &gconf, &cbs, zerr, sizeof(zerr));
    if (!cg->g) {
        snprintf(errstr, errstr_size, "%s", zerr);
        qr_zk_destroy(cg->zk);
        free(cg->consumer_id);
        free(cg);
        return QUIRE_ERR_CONF_INVALID;
    }
    ev_init(&cg->autocommit, on_autocommit);
    cg->autocommit.data = cg;
    cg->autocommit.repeat = conf->auto_commit_interval_ms / 1000.0;
    ev_init(&cg->poll_wait, on_poll_wait);
    cg->poll_wait.data = cg;
    qr_zk_listen(cg->zk, on_zk_event, cg);
    if (qr_zk_start(cg->zk, zerr, sizeof(zerr)) != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "zookeeper.connect: %s", zerr);
        qr_group_destroy(cg->g);
        qr_zk_destroy(cg->zk);
        free(cg->consumer_id);
        free(cg);
        return QUIRE_ERR_CONF_INVALID;
    }
    *cgp = cg;
    return QUIRE_ERR_NONE;
}

void qr_cgroup_destroy(qr_cgroup_t *cg)
{
    if (!cg)
        return;
    /* qr_cgroup_stopping() ran on the loop; a consumer whose thread never
     * started still holds them */
    qr_group_destroy(cg->g);
    if (cg->zk) {
        qr_zk_forget(cg->zk, cg);
        qr_zk_destroy(cg->zk);
    }
    while (cg->cmds) {
        cmd_t *next = cg->cmds->next;

        cmd_free(cg->cmds);
        cg->cmds = next;
    }
    free(cg->consumer_id);
    free(cg);
}

/* ---- application side ---- */

/* Queues @p cmd for the loop and, when @p timeout_ms >= 0, waits for it.
 * @p *freep says whether the caller must free @p cmd now: not after a
 * wait that gave up (the loop frees it) nor for an asynchronous one.
 * @returns its result; TIMED_OUT when the wait gave up; STATE when the
 * group was left. */
static quire_err_t post(qr_cgroup_t *cg, cmd_t *cmd, int timeout_ms, int *freep)
{
    quire_consumer_t *c = cg->c;
    int64_t deadline = qr_clock_mono_ms() + timeout_ms;

    int sync = timeout_ms >= 0; /* an async cmd is the loop's once queued */

    *freep = 0;
    cmd->cg = cg;
    cmd->sync = sync;
    pthread_mutex_lock(&c->lock);
    if (cg->left && cmd->kind != CMD_REVOKE_DONE) {
        pthread_mutex_unlock(&c->lock);
        if (cmd->sync)
            *freep = 1;
        else
            cmd_free(cmd);
        return QUIRE_ERR_STATE;
    }
    *cg->cmds_tail = cmd;
    cg->cmds_tail = &cmd->next;
    pthread_mutex_unlock(&c->lock);
    qr_client_wake(c->cl);
    if (!sync)
        return QUIRE_ERR_NONE;
    pthread_mutex_lock(&c->lock);
    while (!cmd->done) {
        struct timespec ts;

        if (qr_clock_mono_ms() >= deadline)
            break;
        ts.tv_sec = (time_t)(deadline / 1000);
        ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
        pthread_cond_timedwait(&c->cv, &c->lock, &ts);
    }
    if (!cmd->done) {
        cmd->abandoned = 1;
        pthread_mutex_unlock(&c->lock);
        return QUIRE_ERR_TIMED_OUT;
    }
    pthread_mutex_unlock(&c->lock);
    *freep = 1;
    return cmd->err;
}

quire_err_t qr_cgroup_subscribe(qr_cgroup_t *cg, const char *const *topics,
                                size_t n, int regex, char *errstr,
                                size_t errstr_size)
{
    cmd_t *cmd = calloc(1, sizeof(*cmd));
    quire_err_t err;
    int fr;

    if (!cmd)
        return QUIRE_ERR_NO_MEMORY;
    cmd->kind = CMD_SUBSCRIBE;
    cmd->regex = regex;
    cmd->topics = calloc(n, sizeof(char *));
    if (!cmd->topics) {
        cmd_free(cmd);
        return QUIRE_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        cmd->topics[i] = strdup(topics[i]);
        if (!cmd->topics[i]) {
            cmd_free(cmd);
            return QUIRE_ERR_NO_MEMORY;
        }
        cmd->topic_cnt++;
    }
    err = post(cg, cmd, cg->conf->request_timeout_ms, &fr);
    if (err != QUIRE_ERR_NONE && errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s",
                 fr && cmd->errstr[0] ? cmd->errstr : quire_err2str(err));
    if (fr)
        cmd_free(cmd);
    return err;
}

int qr_cgroup_subscribed(qr_cgroup_t *cg)
{
    int s;

    pthread_mutex_lock(&cg->c->lock);
    s = cg->subscribed;
    pthread_mutex_unlock(&cg->c->lock);
    return s;
}

quire_err_t qr_cgroup_commit(qr_cgroup_t *cg,
                             const quire_topic_partition_t *offsets, size_t n,
                             int timeout_ms, int async, quire_commit_cb_t *cb,
                             void *cb_opaque)
{
    cmd_t *cmd;
    quire_err_t err;
    int ok, fr;

    if (!qr_cgroup_subscribed(cg))
        return QUIRE_ERR_STATE;
    cmd = calloc(1, sizeof(*cmd));
    if (!cmd)
        return QUIRE_ERR_NO_MEMORY;
    cmd->kind = CMD_COMMIT;
    cmd->all = offsets == NULL;
    cmd->tps = tps_copy(offsets, offsets ? n : 0, &ok);
    if (!ok) {
        free(cmd);
        return QUIRE_ERR_NO_MEMORY;
    }
    cmd->n = offsets ? n : 0;
    cmd->cb = cb;
    cmd->cb_opaque = cb_opaque;
    err = post(cg, cmd, async ? -1 : timeout_ms, &fr);
    if (fr)
        cmd_free(cmd);
    return err;
}

int64_t qr_cgroup_committed_known(qr_cgroup_t *cg, const char *topic,
                                  int32_t partition)
{
    int64_t off = -1;

    if (!cg->started ||
        qr_group_committed(cg->g, topic, partition, &off) != QUIRE_ERR_NONE ||
        off < 0)
        return -1;
    return off;
}

quire_err_t qr_cgroup_committed(qr_cgroup_t *cg, const char *topic,
                                int32_t partition, int timeout_ms,
                                int64_t *offsetp)
{
    cmd_t *cmd = calloc(1, sizeof(*cmd));
    quire_err_t err;
    int fr;

    if (!cmd)
        return QUIRE_ERR_NO_MEMORY;
    cmd->kind = CMD_COMMITTED;
    cmd->topic = strdup(topic);
    cmd->partition = partition;
    if (!cmd->topic) {
        cmd_free(cmd);
        return QUIRE_ERR_NO_MEMORY;
    }
    err = post(cg, cmd, timeout_ms, &fr);
    if (err == QUIRE_ERR_NONE)
        *offsetp = cmd->offset;
    if (fr)
        cmd_free(cmd);
    return err;
}

quire_err_t qr_cgroup_member_id(qr_cgroup_t *cg, char *dest, size_t dest_size)
{
    if (!qr_cgroup_subscribed(cg))
        return QUIRE_ERR_STATE;
    if (dest && dest_size)
        snprintf(dest, dest_size, "%s", cg->consumer_id);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_cgroup_serve(qr_cgroup_t *cg, qr_cgev_t *ev, const char **msgp)
{
    quire_consumer_t *c = cg->c;

    switch (ev->kind) {
    case QR_CGEV_ASSIGNED:
        if (cg->conf->rebalance_cb)
            cg->conf->rebalance_cb(c, QUIRE_REBALANCE_ASSIGNED, ev->tps, ev->n,
                                   cg->conf->rebalance_opaque);
        return QUIRE_ERR_NONE;
    case QR_CGEV_REVOKED: {
        cmd_t *cmd;
        int fr;

        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < ev->n; i++) {
            cpart_t *cp = qr_consumer_part_find(c, ev->tps[i].topic,
                                                ev->tps[i].partition);

            ev->tps[i].offset =
                cp ? __atomic_load_n(&cp->pos, __ATOMIC_ACQUIRE) : -1;
        }
        pthread_mutex_unlock(&c->lock);
        if (cg->conf->rebalance_cb)
            cg->conf->rebalance_cb(c, QUIRE_REBALANCE_REVOKED, ev->tps, ev->n,
                                   cg->conf->rebalance_opaque);
        /* hand it back: the loop releases the partitions now */
        cmd = calloc(1, sizeof(*cmd));
        if (!cmd)
            return QUIRE_ERR_NO_MEMORY; /* max.poll.interval.ms ends it */
        cmd->kind = CMD_REVOKE_DONE;
        cmd->seq = ev->seq;
        cmd->tps = ev->tps; /* taken */
        cmd->n = ev->n;
        ev->tps = NULL;
        ev->n = 0;
        post(cg, cmd, -1, &fr);
        return QUIRE_ERR_NONE;
    }
    case QR_CGEV_COMMIT:
        if (ev->cb)
            ev->cb(c, ev->err, ev->cb_opaque);
        return QUIRE_ERR_NONE;
    case QR_CGEV_ERROR:
        *msgp = ev->msg;
        return ev->err;
    }
    return QUIRE_ERR_NONE;
}

int qr_cgroup_leave(qr_cgroup_t *cg)
{
    cmd_t *cmd;
    int started;

    pthread_mutex_lock(&cg->c->lock);
    started = cg->subscribed && !cg->leaving && !cg->left;
    cg->leaving = 1;
    pthread_mutex_unlock(&cg->c->lock);
    if (!started)
        return 0;
    int fr;

    cmd = calloc(1, sizeof(*cmd));
    if (!cmd)
        return 0;
    cmd->kind = CMD_CLOSE;
    return post(cg, cmd, -1, &fr) == QUIRE_ERR_NONE;
}

int qr_cgroup_left(qr_cgroup_t *cg)
{
    int left;

    pthread_mutex_lock(&cg->c->lock);
    left = cg->left;
    pthread_mutex_unlock(&cg->c->lock);
    return left;
}
