/*
 * isrchange: a leader's ISR writes to ZooKeeper (issue 16 item 5, REPL.md
 * "ZooKeeper"), as Kafka 0.8.2's updateLeaderAndIsr and
 * recordIsrChange: the partition's state znode is set to the same leader,
 * leader epoch and controller epoch with the new ISR, conditionally on the
 * znode version the leader last read or wrote; then a persistent
 * sequential /isr_change_notification/isr_change_ node names the
 * partition for the controller.
 *
 * A write that fails with BADVERSION re-reads the state: when its leader
 * or leader epoch changed (or it is gone) this broker was deposed
 * (NOT_LEADER_FOR_PARTITION, issue 16 item 8); otherwise the version moved
 * under the same leadership (ZK_BAD_VERSION) and the new state reaches the
 * broker through the view as usual.
 *
 * Ownership: one qr_isrchange_t per cluster object, on the main loop. Each
 * write's context is owned by the object until its completion, and freed
 * by qr_isrchange_destroy() if the session goes first (its callback then
 * never runs: the broker is shutting down).
 */
#ifndef QR_ISRCHANGE_H
#define QR_ISRCHANGE_H

#include <stdint.h>

#include "assign.h"
#include "err.h"
#include "view.h"
#include "zk.h"

typedef struct qr_isrchange qr_isrchange_t;

/**
 * Completion of one write, on the main loop.
 * @param result QUIRE_ERR_NONE (written; @p version is the new znode
 *        version); NOT_LEADER_FOR_PARTITION (deposed); ZK_BAD_VERSION
 *        (stale version, same leader: plan again from the new state);
 *        another code (connection loss, ...: try again later).
 * @param st the state that was to be written (borrowed for the call).
 */
typedef void(qr_isrchange_cb)(void *opaque, const char *topic,
                              int32_t partition, const qr_pstate_t *st,
                              quire_err_t result, int32_t version);

/** @brief A writer for broker @p broker_id. @p zk, @p view borrowed for
 * its life. @returns owned. @locality main loop @locks none */
qr_isrchange_t *qr_isrchange_new(qr_zk_t *zk, qr_view_t *view,
                                 int32_t broker_id);

/**
 * @brief Writes @p st (leader must be this broker) over state version
 * @p version of topic-partition, then the notification.
 * @param topic, st borrowed; copied. @param opaque borrowed.
 * @returns QUIRE_ERR_NONE (@p cb runs later), or ZK_CONNECTION_LOSS when
 *          not connected (@p cb does not run).
 * @locality main loop  @locks none
 */
quire_err_t qr_isrchange_write(qr_isrchange_t *ic, const char *topic,
                               int32_t partition, const qr_pstate_t *st,
                               int32_t version, qr_isrchange_cb *cb,
                               void *opaque);

/** @brief Forgets every write in flight (their callbacks never run) and
 * frees. NULL is fine. @locality main loop @locks none */
void qr_isrchange_destroy(qr_isrchange_t *ic);

#endif /* QR_ISRCHANGE_H */
