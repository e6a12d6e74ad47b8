/*
 * controller: the elected broker that decides partition leadership
 * (issue 4, item 6; DESIGN.md §5).
 *
 * Election: whoever creates the ephemeral /controller first; the winner
 * then increments /controller_epoch (a conditional set on the version it
 * read) and remembers the epoch znode's new version. Every write it makes
 * to partition state is a multi-op that begins with a check of that
 * version, and sets a state only at the version it read: a controller
 * whose epoch was superseded can never overwrite (KAFKA-532, KAFKA-1096).
 * When such a write is refused for its epoch, it resigns: deletes its
 * /controller so the election runs again.
 *
 * Duties, run each time the shared view settles (qr_controller_update()):
 *   - a state for every partition with a live replica (leader, ISR, epochs):
 *     qr_assign_elect()'s rules. When a broker's registration goes (its
 *     session expired), every partition it led gets the first live ISR
 *     member in replica order as leader, and every ISR loses it, each with
 *     leader_epoch + 1 (Kafka 0.8's onBrokerFailure); with no live ISR
 *     member the partition goes offline (leader -1, ISR kept) unless
 *     unclean.leader.election.enable (broker key, topic override) lets a
 *     replica outside the ISR lead, logged as a warning;
 *   - controlled shutdown: a broker that created
 *     /admin/controlled_shutdown/<id> has the leadership it holds moved to
 *     another ISR member and is dropped from ISRs, as above (Kafka's
 *     ControlledShutdownLeaderSelector); the broker waits until it leads
 *     nothing (qr_cluster_controlled_shutdown());
 *   - /isr_change_notification: the leaders' ISR changes are re-read into
 *     the view and the notifications deleted, leftovers included;
 *   - deletions: once every broker holding a replica of a topic marked
 *     under /admin/delete_topics has acknowledged (deleted its data), the
 *     topic's znodes are removed, then the marker.
 */
#ifndef QR_CONTROLLER_H
#define QR_CONTROLLER_H

#include <stdint.h>

#include "view.h"
#include "zk.h"

typedef struct qr_controller qr_controller_t;

/** The controller's settings (server.properties keys). */
typedef struct qr_controller_conf {
    int unclean_leader_election; /* unclean.leader.election.enable: the
                                    default for topics without the
                                    override of that name */
} qr_controller_conf_t;

/**
 * @brief A controller candidate for broker @p broker_id. It takes part in
 * the election at the next qr_controller_update().
 * @param zk, view borrowed; must outlive the controller.
 * @param conf borrowed, copied; NULL: every default (unclean election off).
 * @returns owned: qr_controller_destroy().
 * @locality main loop  @locks none
 */
qr_controller_t *qr_controller_new(qr_zk_t *zk, qr_view_t *view,
                                   int32_t broker_id,
                                   const qr_controller_conf_t *conf);

/**
 * @brief Runs the election and, when elected, the controller's duties
 * against the view. Call it from the view's settle callback.
 * @locality main loop  @locks none
 */
void qr_controller_update(qr_controller_t *ctl);

/** @brief Whether this candidate is the active controller.
 * @locality main loop @locks none */
int qr_controller_active(const qr_controller_t *ctl);

/** @brief The epoch this controller was elected with (0 when inactive). */
int32_t qr_controller_epoch(const qr_controller_t *ctl);

/* ---- admin duties: preferred replica election, reassignment ----
 * Modules outside this file (prefelect.c, reassign.c) register a duty; the
 * active controller runs the duties after each settle in which its own
 * elections had nothing to write, and their writes go out in the same
 * fenced multis as its own (the /controller_epoch version check first, so
 * a deposed controller's duties change nothing). A multi is all or nothing
 * up to CTL_MULTI_OPS operations; a duty must plan steps that are safe to
 * repeat, since a refused multi is planned again on a later settle. */

/** A fenced batch of writes being planned. */
typedef struct qr_ctl_plan qr_ctl_plan_t;

/** A duty: plans writes into @p pl from @p view (borrowed for the call).
 * @p live: the live broker ids. */
typedef void(qr_controller_duty_t)(void *opaque, qr_ctl_plan_t *pl,
                                   qr_view_t *view, const int32_t *live,
                                   size_t nlive);

/**
 * @brief Registers a duty (at most 4), run while this candidate is the
 * active controller. @p opaque is borrowed and must outlive @p ctl.
 * @locality main loop  @locks none
 */
void qr_controller_add_duty(qr_controller_t *ctl, qr_controller_duty_t *fn,
                            void *opaque);

/**
 * @brief Plans a partition state write at the znode's @p version (the
 * view's; -1 is not allowed here), stamped with the controller's epoch;
 * noted in the view once written.
 * @locality main loop  @locks none
 */
void qr_controller_plan_state(qr_ctl_plan_t *pl, const char *topic, int32_t p,
                              const qr_pstate_t *st, int32_t version);

/** @brief Plans a set of @p path to @p data (NUL-terminated) at @p version
 * (-1: any). @locality main loop @locks none */
void qr_controller_plan_set(qr_ctl_plan_t *pl, const char *path,
                            const char *data, int32_t version);

/** @brief Plans a delete of @p path at @p version (-1: any).
 * @locality main loop @locks none */
void qr_controller_plan_delete(qr_ctl_plan_t *pl, const char *path,
                               int32_t version);

/**
 * @brief Resigns (deletes /controller when it is ours) and frees @p ctl.
 * Accepts NULL.
 * @locality main loop  @locks none
 */
void qr_controller_destroy(qr_controller_t *ctl);

#endif /* QR_CONTROLLER_H */
