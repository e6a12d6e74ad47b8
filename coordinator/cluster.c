/*
 * cluster: the broker's side of the coordinator. See cluster.h.
 */
#include "config.h"

#include <ev.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "alloc.h"
#include "clock.h"
#include "cluster.h"
#include "controller.h"
#include "ctlshutdown.h"
#include "reassign.h"
#include "logging.h"
#include "registry.h"
#include "topic.h"
#include "view.h"
#include "zk.h"
#include "znode.h"

#define CL_AUTOCREATE_MAX 256

/* Longest the loop opens partitions at a stretch before it serves
 * ZooKeeper and the rest again: opening 10,000 logs at once blocked it for
 * seconds, and the session's connection timed out (issue 14). */
#define CL_OPEN_PASS_NS (100 * 1000 * 1000)

/* A partition this broker leads (its log is open). */
typedef struct led {
    char *topic; /* owned */
    int32_t partition;
    int32_t leader_epoch;
    int64_t config_mzxid;  /* the topic config the broker was given */
    int32_t state_version; /* the state the broker was given (-1 none) */
    uint64_t replica_sig;  /* and its replica list then (replica_sig()) */
} led_t;

/* A partition this broker follows: a replica led by another broker (or by
 * nobody), and what the broker was last told about it. */
typedef struct followed {
    char *topic; /* owned */
    int32_t partition;
    int32_t leader, leader_epoch;
    char *host; /* owned: the leader's registered host; NULL: none */
    int port;
    int64_t config_mzxid;
} followed_t;

struct qr_cluster {
    struct ev_loop *loop;
    qr_cluster_conf_t conf; /* strings owned (copied) */
    qr_cluster_cbs_t cbs;
    qr_zk_t *zk;
    qr_registry_t *reg;
    qr_view_t *view;
    qr_controller_t *ctl;
    qr_prefelect_t *prefelect; /* the controller's admin duties */
    qr_reassign_t *reassign;
    qr_ctlshutdown_t *cs; /* a controlled shutdown under way */
    qr_cluster_shutdown_cb_t *cs_cb;
    void *cs_opaque;
    qr_isrchange_t *isrw; /* the leader's ISR writes (issue 16) */
    int closed;

    led_t *led; /* in the order opened */
    size_t led_cnt;
    /* led by (topic, partition): open addressing, an index into led + 1
     * per slot (0 empty), at most half full; rebuilt (led_reindex) each
     * time led shrinks or moves, added to as a partition is opened. The
     * checks "do we lead it" ran over the whole array: O(partitions^2)
     * per view change, seconds at 10,000 partitions (issue 14). */
    size_t *led_slots, led_slots_cap;
    ev_timer more; /* leadership left to open after a pass's time ran out */
    followed_t *fol; /* replicas led elsewhere (follow_partition) */
    size_t fol_cnt;
    ev_timer retry; /* a failed open or delete is tried again */

    char **acking; /* topics whose deletion ack is in flight */
    size_t acking_cnt;

    pthread_mutex_t meta_lock; /* guards meta */
    qr_meta_t *meta;

    pthread_mutex_t req_lock; /* guards autocreate */
    char *autocreate[CL_AUTOCREATE_MAX];
    size_t autocreate_cnt;
    ev_async wake;
};

/* ---- the partitions led, indexed ---- */

static uint64_t led_hash(const char *topic, int32_t p)
{
    uint64_t h = 1469598103934665603ULL;

    for (const unsigned char *c = (const unsigned char *)topic; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    h = (h ^ (uint32_t)p) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static void led_slot_put(qr_cluster_t *cl, size_t i)
{
    size_t mask = cl->led_slots_cap - 1;

    for (size_t s = led_hash(cl->led[i].topic, cl->led[i].partition) & mask;;
         s = (s + 1) & mask)
        if (!cl->led_slots[s]) {
            cl->led_slots[s] = i + 1;
            return;
        }
}

/* After led changed other than by an append. */
static void led_reindex(qr_cluster_t *cl)
{
    size_t cap = 64;

    while (cap < 2 * (cl->led_cnt + 1))
        cap *= 2;
    free(cl->led_slots);
    cl->led_slots = qr_calloc(cap, sizeof(*cl->led_slots));
    cl->led_slots_cap = cap;
    for (size_t i = 0; i < cl->led_cnt; i++)
        led_slot_put(cl, i);
}

static int is_led(const qr_cluster_t *cl, const char *topic, int32_t p)
{
    size_t mask = cl->led_slots_cap - 1;

    if (!cl->led_slots)
        return 0;
    for (size_t s = led_hash(topic, p) & mask; cl->led_slots[s];
         s = (s + 1) & mask) {
        const led_t *l = &cl->led[cl->led_slots[s] - 1];
        if (l->partition == p && strcmp(l->topic, topic) == 0)
            return 1;
    }
    return 0;
}

/* ---- metadata snapshot ---- */

static int32_t *copy_ids(const int32_t *ids, size_t n)
{
    int32_t *v = qr_malloc((n ? n : 1) * sizeof(int32_t));

    if (n)
        memcpy(v, ids, n * sizeof(int32_t));
    return v;
}

static void fill_part(const qr_cluster_t *cl, const qr_view_t *view,
                      const qr_view_topic_t *t, size_t p, qr_meta_part_t *mp)
{
    const qr_view_part_t *vp = &t->parts[p];
    const qr_replicas_t *r = &t->assign.parts[p];

    mp->partition = (int32_t)p;
    mp->replicas = copy_ids(r->ids, r->n);
    mp->replica_cnt = r->n;
    mp->leader = -1;
    mp->leader_epoch = -1;
    mp->err = QUIRE_ERR_LEADER_NOT_AVAILABLE;
    if (!vp->has_state) {
        mp->isr = copy_ids(NULL, 0);
        return;
    }
    mp->isr = copy_ids(vp->st.isr, vp->st.isr_cnt);
    mp->isr_cnt = vp->st.isr_cnt;
    mp->leader_epoch = vp->st.leader_epoch;
    /* Our own partitions count as led only once their log is open (the
     * ordering promise of cluster.h). */
    if (vp->st.leader == cl->conf.broker_id && !is_led(cl, t->name, (int32_t)p))
        return;
    if (vp->st.leader >= 0 && qr_view_broker_live(view, vp->st.leader)) {
        mp->leader = vp->st.leader;
        mp->err = QUIRE_ERR_NONE;
    }
}

static void publish(qr_cluster_t *cl)
{
    const qr_view_t *view = cl->view;
    qr_meta_t *meta = qr_meta_new(), *old;
    size_t n = 0;

    meta->controller_id = view->controller_id;
    meta->brokers = qr_calloc(view->broker_cnt + 1, sizeof(*meta->brokers));
    for (size_t i = 0; i < view->broker_cnt; i++) {
        if (!view->brokers[i].host)
            continue;
        meta->brokers[n].id = view->brokers[i].id;
        meta->brokers[n].host = qr_strdup(view->brokers[i].host);
        meta->brokers[n].port = view->brokers[i].port;
        meta->brokers[n].kafka_port = view->brokers[i].kafka_port;
        n++;
    }
    meta->broker_cnt = n;
    meta->topics = qr_calloc(view->topic_cnt + 1, sizeof(*meta->topics));
    n = 0;
    for (size_t i = 0; i < view->topic_cnt; i++) {
        const qr_view_topic_t *t = &view->topics[i];
        qr_meta_topic_t *mt = &meta->topics[n];
        if (!t->loaded)
            continue;
        mt->name = qr_strdup(t->name);
        mt->deleting = qr_view_marker(view, t->name) != NULL;
        mt->part_cnt = t->assign.part_cnt;
        mt->parts = qr_calloc(mt->part_cnt + 1, sizeof(*mt->parts));
        for (size_t p = 0; p < mt->part_cnt; p++)
            fill_part(cl, view, t, p, &mt->parts[p]);
        n++;
    }
    meta->topic_cnt = n;
    qr_meta_sort(meta);
    pthread_mutex_lock(&cl->meta_lock);
    old = cl->meta;
    cl->meta = meta;
    pthread_mutex_unlock(&cl->meta_lock);
    qr_meta_release(old);
}

qr_meta_t *qr_cluster_meta_get(qr_cluster_t *cl)
{
    qr_meta_t *meta;

    pthread_mutex_lock(&cl->meta_lock);
    meta = qr_meta_keep(cl->meta);
    pthread_mutex_unlock(&cl->meta_lock);
    return meta;
}

/* ---- leadership ---- */

static void schedule_retry(qr_cluster_t *cl)
{
    if (!ev_is_active(&cl->retry)) {
        ev_timer_set(&cl->retry, 1., 0.);
        ev_timer_start(cl->loop, &cl->retry);
    }
}

/* What the view says this broker should lead, at which epoch. */
static int desired_epoch(const qr_cluster_t *cl, const char *topic, int32_t p,
                         int32_t *epoch)
{
    const qr_view_topic_t *t = qr_view_topic(cl->view, topic);
    const qr_view_part_t *vp;

    if (!t || !t->loaded || (size_t)p >= t->assign.part_cnt ||
        qr_view_marker(cl->view, topic))
        return 0;
    vp = &t->parts[p];
    if (!vp->has_state || vp->st.leader != cl->conf.broker_id)
        return 0;
    *epoch = vp->st.leader_epoch;
    return 1;
}

static void open_one(qr_cluster_t *cl, const qr_view_topic_t *t, int32_t p,
                     int32_t epoch)
{
    const char *topic = t->name;
    quire_err_t err;

    err = cl->cbs.open_partition(cl->cbs.opaque, topic, p, epoch, &t->config);
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("CLUSTER", "cannot open %s-%d as leader: %s; retrying",
                   topic, (int)p, quire_err2str(err));
        schedule_retry(cl);
        return;
    }
    QR_LOG_INFO("CLUSTER", "leader of %s-%d at leader epoch %d", topic, (int)p,
                (int)epoch);
    cl->led = qr_realloc(cl->led, (cl->led_cnt + 1) * sizeof(*cl->led));
    cl->led[cl->led_cnt++] =
        (led_t){qr_strdup(topic), p, epoch, t->config_mzxid, -1, 0};
    if (2 * (cl->led_cnt + 1) > cl->led_slots_cap)
        led_reindex(cl);
    else
        led_slot_put(cl, cl->led_cnt - 1);
}

/* A replica list in one word (FNV-1a over the ids in order), so that a
 * reassignment that swaps a replica for another (same length) is noticed
 * as well as one that grows or shrinks the list. */
static uint64_t replica_sig(const qr_replicas_t *r)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < r->n; i++) {
        uint32_t id = (uint32_t)r->ids[i];
        for (int b = 0; b < 4; b++) {
            h ^= (id >> (8 * b)) & 0xff;
            h *= 1099511628211ULL;
        }
    }
    return h ^ r->n;
}

/* Hands the state of each led partition to the broker when its version
 * or replica list changed (and first after the open). */
static void report_states(qr_cluster_t *cl)
{
    for (size_t i = 0; cl->cbs.partition_state && i < cl->led_cnt; i++) {
        led_t *led = &cl->led[i];
        const qr_view_topic_t *t = qr_view_topic(cl->view, led->topic);
        const qr_view_part_t *vp;
        const qr_replicas_t *r;
        if (!t || !t->loaded || (size_t)led->partition >= t->assign.part_cnt)
            continue;
        vp = &t->parts[led->partition];
        r = &t->assign.parts[led->partition];
        if (!vp->has_state || (vp->version == led->state_version &&
                               replica_sig(r) == led->replica_sig))
            continue;
        led->state_version = vp->version;
        led->replica_sig = replica_sig(r);
        cl->cbs.partition_state(cl->cbs.opaque, led->topic, led->partition, r,
                                &vp->st, vp->version);
    }
}

/* Hands changed topic overrides to the broker, once per topic: every led
 * partition of the topic is marked as told before the next is looked at. */
static void update_configs(qr_cluster_t *cl)
{
    for (size_t i = 0; i < cl->led_cnt; i++) {
        const qr_view_topic_t *t = qr_view_topic(cl->view, cl->led[i].topic);
        if (!t || t->config_mzxid == cl->led[i].config_mzxid)
            continue;
        QR_LOG_INFO("CLUSTER",
                    "configuration of topic %s changed (%zu "
                    "overrides)",
                    t->name, t->config.n);
        if (cl->cbs.topic_config)
            cl->cbs.topic_config(cl->cbs.opaque, t->name, &t->config);
        for (size_t k = i; k < cl->led_cnt; k++)
            if (strcmp(cl->led[k].topic, t->name) == 0)
                cl->led[k].config_mzxid = t->config_mzxid;
    }
}

static int will_follow(const qr_cluster_t *cl, const char *topic, int32_t p);
static int replica_gone(const qr_cluster_t *cl, const char *topic, int32_t p);

static void update_leadership(qr_cluster_t *cl)
{
    const qr_view_t *view = cl->view;
    int32_t epoch;
    int dropped = 0;

    /* 1. stop leading what we no longer lead: publish first, then close */
    for (size_t i = 0; i < cl->led_cnt; i++)
        if (!desired_epoch(cl, cl->led[i].topic, cl->led[i].partition,
                           &epoch) ||
            epoch != cl->led[i].leader_epoch)
            dropped = 1;
    if (dropped) {
        led_t *old = cl->led;
        size_t old_cnt = cl->led_cnt;
        /* keep only what stays, publish, then close the rest */
        led_t *keep = qr_calloc(old_cnt + 1, sizeof(*keep));
        size_t k = 0;
        for (size_t i = 0; i < old_cnt; i++)
            if (desired_epoch(cl, old[i].topic, old[i].partition, &epoch) &&
                epoch == old[i].leader_epoch)
                keep[k++] = old[i];
        cl->led = keep;
        cl->led_cnt = k;
        led_reindex(cl);
        publish(cl);
        for (size_t i = 0; i < old_cnt; i++)
            if (!desired_epoch(cl, old[i].topic, old[i].partition, &epoch) ||
                epoch != old[i].leader_epoch) {
                /* a new epoch for a partition we keep leading re-opens it
                 * below; close only what is really gone */
                if (!desired_epoch(cl, old[i].topic, old[i].partition,
                                   &epoch)) {
                    QR_LOG_INFO("CLUSTER", "no longer leader of %s-%d",
                                old[i].topic, (int)old[i].partition);
                    /* a replica still: update_following() makes it a
                     * follower, its log stays open; reassigned away: its
                     * data goes */
                    if (replica_gone(cl, old[i].topic, old[i].partition))
                        cl->cbs.unfollow_partition(cl->cbs.opaque, old[i].topic,
                                                   old[i].partition, 1);
                    else if (!will_follow(cl, old[i].topic, old[i].partition))
                        cl->cbs.close_partition(cl->cbs.opaque, old[i].topic,
                                                old[i].partition);
                }
                free(old[i].topic);
            }
        free(old);
    }
    /* 2. open what we now lead, for at most CL_OPEN_PASS_NS (the next
     * pass opens the rest), then publish */
    int64_t t0 = qr_clock_mono_ns();
    int more = 0;
    for (size_t i = 0; i < view->topic_cnt && !more; i++) {
        const qr_view_topic_t *t = &view->topics[i];
        if (!t->loaded)
            continue;
        for (size_t p = 0; p < t->assign.part_cnt && !more; p++)
            if (desired_epoch(cl, t->name, (int32_t)p, &epoch) &&
                !is_led(cl, t->name, (int32_t)p)) {
                open_one(cl, t, (int32_t)p, epoch);
                more = qr_clock_mono_ns() - t0 > CL_OPEN_PASS_NS;
            }
    }
    if (more && !ev_is_active(&cl->more)) {
        ev_now_update(cl->loop); /* the pass's time is not the timers' */
        ev_timer_set(&cl->more, 0., 0.);
        ev_timer_start(cl->loop, &cl->more);
    }
    update_configs(cl);
    report_states(cl);
    publish(cl);
}

/* ---- following (issue 16: the replicas this broker does not lead) ---- */

/* What the view says this broker should follow: a replica whose state
 * names another leader (or none). */
static const qr_view_part_t *desired_follow(const qr_cluster_t *cl,
                                            const char *topic, int32_t p)
{
    const qr_view_topic_t *t = qr_view_topic(cl->view, topic);
    const qr_view_part_t *vp;

    if (!cl->cbs.follow_partition || !t || !t->loaded ||
        (size_t)p >= t->assign.part_cnt || qr_view_marker(cl->view, topic) ||
        !qr_replicas_has(&t->assign.parts[p], cl->conf.broker_id))
        return NULL;
    vp = &t->parts[p];
    if (!vp->has_state || vp->st.leader == cl->conf.broker_id)
        return NULL;
    return vp;
}

static int will_follow(const qr_cluster_t *cl, const char *topic, int32_t p)
{
    return desired_follow(cl, topic, p) != NULL;
}

/* The topic exists (not being deleted) and this broker is no longer one of
 * the partition's replicas: a reassignment moved it away. */
static int replica_gone(const qr_cluster_t *cl, const char *topic, int32_t p)
{
    const qr_view_topic_t *t = qr_view_topic(cl->view, topic);

    return cl->cbs.unfollow_partition && t && t->loaded &&
           (size_t)p < t->assign.part_cnt && !qr_view_marker(cl->view, topic) &&
           !qr_replicas_has(&t->assign.parts[p], cl->conf.broker_id);
}

static const qr_view_broker_t *live_broker(const qr_view_t *view, int32_t id)
{
    for (size_t i = 0; i < view->broker_cnt; i++)
        if (view->brokers[i].id == id && view->brokers[i].host)
            return &view->brokers[i];
    return NULL;
}

static followed_t *find_followed(qr_cluster_t *cl, const char *topic, int32_t p)
{
    for (size_t i = 0; i < cl->fol_cnt; i++)
        if (cl->fol[i].partition == p && strcmp(cl->fol[i].topic, topic) == 0)
            return &cl->fol[i];
    return NULL;
}

static void followed_drop(qr_cluster_t *cl, size_t i)
{
    free(cl->fol[i].topic);
    free(cl->fol[i].host);
    cl->fol[i] = cl->fol[--cl->fol_cnt];
}

/* Tells the broker about one followed partition when its leader, epoch,
 * leader address or topic config changed since it was last told. */
static void follow_one(qr_cluster_t *cl, const qr_view_topic_t *t, int32_t p,
                       const qr_view_part_t *vp)
{
    const qr_view_broker_t *b = live_broker(cl->view, vp->st.leader);
    int32_t leader = b ? vp->st.leader : -1;
    const char *host = b ? b->host : NULL;
    int port = b ? b->port : 0;
    followed_t *fo = find_followed(cl, t->name, p);
    quire_err_t err;

    if (fo && fo->leader == leader && fo->leader_epoch == vp->st.leader_epoch &&
        fo->port == port && fo->config_mzxid == t->config_mzxid &&
        ((!fo->host && !host) || (fo->host && host && !strcmp(fo->host, host))))
        return;
    err = cl->cbs.follow_partition(cl->cbs.opaque, t->name, p, leader,
                                   vp->st.leader_epoch, host, port, &t->config);
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("CLUSTER", "cannot follow %s-%d: %s; retrying", t->name,
                   (int)p, quire_err2str(err));
        schedule_retry(cl);
        return;
    }
    if (!fo) {
        cl->fol = qr_realloc(cl->fol, (cl->fol_cnt + 1) * sizeof(*cl->fol));
        fo = &cl->fol[cl->fol_cnt++];
        fo->topic = qr_strdup(t->name);
        fo->partition = p;
    } else {
        free(fo->host);
    }
    fo->leader = leader;
    fo->leader_epoch = vp->st.leader_epoch;
    fo->host = host ? qr_strdup(host) : NULL;
    fo->port = port;
    fo->config_mzxid = t->config_mzxid;
}

static void update_following(qr_cluster_t *cl)
{
    const qr_view_t *view = cl->view;

    if (!cl->cbs.follow_partition)
        return;
    /* 1. what we follow no more: led now (open_partition took it over),
     * being deleted (delete_partition does it), or no longer a replica */
    for (size_t i = cl->fol_cnt; i-- > 0;) {
        followed_t *fo = &cl->fol[i];
        const qr_view_topic_t *t = qr_view_topic(view, fo->topic);
        int replica;
        if (will_follow(cl, fo->topic, fo->partition))
            continue;
        replica = t && t->loaded &&
                  (size_t)fo->partition < t->assign.part_cnt &&
                  qr_replicas_has(&t->assign.parts[fo->partition],
                                  cl->conf.broker_id);
        if (!is_led(cl, fo->topic, fo->partition) &&
            !qr_view_marker(view, fo->topic) && !replica) {
            /* reassigned away (or the topic vanished): stop fetching;
             * its data goes only when the topic still exists without us */
            QR_LOG_INFO("CLUSTER", "no longer a replica of %s-%d", fo->topic,
                        (int)fo->partition);
            cl->cbs.unfollow_partition(cl->cbs.opaque, fo->topic, fo->partition,
                                       t && t->loaded);
        }
        followed_drop(cl, i);
    }
    /* 2. new followers, new leaders, new epochs */
    for (size_t i = 0; i < view->topic_cnt; i++) {
        const qr_view_topic_t *t = &view->topics[i];
        if (!t->loaded)
            continue;
        for (size_t p = 0; p < t->assign.part_cnt; p++) {
            const qr_view_part_t *vp = desired_follow(cl, t->name, (int32_t)p);
            if (vp)
                follow_one(cl, t, (int32_t)p, vp);
        }
    }
}

/* ---- deletions ---- */

static int acking(const qr_cluster_t *cl, const char *topic)
{
    for (size_t i = 0; i < cl->acking_cnt; i++)
        if (strcmp(cl->acking[i], topic) == 0)
            return 1;
    return 0;
}

static void acking_done(qr_cluster_t *cl, const char *topic)
{
    for (size_t i = 0; i < cl->acking_cnt; i++)
        if (strcmp(cl->acking[i], topic) == 0) {
            free(cl->acking[i]);
            cl->acking[i] = cl->acking[--cl->acking_cnt];
            return;
        }
}

static void on_acked(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                     void *arg)
{
    qr_cluster_t *cl = owner;
    char topic[QR_TOPIC_NAME_MAX + 1];
    const char *name = res->path + sizeof(QR_ZNODE_DELETE_TOPICS);
    const char *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : strlen(name);

    (void)zk;
    (void)arg;
    if (n > QR_TOPIC_NAME_MAX)
        return;
    memcpy(topic, name, n);
    topic[n] = '\0';
    acking_done(cl, topic);
    if (res->rc != ZOK && res->rc != ZNODEEXISTS && res->rc != ZNONODE)
        schedule_retry(cl);
}

static int has_id(const int32_t *v, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

/* Deletes our replicas of topics marked for deletion, then says so. */
static void handle_deletions(qr_cluster_t *cl)
{
    const qr_view_t *view = cl->view;
    int32_t me = cl->conf.broker_id;

    for (size_t i = 0; i < view->marker_cnt; i++) {
        const qr_view_marker_t *m = &view->markers[i];
        const qr_view_topic_t *t = qr_view_topic(view, m->name);
        int ok = 1;
        char *path;

        int dropped = 0;

        if (!t || !t->loaded || !m->acks_loaded ||
            has_id(m->acks, m->ack_cnt, me) || acking(cl, m->name))
            continue;
        /* stop leading the topic: a snapshot without it first, then the
         * close callbacks (the ordering promise of cluster.h) */
        for (size_t k = cl->led_cnt; k-- > 0;)
            if (strcmp(cl->led[k].topic, t->name) == 0) {
                cl->led[k].leader_epoch = -1; /* marks "to close" */
                dropped = 1;
            }
        if (dropped) {
            led_t *closing = qr_calloc(cl->led_cnt + 1, sizeof(*closing));
            size_t n = 0;
            for (size_t k = cl->led_cnt; k-- > 0;)
                if (cl->led[k].leader_epoch == -1) {
                    closing[n++] = cl->led[k];
                    cl->led[k] = cl->led[--cl->led_cnt];
                }
            led_reindex(cl);
            publish(cl);
            for (size_t k = 0; k < n; k++) {
                QR_LOG_INFO("CLUSTER", "no longer leader of %s-%d (deleted)",
                            closing[k].topic, (int)closing[k].partition);
                cl->cbs.close_partition(cl->cbs.opaque, closing[k].topic,
                                        closing[k].partition);
                free(closing[k].topic);
            }
            free(closing);
        }
        for (size_t p = 0; p < t->assign.part_cnt; p++) {
            quire_err_t err;
            if (!qr_replicas_has(&t->assign.parts[p], me))
                continue;
            err = cl->cbs.delete_partition(cl->cbs.opaque, t->name, (int32_t)p);
            if (err != QUIRE_ERR_NONE) {
                QR_LOG_ERR("CLUSTER", "cannot delete %s-%zu: %s; retrying",
                           t->name, p, quire_err2str(err));
                ok = 0;
            }
        }
        if (!ok) {
            schedule_retry(cl);
            continue;
        }
        path = qr_znode_delete_ack_path(t->name, me);
        if (qr_zk_create(cl->zk, path, NULL, 0, 0, on_acked, cl, NULL) ==
            QUIRE_ERR_NONE) {
            cl->acking =
                qr_realloc(cl->acking, (cl->acking_cnt + 1) * sizeof(char *));
            cl->acking[cl->acking_cnt++] = qr_strdup(t->name);
        }
        free(path);
    }
}

static void process_autocreate(qr_cluster_t *cl);

/* ---- the view settled ---- */

static void on_view(qr_view_t *view, void *opaque)
{
    qr_cluster_t *cl = opaque;

    (void)view;
    if (cl->closed)
        return;
    if (cl->ctl)
        qr_controller_update(cl->ctl);
    handle_deletions(cl);
    update_leadership(cl);
    update_following(cl);
    process_autocreate(cl);
    if (cl->cs)
        qr_ctlshutdown_update(cl->cs);
}

/* on_retry, and the next pass of update_leadership()'s opens (more) */
static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_cluster_t *cl = w->data;

    (void)loop;
    (void)revents;
    if (cl->view->loaded)
        on_view(cl->view, cl);
}

/* ---- status ---- */

static void on_registered(qr_registry_t *reg, quire_err_t err, const char *msg,
                          void *opaque)
{
    qr_cluster_t *cl = opaque;

    (void)reg;
    if (cl->cbs.status)
        cl->cbs.status(cl->cbs.opaque,
                       err == QUIRE_ERR_NONE ? QR_CLUSTER_REGISTERED
                                             : QR_CLUSTER_FATAL,
                       err, msg);
}

static void on_session(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    qr_cluster_t *cl = owner;

    (void)zk;
    if (!cl->cbs.status)
        return;
    if (ev == QR_ZK_EV_EXPIRED)
        cl->cbs.status(cl->cbs.opaque, QR_CLUSTER_SESSION_LOST,
                       QUIRE_ERR_ZK_SESSION_EXPIRED,
                       "ZooKeeper session expired; re-registering");
    else if (ev == QR_ZK_EV_FATAL)
        cl->cbs.status(cl->cbs.opaque, QR_CLUSTER_FATAL, QUIRE_ERR_ZK,
                       "cannot connect to ZooKeeper within "
                       "zookeeper.connection.timeout.ms");
}

/* ---- auto-creation ---- */

static void on_autocreated(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                           void *arg)
{
    char *topic = arg;

    (void)zk;
    (void)owner;
    if (res->rc == ZOK)
        QR_LOG_INFO("CLUSTER", "auto-created topic %s", topic);
    else if (res->rc != ZNODEEXISTS)
        QR_LOG_WARN("CLUSTER", "auto-creating topic %s: %s", topic,
                    zerror(res->rc));
    free(topic);
}

static void autocreate_one(qr_cluster_t *cl, char *topic)
{
    const qr_view_t *view = cl->view;
    int32_t *live = qr_calloc(view->broker_cnt + 1, sizeof(int32_t));
    qr_zk_multi_t *m = NULL;
    char errstr[256];
    quire_err_t err;

    for (size_t i = 0; i < view->broker_cnt; i++)
        live[i] = view->brokers[i].id;
    err = qr_admin_plan_create(topic, cl->conf.num_partitions,
                               cl->conf.default_replication_factor, NULL, live,
                               view->broker_cnt, (uint32_t)random(),
                               (uint32_t)random(), &m, errstr, sizeof(errstr));
    free(live);
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_WARN("CLUSTER", "cannot auto-create topic %s: %s", topic,
                    errstr);
        free(topic);
        return;
    }
    /* fire and forget: the Metadata answer stays LEADER_NOT_AVAILABLE until
     * the view shows the topic with leaders. The completion owns topic. */
    if (qr_zk_multi_submit(cl->zk, m, on_autocreated, NULL, topic) !=
        QUIRE_ERR_NONE)
        free(topic);
}

/* Creates the requested topics once the view knows the live brokers (our
 * own registration included); until then requests stay queued and are
 * looked at again when the view next settles. */
static void process_autocreate(qr_cluster_t *cl)
{
    char *names[CL_AUTOCREATE_MAX];
    size_t n;

    if (cl->closed || !cl->view || !cl->view->loaded ||
        !qr_zk_connected(cl->zk) ||
        !qr_view_broker_live(cl->view, cl->conf.broker_id))
        return;
    pthread_mutex_lock(&cl->req_lock);
    n = cl->autocreate_cnt;
    memcpy(names, cl->autocreate, n * sizeof(char *));
    cl->autocreate_cnt = 0;
    pthread_mutex_unlock(&cl->req_lock);
    for (size_t i = 0; i < n; i++) {
        if (qr_view_topic(cl->view, names[i]))
            free(names[i]);
        else
            autocreate_one(cl, names[i]);
    }
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    process_autocreate(w->data);
}

quire_err_t qr_cluster_topic_autocreate(qr_cluster_t *cl, const char *topic)
{
    quire_err_t err = QUIRE_ERR_NONE;

    if (qr_topic_name_check(topic, strlen(topic), NULL) != QUIRE_ERR_NONE)
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    if (!cl->conf.auto_create_topics)
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    pthread_mutex_lock(&cl->req_lock);
    for (size_t i = 0; i < cl->autocreate_cnt; i++)
        if (strcmp(cl->autocreate[i], topic) == 0)
            goto out;
    if (cl->autocreate_cnt == CL_AUTOCREATE_MAX) {
        err = QUIRE_ERR_QUEUE_FULL;
        goto out;
    }
    cl->autocreate[cl->autocreate_cnt++] = qr_strdup(topic);
    ev_async_send(cl->loop, &cl->wake);
out:
    pthread_mutex_unlock(&cl->req_lock);
    return err;
}

/* ---- life cycle ---- */

static int check_conf(const qr_cluster_conf_t *conf, char *errstr,
                      size_t errstr_size)
{
    if (conf->broker_id < 0) {
        snprintf(errstr, errstr_size, "broker.id must be >= 0");
        return -1;
    }
    if (!conf->host || !*conf->host || strlen(conf->host) > 255) {
        snprintf(errstr, errstr_size, "advertised host is empty or too long");
        return -1;
    }
    if (conf->port < 1 || conf->port > 65535) {
        snprintf(errstr, errstr_size, "advertised port %d not in 1..65535",
                 conf->port);
        return -1;
    }
    if (conf->auto_create_topics &&
        (conf->num_partitions < 1 || conf->default_replication_factor < 1)) {
        snprintf(errstr, errstr_size,
                 "num.partitions and default.replication.factor must be "
                 ">= 1");
        return -1;
    }
    return 0;
}

qr_cluster_t *qr_cluster_new(struct ev_loop *loop,
                             const qr_cluster_conf_t *conf,
                             const qr_cluster_cbs_t *cbs, char *errstr,
                             size_t errstr_size)
{
    qr_cluster_t *cl;
    qr_zk_t *zk;

    if (!cbs->open_partition || !cbs->close_partition ||
        !cbs->delete_partition ||
        (cbs->follow_partition && !cbs->unfollow_partition)) {
        snprintf(errstr, errstr_size,
                 "open, close and delete partition callbacks are required");
        return NULL;
    }
    if (check_conf(conf, errstr, errstr_size) != 0)
        return NULL;
    zk = qr_zk_new(loop, conf->zk_connect, conf->zk_session_timeout_ms,
                   conf->zk_connection_timeout_ms, errstr, errstr_size);
    if (!zk)
        return NULL;
    cl = qr_calloc(1, sizeof(*cl));
    cl->loop = loop;
    cl->conf = *conf;
    cl->conf.zk_connect = qr_strdup(conf->zk_connect);
    cl->conf.host = qr_strdup(conf->host);
    cl->cbs = *cbs;
    cl->zk = zk;
    pthread_mutex_init(&cl->meta_lock, NULL);
    pthread_mutex_init(&cl->req_lock, NULL);
    cl->meta = qr_meta_new();
    ev_timer_init(&cl->retry, on_retry, 1., 0.);
    cl->retry.data = cl;
    ev_timer_init(&cl->more, on_retry, 0., 0.);
    cl->more.data = cl;
    ev_async_init(&cl->wake, on_wake);
    cl->wake.data = cl;
    return cl;
}

quire_err_t qr_cluster_start(qr_cluster_t *cl, char *errstr, size_t errstr_size)
{
    quire_err_t err;

    if (cl->view || cl->closed) {
        snprintf(errstr, errstr_size, "cluster already started");
        return QUIRE_ERR_STATE;
    }
    qr_zk_listen(cl->zk, on_session, cl);
    cl->reg =
        qr_registry_new(cl->zk, cl->conf.broker_id, cl->conf.host,
                        cl->conf.port, cl->conf.kafka_port, on_registered, cl);
    cl->view = qr_view_new(cl->zk, on_view, cl);
    if (cl->conf.controller_eligible) {
        qr_controller_conf_t ccf = {cl->conf.unclean_leader_election};
        cl->ctl = qr_controller_new(cl->zk, cl->view, cl->conf.broker_id, &ccf);
        cl->prefelect =
            qr_prefelect_new(cl->zk, cl->ctl, &cl->conf.leader_balance);
        cl->reassign = qr_reassign_new(cl->zk, cl->ctl);
    }
    cl->isrw = qr_isrchange_new(cl->zk, cl->view, cl->conf.broker_id);
    ev_async_start(cl->loop, &cl->wake);
    /* the async watcher alone should not keep the loop running */
    ev_unref(cl->loop);
    err = qr_zk_start(cl->zk, errstr, errstr_size);
    return err;
}

int32_t qr_cluster_broker_id(const qr_cluster_t *cl)
{
    return cl->conf.broker_id;
}

struct qr_zk *qr_cluster_zk(qr_cluster_t *cl)
{
    return cl->zk;
}

static void on_shutdown_done(void *opaque, int moved, const char *msg)
{
    qr_cluster_t *cl = opaque;

    cl->cs_cb(cl->cs_opaque, moved, msg);
}

quire_err_t qr_cluster_controlled_shutdown(qr_cluster_t *cl, int max_retries,
                                           int64_t backoff_ms,
                                           qr_cluster_shutdown_cb_t *cb,
                                           void *opaque)
{
    if (!cl->view || cl->closed)
        return QUIRE_ERR_STATE;
    if (cl->cs)
        return QUIRE_ERR_NONE;
    cl->cs_cb = cb;
    cl->cs_opaque = opaque;
    cl->cs = qr_ctlshutdown_new(cl->zk, cl->view, cl->conf.broker_id,
                                max_retries, backoff_ms, on_shutdown_done, cl);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_cluster_isr_write(qr_cluster_t *cl, const char *topic,
                                 int32_t partition, const qr_pstate_t *st,
                                 int32_t version, qr_isrchange_cb *cb,
                                 void *opaque)
{
    if (cl->closed || !cl->isrw)
        return QUIRE_ERR_STATE;
    if (!qr_zk_connected(cl->zk))
        return QUIRE_ERR_ZK_CONNECTION_LOSS;
    return qr_isrchange_write(cl->isrw, topic, partition, st, version, cb,
                              opaque);
}

int qr_cluster_is_controller(const qr_cluster_t *cl)
{
    return cl->ctl && qr_controller_active(cl->ctl);
}

void qr_cluster_close(qr_cluster_t *cl)
{
    if (cl->closed)
        return;
    cl->closed = 1;
    ev_timer_stop(cl->loop, &cl->retry);
    ev_timer_stop(cl->loop, &cl->more);
    if (ev_is_active(&cl->wake)) {
        ev_ref(cl->loop);
        ev_async_stop(cl->loop, &cl->wake);
    }
    /* publish "no longer led" first, then close (cluster.h's promise) */
    led_t *old = cl->led;
    size_t n = cl->led_cnt;
    cl->led = NULL;
    cl->led_cnt = 0;
    led_reindex(cl);
    if (cl->view)
        publish(cl);
    for (size_t i = 0; i < n; i++) {
        cl->cbs.close_partition(cl->cbs.opaque, old[i].topic, old[i].partition);
        free(old[i].topic);
    }
    free(old);
    qr_prefelect_destroy(cl->prefelect);
    cl->prefelect = NULL;
    qr_reassign_destroy(cl->reassign);
    cl->reassign = NULL;
    qr_ctlshutdown_destroy(cl->cs);
    cl->cs = NULL;
    qr_controller_destroy(cl->ctl);
    cl->ctl = NULL;
    qr_isrchange_destroy(cl->isrw);
    cl->isrw = NULL;
    qr_registry_destroy(cl->reg);
    cl->reg = NULL;
    qr_zk_forget(cl->zk, cl);
    qr_view_destroy(cl->view);
    cl->view = NULL;
    qr_zk_close(cl->zk);
}

void qr_cluster_destroy(qr_cluster_t *cl)
{
    if (!cl)
        return;
    if (cl->view || !cl->closed)
        qr_cluster_close(cl);
    qr_zk_destroy(cl->zk);
    for (size_t i = 0; i < cl->acking_cnt; i++)
        free(cl->acking[i]);
    free(cl->acking);
    for (size_t i = 0; i < cl->autocreate_cnt; i++)
        free(cl->autocreate[i]);
    free(cl->led);
    free(cl->led_slots);
    while (cl->fol_cnt > 0)
        followed_drop(cl, cl->fol_cnt - 1);
    free(cl->fol);
    qr_meta_release(cl->meta);
    pthread_mutex_destroy(&cl->meta_lock);
    pthread_mutex_destroy(&cl->req_lock);
    free((char *)cl->conf.zk_connect);
    free((char *)cl->conf.host);
    free(cl);
}
