/*
 * adminreq: the tools' side of the controller's admin requests (issue 16
 * item 10): what quire-leader-election and quire-reassign-partitions do,
 * blocking on the loop through zk_sync (main thread of a tool, outside the
 * loop). Each call waits at most @p timeout_ms per ZooKeeper call and
 * reports one line in @p errstr on failure.
 */
#ifndef QR_ADMINREQ_H
#define QR_ADMINREQ_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "partlist.h"
#include "zk.h"

/**
 * @brief Asks the controller for a preferred replica election of @p req's
 * partitions (every partition of every topic when @p req is NULL) by
 * creating /admin/preferred_replica_election.
 * @param written filled with what was written (owned: qr_partlist_free()).
 * @returns QUIRE_ERR_NONE; UNKNOWN_TOPIC_OR_PARTITION (an entry names a
 *          partition that does not exist, named); EXISTS (an election is
 *          in progress); or a ZooKeeper error.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_adminreq_preferred(qr_zk_t *zk, const qr_partlist_t *req,
                                  qr_partlist_t *written, int timeout_ms,
                                  char *errstr, size_t errstr_size);

/**
 * @brief The current assignment of @p topics' partitions (every partition
 * of each topic in @p topics when @p partitions_only is 0; else only the
 * partitions listed in @p topics).
 * @param out filled with replicas (owned).
 * @returns QUIRE_ERR_NONE, UNKNOWN_TOPIC_OR_PARTITION (named), BAD_JSON,
 *          or a ZooKeeper error.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_adminreq_current(qr_zk_t *zk, const qr_partlist_t *topics,
                                int partitions_only, qr_partlist_t *out,
                                int timeout_ms, char *errstr,
                                size_t errstr_size);

/**
 * @brief Kafka's --generate: a new placement of @p current's partitions
 * (same replication factor per topic) over @p brokers, as topic creation
 * places them (qr_assign_compute(), random start unless
 * $QUIRE_REPLICA_PLACEMENT). Pure.
 * @param out filled (owned).
 * @returns QUIRE_ERR_NONE or INVALID_REPLICATION_FACTOR (fewer brokers than
 *          a topic's replicas, named).
 * @locality any  @locks none
 */
quire_err_t qr_adminreq_generate(const qr_partlist_t *current,
                                 const int32_t *brokers, size_t nbrokers,
                                 qr_partlist_t *out, char *errstr,
                                 size_t errstr_size);

/**
 * @brief Kafka's --execute: checks @p req (every partition exists, every
 * broker id is registered) and creates /admin/reassign_partitions.
 * @returns QUIRE_ERR_NONE; UNKNOWN_TOPIC_OR_PARTITION or
 *          INVALID_REPLICA_ASSIGNMENT (named); EXISTS (a reassignment is
 *          in progress); or a ZooKeeper error.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_adminreq_reassign(qr_zk_t *zk, const qr_partlist_t *req,
                                 int timeout_ms, char *errstr,
                                 size_t errstr_size);

typedef enum qr_adminreq_status {
    QR_ADMINREQ_DONE,        /* completed successfully */
    QR_ADMINREQ_IN_PROGRESS, /* still in the request node */
    QR_ADMINREQ_FAILED,      /* gone from the node, replicas differ */
} qr_adminreq_status_t;

/**
 * @brief Kafka's --verify: the status of each of @p req's partitions.
 * @param status filled: @p req->n entries (caller's array).
 * @returns QUIRE_ERR_NONE or a ZooKeeper/BAD_JSON error.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_adminreq_verify(qr_zk_t *zk, const qr_partlist_t *req,
                               qr_adminreq_status_t *status, int timeout_ms,
                               char *errstr, size_t errstr_size);

#endif /* QR_ADMINREQ_H */
