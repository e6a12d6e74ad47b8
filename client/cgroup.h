/*
 * cgroup: a consumer's membership of its group (group.id): the bridge
 * between the application's thread (subscribe, commit, poll serving the
 * rebalance callbacks) and coordinator/group.h, which runs on the client's
 * loop thread with the consumer's own ZooKeeper session.
 *
 * Application -> loop: commands (subscribe, commit, committed, a revocation
 * the application has handled, close), queued under c->lock and run by
 * qr_cgroup_run() on the loop. A synchronous caller waits on c->cv; one
 * that gives up (timeout) leaves the command to the loop, which frees it.
 *
 * Loop -> application: events (qr_cgev_t) on the consumer's ready queue,
 * in order with the records, served by poll through qr_cgroup_serve():
 * assigned and revoked partitions (the rebalance callback), finished
 * asynchronous commits, the group's errors. A revocation is deferred in
 * the group (qr_group_revoke_defer) until poll has run the callback, for
 * at most max.poll.interval.ms; without a rebalance callback the loop
 * handles it at once, committing the positions the application was done
 * with when its last poll began.
 */
#ifndef QR_CGROUP_H
#define QR_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "quire.h"

typedef struct qr_cgroup qr_cgroup_t;
struct cpart;

typedef enum qr_cgev_kind {
    QR_CGEV_ASSIGNED,
    QR_CGEV_REVOKED,
    QR_CGEV_COMMIT, /* an asynchronous commit finished */
    QR_CGEV_ERROR
} qr_cgev_kind_t;

/** An event for poll; owns everything it points to. */
typedef struct qr_cgev {
    qr_cgev_kind_t kind;
    quire_topic_partition_t *tps; /* topics owned */
    size_t n;
    uint64_t seq; /* REVOKED: which revocation */
    quire_err_t err;
    char *msg; /* ERROR */
    quire_commit_cb_t *cb;
    void *cb_opaque;
} qr_cgev_t;

/** @brief Frees @p ev. Accepts NULL. @locality any @locks none */
void qr_cgev_free(qr_cgev_t *ev);

/**
 * @brief Builds the membership of @p c (group.id set) and starts its
 * ZooKeeper session; call before the client's loop thread starts.
 * @param cgp out: owned by @p c (qr_cgroup_destroy()).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_INVALID (no zookeeper.connect,
 *          a bad group.id; @p errstr says which).
 * @locality application, before the loop runs  @locks none
 */
quire_err_t qr_cgroup_new(quire_consumer_t *c, qr_cgroup_t **cgp, char *errstr,
                          size_t errstr_size);

/** @brief Runs the queued commands. @locality loop @locks takes c->lock */
void qr_cgroup_run(qr_cgroup_t *cg);

/**
 * @brief The loop is stopping: fails what is in flight (DESTROYED), closes
 * the group object and the ZooKeeper session.
 * @locality loop  @locks takes c->lock
 */
void qr_cgroup_stopping(qr_cgroup_t *cg);

/** @brief Frees @p cg once the loop thread has ended. Accepts NULL.
 * @locality application  @locks none */
void qr_cgroup_destroy(qr_cgroup_t *cg);

/* ---- application side ---- */

/** @brief See quire_consumer_subscribe(); @p regex: topics[0] is a pattern.
 * @locality application  @locks takes c->lock */
quire_err_t qr_cgroup_subscribe(qr_cgroup_t *cg, const char *const *topics,
                                size_t n, int regex, char *errstr,
                                size_t errstr_size);

/** @brief Whether subscribe succeeded once. @locality any
 * @locks takes c->lock */
int qr_cgroup_subscribed(qr_cgroup_t *cg);

/** @brief See quire_consumer_commit() and _commit_async() (@p async).
 * @locality application  @locks takes c->lock */
quire_err_t qr_cgroup_commit(qr_cgroup_t *cg,
                             const quire_topic_partition_t *offsets, size_t n,
                             int timeout_ms, int async, quire_commit_cb_t *cb,
                             void *cb_opaque);

/** @brief See quire_consumer_committed(). @locality application
 * @locks takes c->lock */
quire_err_t qr_cgroup_committed(qr_cgroup_t *cg, const char *topic,
                                int32_t partition, int timeout_ms,
                                int64_t *offsetp);

/**
 * @brief The committed offset of a partition this member owns as it
 * knows it now, without asking ZooKeeper (for statistics).
 * @returns the offset, or -1 when none is known.
 * @locality loop  @locks none
 */
int64_t qr_cgroup_committed_known(qr_cgroup_t *cg, const char *topic,
                                  int32_t partition);

/** @brief See quire_consumer_member_id(). @locality any @locks none */
quire_err_t qr_cgroup_member_id(qr_cgroup_t *cg, char *dest, size_t dest_size);

/**
 * @brief Serves one event on the polling thread (or close's): runs the
 * rebalance or commit callback; hands a handled revocation back to the
 * loop.
 * @param msgp ERROR: out, the message (borrowed from @p ev).
 * @returns QUIRE_ERR_NONE, or the group's error poll should return.
 * @locality the polling thread  @locks takes c->lock (not held)
 */
quire_err_t qr_cgroup_serve(qr_cgroup_t *cg, qr_cgev_t *ev, const char **msgp);

/**
 * @brief The lease on the group's partitions (coordinator/group.h,
 * qr_group_lease_until_ns()), checked by poll before it returns a record:
 * waits until the lease holds, @p cp's generation moves from @p gen (a
 * revocation or seek), or @p deadline_ms (qr_clock_mono_ms()) passes.
 * @returns 1 when the lease holds now, 0 otherwise.
 * @locality the polling thread  @locks takes c->lock (not held)
 */
int qr_cgroup_lease_wait(qr_cgroup_t *cg, struct cpart *cp, uint64_t gen,
                         int64_t deadline_ms);

/**
 * @brief Starts leaving the group (close).
 * @returns 1 when poll should serve events until qr_cgroup_left(), 0 when
 *          there is nothing to leave.
 * @locality the polling thread  @locks takes c->lock
 */
int qr_cgroup_leave(qr_cgroup_t *cg);

/** @brief Whether the group has been left. @locality any
 * @locks takes c->lock */
int qr_cgroup_left(qr_cgroup_t *cg);

#endif /* QR_CGROUP_H */
