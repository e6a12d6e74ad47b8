/*
 * zk_sync: blocking ZooKeeper calls for tools and tests (DESIGN.md §5:
 * "tools wait on the same loop until their calls complete").
 *
 * Each call issues the async request through zk.c and runs the loop
 * (ev_run ONCE) until its completion ran or @p timeout_ms passed. Never
 * call these from inside a loop callback (the broker's main loop must not
 * block): they are for main() of a CLI and for test bodies.
 */
#ifndef QR_ZK_SYNC_H
#define QR_ZK_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "zk.h"

/** A result copied out of the completion; owned by the caller
 * (qr_zk_sres_free()). */
typedef struct qr_zk_sres {
    int rc;     /* ZOK, a ZooKeeper error, or ZOPERATIONTIMEOUT when the
                   deadline passed first */
    char *data; /* get: NUL-terminated copy, NULL when none */
    int len;    /* get: data length, -1 when none */
    struct Stat stat;
    int has_stat;
    char **children; /* children: sorted names */
    size_t child_cnt;
    int *op_errs; /* multi: one per op */
    int op_cnt;
} qr_zk_sres_t;

/** @brief Frees what @p res owns and zeroes it. Accepts NULL. @locality any
 * @locks none */
void qr_zk_sres_free(qr_zk_sres_t *res);

/**
 * @brief Starts @p zk if needed and waits for a SESSION event.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_TIMED_OUT, or QUIRE_ERR_ZK (fatal
 *          event or start failure, in @p errstr).
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_zk_sync_connect(qr_zk_t *zk, int timeout_ms, char *errstr,
                               size_t errstr_size);

/* Each returns the request's rc in res->rc as well as converted; res is
 * always filled (zeroed first). @locality main thread, outside the loop. */
quire_err_t qr_zk_sync_get(qr_zk_t *zk, const char *path, int timeout_ms,
                           qr_zk_sres_t *res);
quire_err_t qr_zk_sync_exists(qr_zk_t *zk, const char *path, int timeout_ms,
                              qr_zk_sres_t *res);
quire_err_t qr_zk_sync_children(qr_zk_t *zk, const char *path, int timeout_ms,
                                qr_zk_sres_t *res);
quire_err_t qr_zk_sync_create(qr_zk_t *zk, const char *path, const char *data,
                              int len, int flags, int timeout_ms,
                              qr_zk_sres_t *res);
quire_err_t qr_zk_sync_set(qr_zk_t *zk, const char *path, const char *data,
                           int len, int version, int timeout_ms,
                           qr_zk_sres_t *res);
quire_err_t qr_zk_sync_delete(qr_zk_t *zk, const char *path, int version,
                              int timeout_ms, qr_zk_sres_t *res);
/** @param m always consumed. @locality main thread, outside the loop @locks
 * none */
quire_err_t qr_zk_sync_multi(qr_zk_t *zk, qr_zk_multi_t *m, int timeout_ms,
                             qr_zk_sres_t *res);

/**
 * @brief Runs the loop until @p cond(@p arg) is true or @p timeout_ms
 * passes (for tests waiting on callbacks).
 * @returns 1 when the condition held, 0 on timeout.
 * @locality main thread, outside the loop  @locks none
 */
int qr_zk_sync_wait(qr_zk_t *zk, int (*cond)(void *arg), void *arg,
                    int timeout_ms);

#endif /* QR_ZK_SYNC_H */
