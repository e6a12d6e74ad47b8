/*
 * replica: the leader's side of replication for one partition it leads
 * (issue 16 items 2-5, 8; REPL.md "acks=all and the HW"): the replica
 * list, the in-sync replicas (ISR) as last written to ZooKeeper, what each
 * follower has (its fetch offset, i.e. its log end offset, and its
 * fdatasync'd end), when each last caught up, the high watermark and the
 * acks=all requests waiting for it.
 *
 * The rules (Kafka's, with quire's durability rule of DESIGN.md §3):
 *   - A replica's offset is its synced end when the topic's write caching
 *     is off (acks=all means fdatasync'd on every replica in sync) and its
 *     log end when it is on; the leader's own likewise.
 *   - HW = min over the ISR of their offsets, never moving backwards; a
 *     follower that has not fetched since this broker became leader holds
 *     it where it is. With the leader alone in the ISR (RF=1) the HW is
 *     the leader's own offset: today's visible end.
 *   - Caught up (Kafka's Replica.updateFetchState): a fetch at or past the
 *     leader's log end as of that fetch makes the follower caught up at
 *     the fetch's time; a fetch at or past the leader's log end as of the
 *     follower's previous fetch makes it caught up at that previous time.
 *   - Shrink: an ISR follower not caught up for replica.lag.time.max.ms
 *     leaves. Expand: a follower outside the ISR joins once its log end
 *     reaches the HW and the start offset of this leader's epoch (Kafka's
 *     leaderEpochStartOffset, so a joiner holds everything this leader
 *     appended). Changes take effect here only once written to ZooKeeper
 *     (qr_replica_isr_written()): a deposed leader whose write fails must
 *     not have counted a smaller ISR for any acknowledgement.
 *   - acks=all: a request appended up to offset L is answered when the HW
 *     passes L: NONE when the ISR then has at least min.insync.replicas
 *     members, else NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's
 *     checkEnoughReplicasReachOffset). Deposed (or no longer leading):
 *     NOT_LEADER_FOR_PARTITION, for waiting requests and new ones.
 *
 * Pure bookkeeping: no ZooKeeper, no partition log. The owner (server.c)
 * feeds it the leader's own offsets (qr_replica_leader_end()), the state
 * znode (qr_replica_set_state()) and the outcome of ISR writes; it pushes
 * the HW through the set_hw callback (qr_plog_set_replicated_hw()) and
 * wakes parked fetches through the wake callback.
 *
 * Ownership and threads: one qr_replica_t per led partition, owned by its
 * partmap entry (qr_pentry_t.replica) and freed with it, so network
 * threads reach it through the entry they hold. Every function may run on
 * any thread (network threads: fetches, produces; flusher threads: the
 * leader's synced end; main loop: state, ISR checks and writes) and takes
 * the object's mutex, a leaf lock. The callbacks (set_hw, wake, waiters)
 * run after it is released, so they may call back in.
 */
#ifndef QR_REPLICA_H
#define QR_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/** Most replicas a partition may have (QR_ASSIGN_MAX_REPLICAS). */
#define QR_REPLICA_MAX 64

typedef struct qr_replica qr_replica_t;

/** Called when an acks=all wait ends, exactly once per registered waiter,
 * on whichever thread ended it, with no lock held. */
typedef void(qr_replica_ack_cb)(void *opaque, quire_err_t err);

/** An acks=all wait, embedded in the caller's request state; registered
 * with qr_replica_ack_wait(), owned by the replica set until its callback
 * runs. */
typedef struct qr_replica_waiter {
    struct qr_replica_waiter *next;
    int64_t last_offset; /* done when the HW is past it */
    int32_t min_insync;  /* min.insync.replicas when it was appended */
    quire_err_t err;     /* the outcome, set just before cb runs */
    qr_replica_ack_cb *cb;
    void *opaque;
} qr_replica_waiter_t;

/** How the replica set reaches its partition log. */
typedef struct qr_replica_cbs {
    /* The HW moved to @p hw, with no lock held (threads racing may
     * deliver two values out of order: the receiver keeps the highest,
     * as qr_plog_set_replicated_hw() does). */
    void (*set_hw)(void *opaque, int64_t hw);
    /* After the HW moved, with no lock held: wake parked fetches. */
    void (*wake)(void *opaque);
    void *opaque;
} qr_replica_cbs_t;

/** What one follower looks like to the leader (a copy, for tests and
 * logs). */
typedef struct qr_replica_info {
    int32_t id;
    int in_isr;
    int64_t fetch_offset;      /* its log end offset; -1 before any fetch */
    int64_t synced_offset;     /* its fdatasync'd end; -1 unknown */
    int64_t last_caught_up_ms; /* Kafka's lastCaughtUpTimeMs */
} qr_replica_info_t;

/** A proposed ISR change, to write to the state znode. */
typedef struct qr_replica_isr {
    int32_t isr[QR_REPLICA_MAX];
    size_t isr_cnt;
    int32_t leader_epoch, controller_epoch;
    int32_t version; /* the state znode version to write over */
} qr_replica_isr_t;

/**
 * @brief A replica set for a partition this broker (@p self) now leads at
 * @p leader_epoch. Until qr_replica_set_state() it knows no followers
 * and the HW stays where it is (nothing is acknowledged on a guess).
 * @param name "topic-partition", copied, for logs.
 * @param hw the current high watermark (the HW never goes below it);
 *        pushed through set_hw at once, so the log is bounded by it.
 * @param leader_end the leader's log end now: the start offset of this
 *        leader epoch (expansion needs a follower to reach it).
 * @param write_caching the topic's write caching (which offsets count).
 * @param cbs copied; its opaque borrowed for the object's life.
 * @returns owned (qr_replica_destroy()).
 * @locality any  @locks none
 */
qr_replica_t *qr_replica_new(const char *name, int32_t self,
                             int32_t leader_epoch, int64_t hw,
                             int64_t leader_end, int write_caching,
                             const qr_replica_cbs_t *cbs);

/**
 * @brief Ends every wait with NOT_LEADER_FOR_PARTITION and frees. NULL is
 * fine.
 * @locality any  @locks takes the mutex
 */
void qr_replica_destroy(qr_replica_t *rs);

/**
 * @brief The state znode as the view read it: the partition's replica
 * list, its ISR and the znode's version. Ignored unless @p leader_epoch is
 * this set's (a new epoch is a new replica set). The leader is always
 * counted in the ISR. Followers that enter the ISR here count as caught up
 * now (Kafka resets lastCaughtUpTimeMs when the ISR is handed over).
 * @locality main loop  @locks takes the mutex
 */
void qr_replica_set_state(qr_replica_t *rs, const int32_t *replicas,
                          size_t replica_cnt, const int32_t *isr,
                          size_t isr_cnt, int32_t leader_epoch,
                          int32_t controller_epoch, int32_t version,
                          int64_t now_ms);

/** @brief The topic's write caching changed. @locality any @locks mutex */
void qr_replica_set_write_caching(qr_replica_t *rs, int write_caching);

/**
 * @brief The leader's own log moved: its log end and synced end.
 * @locality any (appending thread, flusher)  @locks takes the mutex
 */
void qr_replica_leader_end(qr_replica_t *rs, int64_t log_end,
                           int64_t synced_end);

/**
 * @brief A follower's Fetch arrived (before it is read): updates its
 * offsets and caught-up time, maybe the HW.
 * @param fetch_offset the fetch's offset: the follower's log end.
 * @param synced_offset its replica_synced_offset (-1: not reported, which
 *        counts as nothing synced while write caching is off).
 * @param leader_end the leader's log end as of this fetch.
 * @param isr_kick set to 1 when the follower may now join the ISR (the
 *        owner runs the ISR check on the main loop), else untouched.
 * @param first_refusal set to 1 when @p id is refused for the first time
 *        (the caller logs it once), else untouched.
 * @returns QUIRE_ERR_NONE; REPLICA_NOT_AVAILABLE when @p id is not in the
 *          replica list; NOT_LEADER_FOR_PARTITION when deposed.
 * @locality net thread (any)  @locks takes the mutex
 */
quire_err_t qr_replica_fetched(qr_replica_t *rs, int32_t id,
                               int64_t fetch_offset, int64_t synced_offset,
                               int64_t leader_end, int64_t now_ms,
                               int *isr_kick, int *first_refusal);

/**
 * @brief Before an acks=all append: NOT_ENOUGH_REPLICAS when the ISR has
 * fewer than @p min_insync members, NOT_LEADER_FOR_PARTITION when deposed,
 * else NONE.
 * @locality any  @locks takes the mutex
 */
quire_err_t qr_replica_check_insync(qr_replica_t *rs, int32_t min_insync);

/**
 * @brief After an acks=all append up to @p last_offset: registers @p w,
 * unless the HW is already past it.
 * @param w caller's memory, untouched by the caller until its callback
 *        ran; cb/opaque set by the caller, the rest here.
 * @returns 1 when registered (w->cb runs exactly once later); 0 when the
 *          answer is known now, in *@p err (cb is not called).
 * @locality any  @locks takes the mutex
 */
int qr_replica_ack_wait(qr_replica_t *rs, qr_replica_waiter_t *w,
                        int64_t last_offset, int32_t min_insync,
                        quire_err_t *err);

/**
 * @brief The ISR check (main loop, every replica.lag.time.max.ms / 2 and
 * when a fetch kicks it): the ISR without the followers that have not
 * caught up for @p lag_ms, plus those that may join.
 * @param out set to the new ISR and the version to write over when a
 *        change is due; the set then counts a write as in flight until
 *        qr_replica_isr_written() or qr_replica_isr_failed().
 * @returns 1 when a write is due; 0 when nothing changes, a write is in
 *          flight, the state is unknown or the leader was deposed.
 * @locality main loop  @locks takes the mutex
 */
int qr_replica_isr_plan(qr_replica_t *rs, int64_t now_ms, int64_t lag_ms,
                        qr_replica_isr_t *out);

/**
 * @brief The planned ISR is in ZooKeeper at @p version: it takes effect
 * (the HW may move, waits may end).
 * @locality main loop  @locks takes the mutex
 */
void qr_replica_isr_written(qr_replica_t *rs, const qr_replica_isr_t *isr,
                            int32_t version, int64_t now_ms);

/** @brief The write did not happen (connection loss, stale version with
 * the same leader: the new state comes through qr_replica_set_state());
 * the next check plans again. @locality main loop @locks mutex */
void qr_replica_isr_failed(qr_replica_t *rs);

/**
 * @brief This broker is no longer the leader (deposed, found by a failed
 * conditional write, or leadership moved): every wait ends with
 * NOT_LEADER_FOR_PARTITION and nothing more is acknowledged.
 * @locality any  @locks takes the mutex
 */
void qr_replica_depose(qr_replica_t *rs);

/** @brief Whether qr_replica_depose() ran. @locality any @locks mutex */
int qr_replica_deposed(qr_replica_t *rs);

/** @brief The high watermark. @locality any @locks takes the mutex */
int64_t qr_replica_hw(qr_replica_t *rs);

/**
 * @brief Whether the high watermark has reached this leader's epoch start
 * (its log end when it became leader). Until then it may be below the one
 * the previous leader showed, and ListOffsets answers
 * OFFSET_NOT_AVAILABLE, as Kafka does since KAFKA-2334, so a consumer
 * never sees the HW go backwards.
 * @locality any  @locks takes the mutex
 */
int qr_replica_hw_caught_up(qr_replica_t *rs);

/** @brief ISR members now (@p isr may be NULL). @returns the count.
 * @locality any  @locks takes the mutex */
size_t qr_replica_isr(qr_replica_t *rs, int32_t *isr, size_t cap);

/**
 * @brief What the leader knows of replica @p id.
 * @returns 0, or -1 when @p id is not a replica.
 * @locality any  @locks takes the mutex
 */
int qr_replica_info(qr_replica_t *rs, int32_t id, qr_replica_info_t *out);

#endif /* QR_REPLICA_H */
