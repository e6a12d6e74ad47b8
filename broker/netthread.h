/*
 * netthread: one network thread, its libev loop, and the two ways other
 * threads reach it (DESIGN.md §4, STYLE.md §5):
 *
 *  - new sockets from the acceptor (listener.c, main loop) arrive through a
 *    bounded ring; when it is full the acceptor tries the next thread, and
 *    when every ring is full it stops accepting for a moment;
 *  - work from other threads (a flusher's group-commit callback, an append
 *    that wakes a long-polling fetch) arrives as qr_nt_work_t items that
 *    are embedded in the object they concern. An item is queued at most once
 *    at a time, so the queue never holds more than the objects that exist:
 *    bounded without a limit to tune, and posting never allocates or fails.
 *
 * Both end in ev_async_send() on the thread's loop. Connections (conn.c) are
 * owned by their thread and touched only from it.
 */
#ifndef QR_NETTHREAD_H
#define QR_NETTHREAD_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

typedef struct qr_netthread qr_netthread_t;
typedef struct qr_conn qr_conn_t;
typedef struct qr_server qr_server_t;

/** A unit of work posted to a thread; embed it in the object it concerns. */
typedef struct qr_nt_work {
    struct qr_nt_work *next;
    void (*fn)(struct qr_nt_work *work); /* runs on the target thread */
    int queued;                          /* guarded by the thread's lock */
} qr_nt_work_t;

/** Per-thread counters, read (not pushed) by whoever wants them. */
typedef struct qr_nt_stats {
    atomic_uint_fast64_t conns_accepted;
    atomic_uint_fast64_t conns_open;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t bytes_out;
} qr_nt_stats_t;

/**
 * @brief Creates thread @p idx (not started).
 * @param server borrowed; outlives the thread.
 * @returns owned; qr_netthread_destroy().
 * @locality main loop  @locks none
 */
qr_netthread_t *qr_netthread_new(qr_server_t *server, int idx);

/**
 * @brief Starts the thread's loop.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_STATE (pthread_create failed; logged).
 * @locality main loop  @locks none
 */
quire_err_t qr_netthread_start(qr_netthread_t *nt);

/**
 * @brief Hands a freshly accepted, non-blocking socket to the thread.
 * @param fd consumed on success only.
 * @param sa the peer's address, under which the socket was admitted
 *        (qr_server_conn_admit()); copied. The thread calls
 *        qr_server_conn_leave() for it when the socket goes.
 * @param proto the listener's wire protocol (qr_wireproto_t).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_QUEUE_FULL (fd stays the caller's).
 * @locality main loop  @locks takes the thread's lock
 */
quire_err_t qr_netthread_hand(qr_netthread_t *nt, int fd,
                              const struct sockaddr *sa, socklen_t sl,
                              int proto);

/**
 * @brief Posts @p work to run on the thread; a no-op when it is already
 * queued. Never fails, never allocates.
 * @param work borrowed; must stay valid until its fn has run.
 * @locality any  @locks takes the thread's lock
 */
void qr_netthread_post(qr_netthread_t *nt, qr_nt_work_t *work);

/**
 * @brief Asks the thread to drain: stop reading new requests, finish the
 * ones in flight, send what is queued, then close every connection and leave
 * its loop (at the latest after @p deadline_ms).
 * @locality main loop  @locks takes the thread's lock
 */
void qr_netthread_drain(qr_netthread_t *nt, int64_t deadline_ms);

/**
 * @brief Waits for the thread to leave its loop.
 * @locality main loop  @locks none
 */
void qr_netthread_join(qr_netthread_t *nt);

/**
 * @brief Stops and frees; the thread must have been joined (or never
 * started). NULL is fine.
 * @locality main loop  @locks none
 */
void qr_netthread_destroy(qr_netthread_t *nt);

/** @brief The thread's loop. @locality any (the pointer), the loop itself
 * only on the thread. @locks none */
struct ev_loop *qr_netthread_loop(qr_netthread_t *nt);

/** @brief The server. @locality any @locks none */
qr_server_t *qr_netthread_server(qr_netthread_t *nt);

/** @brief The thread's counters. @locality any @locks none */
qr_nt_stats_t *qr_netthread_stats(qr_netthread_t *nt);

/** @brief Whether the thread is draining (no new requests are read).
 * @locality net thread  @locks none */
int qr_netthread_draining(const qr_netthread_t *nt);

/**
 * @brief The head of the thread's connection list, maintained by conn.c.
 * @locality net thread  @locks none
 */
qr_conn_t **qr_netthread_conns(qr_netthread_t *nt);

/**
 * @brief Called by conn.c when a connection closes, so a drain in progress
 * can see when the last one is gone.
 * @locality net thread  @locks none
 */
void qr_netthread_conn_gone(qr_netthread_t *nt, qr_conn_t *conn);

/** Something parked on a thread (a long-polling fetch) that must be woken
 * when the thread drains; embedded in its owner. */
typedef struct qr_nt_parked {
    struct qr_nt_parked *prev, *next;
    void (*wake)(struct qr_nt_parked *p); /* must unpark @p p */
} qr_nt_parked_t;

/** @brief Parks @p p on @p nt. @locality net thread @locks none */
void qr_netthread_park(qr_netthread_t *nt, qr_nt_parked_t *p);

/** @brief Unparks @p p (a no-op if not parked).
 * @locality net thread @locks none */
void qr_netthread_unpark(qr_netthread_t *nt, qr_nt_parked_t *p);

/**
 * @brief Counts an asynchronous operation (an acks=all wait, a parked
 * fetch) that will end with qr_netthread_op_end() on this thread; a
 * draining thread leaves its loop only when none is outstanding.
 * @locality net thread  @locks none
 */
void qr_netthread_op_begin(qr_netthread_t *nt);

/** @brief Ends what qr_netthread_op_begin() counted.
 * @locality net thread (or after the thread has been joined) @locks none */
void qr_netthread_op_end(qr_netthread_t *nt);

#endif /* QR_NETTHREAD_H */
