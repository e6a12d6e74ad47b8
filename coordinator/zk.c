/*
 * zk: the session state machine and the request contexts. See zk.h.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "logging.h"
#include "zk.h"
#include "quietlog.h"
#include "zk_loop.h"

#define QR_ZK_REQ_MAGIC   0x5a4b5251u /* "ZKRQ" */
#define QR_ZK_WATCH_MAGIC 0x5a4b5754u /* "ZKWT" */
#define QR_ZK_DEAD_MAGIC  0xdeadbeefu

typedef enum req_kind {
    REQ_GET,
    REQ_EXISTS,
    REQ_CHILDREN,
    REQ_CREATE,
    REQ_SET,
    REQ_DELETE,
    REQ_MULTI,
    REQ_CHROOT /* internal: creating a chroot node */
} req_kind_t;

/* Links of the zk's lists of live request and watch contexts: so that
 * forget() can reach them, and so that watch contexts the client drops
 * unannounced when a handle closes are freed. */
typedef struct link {
    struct link *prev, *next;
} link_t;

struct qr_zk_multi {
    zoo_op_t *ops;
    zoo_op_result_t *results;
    char **strs; /* every copied path and data buffer, owned */
    int count, cap, str_cnt, str_cap;
};

typedef struct req {
    uint32_t magic; /* first: checked when the client hands it back */
    link_t link;
    qr_zk_t *zk;
    req_kind_t kind;
    qr_zk_cb_t *cb; /* NULL when forgotten or fire-and-forget */
    void *owner, *arg;
    char *path;           /* full path, with the chroot; owned */
    qr_zk_multi_t *multi; /* REQ_MULTI: owned */
    int64_t sent_ns;      /* mono time it was issued (the lease) */
    int64_t sid;          /* the session it was issued in */
} req_t;

typedef struct watch {
    uint32_t magic;
    link_t link;
    qr_zk_t *zk;
    qr_zk_watch_cb_t *cb; /* NULL when forgotten */
    void *owner;
} watch_t;

typedef struct listener {
    qr_zk_event_cb_t *cb;
    void *owner;
    struct listener *next;
} listener_t;

struct qr_zk {
    struct ev_loop *loop;
    char *hosts;  /* "h:p,h:p" */
    char *chroot; /* "" or "/a/b" */
    size_t chroot_len;
    int session_timeout_ms;
    int connection_timeout_ms;

    zhandle_t *zh;
    qr_zk_loop_t *zl;
    int connected;      /* requests may be issued */
    int ever_connected; /* a session was established once */
    int closing;
    int64_t session_id; /* of the current session, 0 before the first */
    int negotiated_ms;  /* session timeout the server granted; 0: none yet */
    int64_t heard_ns;   /* latest issue time of an answered request of this
                           session (mono ns), 0: none */
    int chroot_pending; /* chroot creates in flight for a new session */

    ev_timer reinit;       /* deferred close + new handle after expiry */
    ev_timer conn_timeout; /* zookeeper.connection.timeout.ms at start */

    link_t reqs;    /* live req_t */
    link_t watches; /* live watch_t */
    listener_t *listeners;
};

static const char *const event_names[] = {
    "SESSION", "RECONNECTED", "DISCONNECTED", "EXPIRED", "FATAL",
};
_Static_assert(QR_ARRAY_LEN(event_names) == QR_ZK_EV_COUNT,
               "event_names out of step with qr_zk_event_t");

const char *qr_zk_event_name(qr_zk_event_t ev)
{
    return (unsigned)ev < QR_ZK_EV_COUNT ? event_names[ev] : "?";
}

quire_err_t qr_zk_err(int rc)
{
    switch (rc) {
    case ZOK:
        return QUIRE_ERR_NONE;
    case ZNONODE:
        return QUIRE_ERR_NOT_FOUND;
    case ZNODEEXISTS:
        return QUIRE_ERR_EXISTS;
    case ZBADVERSION:
        return QUIRE_ERR_ZK_BAD_VERSION;
    case ZNOTEMPTY:
        return QUIRE_ERR_ZK_NOT_EMPTY;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZCLOSING:
        return QUIRE_ERR_ZK_CONNECTION_LOSS;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
        return QUIRE_ERR_ZK_SESSION_EXPIRED;
    default:
        return QUIRE_ERR_ZK;
    }
}

/* ---- lists ---- */

static void link_init(link_t *head)
{
    head->prev = head->next = head;
}

static void link_add(link_t *head, link_t *l)
{
    l->next = head->next;
    l->prev = head;
    head->next->prev = l;
    head->next = l;
}

static void link_del(link_t *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

#define CONTAINER(ptr, type, member) \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- connect string ---- */

static int parse_connect(qr_zk_t *zk, const char *connect, char *errstr,
                         size_t errstr_size)
{
    const char *slash = strchr(connect, '/');
    size_t hlen = slash ? (size_t)(slash - connect) : strlen(connect);

    if (hlen == 0 || connect[0] == ',' || connect[hlen - 1] == ',') {
        snprintf(errstr, errstr_size,
                 "zookeeper.connect \"%s\": expected "
                 "host:port[,host:port...][/chroot]",
                 connect);
        return -1;
    }
    for (size_t i = 0; i < hlen; i++)
        if (connect[i] == ' ' || (connect[i] == ',' && connect[i + 1] == ',')) {
            snprintf(errstr, errstr_size,
                     "zookeeper.connect \"%s\": empty or blank host entry",
                     connect);
            return -1;
        }
    zk->hosts = qr_strndup(connect, hlen);
    zk->chroot = qr_strdup(slash ? slash : "");
    /* "/" alone means no chroot; otherwise no trailing '/', no empty,
     * "." or ".." component */
    if (strcmp(zk->chroot, "/") == 0)
        zk->chroot[0] = '\0';
    zk->chroot_len = strlen(zk->chroot);
    if (zk->chroot_len) {
        const char *p = zk->chroot;
        while (*p == '/') {
            const char *end = strchr(p + 1, '/');
            size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
            if (n == 0 || (n == 1 && p[1] == '.') ||
                (n == 2 && p[1] == '.' && p[2] == '.')) {
                snprintf(errstr, errstr_size,
                         "zookeeper.connect \"%s\": bad chroot \"%s\"", connect,
                         zk->chroot);
                return -1;
            }
            p += n + 1;
        }
    }
    return 0;
}

static char *full_path(const qr_zk_t *zk, const char *path)
{
    size_t n = strlen(path);
    char *full = qr_malloc(zk->chroot_len + n + 1);

    memcpy(full, zk->chroot, zk->chroot_len);
    memcpy(full + zk->chroot_len, path, n + 1);
    /* the chroot itself is "/a", not "/a/" */
    if (zk->chroot_len && n == 1 && path[0] == '/')
        full[zk->chroot_len] = '\0';
    return full;
}

static const char *rel_path(const qr_zk_t *zk, const char *full)
{
    if (zk->chroot_len && strncmp(full, zk->chroot, zk->chroot_len) == 0) {
        const char *rel = full + zk->chroot_len;
        return *rel ? rel : "/";
    }
    return full;
}

/* ---- listeners ---- */

static void emit(qr_zk_t *zk, qr_zk_event_t ev)
{
    QR_DBG(QR_DBG_ZK, "ZK", "session event %s (session 0x%llx)",
           qr_zk_event_name(ev), (unsigned long long)zk->session_id);
    /* A listener may forget itself (or others): forget() only clears cb,
     * the nodes are removed at destroy, so the walk stays valid. */
    for (listener_t *li = zk->listeners; li; li = li->next)
        if (li->cb)
            li->cb(zk, ev, li->owner);
}

void qr_zk_listen(qr_zk_t *zk, qr_zk_event_cb_t *cb, void *owner)
{
    listener_t *li = qr_calloc(1, sizeof(*li)), **tail = &zk->listeners;

    li->cb = cb;
    li->owner = owner;
    while (*tail)
        tail = &(*tail)->next;
    *tail = li;
}

void qr_zk_forget(qr_zk_t *zk, void *owner)
{
    for (listener_t *li = zk->listeners; li; li = li->next)
        if (li->owner == owner)
            li->cb = NULL;
    for (link_t *l = zk->reqs.next; l != &zk->reqs; l = l->next) {
        req_t *req = CONTAINER(l, req_t, link);
        if (req->owner == owner)
            req->cb = NULL;
    }
    for (link_t *l = zk->watches.next; l != &zk->watches; l = l->next) {
        watch_t *w = CONTAINER(l, watch_t, link);
        if (w->owner == owner)
            w->cb = NULL;
    }
}

/* ---- contexts ---- */

static req_t *req_new(qr_zk_t *zk, req_kind_t kind, const char *path,
                      qr_zk_cb_t *cb, void *owner, void *arg)
{
    req_t *req = qr_calloc(1, sizeof(*req));

    req->magic = QR_ZK_REQ_MAGIC;
    req->zk = zk;
    req->kind = kind;
    req->cb = cb;
    req->owner = owner;
    req->arg = arg;
    req->path = path ? full_path(zk, path) : NULL;
    req->sent_ns = qr_clock_mono_ns();
    req->sid = zk->session_id;
    link_init(&req->link);
    link_add(&zk->reqs, &req->link);
    return req;
}

static void req_free(req_t *req)
{
    link_del(&req->link);
    req->magic = QR_ZK_DEAD_MAGIC;
    qr_zk_multi_destroy(req->multi);
    free(req->path);
    free(req);
}

/* Checks the magic of a context coming back from the client, then takes it
 * off the live list. */
static req_t *req_claim(const void *data)
{
    req_t *req = (req_t *)data;

    if (!req || req->magic != QR_ZK_REQ_MAGIC) {
        QR_LOG_ERR("ZK", "completion with a bad context %p (magic 0x%x)", data,
                   req ? req->magic : 0);
        abort();
    }
    return req;
}

static void req_done(req_t *req, qr_zk_res_t *res)
{
    qr_zk_t *zk = req->zk;

    res->path = req->path ? rel_path(zk, req->path) : NULL;
    if (res->rc == ZSESSIONEXPIRED || res->rc == ZINVALIDSTATE)
        zk->connected = 0;
    /* An answer from the server: it had our session alive when the
     * request reached it, which was after req->sent_ns (the lease). */
    if (res->rc != ZCONNECTIONLOSS && res->rc != ZOPERATIONTIMEOUT &&
        res->rc != ZCLOSING && res->rc != ZSESSIONEXPIRED &&
        res->rc != ZINVALIDSTATE && req->sid == zk->session_id &&
        req->sent_ns > zk->heard_ns)
        zk->heard_ns = req->sent_ns;
    if (req->cb)
        req->cb(zk, res, req->owner, req->arg);
    req_free(req);
}

static void on_data(int rc, const char *value, int len, const struct Stat *stat,
                    const void *data)
{
    req_t *req = req_claim(data);
    qr_zk_res_t res = {.rc = rc, .data = value, .len = len, .stat = stat};

    if (rc != ZOK) {
        res.data = NULL;
        res.len = -1;
        res.stat = NULL;
    }
    req_done(req, &res);
}

static void on_stat(int rc, const struct Stat *stat, const void *data)
{
    req_t *req = req_claim(data);
    qr_zk_res_t res = {.rc = rc, .len = -1, .stat = rc == ZOK ? stat : NULL};

    req_done(req, &res);
}

static void on_strings(int rc, const struct String_vector *strings,
                       const void *data)
{
    req_t *req = req_claim(data);
    qr_zk_res_t res = {.rc = rc, .len = -1};

    if (rc == ZOK)
        res.children = strings;
    req_done(req, &res);
}

static void on_string(int rc, const char *value, const void *data)
{
    req_t *req = req_claim(data);
    qr_zk_res_t res = {.rc = rc, .len = -1};

    (void)value;
    req_done(req, &res);
}

static void on_void(int rc, const void *data)
{
    req_t *req = req_claim(data);
    qr_zk_res_t res = {.rc = rc, .len = -1};

    if (req->kind == REQ_MULTI) {
        res.results = req->multi->results;
        res.count = req->multi->count;
    }
    req_done(req, &res);
}

/* ---- watches ---- */

static void on_watch(zhandle_t *zh, int type, int state, const char *path,
                     void *ctx)
{
    watch_t *w = ctx;
    qr_zk_t *zk;

    (void)zh;
    (void)state;
    if (!w || w->magic != QR_ZK_WATCH_MAGIC) {
        QR_LOG_ERR("ZK", "watch with a bad context %p", ctx);
        abort();
    }
    /* The client also hands every session event to every watch it holds,
     * without dropping it: only zk.c's session watcher acts on those. */
    if (type == ZOO_SESSION_EVENT)
        return;
    zk = w->zk;
    link_del(&w->link);
    w->magic = QR_ZK_DEAD_MAGIC;
    if (w->cb)
        w->cb(zk, type, rel_path(zk, path), w->owner);
    free(w);
}

static watch_t *watch_new(qr_zk_t *zk, qr_zk_watch_cb_t *cb, void *owner)
{
    watch_t *w;

    if (!cb)
        return NULL;
    w = qr_calloc(1, sizeof(*w));
    w->magic = QR_ZK_WATCH_MAGIC;
    w->zk = zk;
    w->cb = cb;
    w->owner = owner;
    link_init(&w->link);
    link_add(&zk->watches, &w->link);
    return w;
}

/* The client never calls a watch again once its handle is closed, and
 * does not free our contexts: they are ours to free here. */
static void watches_drop_all(qr_zk_t *zk)
{
    while (zk->watches.next != &zk->watches) {
        watch_t *w = CONTAINER(zk->watches.next, watch_t, link);
        link_del(&w->link);
        w->magic = QR_ZK_DEAD_MAGIC;
        free(w);
    }
}

/* ---- issuing ---- */

static quire_err_t issued(qr_zk_t *zk, req_t *req, watch_t *w, int rc)
{
    if (rc == ZOK)
        return QUIRE_ERR_NONE;
    /* Not issued: the completion will not run, so the contexts are freed
     * here, the only other place allowed to. */
    QR_DBG(QR_DBG_ZK, "ZK", "request on %s not issued: %s",
           req->path ? req->path : "(multi)", zerror(rc));
    if (w) {
        link_del(&w->link);
        free(w);
    }
    req_free(req);
    if (rc == ZINVALIDSTATE)
        zk->connected = 0;
    return rc == ZCONNECTIONLOSS || rc == ZINVALIDSTATE
               ? QUIRE_ERR_ZK_CONNECTION_LOSS
               : QUIRE_ERR_ZK;
}

static int can_issue(const qr_zk_t *zk)
{
    return zk->zh && zk->connected && !zk->closing;
}

quire_err_t qr_zk_get(qr_zk_t *zk, const char *path, qr_zk_watch_cb_t *wcb,
                      qr_zk_cb_t *cb, void *owner, void *arg)
{
    req_t *req;
    watch_t *w;

    if (!can_issue(zk))
        return QUIRE_ERR_ZK_CONNECTION_LOSS;
    req = req_new(zk, REQ_GET, path, cb, owner, arg);
    w = watch_new(zk, wcb, owner);
    return issued(
        zk, req, w,
        zoo_awget(zk->zh, req->path, w ? on_watch : NULL, w, on_data, req));
}

quire_err_t qr_zk_exists(qr_zk_t *zk, const char *path, qr_zk_watch_cb_t *wcb,
                         qr_zk_cb_t *cb, void *owner, void *arg)
{
    req_t *req;
    watch_t *w;

    if (!can_issue(zk))
        return QUIRE_ERR_ZK_CONNECTION_LOSS;
    req = req_new(zk, REQ_EXISTS, path, cb, owner, arg);
    w = watch_new(zk, wcb, owner);
    return issued(
        zk, req, w,
        zoo_awexists(zk->zh, req->path, w ? on_watch : NULL, w, on_stat, req));
}

quire_err_t qr_zk_children(qr_zk_t *zk, const char *path, qr_zk_watch_cb_t *wcb,
                           qr_zk_cb_t *cb, void *owner, void *arg)
{
    req_t *req;
    watch_t *w;

    if (!can_issue(zk))
        return QUIRE_ERR_ZK_CONNECTION_LOSS;
    req = req_new(zk, REQ_CHILDREN, path, cb, owner, arg);
    w = watch_new(zk, wcb, owner);
    return issued(zk, req, w,
                  zoo_awget_children(zk->zh, req->path, w ? on_watch : NULL, w,
                                     on_strings, req));
}

static quire_err_t do_create(qr_zk_t *zk, req_kind_t kind, const char *path,
                             const char *data, int len, int flags,
                             qr_zk_cb_t *cb, void *owner, void *arg)
{
    req_t *req = req_new(zk, kind, path, cb, owner, arg);

    /* chroot nodes are given as full paths already */
    if (kind == REQ_CHROOT) {
        free(req->path);
        req->path = qr_strdup(path);
    }
    return issued(zk, req, NULL,
                  zoo_acreate(zk->zh, req->path, data, data ? len : -1,
                              &ZOO_OPEN_ACL_UNSAFE, flags, on_string, req));
}

quire_err_t qr_zk_create(qr_zk_t *zk, const char *path, const char *data,
                         int len, int flags, qr_zk_cb_t *cb, void *owner,
                         void *arg)
{
    if (!can_issue(zk))
        return QUIRE_ERR_ZK_CONNECTION_LOSS;
    return do_create(zk, REQ_CREATE, path, data, len, flags, cb, owner, arg);
}

quire_err_t qr_zk_set(qr_zk_t *zk, const char *path, const char *data, int len,
                      int version, qr_zk_cb_t *cb, void *owner, void *arg)
{
    req_t *req;

    if (!can_issue(zk))
        return QUIRE_ERR_ZK_CONNECTION_LOSS;
    req = req_new(zk, REQ_SET, path, cb, owner, arg);
    return issued(zk, req, NULL,
                  zoo_aset(zk->zh, req->path, data, data ? len : -1, version,
                           on_stat, req));
}

quire_err_t qr_zk_delete(qr_zk_t *zk, const char *path, int version,
                         qr_zk_cb_t *cb, void *owner, void *arg)
{
    req_t *req;

    if (!can_issue(zk))
        return QUIRE_ERR_ZK_CONNECTION_LOSS;
    req = req_new(zk, REQ_DELETE, path, cb, owner, arg);
    return issued(zk, req, NULL,
                  zoo_adelete(zk->zh, req->path, version, on_void, req));
}

/* ---- multi ---- */

qr_zk_multi_t *qr_zk_multi_new(void)
{
    return qr_calloc(1, sizeof(qr_zk_multi_t));
}

void qr_zk_multi_destroy(qr_zk_multi_t *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->str_cnt; i++)
        free(m->strs[i]);
    free(m->strs);
    free(m->ops);
    free(m->results);
    free(m);
}

int qr_zk_multi_count(const qr_zk_multi_t *m)
{
    return m->count;
}

static char *multi_keep(qr_zk_multi_t *m, const char *s, int len)
{
    char *copy;

    if (!s)
        return NULL;
    if (m->str_cnt == m->str_cap) {
        m->str_cap = m->str_cap ? m->str_cap * 2 : 16;
        m->strs = qr_realloc(m->strs, (size_t)m->str_cap * sizeof(char *));
    }
    if (len < 0)
        len = (int)strlen(s);
    copy = qr_malloc((size_t)len + 1);
    memcpy(copy, s, (size_t)len);
    copy[len] = '\0';
    m->strs[m->str_cnt++] = copy;
    return copy;
}

static zoo_op_t *multi_add(qr_zk_multi_t *m)
{
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->ops = qr_realloc(m->ops, (size_t)m->cap * sizeof(zoo_op_t));
    }
    memset(&m->ops[m->count], 0, sizeof(zoo_op_t));
    return &m->ops[m->count++];
}

/* Paths are stored relative; submit prefixes the chroot (it needs the zk). */
void qr_zk_multi_create(qr_zk_multi_t *m, const char *path, const char *data,
                        int len, int flags)
{
    char *p = multi_keep(m, path, -1), *d = multi_keep(m, data, len);

    zoo_create_op_init(multi_add(m), p, d, d ? len : -1, &ZOO_OPEN_ACL_UNSAFE,
                       flags, NULL, 0);
}

void qr_zk_multi_set(qr_zk_multi_t *m, const char *path, const char *data,
                     int len, int version)
{
    char *p = multi_keep(m, path, -1), *d = multi_keep(m, data, len);

    zoo_set_op_init(multi_add(m), p, d, d ? len : -1, version, NULL);
}

void qr_zk_multi_delete(qr_zk_multi_t *m, const char *path, int version)
{
    zoo_delete_op_init(multi_add(m), multi_keep(m, path, -1), version);
}

void qr_zk_multi_check(qr_zk_multi_t *m, const char *path, int version)
{
    zoo_check_op_init(multi_add(m), multi_keep(m, path, -1), version);
}

static const char **op_path(zoo_op_t *op)
{
    switch (op->type) {
    case ZOO_CREATE_OP:
        return &op->create_op.path;
    case ZOO_DELETE_OP:
        return &op->delete_op.path;
    case ZOO_SETDATA_OP:
        return &op->set_op.path;
    default:
        return &op->check_op.path;
    }
}

quire_err_t qr_zk_multi_submit(qr_zk_t *zk, qr_zk_multi_t *m, qr_zk_cb_t *cb,
                               void *owner, void *arg)
{
    req_t *req;

    if (!can_issue(zk) || m->count == 0) {
        qr_zk_multi_destroy(m);
        return can_issue(zk) ? QUIRE_ERR_BAD_ARG : QUIRE_ERR_ZK_CONNECTION_LOSS;
    }
    for (int i = 0; i < m->count; i++) {
        const char **pp = op_path(&m->ops[i]);
        char *full = full_path(zk, *pp);
        *pp = multi_keep(m, full, -1);
        free(full);
    }
    m->results = qr_calloc((size_t)m->count, sizeof(zoo_op_result_t));
    req = req_new(zk, REQ_MULTI, NULL, cb, owner, arg);
    req->multi = m;
    return issued(
        zk, req, NULL,
        zoo_amulti(zk->zh, m->count, m->ops, m->results, on_void, req));
}

/* ---- the session state machine ---- */

static void new_session_ready(qr_zk_t *zk)
{
    zk->ever_connected = 1;
    ev_timer_stop(zk->loop, &zk->conn_timeout);
    QR_LOG_INFO("ZK", "session 0x%llx established with %s%s (timeout %d ms)",
                (unsigned long long)zk->session_id, zk->hosts, zk->chroot,
                zoo_recv_timeout(zk->zh));
    emit(zk, QR_ZK_EV_SESSION);
}

static void on_chroot_created(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                              void *arg)
{
    (void)owner;
    (void)arg;
    if (res->rc != ZOK && res->rc != ZNODEEXISTS) {
        /* Connection loss: the next CONNECTED event tries again. */
        if (res->rc != ZCONNECTIONLOSS && res->rc != ZCLOSING)
            QR_LOG_ERR("ZK", "cannot create chroot node %s: %s", res->path,
                       zerror(res->rc));
        zk->chroot_pending = 0;
        return;
    }
    if (--zk->chroot_pending == 0)
        new_session_ready(zk);
}

/* Creates each component of the chroot, in order (a session's requests are
 * applied in order), ignoring "exists". */
static void create_chroot(qr_zk_t *zk)
{
    char *path = qr_strdup(zk->chroot);

    zk->chroot_pending = 0;
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            zk->chroot_pending++;
            if (do_create(zk, REQ_CHROOT, path, NULL, 0, 0, on_chroot_created,
                          zk, NULL) != QUIRE_ERR_NONE) {
                zk->chroot_pending = 0;
                break;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    free(path);
}

static void on_connected(qr_zk_t *zk)
{
    const clientid_t *cid = zoo_client_id(zk->zh);
    int64_t id = cid ? cid->client_id : 0;
    uint64_t held;

    zk->connected = 1;
    held = qr_zk_loop_log_settle(); /* issue 15: quiet logs */
    if (held > 0)
        QR_LOG_INFO("ZK",
                    "connected to ZooKeeper again (%llu repeated client "
                    "lines were not shown)",
                    (unsigned long long)held);
    /* what the server granted, which may differ from what we asked for
     * (it clamps to 2..20 ticks): every timer about the session uses it */
    zk->negotiated_ms = zoo_recv_timeout(zk->zh);
    if (id == zk->session_id && zk->ever_connected) {
        QR_LOG_INFO("ZK", "session 0x%llx reconnected", (unsigned long long)id);
        emit(zk, QR_ZK_EV_RECONNECTED);
        return;
    }
    zk->session_id = id;
    zk->heard_ns = 0;
    if (zk->chroot_len)
        create_chroot(zk);
    else
        new_session_ready(zk);
}

static void schedule_reinit(qr_zk_t *zk, double after)
{
    ev_timer_stop(zk->loop, &zk->reinit);
    ev_timer_set(&zk->reinit, after, 0.);
    ev_timer_start(zk->loop, &zk->reinit);
}

static void on_session(zhandle_t *zh, int type, int state, const char *path,
                       void *ctx)
{
    qr_zk_t *zk = ctx;

    (void)path;
    if (type != ZOO_SESSION_EVENT || zh != zk->zh || zk->closing)
        return;
    if (state == ZOO_CONNECTED_STATE) {
        on_connected(zk);
    } else if (state == ZOO_CONNECTING_STATE ||
               state == ZOO_ASSOCIATING_STATE) {
        if (zk->connected) {
            zk->connected = 0;
            QR_LOG_WARN("ZK",
                        "connection to ZooKeeper lost (session 0x%llx "
                        "kept until it expires)",
                        (unsigned long long)zk->session_id);
            emit(zk, QR_ZK_EV_DISCONNECTED);
        }
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        zk->connected = 0;
        QR_LOG_WARN("ZK", "session 0x%llx expired; creating a new one",
                    (unsigned long long)zk->session_id);
        emit(zk, QR_ZK_EV_EXPIRED);
        /* The handle cannot be closed from inside its own processing. */
        schedule_reinit(zk, 0.);
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        zk->connected = 0;
        QR_LOG_ERR("ZK", "ZooKeeper authentication failed");
        emit(zk, QR_ZK_EV_FATAL);
    }
}

static void close_handle(qr_zk_t *zk)
{
    zhandle_t *zh = zk->zh;

    if (!zh)
        return;
    qr_zk_loop_destroy(zk->zl);
    zk->zl = NULL;
    zk->connected = 0;
    /* Completions still pending run inside zookeeper_close() with
     * ZCLOSING; requests they issue are refused (zk->zh is still set but
     * connected is 0). */
    zookeeper_close(zh);
    zk->zh = NULL;
    watches_drop_all(zk);
}

static int open_handle(qr_zk_t *zk, char *errstr, size_t errstr_size)
{
    qr_zk_loop_set_log_level();
    zk->zh = zookeeper_init2(zk->hosts, on_session, zk->session_timeout_ms,
                             NULL, zk, 0, qr_zk_loop_log);
    if (!zk->zh) {
        snprintf(errstr, errstr_size,
                 "cannot create a ZooKeeper client for \"%s\": %s", zk->hosts,
                 strerror(errno));
        return -1;
    }
    zk->zl = qr_zk_loop_new(zk->loop, zk->zh);
    return 0;
}

/* a handle that cannot be opened is retried every second: one line, then
 * a summary every few seconds (issue 15) */
static qr_quiet_t reinit_quiet = QR_QUIET_INIT(QR_QUIET_INTERVAL_MS);

static void on_reinit(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_zk_t *zk = w->data;
    char errstr[256];

    (void)loop;
    (void)revents;
    close_handle(zk);
    if (zk->closing)
        return;
    if (open_handle(zk, errstr, sizeof(errstr)) != 0) {
        QR_LOG_QUIET(&reinit_quiet, QR_LOG_LVL_ERR, "ZK", "reinit",
                     "%s; retrying in 1 s", errstr);
        schedule_reinit(zk, 1.);
    }
}

static void on_conn_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_zk_t *zk = w->data;

    (void)loop;
    (void)revents;
    if (zk->ever_connected || zk->connected)
        return;
    QR_LOG_ERR("ZK",
               "no ZooKeeper session with %s within "
               "zookeeper.connection.timeout.ms=%d",
               zk->hosts, zk->connection_timeout_ms);
    emit(zk, QR_ZK_EV_FATAL);
}

qr_zk_t *qr_zk_new(struct ev_loop *loop, const char *connect,
                   int session_timeout_ms, int connection_timeout_ms,
                   char *errstr, size_t errstr_size)
{
    qr_zk_t *zk;

    if (!connect || !*connect) {
        snprintf(errstr, errstr_size, "zookeeper.connect is empty");
        return NULL;
    }
    if (session_timeout_ms <= 0 || connection_timeout_ms <= 0) {
        snprintf(errstr, errstr_size,
                 "ZooKeeper session and connection timeouts must be > 0");
        return NULL;
    }
    zk = qr_calloc(1, sizeof(*zk));
    zk->loop = loop;
    zk->session_timeout_ms = session_timeout_ms;
    zk->connection_timeout_ms = connection_timeout_ms;
    link_init(&zk->reqs);
    link_init(&zk->watches);
    ev_timer_init(&zk->reinit, on_reinit, 0., 0.);
    zk->reinit.data = zk;
    ev_timer_init(&zk->conn_timeout, on_conn_timeout,
                  connection_timeout_ms / 1000., 0.);
    zk->conn_timeout.data = zk;
    if (parse_connect(zk, connect, errstr, errstr_size) != 0) {
        qr_zk_destroy(zk);
        return NULL;
    }
    return zk;
}

quire_err_t qr_zk_start(qr_zk_t *zk, char *errstr, size_t errstr_size)
{
    if (zk->zh || zk->closing) {
        snprintf(errstr, errstr_size, "ZooKeeper session already started");
        return QUIRE_ERR_STATE;
    }
    if (open_handle(zk, errstr, errstr_size) != 0)
        return QUIRE_ERR_ZK;
    /* The loop's clock as of now, not of its last iteration: a broker
     * starts the session after loading its logs (after a crash, 10,000
     * partitions took 54 s), and a timeout counted from before that load
     * fired at once (issue 14). */
    ev_now_update(zk->loop);
    ev_timer_start(zk->loop, &zk->conn_timeout);
    return QUIRE_ERR_NONE;
}

int qr_zk_connected(const qr_zk_t *zk)
{
    return can_issue(zk);
}

int64_t qr_zk_session_id(const qr_zk_t *zk)
{
    return zk->zh ? zk->session_id : 0;
}

struct ev_loop *qr_zk_loop(const qr_zk_t *zk)
{
    return zk->loop;
}

const char *qr_zk_chroot(const qr_zk_t *zk)
{
    return zk->chroot;
}

int qr_zk_session_timeout(const qr_zk_t *zk)
{
    /* the negotiated value stays valid while disconnected: the session
     * the server keeps is the one it granted */
    return zk->negotiated_ms > 0 ? zk->negotiated_ms : zk->session_timeout_ms;
}

int64_t qr_zk_heard_ns(const qr_zk_t *zk)
{
    return zk->heard_ns;
}

void qr_zk_close(qr_zk_t *zk)
{
    if (zk->closing)
        return;
    zk->closing = 1;
    ev_timer_stop(zk->loop, &zk->reinit);
    ev_timer_stop(zk->loop, &zk->conn_timeout);
    close_handle(zk);
}

void qr_zk_destroy(qr_zk_t *zk)
{
    if (!zk)
        return;
    qr_zk_close(zk);
    while (zk->listeners) {
        listener_t *li = zk->listeners;
        zk->listeners = li->next;
        free(li);
    }
    /* every request completed inside zookeeper_close() */
    if (zk->reqs.next != &zk->reqs) {
        QR_LOG_ERR("ZK", "bug: requests left after zookeeper_close()");
        abort();
    }
    free(zk->hosts);
    free(zk->chroot);
    free(zk);
}
