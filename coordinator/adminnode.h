/*
 * adminnode: one watched admin request znode of the controller
 * (/admin/preferred_replica_election, /admin/reassign_partitions; issue 16
 * item 10), read into a qr_partlist_t.
 *
 * It keeps an exists-watch on the node (and a data watch while it exists),
 * re-reads it whenever a watch fires and on every new or resumed session,
 * and calls back once each read lands. A duty that planned writes about
 * the request calls qr_adminnode_recheck(): the node is read again on the
 * next loop iteration, after the controller has submitted the writes, so
 * the answer shows their outcome (ZooKeeper answers one session's requests
 * in order) and a refused write is planned again.
 */
#ifndef QR_ADMINNODE_H
#define QR_ADMINNODE_H

#include <stdint.h>

#include "partlist.h"
#include "zk.h"

typedef void(qr_adminnode_cb_t)(void *opaque);

typedef struct qr_adminnode {
    /* read-only for users */
    int present;        /* the node exists and was read */
    int malformed;      /* ... but did not parse (list empty) */
    int32_t version;    /* its data version */
    qr_partlist_t list; /* its entries */
    int rechecking;     /* writes planned; waiting for the re-read */

    /* private */
    qr_zk_t *zk;
    char *path;
    int with_replicas;
    qr_adminnode_cb_t *cb;
    void *opaque;
    void *timer; /* ev_timer *, owned */
} qr_adminnode_t;

/**
 * @brief Watches @p path (copied) on @p zk, parsed with @p with_replicas
 * (qr_partlist_decode()); @p cb runs after each read.
 * @returns owned: qr_adminnode_destroy().
 * @locality main loop  @locks none
 */
qr_adminnode_t *qr_adminnode_new(qr_zk_t *zk, const char *path,
                                 int with_replicas, qr_adminnode_cb_t *cb,
                                 void *opaque);

/** @brief Reads the node again once the current loop iteration's writes
 * went out; sets ->rechecking until then. @locality main loop @locks none */
void qr_adminnode_recheck(qr_adminnode_t *an);

/** @brief Stops watching and frees @p an. Accepts NULL. @locality main loop
 * @locks none */
void qr_adminnode_destroy(qr_adminnode_t *an);

#endif /* QR_ADMINNODE_H */
