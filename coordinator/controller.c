/*
 * controller: election, partition states, deletions. See controller.h.
 */
#include "config.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "alloc.h"
#include "logging.h"
#include "controller.h"
#include "znode.h"

/* Operations per multi: well under jute.maxbuffer (1 MiB) for any path. */
#define CTL_MULTI_OPS 200

#define CTL_BATCH_MAGIC 0x43544c42u /* "CTLB" */

/* Delay before re-reading after a refused write, in seconds. */
#define CTL_RETRY_S 0.2

typedef enum ctl_state {
    CTL_IDLE,     /* not the controller */
    CTL_ELECTING, /* our create of /controller is in flight */
    CTL_EPOCH,    /* elected; incrementing /controller_epoch */
    CTL_ACTIVE,   /* the controller */
} ctl_state_t;

/* One state write of a batch, to note in the view on success. */
typedef struct ctl_write {
    char *topic; /* owned */
    int32_t partition;
    int32_t version; /* the znode's version after the write */
    qr_pstate_t st;
} ctl_write_t;

/* A multi in flight; owned by the controller's list so that destroy can
 * free those whose completion will never run (forgotten). */
typedef struct ctl_batch {
    uint32_t magic;
    struct qr_controller *ctl;
    ctl_write_t *writes;
    size_t write_cnt, write_cap;
    struct ctl_batch *next;
} ctl_batch_t;

/* A duty registered by qr_controller_add_duty(). */
typedef struct ctl_duty {
    qr_controller_duty_t *fn;
    void *opaque;
} ctl_duty_t;

#define CTL_DUTIES_MAX 4

struct qr_controller {
    qr_zk_t *zk;
    qr_view_t *view;
    int32_t broker_id;
    ctl_state_t state;
    int32_t epoch;
    int32_t epoch_version; /* of /controller_epoch after our increment */
    int inflight;          /* writes in flight */
    int again;             /* the view settled while writes were in flight */
    int confirmed;         /* the view has shown our /controller */
    int awaiting_delete;   /* resigned; our /controller is being deleted */
    ctl_batch_t *batches;
    char **refresh; /* topics to re-read after a refused write */
    size_t refresh_cnt;
    ev_timer refresh_timer;
    ctl_duty_t duty[CTL_DUTIES_MAX]; /* admin duties (prefelect, reassign) */
    size_t duty_cnt;
};

static void update(qr_controller_t *ctl);

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int qr_controller_active(const qr_controller_t *ctl)
{
    return ctl->state == CTL_ACTIVE;
}

int32_t qr_controller_epoch(const qr_controller_t *ctl)
{
    return ctl->state == CTL_ACTIVE ? ctl->epoch : 0;
}

/* ---- resignation ---- */

static void resign(qr_controller_t *ctl, const char *why)
{
    qr_view_t *view = ctl->view;

    if (ctl->state == CTL_ACTIVE)
        QR_LOG_WARN("CTRL", "broker %d resigns as controller (epoch %d): %s",
                    (int)ctl->broker_id, (int)ctl->epoch, why);
    ctl->state = CTL_IDLE;
    ctl->epoch = 0;
    ctl->confirmed = 0;
    if (view->controller_id == ctl->broker_id &&
        view->controller_owner == qr_zk_session_id(ctl->zk) &&
        qr_zk_delete(ctl->zk, QR_ZNODE_CONTROLLER, view->controller_version,
                     NULL, NULL, NULL) == QUIRE_ERR_NONE)
        ctl->awaiting_delete = 1; /* don't take that node back */
}

/* ---- election ---- */

static void on_epoch_written(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                             void *arg);

static void on_epoch_read(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                          void *arg)
{
    qr_controller_t *ctl = owner;
    int32_t epoch = 0;
    char buf[16], errstr[128];

    (void)arg;
    if (ctl->state != CTL_EPOCH)
        return;
    if (res->rc == ZNONODE) {
        ctl->epoch = 1;
        if (qr_zk_create(zk, QR_ZNODE_CONTROLLER_EPOCH, "1", 1, 0,
                         on_epoch_written, ctl, NULL) != QUIRE_ERR_NONE)
            ctl->state = CTL_IDLE;
        return;
    }
    if (res->rc != ZOK) {
        ctl->state = CTL_IDLE; /* retried on the next settle */
        return;
    }
    if (qr_znode_epoch_decode(res->data, res->len, &epoch, errstr,
                              sizeof(errstr)) != QUIRE_ERR_NONE) {
        QR_LOG_WARN("CTRL", "%s; starting again from 0", errstr);
        epoch = 0;
    }
    ctl->epoch = epoch + 1;
    snprintf(buf, sizeof(buf), "%d", (int)ctl->epoch);
    if (qr_zk_set(zk, QR_ZNODE_CONTROLLER_EPOCH, buf, (int)strlen(buf),
                  res->stat->version, on_epoch_written, ctl,
                  NULL) != QUIRE_ERR_NONE)
        ctl->state = CTL_IDLE;
}

static void read_epoch(qr_controller_t *ctl)
{
    ctl->state = CTL_EPOCH;
    if (qr_zk_get(ctl->zk, QR_ZNODE_CONTROLLER_EPOCH, NULL, on_epoch_read, ctl,
                  NULL) != QUIRE_ERR_NONE)
        ctl->state = CTL_IDLE;
}

static void on_epoch_written(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                             void *arg)
{
    qr_controller_t *ctl = owner;

    (void)zk;
    (void)arg;
    if (ctl->state != CTL_EPOCH)
        return;
    if (res->rc == ZBADVERSION || res->rc == ZNODEEXISTS) {
        read_epoch(ctl); /* raced with a previous controller's write */
        return;
    }
    if (res->rc != ZOK) {
        ctl->state = CTL_IDLE;
        return;
    }
    ctl->epoch_version = res->stat ? res->stat->version : 0;
    ctl->state = CTL_ACTIVE;
    QR_LOG_NOTICE("CTRL", "broker %d is the controller, epoch %d",
                  (int)ctl->broker_id, (int)ctl->epoch);
    update(ctl);
}

static void on_elected(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                       void *arg)
{
    qr_controller_t *ctl = owner;

    (void)zk;
    (void)arg;
    if (ctl->state != CTL_ELECTING)
        return;
    if (res->rc == ZOK)
        read_epoch(ctl);
    else
        ctl->state = CTL_IDLE; /* lost, or connection trouble: the view
                                  tells who won and when to try again */
}

static void elect(qr_controller_t *ctl)
{
    qr_view_t *view = ctl->view;
    char *data;

    if (view->controller_id == ctl->broker_id &&
        view->controller_owner == qr_zk_session_id(ctl->zk)) {
        /* ours already (a lost reply, or a reconnect): take it, unless we
         * resigned and are deleting it */
        if (!ctl->awaiting_delete)
            read_epoch(ctl);
        return;
    }
    if (view->controller_id != -1 || view->controller_owner != 0)
        return; /* someone else's, or ours from an old session (1387) */
    ctl->state = CTL_ELECTING;
    data = qr_znode_controller_encode(ctl->broker_id, now_ms());
    if (qr_zk_create(ctl->zk, QR_ZNODE_CONTROLLER, data, (int)strlen(data),
                     ZOO_EPHEMERAL, on_elected, ctl, NULL) != QUIRE_ERR_NONE)
        ctl->state = CTL_IDLE;
    free(data);
}

/* ---- batched, fenced writes ---- */

static void batch_free(ctl_batch_t *b)
{
    for (size_t i = 0; i < b->write_cnt; i++)
        free(b->writes[i].topic);
    free(b->writes);
    b->magic = 0;
    free(b);
}

static void batch_unlink(qr_controller_t *ctl, ctl_batch_t *b)
{
    for (ctl_batch_t **pp = &ctl->batches; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            return;
        }
}

/* A refused write is retried after a re-read, but not at once: a write
 * that keeps failing must not spin against ZooKeeper. */
static void on_refresh(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_controller_t *ctl = w->data;

    (void)loop;
    (void)revents;
    for (size_t i = 0; i < ctl->refresh_cnt; i++) {
        if (ctl->state == CTL_ACTIVE)
            qr_view_refresh_topic(ctl->view, ctl->refresh[i]);
        free(ctl->refresh[i]);
    }
    ctl->refresh_cnt = 0;
}

static void refresh_later(qr_controller_t *ctl, const char *topic)
{
    struct ev_loop *loop = qr_zk_loop(ctl->zk);

    for (size_t i = 0; i < ctl->refresh_cnt; i++)
        if (strcmp(ctl->refresh[i], topic) == 0)
            return;
    ctl->refresh =
        qr_realloc(ctl->refresh, (ctl->refresh_cnt + 1) * sizeof(char *));
    ctl->refresh[ctl->refresh_cnt++] = qr_strdup(topic);
    if (!ev_is_active(&ctl->refresh_timer)) {
        ev_timer_set(&ctl->refresh_timer, CTL_RETRY_S, 0.);
        ev_timer_start(loop, &ctl->refresh_timer);
    }
}

static void writes_done(qr_controller_t *ctl)
{
    if (--ctl->inflight == 0 && ctl->again) {
        ctl->again = 0;
        update(ctl);
    }
}

static void on_batch(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                     void *arg)
{
    qr_controller_t *ctl = owner;
    ctl_batch_t *b = arg;

    (void)zk;
    if (!b || b->magic != CTL_BATCH_MAGIC)
        abort();
    batch_unlink(ctl, b);
    if (res->rc == ZOK) {
        for (size_t i = 0; i < b->write_cnt; i++)
            qr_view_note_state(ctl->view, b->writes[i].topic,
                               b->writes[i].partition, &b->writes[i].st,
                               b->writes[i].version);
    } else if (res->count > 0 && res->results[0].err == ZBADVERSION) {
        QR_LOG_ERR("CTRL",
                   "write refused: /controller_epoch moved past epoch %d "
                   "(another controller was elected)",
                   (int)ctl->epoch);
        resign(ctl, "stale controller epoch");
    } else if (res->rc != ZCONNECTIONLOSS && res->rc != ZCLOSING) {
        /* someone else wrote a state we meant to write: read again */
        QR_LOG_WARN("CTRL", "state write refused (%s); re-reading",
                    zerror(res->rc));
        for (size_t i = 0; i < b->write_cnt; i++)
            if (i == 0 ||
                strcmp(b->writes[i].topic, b->writes[i - 1].topic) != 0)
                refresh_later(ctl, b->writes[i].topic);
    }
    batch_free(b);
    writes_done(ctl);
}

typedef struct plan {
    qr_zk_multi_t *m;
    ctl_batch_t *b;
} plan_t;

static void plan_flush(qr_controller_t *ctl, plan_t *pl)
{
    if (!pl->m)
        return;
    pl->b->next = ctl->batches;
    ctl->batches = pl->b;
    if (qr_zk_multi_submit(ctl->zk, pl->m, on_batch, ctl, pl->b) ==
        QUIRE_ERR_NONE) {
        ctl->inflight++;
    } else {
        batch_unlink(ctl, pl->b);
        batch_free(pl->b);
    }
    pl->m = NULL;
    pl->b = NULL;
}

/* Every multi starts with the check of our epoch's version (the fence). */
static void plan_begin(qr_controller_t *ctl, plan_t *pl)
{
    if (pl->m && qr_zk_multi_count(pl->m) >= CTL_MULTI_OPS)
        plan_flush(ctl, pl);
    if (!pl->m) {
        pl->m = qr_zk_multi_new();
        qr_zk_multi_check(pl->m, QR_ZNODE_CONTROLLER_EPOCH, ctl->epoch_version);
        pl->b = qr_calloc(1, sizeof(*pl->b));
        pl->b->magic = CTL_BATCH_MAGIC;
        pl->b->ctl = ctl;
    }
}

static void plan_state(qr_controller_t *ctl, plan_t *pl, const char *topic,
                       int32_t p, const qr_pstate_t *st, int32_t version)
{
    char *path = qr_znode_state_path(topic, p), *data;
    ctl_write_t *w;

    plan_begin(ctl, pl);
    data = qr_znode_state_encode(st);
    if (version < 0)
        qr_zk_multi_create(pl->m, path, data, (int)strlen(data), 0);
    else
        qr_zk_multi_set(pl->m, path, data, (int)strlen(data), version);
    free(data);
    free(path);
    if (pl->b->write_cnt == pl->b->write_cap) {
        pl->b->write_cap = pl->b->write_cap ? 2 * pl->b->write_cap : 16;
        pl->b->writes =
            qr_realloc(pl->b->writes, pl->b->write_cap * sizeof(ctl_write_t));
    }
    w = &pl->b->writes[pl->b->write_cnt++];
    w->topic = qr_strdup(topic);
    w->partition = p;
    w->version = version + 1; /* a create makes version 0 */
    w->st = *st;
}

/* Plain creates of the parents of new state nodes, ignoring "exists"; the
 * session applies them before the multi that follows. */
static void on_plain(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                     void *arg)
{
    qr_controller_t *ctl = owner;

    (void)zk;
    (void)arg;
    if (res->rc != ZOK && res->rc != ZNODEEXISTS && res->rc != ZNONODE &&
        res->rc != ZCONNECTIONLOSS && res->rc != ZCLOSING)
        QR_LOG_WARN("CTRL", "%s: %s", res->path, zerror(res->rc));
    writes_done(ctl);
}

static void plain(qr_controller_t *ctl, quire_err_t err)
{
    if (err == QUIRE_ERR_NONE)
        ctl->inflight++;
}

static void ensure_parents(qr_controller_t *ctl, const char *topic, int32_t p,
                           int *dir_done)
{
    char *path;

    if (!*dir_done) {
        path = qr_znode_partitions_path(topic);
        plain(ctl,
              qr_zk_create(ctl->zk, path, NULL, 0, 0, on_plain, ctl, NULL));
        free(path);
        *dir_done = 1;
    }
    path = qr_znode_partition_path(topic, p);
    plain(ctl, qr_zk_create(ctl->zk, path, NULL, 0, 0, on_plain, ctl, NULL));
    free(path);
}

/* ---- admin duties (coordinator/prefelect.c, reassign.c) ---- */

struct qr_ctl_plan {
    qr_controller_t *ctl;
    plan_t *pl;
};

void qr_controller_add_duty(qr_controller_t *ctl, qr_controller_duty_t *fn,
                            void *opaque)
{
    if (ctl->duty_cnt == CTL_DUTIES_MAX)
        abort(); /* a fixed set of modules: our bug */
    ctl->duty[ctl->duty_cnt].fn = fn;
    ctl->duty[ctl->duty_cnt++].opaque = opaque;
}

void qr_controller_plan_state(qr_ctl_plan_t *ap, const char *topic, int32_t p,
                              const qr_pstate_t *st, int32_t version)
{
    qr_pstate_t fenced = *st;

    fenced.controller_epoch = ap->ctl->epoch;
    plan_state(ap->ctl, ap->pl, topic, p, &fenced, version);
}

void qr_controller_plan_set(qr_ctl_plan_t *ap, const char *path,
                            const char *data, int32_t version)
{
    plan_begin(ap->ctl, ap->pl);
    qr_zk_multi_set(ap->pl->m, path, data, (int)strlen(data), version);
}

void qr_controller_plan_delete(qr_ctl_plan_t *ap, const char *path,
                               int32_t version)
{
    plan_begin(ap->ctl, ap->pl);
    qr_zk_multi_delete(ap->pl->m, path, version);
}

/* Only when the elections planned nothing: leaders for partitions without
 * one come before moving leadership around. */
static void admin_duties(qr_controller_t *ctl, plan_t *pl, const int32_t *live,
                         size_t nlive)
{
    qr_ctl_plan_t ap = {ctl, pl};

    for (size_t i = 0; i < ctl->duty_cnt && !pl->m; i++)
        ctl->duty[i].fn(ctl->duty[i].opaque, &ap, ctl->view, live, nlive);
}

/* ---- duties ---- */

static void live_ids(const qr_view_t *view, int32_t **ids, size_t *n)
{
    *ids = qr_calloc(view->broker_cnt + 1, sizeof(int32_t));
    *n = view->broker_cnt;
    for (size_t i = 0; i < view->broker_cnt; i++)
        (*ids)[i] = view->brokers[i].id;
}

static void elect_topic(qr_controller_t *ctl, plan_t *pl, qr_view_topic_t *t,
                        const int32_t *live, size_t nlive)
{
    int dir_done = 0;

    for (size_t p = 0; p < t->assign.part_cnt; p++) {
        qr_view_part_t *part = &t->parts[p];
        qr_pstate_t st;

        if (!qr_assign_elect(&t->assign.parts[p], live, nlive,
                             part->has_state ? &part->st : NULL, &st))
            continue;
        st.controller_epoch = ctl->epoch;
        if (!part->has_state && part->version >= 0) {
            /* the node exists but could not be parsed: overwrite it */
            QR_LOG_WARN("CTRL", "%s-%zu: malformed state replaced, leader %d",
                        t->name, p, (int)st.leader);
            plan_state(ctl, pl, t->name, (int32_t)p, &st, part->version);
        } else if (part->has_state) {
            QR_LOG_INFO("CTRL", "%s-%zu: leader %d -> %d, epoch %d", t->name, p,
                        (int)part->st.leader, (int)st.leader,
                        (int)st.leader_epoch);
            plan_state(ctl, pl, t->name, (int32_t)p, &st, part->version);
        } else {
            /* parents go out now, ahead of the multi (plan_flush later) */
            ensure_parents(ctl, t->name, (int32_t)p, &dir_done);
            plan_state(ctl, pl, t->name, (int32_t)p, &st, -1);
        }
    }
}

/* Every broker holding a replica of @p t has deleted it? */
static int all_acked(const qr_view_topic_t *t, const qr_view_marker_t *m)
{
    for (size_t p = 0; p < t->assign.part_cnt; p++)
        for (size_t i = 0; i < t->assign.parts[p].n; i++) {
            int32_t id = t->assign.parts[p].ids[i];
            int found = 0;
            for (size_t j = 0; j < m->ack_cnt && !found; j++)
                found = m->acks[j] == id;
            if (!found)
                return 0;
        }
    return 1;
}

static void del(qr_controller_t *ctl, char *path)
{
    plain(ctl, qr_zk_delete(ctl->zk, path, -1, on_plain, ctl, NULL));
    free(path);
}

/* Removes the topic's znodes, children first; the marker goes on a later
 * round, once the view shows the topic gone. */
static void delete_topic(qr_controller_t *ctl, qr_view_topic_t *t)
{
    QR_LOG_NOTICE("CTRL", "deleting topic %s: every replica is deleted",
                  t->name);
    for (size_t p = 0; p < t->assign.part_cnt; p++) {
        del(ctl, qr_znode_state_path(t->name, (int32_t)p));
        del(ctl, qr_znode_partition_path(t->name, (int32_t)p));
    }
    del(ctl, qr_znode_partitions_path(t->name));
    del(ctl, qr_znode_config_path(t->name));
    del(ctl, qr_znode_topic_path(t->name));
}

/* A marker whose topic is gone: remove it (with the acks under it), after
 * checking the topic node really is gone and not just new to the view. */
static void on_orphan_checked(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                              void *arg)
{
    qr_controller_t *ctl = owner;
    const char *name = res->path + sizeof(QR_ZNODE_TOPICS);
    qr_view_marker_t *m;

    (void)arg;
    if (res->rc == ZNONODE && ctl->state == CTL_ACTIVE &&
        (m = qr_view_marker(ctl->view, name)) != NULL) {
        for (size_t i = 0; i < m->ack_cnt; i++)
            del(ctl, qr_znode_delete_ack_path(name, m->acks[i]));
        del(ctl, qr_znode_delete_path(name));
        QR_LOG_NOTICE("CTRL", "topic %s deleted", name);
    }
    (void)zk;
    writes_done(ctl);
}

static void duties(qr_controller_t *ctl)
{
    qr_view_t *view = ctl->view;
    plan_t pl = {NULL, NULL};
    int32_t *live;
    size_t nlive;

    live_ids(view, &live, &nlive);
    for (size_t i = 0; i < view->topic_cnt; i++) {
        qr_view_topic_t *t = &view->topics[i];
        qr_view_marker_t *m = qr_view_marker(view, t->name);

        if (!t->loaded)
            continue;
        if (m) {
            if (m->acks_loaded && all_acked(t, m))
                delete_topic(ctl, t);
            continue;
        }
        elect_topic(ctl, &pl, t, live, nlive);
    }
    if (!pl.m)
        admin_duties(ctl, &pl, live, nlive);
    plan_flush(ctl, &pl);
    for (size_t i = 0; i < view->marker_cnt; i++) {
        qr_view_marker_t *m = &view->markers[i];
        char *path;
        if (qr_view_topic(view, m->name) || !m->acks_loaded)
            continue;
        path = qr_znode_topic_path(m->name);
        plain(ctl,
              qr_zk_exists(ctl->zk, path, NULL, on_orphan_checked, ctl, NULL));
        free(path);
    }
    free(live);
}

static void update(qr_controller_t *ctl)
{
    qr_view_t *view = ctl->view;
    int mine;

    if (!qr_zk_connected(ctl->zk) || !view->loaded)
        return;
    mine = view->controller_id == ctl->broker_id &&
           view->controller_owner == qr_zk_session_id(ctl->zk);
    if (!mine)
        ctl->awaiting_delete = 0;
    /* Right after winning, the view may not have seen our node yet: only
     * someone else's node, or ours gone after we saw it, means resign. */
    if (ctl->state == CTL_ACTIVE && mine)
        ctl->confirmed = 1;
    if (ctl->state == CTL_ACTIVE && !mine &&
        (view->controller_id != -1 || ctl->confirmed))
        resign(ctl, "/controller is no longer ours");
    if (ctl->state == CTL_IDLE) {
        elect(ctl);
        return;
    }
    if (ctl->state != CTL_ACTIVE || !ctl->confirmed)
        return;
    if (ctl->inflight > 0) {
        ctl->again = 1;
        return;
    }
    duties(ctl);
}

void qr_controller_update(qr_controller_t *ctl)
{
    update(ctl);
}

static void on_session(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    qr_controller_t *ctl = owner;

    (void)zk;
    if (ev == QR_ZK_EV_EXPIRED || ev == QR_ZK_EV_SESSION) {
        if (ctl->state == CTL_ACTIVE)
            QR_LOG_WARN("CTRL", "session lost: no longer the controller");
        /* The old session's requests still complete (with errors, when
         * its handle closes) and settle the inflight count themselves. */
        ctl->state = CTL_IDLE;
        ctl->epoch = 0;
        ctl->confirmed = 0;
        ctl->awaiting_delete = 0;
    }
}

qr_controller_t *qr_controller_new(qr_zk_t *zk, qr_view_t *view,
                                   int32_t broker_id)
{
    qr_controller_t *ctl = qr_calloc(1, sizeof(*ctl));

    ctl->zk = zk;
    ctl->view = view;
    ctl->broker_id = broker_id;
    ev_timer_init(&ctl->refresh_timer, on_refresh, CTL_RETRY_S, 0.);
    ctl->refresh_timer.data = ctl;
    qr_zk_listen(zk, on_session, ctl);
    return ctl;
}

void qr_controller_destroy(qr_controller_t *ctl)
{
    if (!ctl)
        return;
    qr_zk_forget(ctl->zk, ctl);
    if (ctl->state == CTL_ACTIVE && qr_zk_connected(ctl->zk))
        resign(ctl, "shutting down");
    ev_timer_stop(qr_zk_loop(ctl->zk), &ctl->refresh_timer);
    for (size_t i = 0; i < ctl->refresh_cnt; i++)
        free(ctl->refresh[i]);
    free(ctl->refresh);
    while (ctl->batches) {
        ctl_batch_t *b = ctl->batches;
        ctl->batches = b->next;
        batch_free(b);
    }
    free(ctl);
}
