/*
 * view: the watched cache of the cluster's znodes. See view.h.
 */
#include "config.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "logging.h"
#include "topic.h"
#include "view.h"

#define VIEW_GEN_MAGIC 0x56474e31u /* "VGN1" */

/* The owner token of one reload's requests and watches: forgetting it
 * (qr_zk_forget) abandons everything the previous reload issued. */
typedef struct gen {
    uint32_t magic;
    qr_view_t *view;
} gen_t;

static void read_ids(qr_view_t *view);
static void read_broker(qr_view_t *view, int32_t id);
static void read_topics(qr_view_t *view);
static void read_topic(qr_view_t *view, const char *name);
static void read_state(qr_view_t *view, const char *name, int32_t p);
static void read_config(qr_view_t *view, const char *name);
static void read_markers(qr_view_t *view);
static void read_acks(qr_view_t *view, const char *name);
static void read_controller(qr_view_t *view);
static void read_shutting(qr_view_t *view);

static qr_view_t *gen_view(void *owner)
{
    gen_t *g = owner;

    if (!g || g->magic != VIEW_GEN_MAGIC) {
        QR_LOG_ERR("ZK", "view callback with a bad owner %p", owner);
        abort();
    }
    return g->view;
}

/* ---- bookkeeping ---- */

static void issued(qr_view_t *view, quire_err_t err)
{
    if (err == QUIRE_ERR_NONE)
        view->inflight++;
    else
        view->failed = 1;
}

static void on_settle_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_view_t *view = w->data;

    (void)loop;
    (void)revents;
    if (view->inflight == 0 && view->cb)
        view->cb(view, view->opaque);
}

/* Called at the end of every completion. */
static void done(qr_view_t *view, int rc)
{
    ev_timer *t = view->settle_timer;

    if (rc != ZOK && rc != ZNONODE)
        view->failed = 1;
    if (--view->inflight > 0)
        return;
    view->loaded = 1;
    /* Many completions arrive in one zookeeper_process(); one listener
     * call for all of them. */
    if (!ev_is_active(t)) {
        ev_timer_set(t, 0., 0.);
        ev_timer_start(view->loop, t);
    }
}

/* ---- sorted arrays ---- */

static int cmp_broker(const void *a, const void *b)
{
    const qr_view_broker_t *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

static qr_view_broker_t *find_broker(const qr_view_t *view, int32_t id)
{
    qr_view_broker_t key = {.id = id};

    if (!view->broker_cnt)
        return NULL;
    return bsearch(&key, view->brokers, view->broker_cnt, sizeof(key),
                   cmp_broker);
}

int qr_view_broker_live(const qr_view_t *view, int32_t id)
{
    return find_broker(view, id) != NULL;
}

static int cmp_topic(const void *a, const void *b)
{
    const qr_view_topic_t *x = a, *y = b;

    return strcmp(x->name, y->name);
}

qr_view_topic_t *qr_view_topic(const qr_view_t *view, const char *name)
{
    qr_view_topic_t key = {.name = (char *)name};

    if (!view->topic_cnt)
        return NULL;
    return bsearch(&key, view->topics, view->topic_cnt, sizeof(key), cmp_topic);
}

int qr_view_broker_shutting_down(const qr_view_t *view, int32_t id)
{
    for (size_t i = 0; i < view->shutting_cnt; i++)
        if (view->shutting[i] == id)
            return 1;
    return 0;
}

qr_view_marker_t *qr_view_marker(const qr_view_t *view, const char *name)
{
    for (size_t i = 0; i < view->marker_cnt; i++)
        if (strcmp(view->markers[i].name, name) == 0)
            return &view->markers[i];
    return NULL;
}

static void free_topic(void *entry)
{
    qr_view_topic_t *t = entry;

    qr_topic_config_free(&t->config);
    qr_assign_free(&t->assign);
    free(t->parts);
    free(t->name);
}

static void free_marker(void *entry)
{
    qr_view_marker_t *m = entry;

    free(m->name);
    free(m->acks);
}

static void clear(qr_view_t *view)
{
    for (size_t i = 0; i < view->broker_cnt; i++)
        free(view->brokers[i].host);
    free(view->brokers);
    view->brokers = NULL;
    view->broker_cnt = 0;
    for (size_t i = 0; i < view->topic_cnt; i++)
        free_topic(&view->topics[i]);
    free(view->topics);
    view->topics = NULL;
    view->topic_cnt = 0;
    for (size_t i = 0; i < view->marker_cnt; i++)
        free_marker(&view->markers[i]);
    free(view->markers);
    view->markers = NULL;
    view->marker_cnt = 0;
    free(view->shutting);
    view->shutting = NULL;
    view->shutting_cnt = 0;
    view->controller_id = -1;
    view->controller_owner = 0;
    view->controller_version = -1;
}

static int in_children(const struct String_vector *sv, const char *name)
{
    for (int i = 0; i < sv->count; i++)
        if (strcmp(sv->data[i], name) == 0)
            return 1;
    return 0;
}

/* ---- path parsing, for watches and completions ---- */

/* "/brokers/topics/T[/partitions/P/state]" -> T (copied into buf) and P
 * (-1 when the path is the topic's own). @returns 0, -1 if no match. */
static int parse_topic_path(const char *path, char *buf, size_t size,
                            int32_t *p)
{
    static const char pre[] = QR_ZNODE_TOPICS "/";
    const char *name, *slash;
    size_t n;

    if (strncmp(path, pre, sizeof(pre) - 1) != 0)
        return -1;
    name = path + sizeof(pre) - 1;
    slash = strchr(name, '/');
    n = slash ? (size_t)(slash - name) : strlen(name);
    if (n == 0 || n >= size)
        return -1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    *p = -1;
    if (slash) {
        char num[16];
        const char *q = slash + sizeof("/partitions/") - 1, *end;
        if (strncmp(slash, "/partitions/", sizeof("/partitions/") - 1))
            return -1;
        end = strchr(q, '/');
        if (!end || strcmp(end, "/state") != 0 ||
            (size_t)(end - q) >= sizeof(num))
            return -1;
        memcpy(num, q, (size_t)(end - q));
        num[end - q] = '\0';
        if (qr_znode_parse_id(num, p) != 0)
            return -1;
    }
    return 0;
}

static void on_watch(qr_zk_t *zk, int type, const char *path, void *owner)
{
    qr_view_t *view = gen_view(owner);
    char name[QR_TOPIC_NAME_MAX + 1];
    int32_t id;
    static const char ids_pre[] = QR_ZNODE_BROKER_IDS "/";
    static const char del_pre[] = QR_ZNODE_DELETE_TOPICS "/";
    static const char cfg_pre[] = QR_ZNODE_CONFIG_TOPICS "/";

    (void)zk;
    (void)type;
    QR_DBG(QR_DBG_ZK, "ZK", "watch fired on %s (type %d)", path, type);
    if (strcmp(path, QR_ZNODE_BROKER_IDS) == 0)
        read_ids(view);
    else if (strncmp(path, ids_pre, sizeof(ids_pre) - 1) == 0) {
        if (qr_znode_parse_id(path + sizeof(ids_pre) - 1, &id) == 0)
            read_broker(view, id);
    } else if (strcmp(path, QR_ZNODE_TOPICS) == 0)
        read_topics(view);
    else if (parse_topic_path(path, name, sizeof(name), &id) == 0) {
        if (id < 0)
            read_topic(view, name);
        else
            read_state(view, name, id);
    } else if (strcmp(path, QR_ZNODE_DELETE_TOPICS) == 0)
        read_markers(view);
    else if (strncmp(path, del_pre, sizeof(del_pre) - 1) == 0)
        read_acks(view, path + sizeof(del_pre) - 1);
    else if (strcmp(path, QR_ZNODE_CONTROLLER) == 0)
        read_controller(view);
    else if (strcmp(path, QR_ZNODE_CONTROLLED_SHUTDOWN) == 0)
        read_shutting(view);
    else if (strncmp(path, cfg_pre, sizeof(cfg_pre) - 1) == 0) {
        if (qr_view_topic(view, path + sizeof(cfg_pre) - 1))
            read_config(view, path + sizeof(cfg_pre) - 1);
    }
}

/* An exists that follows a read of a node that was not there (a children
 * read of a missing root leaves no watch; a get of a missing state or
 * config node leaves an exists watch): if the node was created in
 * between, read it now. */
static void on_exists(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    qr_view_t *view = gen_view(owner);

    (void)zk;
    (void)arg;
    if (res->rc == ZOK)
        on_watch(zk, ZOO_CREATED_EVENT, res->path, owner);
    done(view, res->rc);
}

static int root_missing(qr_view_t *view, const qr_zk_res_t *res)
{
    if (res->rc != ZNONODE)
        return 0;
    issued(view, qr_zk_exists(view->zk, res->path, on_watch, on_exists,
                              view->gen, NULL));
    return 1;
}

/* What the topics (/brokers/topics) and the deletion markers
 * (/admin/delete_topics) share: a list that follows a root's children.
 * Each entry of @p base (@p *cnt of @p size bytes) begins with its owned
 * name. Entries whose child is gone are freed with @p free_entry; @p add
 * is called for every child that is a topic name (the others are logged
 * when @p warn), and adds it unless it is listed already. */
static void follow_children(qr_view_t *view, const qr_zk_res_t *res, void *base,
                            size_t *cnt, size_t size,
                            void (*free_entry)(void *entry),
                            void (*add)(qr_view_t *view, const char *name),
                            int warn)
{
    const struct String_vector *sv = res->children;
    char *entries = base;
    size_t keep = 0;

    if (res->rc != ZOK) {
        root_missing(view, res);
        done(view, res->rc);
        return;
    }
    for (size_t i = 0; i < *cnt; i++) {
        char *entry = entries + i * size;

        if (!in_children(sv, *(char **)entry))
            free_entry(entry);
        else if (keep++ < i)
            memcpy(entries + (keep - 1) * size, entry, size);
    }
    *cnt = keep;
    for (int i = 0; i < sv->count; i++) {
        const char *why, *name = sv->data[i];

        if (qr_topic_name_check(name, strlen(name), &why) == QUIRE_ERR_NONE)
            add(view, name);
        else if (warn)
            QR_LOG_WARN("ZK", "ignoring %s/%.64s: %s", res->path, name, why);
    }
    done(view, res->rc);
}

/* ---- /brokers/ids ---- */

static void on_ids(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg)
{
    qr_view_t *view = gen_view(owner);
    const struct String_vector *sv = res->children;
    size_t keep = 0;

    (void)zk;
    (void)arg;
    if (res->rc == ZOK) {
        /* drop brokers that are gone */
        for (size_t i = 0; i < view->broker_cnt; i++) {
            char num[16];
            snprintf(num, sizeof(num), "%d", (int)view->brokers[i].id);
            if (in_children(sv, num))
                view->brokers[keep++] = view->brokers[i];
            else
                free(view->brokers[i].host);
        }
        view->broker_cnt = keep;
        /* read the new ones */
        for (int i = 0; i < sv->count; i++) {
            int32_t id;
            if (qr_znode_parse_id(sv->data[i], &id) != 0) {
                QR_LOG_WARN("ZK", "ignoring %s/%s: not a broker id",
                            QR_ZNODE_BROKER_IDS, sv->data[i]);
                continue;
            }
            if (!find_broker(view, id)) {
                view->brokers =
                    qr_realloc(view->brokers,
                               (view->broker_cnt + 1) * sizeof(*view->brokers));
                view->brokers[view->broker_cnt++] =
                    (qr_view_broker_t){.id = id};
                qsort(view->brokers, view->broker_cnt, sizeof(*view->brokers),
                      cmp_broker);
                read_broker(view, id);
            }
        }
    } else {
        root_missing(view, res);
    }
    done(view, res->rc);
}

static void read_ids(qr_view_t *view)
{
    issued(view, qr_zk_children(view->zk, QR_ZNODE_BROKER_IDS, on_watch, on_ids,
                                view->gen, NULL));
}

static void on_broker(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    qr_view_t *view = gen_view(owner);
    qr_view_broker_t *b;
    int32_t id;
    qr_znode_broker_t reg;
    char errstr[256];

    (void)zk;
    (void)arg;
    if (qr_znode_parse_id(res->path + sizeof(QR_ZNODE_BROKER_IDS), &id) == 0 &&
        (b = find_broker(view, id)) != NULL && res->rc == ZOK) {
        if (qr_znode_broker_decode(res->data, res->len, &reg, errstr,
                                   sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_WARN("ZK", "%s: %s", res->path, errstr);
        } else {
            free(b->host);
            b->host = reg.host;
            b->port = reg.port;
            b->kafka_port = reg.kafka_port;
        }
    }
    done(view, res->rc);
}

static void read_broker(qr_view_t *view, int32_t id)
{
    char *path = qr_znode_broker_path(id);

    issued(view,
           qr_zk_get(view->zk, path, on_watch, on_broker, view->gen, NULL));
    free(path);
}

/* ---- /brokers/topics ---- */

static void add_topic(qr_view_t *view, const char *name)
{
    if (qr_view_topic(view, name))
        return;
    view->topics =
        qr_realloc(view->topics, (view->topic_cnt + 1) * sizeof(*view->topics));
    view->topics[view->topic_cnt++] =
        (qr_view_topic_t){.name = qr_strdup(name)};
    qsort(view->topics, view->topic_cnt, sizeof(*view->topics), cmp_topic);
    /* the config first: the leader opens its logs once the view has
     * settled, so both are read by then */
    read_config(view, name);
    read_topic(view, name);
}

static void on_topics(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    qr_view_t *view = gen_view(owner);

    (void)zk;
    (void)arg;
    follow_children(view, res, view->topics, &view->topic_cnt,
                    sizeof(*view->topics), free_topic, add_topic, 1);
}

static void read_topics(qr_view_t *view)
{
    issued(view, qr_zk_children(view->zk, QR_ZNODE_TOPICS, on_watch, on_topics,
                                view->gen, NULL));
}

static void remove_topic(qr_view_t *view, qr_view_topic_t *t)
{
    size_t i = (size_t)(t - view->topics);

    free_topic(t);
    memmove(t, t + 1, (view->topic_cnt - i - 1) * sizeof(*t));
    view->topic_cnt--;
}

static void on_topic(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                     void *arg)
{
    qr_view_t *view = gen_view(owner);
    char name[QR_TOPIC_NAME_MAX + 1], errstr[256];
    int32_t p;
    qr_view_topic_t *t;
    qr_assign_t a;
    size_t old;

    (void)zk;
    (void)arg;
    if (parse_topic_path(res->path, name, sizeof(name), &p) != 0 ||
        !(t = qr_view_topic(view, name))) {
        done(view, res->rc);
        return;
    }
    if (res->rc == ZNONODE) {
        remove_topic(view, t);
    } else if (res->rc == ZOK) {
        if (qr_znode_topic_decode(res->data, res->len, &a, errstr,
                                  sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_WARN("ZK", "%s: %s; topic ignored", res->path, errstr);
            qr_assign_free(&t->assign);
            t->loaded = 0;
        } else {
            old = t->loaded ? t->assign.part_cnt : 0;
            qr_assign_free(&t->assign);
            t->assign = a;
            t->loaded = 1;
            t->parts = qr_realloc(t->parts, (a.part_cnt ? a.part_cnt : 1) *
                                                sizeof(*t->parts));
            for (size_t i = old; i < a.part_cnt; i++) {
                memset(&t->parts[i], 0, sizeof(t->parts[i]));
                t->parts[i].version = -1;
                read_state(view, name, (int32_t)i);
            }
        }
    }
    done(view, res->rc);
}

static void read_topic(qr_view_t *view, const char *name)
{
    char *path = qr_znode_topic_path(name);

    issued(view,
           qr_zk_get(view->zk, path, on_watch, on_topic, view->gen, NULL));
    free(path);
}

/* ---- partition states ---- */

static qr_view_part_t *part_of(qr_view_t *view, const char *path)
{
    char name[QR_TOPIC_NAME_MAX + 1];
    int32_t p;
    qr_view_topic_t *t;

    if (parse_topic_path(path, name, sizeof(name), &p) != 0 || p < 0 ||
        !(t = qr_view_topic(view, name)) || !t->loaded ||
        (size_t)p >= t->assign.part_cnt)
        return NULL;
    return &t->parts[p];
}

static void on_state(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                     void *arg)
{
    qr_view_t *view = gen_view(owner);
    qr_view_part_t *part = part_of(view, res->path);
    char errstr[256];

    (void)zk;
    (void)arg;
    if (part && res->rc == ZOK) {
        if (qr_znode_state_decode(res->data, res->len, &part->st, errstr,
                                  sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_WARN("ZK", "%s: %s", res->path, errstr);
            part->has_state = 0;
        } else {
            part->has_state = 1;
        }
        part->version = res->stat->version;
    } else if (part && res->rc == ZNONODE) {
        part->has_state = 0;
        part->version = -1;
        issued(view, qr_zk_exists(view->zk, res->path, on_watch, on_exists,
                                  view->gen, NULL));
    }
    done(view, res->rc);
}

static void read_state(qr_view_t *view, const char *name, int32_t p)
{
    char *path = qr_znode_state_path(name, p);

    issued(view,
           qr_zk_get(view->zk, path, on_watch, on_state, view->gen, NULL));
    free(path);
}

void qr_view_note_state(qr_view_t *view, const char *topic, int32_t partition,
                        const qr_pstate_t *st, int32_t version)
{
    qr_view_topic_t *t = qr_view_topic(view, topic);

    if (!t || !t->loaded || partition < 0 ||
        (size_t)partition >= t->assign.part_cnt)
        return;
    /* a watch-driven re-read may already have seen something newer */
    if (t->parts[partition].has_state && t->parts[partition].version >= version)
        return;
    t->parts[partition].st = *st;
    t->parts[partition].has_state = 1;
    t->parts[partition].version = version;
}

void qr_view_refresh_state(qr_view_t *view, const char *topic,
                           int32_t partition)
{
    qr_view_topic_t *t = qr_view_topic(view, topic);

    if (t && t->loaded && partition >= 0 &&
        (size_t)partition < t->assign.part_cnt)
        read_state(view, topic, partition);
}

void qr_view_refresh_topic(qr_view_t *view, const char *name)
{
    qr_view_topic_t *t = qr_view_topic(view, name);

    if (!t)
        return;
    read_topic(view, name);
    if (t->loaded)
        for (size_t p = 0; p < t->assign.part_cnt; p++)
            read_state(view, name, (int32_t)p);
}

/* ---- topic configuration overrides ---- */

static qr_view_topic_t *config_topic(qr_view_t *view, const char *path)
{
    static const char pre[] = QR_ZNODE_CONFIG_TOPICS "/";

    if (strncmp(path, pre, sizeof(pre) - 1) != 0)
        return NULL;
    return qr_view_topic(view, path + sizeof(pre) - 1);
}

static void on_config(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    qr_view_t *view = gen_view(owner);
    qr_view_topic_t *t = config_topic(view, res->path);
    qr_topic_config_t cfg = {NULL, NULL, 0};
    char errstr[256];

    (void)zk;
    (void)arg;
    if (t && res->rc == ZOK) {
        /* Malformed: no overrides, loudly; the topic itself still works. */
        if (qr_znode_config_decode(res->data, res->len, &cfg, errstr,
                                   sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_WARN("ZK", "%s: %s; overrides ignored", res->path, errstr);
            qr_topic_config_free(&cfg);
        }
        qr_topic_config_free(&t->config);
        t->config = cfg;
        t->config_mzxid = res->stat->mzxid;
    } else if (t && res->rc == ZNONODE) {
        qr_topic_config_free(&t->config);
        t->config_mzxid = 0;
        issued(view, qr_zk_exists(view->zk, res->path, on_watch, on_exists,
                                  view->gen, NULL));
    }
    done(view, res->rc);
}

static void read_config(qr_view_t *view, const char *name)
{
    char *path = qr_znode_config_path(name);

    issued(view,
           qr_zk_get(view->zk, path, on_watch, on_config, view->gen, NULL));
    free(path);
}

/* ---- deletion markers ---- */

static void add_marker(qr_view_t *view, const char *name)
{
    if (qr_view_marker(view, name))
        return;
    view->markers = qr_realloc(view->markers,
                               (view->marker_cnt + 1) * sizeof(*view->markers));
    view->markers[view->marker_cnt++] =
        (qr_view_marker_t){.name = qr_strdup(name)};
    read_acks(view, name);
}

static void on_markers(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                       void *arg)
{
    qr_view_t *view = gen_view(owner);

    (void)zk;
    (void)arg;
    follow_children(view, res, view->markers, &view->marker_cnt,
                    sizeof(*view->markers), free_marker, add_marker, 0);
}

static void read_markers(qr_view_t *view)
{
    issued(view, qr_zk_children(view->zk, QR_ZNODE_DELETE_TOPICS, on_watch,
                                on_markers, view->gen, NULL));
}

static void on_acks(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg)
{
    qr_view_t *view = gen_view(owner);
    qr_view_marker_t *m =
        qr_view_marker(view, res->path + sizeof(QR_ZNODE_DELETE_TOPICS));

    (void)zk;
    (void)arg;
    if (m && res->rc == ZOK) {
        const struct String_vector *sv = res->children;
        free(m->acks);
        m->acks = qr_calloc((size_t)sv->count + 1, sizeof(int32_t));
        m->ack_cnt = 0;
        for (int i = 0; i < sv->count; i++)
            if (qr_znode_parse_id(sv->data[i], &m->acks[m->ack_cnt]) == 0)
                m->ack_cnt++;
        m->acks_loaded = 1;
    }
    done(view, res->rc);
}

static void read_acks(qr_view_t *view, const char *name)
{
    char *path = qr_znode_delete_path(name);

    issued(view,
           qr_zk_children(view->zk, path, on_watch, on_acks, view->gen, NULL));
    free(path);
}

/* ---- /controller ---- */

static void on_controller(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                          void *arg)
{
    qr_view_t *view = gen_view(owner);
    char errstr[256];
    int32_t id;

    (void)zk;
    (void)arg;
    if (res->rc == ZOK) {
        if (qr_znode_controller_decode(res->data, res->len, &id, errstr,
                                       sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_WARN("ZK", "%s: %s", res->path, errstr);
            id = -1;
        }
        view->controller_id = id;
        view->controller_owner = res->stat->ephemeralOwner;
        view->controller_version = res->stat->version;
    } else if (res->rc == ZNONODE) {
        view->controller_id = -1;
        view->controller_owner = 0;
        view->controller_version = -1;
        root_missing(view, res); /* an exists watch for its creation */
    }
    done(view, res->rc);
}

static void read_controller(qr_view_t *view)
{
    issued(view, qr_zk_get(view->zk, QR_ZNODE_CONTROLLER, on_watch,
                           on_controller, view->gen, NULL));
}

/* ---- /admin/controlled_shutdown ---- */

static void on_shutting(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                        void *arg)
{
    qr_view_t *view = gen_view(owner);
    const struct String_vector *sv = res->children;

    (void)zk;
    (void)arg;
    if (res->rc == ZOK) {
        free(view->shutting);
        view->shutting = qr_calloc((size_t)sv->count + 1, sizeof(int32_t));
        view->shutting_cnt = 0;
        for (int i = 0; i < sv->count; i++)
            if (qr_znode_parse_id(sv->data[i],
                                  &view->shutting[view->shutting_cnt]) == 0)
                view->shutting_cnt++;
    } else if (res->rc == ZNONODE) {
        view->shutting_cnt = 0;
        root_missing(view, res);
    }
    done(view, res->rc);
}

static void read_shutting(qr_view_t *view)
{
    issued(view, qr_zk_children(view->zk, QR_ZNODE_CONTROLLED_SHUTDOWN,
                                on_watch, on_shutting, view->gen, NULL));
}

/* ---- reloads ---- */

static void reload(qr_view_t *view)
{
    gen_t *g;

    if (view->gen) {
        qr_zk_forget(view->zk, view->gen);
        ((gen_t *)view->gen)->magic = 0;
        free(view->gen);
    }
    g = qr_calloc(1, sizeof(*g));
    g->magic = VIEW_GEN_MAGIC;
    g->view = view;
    view->gen = g;
    clear(view);
    view->inflight = 0;
    view->failed = 0;
    view->loaded = 0;
    QR_DBG(QR_DBG_ZK, "ZK", "view: reading the cluster");
    read_ids(view);
    read_topics(view);
    read_markers(view);
    read_controller(view);
    read_shutting(view);
}

static void on_session(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    qr_view_t *view = owner;

    (void)zk;
    if (ev == QR_ZK_EV_SESSION || (ev == QR_ZK_EV_RECONNECTED && view->failed))
        reload(view);
}

qr_view_t *qr_view_new(qr_zk_t *zk, qr_view_cb_t *cb, void *opaque)
{
    qr_view_t *view = qr_calloc(1, sizeof(*view));
    ev_timer *t = qr_calloc(1, sizeof(*t));

    view->zk = zk;
    view->cb = cb;
    view->opaque = opaque;
    view->loop = qr_zk_loop(zk);
    ev_timer_init(t, on_settle_timer, 0., 0.);
    t->data = view;
    view->settle_timer = t;
    clear(view);
    qr_zk_listen(zk, on_session, view);
    if (qr_zk_connected(zk))
        reload(view);
    return view;
}

void qr_view_destroy(qr_view_t *view)
{
    if (!view)
        return;
    qr_zk_forget(view->zk, view);
    if (view->gen) {
        qr_zk_forget(view->zk, view->gen);
        ((gen_t *)view->gen)->magic = 0;
        free(view->gen);
    }
    ev_timer_stop(view->loop, view->settle_timer);
    free(view->settle_timer);
    clear(view);
    free(view);
}
