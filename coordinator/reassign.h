/*
 * reassign: partition reassignment on the controller (issue 16 item 10),
 * Kafka 0.8.2's onPartitionReassignment over /admin/reassign_partitions
 * ({"version":1,"partitions":[{"topic":"t","partition":0,
 * "replicas":[2,3]},...]}, written by quire-reassign-partitions).
 *
 * Each partition moves from its replicas OAR to the requested RAR in
 * steps, each decided afresh from what ZooKeeper holds (qr_reassign_step()),
 * so a controller elected midway carries on where the last one stopped:
 *   1. EXPAND: the assignment becomes RAR followed by OAR's others (the
 *      new replicas start fetching from the leader: the brokers act on the
 *      assignment znode).
 *   2. WAIT until every replica of RAR is in the ISR (the leader adds a
 *      follower once it has caught up).
 *   3. SHRINK, in one fenced multi: the state gets a leader from RAR (the
 *      current one if it is in RAR, else the first of RAR live and in the
 *      ISR), the ISR without the removed replicas, leader_epoch + 1; the
 *      assignment becomes RAR (the removed replicas stop and delete their
 *      data).
 *   4. DONE: the partition is removed from the request node (the node
 *      itself when it was the last).
 * A request for an unknown partition, or that names a broker not live when
 * it starts, is dropped from the node with an error log (Kafka does the
 * same). The steps go out through the controller's duties (controller.h):
 * fenced by its epoch.
 */
#ifndef QR_REASSIGN_H
#define QR_REASSIGN_H

#include <stdint.h>

#include "controller.h"
#include "zk.h"

typedef enum qr_reassign_action {
    QR_REASSIGN_WAIT,   /* nothing to write yet */
    QR_REASSIGN_EXPAND, /* write the assignment @p ar_out */
    QR_REASSIGN_SHRINK, /* write the state @p st_out and assignment @p ar_out */
    QR_REASSIGN_DONE,   /* remove the partition from the request */
    QR_REASSIGN_REFUSE, /* remove it, with an error (@p why) */
} qr_reassign_action_t;

/**
 * @brief The next step of one partition's reassignment (pure).
 * @param ar the current assignment (OAR, or OAR plus RAR after EXPAND).
 * @param rar the requested replicas.
 * @param cur the partition's state, NULL when none.
 * @param ar_out receives the assignment to write (ids: room for
 *        QR_ASSIGN_MAX_REPLICAS * 2, the caller's).
 * @param why set to a static string for WAIT and REFUSE.
 * @locality any  @locks none
 */
qr_reassign_action_t
qr_reassign_step(const qr_replicas_t *ar, const qr_replicas_t *rar,
                 const qr_pstate_t *cur, const int32_t *live, size_t nlive,
                 qr_replicas_t *ar_out, qr_pstate_t *st_out, const char **why);

typedef struct qr_reassign qr_reassign_t;

/**
 * @brief Watches the request node and registers the duty on @p ctl.
 * @returns owned: qr_reassign_destroy() (before @p ctl goes).
 * @locality main loop  @locks none
 */
qr_reassign_t *qr_reassign_new(qr_zk_t *zk, qr_controller_t *ctl);

/** @brief Frees @p ra. Accepts NULL. @locality main loop @locks none */
void qr_reassign_destroy(qr_reassign_t *ra);

#endif /* QR_REASSIGN_H */
