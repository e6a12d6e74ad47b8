/*
 * ctlshutdown: the broker's side of a controlled shutdown (issue 16 item
 * 9, Kafka's controlled.shutdown.*).
 *
 * Kafka's broker sends the controller a ControlledShutdown request and
 * retries until it leads nothing; quire's broker creates the ephemeral
 * /admin/controlled_shutdown/<broker id> instead (REPL.md). The controller
 * sees it in its view, moves every leadership this broker holds to another
 * ISR member (leader_epoch + 1) and drops it from the ISRs
 * (controller.c). This module waits until the view's states show this
 * broker leading no partition that has somewhere to go, bounded by
 * controlled.shutdown.max.retries attempts of
 * controlled.shutdown.retry.backoff.ms each, then reports.
 *
 * "Somewhere to go": a partition with more than one replica and another
 * replica live. A replication-factor-1 partition, or one whose other
 * replicas are all dead, cannot move without going offline; Kafka's
 * broker does not wait for those either.
 *
 * One per broker process, on the main loop; owned by the cluster
 * (qr_cluster_controlled_shutdown()).
 */
#ifndef QR_CTLSHUTDOWN_H
#define QR_CTLSHUTDOWN_H

#include <stdint.h>

#include "view.h"
#include "zk.h"

typedef struct qr_ctlshutdown qr_ctlshutdown_t;

/** Reports the end: @p moved 1 when the broker leads nothing that could
 * move, 0 when the attempts ran out (@p msg says what is still led). */
typedef void(qr_ctlshutdown_cb_t)(void *opaque, int moved, const char *msg);

/**
 * @brief Starts a controlled shutdown of broker @p broker_id: creates its
 * /admin/controlled_shutdown node and watches the view. @p cb runs exactly
 * once, from qr_ctlshutdown_update() or a timer, never from inside this
 * call.
 * @param zk, view borrowed; must outlive the object.
 * @param max_retries attempts (>= 1); @p backoff_ms each (>= 1).
 * @returns owned: qr_ctlshutdown_destroy().
 * @locality main loop  @locks none
 */
qr_ctlshutdown_t *qr_ctlshutdown_new(qr_zk_t *zk, qr_view_t *view,
                                     int32_t broker_id, int max_retries,
                                     int64_t backoff_ms,
                                     qr_ctlshutdown_cb_t *cb, void *opaque);

/**
 * @brief Looks at the view again (call it when the view settles).
 * @locality main loop  @locks none
 */
void qr_ctlshutdown_update(qr_ctlshutdown_t *cs);

/**
 * @brief The partitions @p broker_id leads that could move to another live
 * replica (what a controlled shutdown waits for).
 * @locality main loop  @locks none
 */
size_t qr_ctlshutdown_movable(const qr_view_t *view, int32_t broker_id);

/**
 * @brief Stops the timer and frees @p cs (its node goes with the session).
 * Accepts NULL.
 * @locality main loop  @locks none
 */
void qr_ctlshutdown_destroy(qr_ctlshutdown_t *cs);

#endif /* QR_CTLSHUTDOWN_H */
