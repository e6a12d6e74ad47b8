/*
 * zk: the ZooKeeper session of one process (issue 4, item 2).
 *
 * qr_zk_t owns the client handle (libzookeeper_st, driven by zk_loop.c),
 * the chroot and the session state machine:
 *
 *   start --> CONNECTING --(connected, new session id)--> SESSION event
 *      connection lost: DISCONNECTED event, the client reconnects by itself
 *      and the same session comes back: RECONNECTED event (watches and
 *      ephemerals are intact; nothing to redo but failed requests)
 *      session expired: EXPIRED event, the handle is closed (deferred to the
 *      loop) and a new one created; when it connects: SESSION event again,
 *      and every user re-registers its ephemerals, re-reads what it watches
 *      and re-arms its watches.
 *   no connection within zookeeper.connection.timeout.ms at start: FATAL.
 *
 * The chroot of `zookeeper.connect` (h:p[,h:p...][/chroot]) is applied by
 * this module, not by the client: every path given here is relative to it
 * and every path handed back is too. Its nodes are created (if missing) at
 * the start of every session, before the SESSION event, so a chroot wiped
 * with the rest of the data comes back.
 *
 * Requests are issued only while connected; otherwise they return
 * QUIRE_ERR_ZK_CONNECTION_LOSS at once and no callback runs (the caller
 * retries on the next SESSION or RECONNECTED event). An issued request's
 * callback runs exactly once: with ZOK, a ZooKeeper error, ZCONNECTIONLOSS,
 * or ZCLOSING when the handle goes away. The context behind each request
 * is owned by its completion (STYLE.md §4.6), magic-checked, and freed there
 * whatever the result.
 *
 * Owners: every callback is registered with an @c owner pointer;
 * qr_zk_forget(owner) makes sure none of that owner's callbacks, watches or
 * listeners runs again, so an object can be freed while requests about it
 * are still in flight.
 */
#ifndef QR_ZK_H
#define QR_ZK_H

#include <stddef.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#include "err.h"

struct ev_loop;

typedef struct qr_zk qr_zk_t;

typedef enum qr_zk_event {
    QR_ZK_EV_SESSION,      /* a new session is connected (first or after
                              expiry): (re)register, (re)read, (re)watch */
    QR_ZK_EV_RECONNECTED,  /* the same session is back after a loss */
    QR_ZK_EV_DISCONNECTED, /* connection lost; the session may survive */
    QR_ZK_EV_EXPIRED,      /* the session is gone; a new one is coming */
    QR_ZK_EV_FATAL,        /* no connection at start within the timeout */
    QR_ZK_EV_COUNT
} qr_zk_event_t;

/** The result of one request; everything in it is borrowed for the call. */
typedef struct qr_zk_res {
    int rc;                  /* ZOK or a ZooKeeper error code (zookeeper.h) */
    const char *path;        /* the request's path, relative to the chroot */
    const char *data;        /* get: the node's data (not NUL-terminated) */
    int len;                 /* get: its length, -1 for a node without data */
    const struct Stat *stat; /* get, exists, set; or NULL */
    const struct String_vector *children; /* children; or NULL */
    const zoo_op_result_t *results;       /* multi: one per op */
    int count;                            /* multi: number of ops */
} qr_zk_res_t;

/** Completion of a request. @p owner and @p arg as given to the request. */
typedef void(qr_zk_cb_t)(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                         void *arg);

/** A one-shot watch fired: @p type is ZOO_CREATED_EVENT, ZOO_DELETED_EVENT,
 * ZOO_CHANGED_EVENT or ZOO_CHILD_EVENT; @p path relative to the chroot. */
typedef void(qr_zk_watch_cb_t)(qr_zk_t *zk, int type, const char *path,
                               void *owner);

/** A session event (see the file comment). */
typedef void(qr_zk_event_cb_t)(qr_zk_t *zk, qr_zk_event_t ev, void *owner);

/**
 * @brief Parses and checks @p connect ("h:p[,h:p...][/chroot]") and builds
 * the session object; nothing is contacted until qr_zk_start().
 * @param connect borrowed; copied.
 * @returns owned (qr_zk_destroy()), or NULL with one line in @p errstr.
 * @locality main loop  @locks none
 */
qr_zk_t *qr_zk_new(struct ev_loop *loop, const char *connect,
                   int session_timeout_ms, int connection_timeout_ms,
                   char *errstr, size_t errstr_size);

/**
 * @brief Creates the client handle and starts connecting.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_ZK (with @p errstr).
 * @locality main loop  @locks none
 */
quire_err_t qr_zk_start(qr_zk_t *zk, char *errstr, size_t errstr_size);

/**
 * @brief Adds a session-event listener. Listeners run in the order added.
 * @param owner borrowed; the key for qr_zk_forget().
 * @locality main loop  @locks none
 */
void qr_zk_listen(qr_zk_t *zk, qr_zk_event_cb_t *cb, void *owner);

/**
 * @brief Makes sure nothing registered with @p owner (listeners, request
 * callbacks, watches) runs again. Requests in flight still complete inside
 * the client and their contexts are freed there.
 * @locality main loop  @locks none
 */
void qr_zk_forget(qr_zk_t *zk, void *owner);

/** @brief Whether the session is connected (requests may be issued).
 * @locality main loop @locks none */
int qr_zk_connected(const qr_zk_t *zk);

/** @brief The current session id, 0 when there is none.
 * @locality main loop @locks none */
int64_t qr_zk_session_id(const qr_zk_t *zk);

/** @brief The loop @p zk runs on. @locality any @locks none */
struct ev_loop *qr_zk_loop(const qr_zk_t *zk);

/** @brief The chroot ("" when none). @returns borrowed, valid for @p zk's
 * lifetime. @locality any @locks none */
const char *qr_zk_chroot(const qr_zk_t *zk);

/** @brief The session timeout the server granted for the current session
 * (kept while disconnected), or the one asked for before the first
 * connection, in ms. @locality main loop @locks none */
int qr_zk_session_timeout(const qr_zk_t *zk);

/**
 * @brief When this process last heard from ZooKeeper, as a lower bound the
 * server agrees with: the monotonic time (qr_clock_mono_ns()) at which the
 * latest request of the current session that the server answered (any
 * answer but a connection loss or expiry) was issued. The server received
 * that request later, so it cannot expire the session before this time
 * plus the session timeout. 0 when nothing has been answered in this
 * session.
 * @locality main loop  @locks none
 */
int64_t qr_zk_heard_ns(const qr_zk_t *zk);

/* ---- requests: paths relative to the chroot, starting with '/' ---- */

/**
 * @brief Reads a node's data and stat. With @p wcb, also leaves a watch
 * (fires on change or deletion).
 * @param path borrowed; copied.  @param cb may be NULL.
 * @param owner, arg borrowed, handed back to the callbacks; never freed.
 * @returns QUIRE_ERR_NONE (the callback will run), or
 *          QUIRE_ERR_ZK_CONNECTION_LOSS / QUIRE_ERR_ZK (it will not).
 * @locality main loop  @locks none
 */
quire_err_t qr_zk_get(qr_zk_t *zk, const char *path, qr_zk_watch_cb_t *wcb,
                      qr_zk_cb_t *cb, void *owner, void *arg);

/** @brief Checks a node's existence (res->stat NULL and rc ZNONODE when
 * absent); with @p wcb, leaves a watch (fires on create, change, delete).
 * Otherwise as qr_zk_get(). @locality main loop @locks none */
quire_err_t qr_zk_exists(qr_zk_t *zk, const char *path, qr_zk_watch_cb_t *wcb,
                         qr_zk_cb_t *cb, void *owner, void *arg);

/** @brief Lists a node's children (res->children, names only); with
 * @p wcb, leaves a child watch. Otherwise as qr_zk_get(). @locality main loop
 * @locks none */
quire_err_t qr_zk_children(qr_zk_t *zk, const char *path, qr_zk_watch_cb_t *wcb,
                           qr_zk_cb_t *cb, void *owner, void *arg);

/** @brief Creates a node (@p flags: 0 or ZOO_EPHEMERAL) with @p data of
 * @p len bytes (borrowed; copied). Otherwise as qr_zk_get(). @locality main
 * loop @locks none */
quire_err_t qr_zk_create(qr_zk_t *zk, const char *path, const char *data,
                         int len, int flags, qr_zk_cb_t *cb, void *owner,
                         void *arg);

/** @brief Writes a node's data if its version is @p version (-1: any);
 * res->stat is the new stat. Otherwise as qr_zk_create(). @locality main loop
 * @locks none */
quire_err_t qr_zk_set(qr_zk_t *zk, const char *path, const char *data, int len,
                      int version, qr_zk_cb_t *cb, void *owner, void *arg);

/** @brief Deletes a node if its version is @p version (-1: any).
 * Otherwise as qr_zk_get(). @locality main loop @locks none */
quire_err_t qr_zk_delete(qr_zk_t *zk, const char *path, int version,
                         qr_zk_cb_t *cb, void *owner, void *arg);

/* ---- multi: several operations applied atomically, all or none ---- */

typedef struct qr_zk_multi qr_zk_multi_t;

/** @brief An empty multi. @returns owned; consumed by qr_zk_multi_submit()
 * or freed with qr_zk_multi_destroy(). @locality any @locks none */
qr_zk_multi_t *qr_zk_multi_new(void);

/** @brief Frees an unsubmitted multi. Accepts NULL. @locality any @locks none
 */
void qr_zk_multi_destroy(qr_zk_multi_t *m);

/** @brief Number of operations added so far. @locality any @locks none */
int qr_zk_multi_count(const qr_zk_multi_t *m);

/** @brief Adds operations; paths and data borrowed, copied. @locality any
 * @locks none */
void qr_zk_multi_create(qr_zk_multi_t *m, const char *path, const char *data,
                        int len, int flags);
void qr_zk_multi_set(qr_zk_multi_t *m, const char *path, const char *data,
                     int len, int version);
void qr_zk_multi_delete(qr_zk_multi_t *m, const char *path, int version);
void qr_zk_multi_check(qr_zk_multi_t *m, const char *path, int version);

/**
 * @brief Submits @p m. res->rc is ZOK when every operation was applied,
 * else the first failure's code (res->results[i].err says which).
 * @param m always consumed, on every path.
 * @returns as qr_zk_get().
 * @locality main loop  @locks none
 */
quire_err_t qr_zk_multi_submit(qr_zk_t *zk, qr_zk_multi_t *m, qr_zk_cb_t *cb,
                               void *owner, void *arg);

/**
 * @brief Closes the session (ephemerals go at once). Pending callbacks run
 * with ZCLOSING. Idempotent. Not from inside a callback of @p zk.
 * @locality main loop  @locks none
 */
void qr_zk_close(qr_zk_t *zk);

/** @brief Closes and frees @p zk. Accepts NULL. Not from inside a callback
 * of @p zk. @locality main loop @locks none */
void qr_zk_destroy(qr_zk_t *zk);

/** @brief Maps a ZooKeeper return code to quire's enum. @locality any */
quire_err_t qr_zk_err(int rc);

/** @brief The event's name ("SESSION"), for logs and tests. @locality any
 * @locks none */
const char *qr_zk_event_name(qr_zk_event_t ev);

#endif /* QR_ZK_H */
