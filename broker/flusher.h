/*
 * flusher: the threads that run fdatasync() for the partition logs
 * (DESIGN.md §4: never on a network thread).
 *
 * A job is an intrusive node embedded in its owner (one per partition), so
 * the queue holds each partition at most once and is bounded by the number
 * of partitions: no unbounded queue. The owner makes sure a job is queued at
 * most once at a time (partlog does it under its flush lock). Jobs run on
 * one of the flusher threads, in FIFO order; a job's run() may queue its own
 * job again.
 *
 * No libev here: plain pthreads and a condition variable. Completion is
 * reported by the job's own callbacks, on the flusher thread; the network
 * server turns them into ev_async wake-ups.
 *
 * Lock order: partlog's locks come before the flusher's lock (a job is
 * queued with the partition's flush lock held); run() is called with no
 * lock held.
 */
#ifndef QR_FLUSHER_H
#define QR_FLUSHER_H

#include <stdatomic.h>
#include <stdint.h>

#include "err.h"
#include "hist.h"

typedef struct qr_flush_job qr_flush_job_t;

struct qr_flush_job {
    qr_flush_job_t *next; /* the flusher's, while queued */
    /* Runs on a flusher thread with no lock held. */
    void (*run)(qr_flush_job_t *job);
};

typedef struct qr_flusher qr_flusher_t;

/** What the partition logs' syncs report (issue 15): read, not pushed. */
typedef struct qr_flusher_stats {
    atomic_uint_fast64_t fsyncs; /* fdatasync/fsync calls */
    qr_hist_t flush_ns;          /* one partition's sync, in ns */
    qr_hist_t group_commit;      /* produce waits one sync completed */
} qr_flusher_stats_t;

/**
 * @brief The flusher's counters, which the partition logs feed with
 * qr_flusher_note_sync().
 * @returns borrowed, valid until qr_flusher_destroy().
 * @locality any  @locks none
 */
qr_flusher_stats_t *qr_flusher_stats(qr_flusher_t *fl);

/**
 * @brief Counts one partition sync: @p fsyncs calls that took @p ns in all
 * and completed @p waiters acks=all waits (group commit).
 * @locality any (a flusher thread)  @locks none
 */
void qr_flusher_note_sync(qr_flusher_t *fl, unsigned fsyncs, uint64_t ns,
                          unsigned waiters);

/**
 * @brief Starts @p nthreads flusher threads (1..64).
 * @param flp set to the new flusher (owned; qr_flusher_destroy()).
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_BAD_ARG, or QUIRE_ERR_STATE when a
 *          thread cannot be created (logged).
 * @locality any (main at start-up)  @locks none
 */
quire_err_t qr_flusher_new(int nthreads, qr_flusher_t **flp);

/**
 * @brief Queues @p job (not already queued). Wakes one thread.
 * @param job borrowed; must stay valid until its run() has started.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_DESTROYED once destruction began
 *          (the job is not queued; the caller completes it itself).
 * @locality any  @locks the job owner's lock may be held (see lock order)
 */
quire_err_t qr_flusher_enqueue(qr_flusher_t *fl, qr_flush_job_t *job);

/**
 * @brief FOR TESTS ONLY: makes every flusher thread sleep @p delay_ms
 * before each job it runs (0, the default: no delay), so a test can hold a
 * group commit back long enough to see what waits on it (Produce
 * timeout_ms). Jobs run at destruction are not delayed.
 * @locality any  @locks none
 */
void qr_flusher_set_test_delay(qr_flusher_t *fl, int delay_ms);

/** @brief Jobs run so far (for tests and benchmarks). @locality any */
unsigned long long qr_flusher_runs(qr_flusher_t *fl);

/**
 * @brief Runs every job still queued (including ones queued meanwhile),
 * then stops and joins the threads and frees @p fl. Accepts NULL.
 * @locality any thread but a flusher thread  @locks none
 */
void qr_flusher_destroy(qr_flusher_t *fl);

#endif /* QR_FLUSHER_H */
