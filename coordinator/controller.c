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
    qr_controller_conf_t conf;
    /* /isr_change_notification (see "ISR change notifications") */
    int isrn_armed;    /* our children watch is set */
    int isrn_inflight; /* reads and deletes of notifications in flight */
    int isrn_again;    /* list again once those are done */
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
    ctl->isrn_armed = 0; /* a watch may still fire: ignored while idle */
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

/* unclean.leader.election.enable: the topic's override, else the
 * broker's key. */
static int unclean_for(const qr_controller_t *ctl, const qr_view_topic_t *t)
{
    for (size_t i = 0; i < t->config.n; i++)
        if (strcmp(t->config.keys[i], "unclean.leader.election.enable") == 0)
            return strcmp(t->config.values[i], "true") == 0;
    return ctl->conf.unclean_leader_election;
}

static void fmt_ids(char *buf, size_t size, const int32_t *ids, size_t n)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%d", i ? "," : "",
                                (int)ids[i]);
}

/* One line per decision; an unclean election or an offline partition is a
 * warning an operator must see. */
static void log_election(const qr_view_topic_t *t, size_t p,
                         const qr_pstate_t *cur, const qr_pstate_t *st,
                         qr_elect_how_t how)
{
    char was[QR_ASSIGN_MAX_REPLICAS * 12], now[QR_ASSIGN_MAX_REPLICAS * 12];

    fmt_ids(was, sizeof(was), cur ? cur->isr : NULL, cur ? cur->isr_cnt : 0);
    fmt_ids(now, sizeof(now), st->isr, st->isr_cnt);
    switch (how) {
    case QR_ELECT_UNCLEAN:
        QR_LOG_WARN("CTRL",
                    "%s-%zu: unclean leader election: no live ISR member "
                    "(ISR was [%s]); broker %d leads at epoch %d, records "
                    "acknowledged by the old ISR may be lost",
                    t->name, p, was, (int)st->leader, (int)st->leader_epoch);
        break;
    case QR_ELECT_OFFLINE:
        QR_LOG_WARN("CTRL",
                    "%s-%zu: offline: no live ISR member (ISR [%s]) and "
                    "unclean.leader.election.enable is false; waiting for "
                    "one to return (epoch %d)",
                    t->name, p, now, (int)st->leader_epoch);
        break;
    case QR_ELECT_MOVED:
        QR_LOG_INFO("CTRL",
                    "%s-%zu: controlled shutdown of broker %d: leader -> %d, "
                    "ISR [%s], epoch %d",
                    t->name, p, (int)cur->leader, (int)st->leader, now,
                    (int)st->leader_epoch);
        break;
    default:
        QR_LOG_INFO("CTRL",
                    "%s-%zu: leader %d -> %d, ISR [%s] -> [%s], "
                    "epoch %d",
                    t->name, p, cur ? (int)cur->leader : -1, (int)st->leader,
                    was, now, (int)st->leader_epoch);
        break;
    }
}

static void elect_topic(qr_controller_t *ctl, plan_t *pl, qr_view_topic_t *t,
                        const qr_elect_in_t *in0)
{
    qr_elect_in_t in = *in0;
    int dir_done = 0;

    in.unclean = unclean_for(ctl, t);
    for (size_t p = 0; p < t->assign.part_cnt; p++) {
        qr_view_part_t *part = &t->parts[p];
        const qr_pstate_t *cur = part->has_state ? &part->st : NULL;
        qr_pstate_t st;
        qr_elect_how_t how;

        how = qr_assign_elect(&t->assign.parts[p], &in, cur, &st);
        if (how == QR_ELECT_NONE)
            continue;
        st.controller_epoch = ctl->epoch;
        if (!part->has_state && part->version >= 0) {
            /* the node exists but could not be parsed: overwrite it */
            QR_LOG_WARN("CTRL", "%s-%zu: malformed state replaced, leader %d",
                        t->name, p, (int)st.leader);
            plan_state(ctl, pl, t->name, (int32_t)p, &st, part->version);
        } else if (part->has_state) {
            log_election(t, p, cur, &st, how);
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
    qr_elect_in_t in = {0};
    int32_t *live;
    size_t nlive;

    live_ids(view, &live, &nlive);
    in.live = live;
    in.nlive = nlive;
    in.shutting = view->shutting;
    in.nshutting = view->shutting_cnt;
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
        elect_topic(ctl, &pl, t, &in);
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

/* ---- ISR change notifications ----
 * A leader that changed a partition's ISR creates a persistent sequential
 * /isr_change_notification/isr_change_<n> naming the partitions (Kafka
 * 0.8.3's layout). The controller lists them (leaving a children watch),
 * re-reads the named states into the view (so the brokers' Metadata shows
 * the new ISR and its next decisions use the new znode versions), then
 * deletes each notification. Leftovers from a controller that died are
 * handled by the next one when it lists them on taking over. A burst is
 * taken in passes of at most CTL_ISRN_PASS notifications; a listing that
 * arrives while a pass is in flight waits for it. */

#define CTL_ISRN_PASS 1000

static void isrn_list(qr_controller_t *ctl);

static void isrn_done(qr_controller_t *ctl)
{
    if (--ctl->isrn_inflight == 0 && ctl->isrn_again) {
        ctl->isrn_again = 0;
        if (ctl->state == CTL_ACTIVE)
            isrn_list(ctl);
    }
}

static void on_isrn_deleted(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                            void *arg)
{
    (void)zk;
    (void)arg;
    if (res->rc != ZOK && res->rc != ZNONODE && res->rc != ZCONNECTIONLOSS &&
        res->rc != ZCLOSING)
        QR_LOG_WARN("CTRL", "deleting %s: %s", res->path, zerror(res->rc));
    isrn_done(owner);
}

static void on_isrn_read(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                         void *arg)
{
    qr_controller_t *ctl = owner;
    char **topics = NULL, errstr[256];
    int32_t *parts = NULL;
    size_t n = 0;

    (void)arg;
    if (res->rc != ZOK || ctl->state != CTL_ACTIVE) {
        isrn_done(ctl);
        return;
    }
    if (qr_znode_isr_change_decode(res->data, res->len, &topics, &parts, &n,
                                   errstr, sizeof(errstr)) != QUIRE_ERR_NONE)
        QR_LOG_WARN("CTRL", "%s: %s; deleted unread", res->path, errstr);
    for (size_t i = 0; i < n; i++) {
        qr_view_refresh_state(ctl->view, topics[i], parts[i]);
        free(topics[i]);
    }
    QR_DBG(QR_DBG_ZK, "CTRL", "%s: %zu partitions re-read", res->path, n);
    free(topics);
    free(parts);
    if (qr_zk_delete(zk, res->path, -1, on_isrn_deleted, ctl, NULL) ==
        QUIRE_ERR_NONE)
        ctl->isrn_inflight++;
    isrn_done(ctl);
}

static void on_isrn_watch(qr_zk_t *zk, int type, const char *path, void *owner)
{
    qr_controller_t *ctl = owner;

    (void)zk;
    (void)type;
    (void)path;
    ctl->isrn_armed = 0;
    if (ctl->state == CTL_ACTIVE)
        isrn_list(ctl);
}

static void on_isrn_children(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                             void *arg)
{
    qr_controller_t *ctl = owner;
    const struct String_vector *sv = res->children;
    static const char pre[] = "isr_change_";
    int n = 0;

    (void)arg;
    if (res->rc != ZOK || ctl->state != CTL_ACTIVE) {
        if (res->rc != ZOK)
            ctl->isrn_armed = 0; /* no watch was left */
        isrn_done(ctl);
        return;
    }
    for (int i = 0; i < sv->count; i++) {
        char *path;
        if (strncmp(sv->data[i], pre, sizeof(pre) - 1) != 0)
            continue;
        if (n == CTL_ISRN_PASS) {
            ctl->isrn_again = 1; /* the rest after this pass */
            break;
        }
        path = qr_malloc(sizeof(QR_ZNODE_ISR_CHANGE) + strlen(sv->data[i]) + 1);
        sprintf(path, "%s/%s", QR_ZNODE_ISR_CHANGE, sv->data[i]);
        if (qr_zk_get(zk, path, NULL, on_isrn_read, ctl, NULL) ==
            QUIRE_ERR_NONE) {
            ctl->isrn_inflight++;
            n++;
        }
        free(path);
    }
    isrn_done(ctl);
}

/* Lists the notifications (arming the children watch), unless a pass is in
 * flight: then once it is done. */
static void isrn_list(qr_controller_t *ctl)
{
    if (ctl->isrn_inflight > 0) {
        ctl->isrn_again = 1;
        return;
    }
    if (qr_zk_children(ctl->zk, QR_ZNODE_ISR_CHANGE, on_isrn_watch,
                       on_isrn_children, ctl, NULL) == QUIRE_ERR_NONE) {
        ctl->isrn_armed = 1;
        ctl->isrn_inflight++;
    }
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
    if (!ctl->isrn_armed)
        isrn_list(ctl); /* on taking over: leftovers first */
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
        ctl->isrn_armed = 0;
    }
}

qr_controller_t *qr_controller_new(qr_zk_t *zk, qr_view_t *view,
                                   int32_t broker_id,
                                   const qr_controller_conf_t *conf)
{
    qr_controller_t *ctl = qr_calloc(1, sizeof(*ctl));

    if (conf)
        ctl->conf = *conf;
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
