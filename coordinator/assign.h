/*
 * assign: replica assignment of a topic's partitions (issue 4, item 5).
 *
 * The placement is Kafka's AdminUtils.assignReplicasToBrokers (without
 * racks): brokers sorted by id; partition p's first replica is the broker
 * at (start + p) mod n, from a random start index; follower j of p sits
 * at (first + 1 + (shift + j) mod (n - 1)) mod n, with the shift bumped
 * each time the round-robin wraps, so the followers spread.
 * Pure functions: no ZooKeeper, so unit tests cover them completely.
 */
#ifndef QR_ASSIGN_H
#define QR_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/** Most partitions a topic may have (a sanity bound on input and JSON). */
#define QR_ASSIGN_MAX_PARTITIONS 100000
/** Most replicas a partition may have. */
#define QR_ASSIGN_MAX_REPLICAS 64

/** One partition's replicas; the first is the preferred leader. */
typedef struct qr_replicas {
    int32_t *ids; /* owned by the enclosing qr_assign_t */
    size_t n;
} qr_replicas_t;

/** A topic's assignment: parts[p] for partition p. */
typedef struct qr_assign {
    qr_replicas_t *parts; /* owned */
    size_t part_cnt;
} qr_assign_t;

/** A partition's state, as the controller writes it. */
typedef struct qr_pstate {
    int32_t leader; /* -1: none */
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t isr[QR_ASSIGN_MAX_REPLICAS];
    size_t isr_cnt;
} qr_pstate_t;

/** What the controller knows about the brokers when it elects. */
typedef struct qr_elect_in {
    const int32_t *live; /* borrowed: registered brokers, any order */
    size_t nlive;
    const int32_t *shutting; /* borrowed: brokers in controlled shutdown
                                (/admin/controlled_shutdown/<id>) */
    size_t nshutting;
    int unclean; /* unclean.leader.election.enable for the topic */
} qr_elect_in_t;

/** Why qr_assign_elect() wrote what it wrote (for the controller's log). */
typedef enum qr_elect_how {
    QR_ELECT_NONE,    /* nothing changed: nothing to write */
    QR_ELECT_NEW,     /* the partition's first state */
    QR_ELECT_ISR,     /* same leader, dead or stopping members left the ISR */
    QR_ELECT_CLEAN,   /* a new leader from the ISR (the old one died) */
    QR_ELECT_MOVED,   /* leadership moved off a broker in controlled
                         shutdown, to another ISR member */
    QR_ELECT_UNCLEAN, /* no live ISR member; a live replica outside the ISR
                         leads (unclean): acknowledged records may be lost */
    QR_ELECT_OFFLINE, /* no live ISR member and unclean election off: leader
                         -1, the ISR kept (they are the ones to wait for) */
} qr_elect_how_t;

/**
 * @brief Decides a partition's leader and ISR (the controller's rule,
 * Kafka's partition state machine with KIP-101-era fixes).
 *
 * With no state yet: the first live replica (not stopping, if any is)
 * leads, the ISR is those live replicas, epoch 0; nothing when no replica
 * is live (the partition waits, as Kafka's NewPartition does).
 *
 * With a state, a broker "stopping" is one in @p in->shutting:
 *   - the leader is live, a replica and not stopping: it stays; the ISR
 *     loses its dead and stopping members (Kafka 0.8's
 *     removeReplicaFromIsr on broker failure and controlled shutdown);
 *   - else the first replica, in replica-list order, that is live, in the
 *     ISR and not stopping leads; the new ISR is the old one minus dead and
 *     stopping members (OfflinePartitionLeaderSelector /
 *     ControlledShutdownLeaderSelector);
 *   - else a live, stopping leader stays (nothing to move to: controlled
 *     shutdown of that partition fails, as in Kafka), and a dead leader is
 *     followed by a live stopping ISR member (still clean);
 *   - else, with @p in->unclean, the first live replica leads alone
 *     (unclean); without it the leader is -1 and the ISR is kept, so only a
 *     returning ISR member can lead again.
 * A returning broker outside the ISR is never made leader (except by an
 * unclean election); moving leadership back to the preferred replica is
 * the preferred-replica election's job, not this one's.
 * The leader epoch goes up by one whenever the leader or the ISR changes.
 * @param cur NULL when the partition has no state.
 * @param out the new state (controller_epoch copied from @p cur, 0 without;
 *        the caller sets its own).
 * @returns QR_ELECT_NONE when @p out equals @p cur (nothing to write), else
 *          why it changed.
 * @locality any  @locks none
 */
qr_elect_how_t qr_assign_elect(const qr_replicas_t *r, const qr_elect_in_t *in,
                               const qr_pstate_t *cur, qr_pstate_t *out);

/**
 * @brief Computes a new assignment of partitions @p first..@p first+@p
 * count-1, in Kafka's placement, over @p brokers.
 * @param brokers borrowed; live broker ids in any order (sorted inside).
 * @param start_index where partition 0's first replica goes (Kafka picks it
 *        at random; so does the caller, tests fix it); any value, reduced
 *        mod the number of brokers. @p shift likewise (Kafka:
 *        nextReplicaShift, random too).
 * @param out filled on success (owned by the caller: qr_assign_free()),
 *        with out->part_cnt == @p count, index 0 being partition @p first.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_INVALID_PARTITIONS for count < 1 or
 *          too many; QUIRE_ERR_INVALID_REPLICATION_FACTOR for rf < 1, rf
 *          larger than the number of brokers (message names both) or
 *          larger than QR_ASSIGN_MAX_REPLICAS; QUIRE_ERR_BROKER_NOT_AVAILABLE
 *          when @p nbrokers is 0. Message in @p errstr.
 * @locality any  @locks none
 */
quire_err_t qr_assign_compute(const int32_t *brokers, size_t nbrokers,
                              int32_t first, int32_t count, int32_t rf,
                              uint32_t start_index, uint32_t shift,
                              qr_assign_t *out, char *errstr,
                              size_t errstr_size);

/**
 * @brief Appends @p more's partitions to @p a (alter: partitions only ever
 * grow). @p more is consumed (emptied) on return.
 * @locality any  @locks none
 */
void qr_assign_append(qr_assign_t *a, qr_assign_t *more);

/**
 * @brief Frees what @p a owns and zeroes it; @p a itself is the caller's.
 * Accepts NULL.
 * @locality any  @locks none
 */
void qr_assign_free(qr_assign_t *a);

/** @brief Whether broker @p id is among @p r's replicas. @locality any @locks
 * none */
int qr_replicas_has(const qr_replicas_t *r, int32_t id);

#endif /* QR_ASSIGN_H */
