/*
 * prefelect: preferred replica leader election on the controller (issue 16
 * item 10), Kafka 0.8.2's PreferredReplicaElectionListener and
 * auto.leader.rebalance.enable.
 *
 * Requests: quire-leader-election writes /admin/preferred_replica_election
 * ({"version":1,"partitions":[{"topic":"t","partition":0},...]}). For each
 * listed partition the controller makes the preferred replica (the first
 * of the assignment) the leader when it is live and in the ISR and not the
 * leader already: same ISR, leader_epoch + 1, in the controller's fenced
 * multi (controller.h's duties), which also deletes the request node. A
 * partition whose preferred replica is dead or out of the ISR, or that is
 * unknown or being deleted, is skipped with a log line (Kafka does the
 * same).
 *
 * Auto rebalance: every leader.imbalance.check.interval.seconds, per
 * broker B, of the partitions whose preferred replica is B, the share not
 * led by B; above leader.imbalance.per.broker.percentage, each of them
 * whose preferred replica B is live and in the ISR is moved back to B.
 * Partitions listed in /admin/reassign_partitions are left alone.
 */
#ifndef QR_PREFELECT_H
#define QR_PREFELECT_H

#include <stdint.h>

#include "controller.h"
#include "zk.h"

typedef struct qr_prefelect_conf {
    int auto_rebalance;       /* auto.leader.rebalance.enable */
    int check_interval_s;     /* leader.imbalance.check.interval.seconds */
    int imbalance_percentage; /* leader.imbalance.per.broker.percentage */
} qr_prefelect_conf_t;

typedef struct qr_prefelect qr_prefelect_t;

/**
 * @brief Watches the request node and registers the duty on @p ctl.
 * @param zk, ctl borrowed; must outlive the result.
 * @param conf copied.
 * @returns owned: qr_prefelect_destroy() (before @p ctl goes).
 * @locality main loop  @locks none
 */
qr_prefelect_t *qr_prefelect_new(qr_zk_t *zk, qr_controller_t *ctl,
                                 const qr_prefelect_conf_t *conf);

/**
 * @brief The pure decision for one partition: the new state electing the
 * preferred replica of @p r, when it is live, in @p cur's ISR and not the
 * leader already.
 * @returns 1 with @p out set (leader_epoch + 1), else 0 and @p why says
 *          why not (a static string).
 * @locality any  @locks none
 */
int qr_prefelect_decide(const qr_replicas_t *r, const int32_t *live,
                        size_t nlive, const qr_pstate_t *cur, qr_pstate_t *out,
                        const char **why);

/** @brief Frees @p pe. Accepts NULL. @locality main loop @locks none */
void qr_prefelect_destroy(qr_prefelect_t *pe);

#endif /* QR_PREFELECT_H */
