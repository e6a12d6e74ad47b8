/*
 * netthread: the thread, its loop, the socket ring and the work list.
 *
 * Lock: nt->mu guards the ring, the work list and every item's `queued`
 * flag. It is a leaf lock: nothing else is taken while it is held.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "conn.h"
#include "logging.h"
#include "netthread.h"
#include "server.h"
#include "thread.h"

/* Accepted sockets waiting for the thread to pick them up. */
#define RING_SIZE 256

typedef struct qr_nt_sock {
    int fd;
    int proto;                    /* qr_wireproto_t of its listener */
    struct sockaddr_storage addr; /* admitted under it */
} qr_nt_sock_t;

struct qr_netthread {
    qr_server_t *server;
    int idx;
    struct ev_loop *loop;
    pthread_t tid;
    int started;
    ev_async wake;
    ev_timer drain_timer;
    pthread_mutex_t mu;
    /* guarded by mu */
    qr_nt_sock_t ring[RING_SIZE];
    unsigned ring_head, ring_len;
    qr_nt_work_t *work_head, *work_tail;
    int drain_req;
    int64_t drain_deadline_ms;
    /* thread-only */
    int draining;
    int past_deadline; /* the drain deadline fired: leave, counted or not */
    unsigned conns_open;
    unsigned ops; /* asynchronous operations outstanding */
    qr_conn_t *conns;
    qr_nt_parked_t *parked;
    qr_nt_stats_t stats;
    /* busy time (issue 15): from the end of a poll (check) to the start of
     * the next (prepare) */
    ev_prepare busy_prep;
    ev_check busy_check;
    int64_t busy_since_ns;
};

/* A socket handed over but never adopted: it leaves the admission count
 * (qr_server_conn_admit()) as a connection would. */
static void drop_socket(qr_netthread_t *nt, const qr_nt_sock_t *sock)
{
    qr_server_conn_leave(nt->server, (const struct sockaddr *)&sock->addr);
    close(sock->fd);
}

static void take_sockets(qr_netthread_t *nt, qr_nt_sock_t *fds, unsigned *n)
{
    *n = 0;
    while (nt->ring_len > 0) {
        fds[(*n)++] = nt->ring[nt->ring_head];
        nt->ring_head = (nt->ring_head + 1) % RING_SIZE;
        nt->ring_len--;
    }
}

static void maybe_leave(qr_netthread_t *nt)
{
    if (nt->draining &&
        (nt->past_deadline || (nt->conns_open == 0 && nt->ops == 0)))
        ev_break(nt->loop, EVBREAK_ALL);
}

static void on_drain_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_netthread_t *nt = w->data;

    (void)loop;
    (void)revents;
    if (nt->conns_open > 0)
        QR_LOG_WARN("NET",
                    "network thread %d: %u connections still busy at the "
                    "shutdown deadline; closing them",
                    nt->idx, nt->conns_open);
    qr_conn_close_all(nt, NULL);
    /* Operations still out (a flush that never came back) cannot be
     * waited for longer; destroy() runs their completions. The loop
     * leaves now whatever the counters say: a broker once sat in
     * epoll_wait here for ever after the deadline (conns_open never
     * reached 0), and thread_main() runs the frees closing posted. */
    nt->ops = 0;
    nt->past_deadline = 1;
    maybe_leave(nt);
}

static void start_drain(qr_netthread_t *nt, int64_t deadline_ms)
{
    double after = (double)(deadline_ms - qr_clock_mono_ms()) / 1e3;

    nt->draining = 1;
    ev_timer_init(&nt->drain_timer, on_drain_deadline, after > 0 ? after : 0,
                  0.);
    nt->drain_timer.data = nt;
    ev_timer_start(nt->loop, &nt->drain_timer);
    /* Wake every long-poll now: a fetch waiting for data answers with what
     * it has instead of holding the shutdown up. */
    while (nt->parked)
        nt->parked->wake(nt->parked);
    qr_conn_drain_all(nt);
    maybe_leave(nt);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    qr_netthread_t *nt = w->data;
    qr_nt_sock_t fds[RING_SIZE];
    unsigned nfds;
    qr_nt_work_t *work, *next;
    int drain_req;
    int64_t deadline;

    (void)loop;
    (void)revents;
    pthread_mutex_lock(&nt->mu);
    take_sockets(nt, fds, &nfds);
    work = nt->work_head;
    nt->work_head = nt->work_tail = NULL;
    for (qr_nt_work_t *w2 = work; w2; w2 = w2->next)
        w2->queued = 0;
    drain_req = nt->drain_req;
    nt->drain_req = 0;
    deadline = nt->drain_deadline_ms;
    pthread_mutex_unlock(&nt->mu);

    for (unsigned i = 0; i < nfds; i++) {
        if (nt->draining) {
            drop_socket(nt, &fds[i]);
            continue;
        }
        if (qr_conn_new(nt, fds[i].fd, (const struct sockaddr *)&fds[i].addr,
                        fds[i].proto)) {
            nt->conns_open++;
            atomic_fetch_add(&nt->stats.conns_open, 1);
        }
    }
    /* `next` is read before fn runs: fn may free the item or post it
     * again (which links it into the fresh list, not this one). */
    for (; work; work = next) {
        next = work->next;
        work->next = NULL;
        work->fn(work);
    }
    if (drain_req && !nt->draining)
        start_drain(nt, deadline);
    maybe_leave(nt);
}

/* ---- counters (issue 15) ---- */

int qr_nt_api_slot(int api)
{
    return api >= 0 && api < QR_NT_API_SLOTS - 1 ? api : QR_NT_API_SLOTS - 1;
}

int qr_nt_err_slot(quire_err_t err)
{
    int code = (int)err;
    return code >= -1 && code < QR_NT_ERR_SLOTS - 2 ? code + 1
                                                    : QR_NT_ERR_SLOTS - 1;
}

void qr_netthread_count_request(qr_netthread_t *nt, int api, quire_err_t err,
                                uint64_t ns)
{
    int a = qr_nt_api_slot(api);

    atomic_fetch_add_explicit(&nt->stats.done[a][qr_nt_err_slot(err)], 1,
                              memory_order_relaxed);
    qr_hist_observe(&nt->stats.latency[a], ns);
}

static void on_busy_check(struct ev_loop *loop, ev_check *w, int revents)
{
    qr_netthread_t *nt = w->data;

    (void)loop;
    (void)revents;
    nt->busy_since_ns = qr_clock_mono_ns();
}

static void on_busy_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    qr_netthread_t *nt = w->data;
    int64_t now = qr_clock_mono_ns();

    (void)loop;
    (void)revents;
    if (nt->busy_since_ns > 0 && now > nt->busy_since_ns)
        atomic_fetch_add_explicit(&nt->stats.busy_ns,
                                  (uint64_t)(now - nt->busy_since_ns),
                                  memory_order_relaxed);
    nt->busy_since_ns = 0;
}

/* Neither watcher keeps the loop alive (ev_unref), so a drain still ends
 * the loop when the last connection goes. */
static void start_busy_watchers(qr_netthread_t *nt)
{
    for (int a = 0; a < QR_NT_API_SLOTS; a++)
        qr_hist_init(&nt->stats.latency[a], qr_hist_latency_ns,
                     qr_hist_latency_ns_len);
    ev_prepare_init(&nt->busy_prep, on_busy_prepare);
    ev_check_init(&nt->busy_check, on_busy_check);
    nt->busy_prep.data = nt->busy_check.data = nt;
    ev_prepare_start(nt->loop, &nt->busy_prep);
    ev_unref(nt->loop);
    ev_check_start(nt->loop, &nt->busy_check);
    ev_unref(nt->loop);
}

qr_netthread_t *qr_netthread_new(qr_server_t *server, int idx)
{
    qr_netthread_t *nt = qr_calloc(1, sizeof(*nt));

    nt->server = server;
    nt->idx = idx;
    nt->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!nt->loop) {
        QR_LOG_ERR("NET", "network thread %d: cannot create an event loop",
                   idx);
        abort();
    }
    pthread_mutex_init(&nt->mu, NULL);
    ev_async_init(&nt->wake, on_wake);
    nt->wake.data = nt;
    ev_async_start(nt->loop, &nt->wake);
    start_busy_watchers(nt);
    return nt;
}

static void *thread_main(void *arg)
{
    qr_netthread_t *nt = arg;

    QR_DBG(QR_DBG_NET, "NET", "network thread %d running", nt->idx);
    ev_run(nt->loop, 0);
    /* Whatever is left (a deadline hit): close it before leaving. */
    qr_conn_close_all(nt, NULL);
    /* Run the pending frees that closing posted. */
    ev_run(nt->loop, EVRUN_NOWAIT);
    QR_DBG(QR_DBG_NET, "NET", "network thread %d done", nt->idx);
    return NULL;
}

quire_err_t qr_netthread_start(qr_netthread_t *nt)
{
    int rc = pthread_create(&nt->tid, NULL, thread_main, nt);

    if (rc != 0) {
        QR_LOG_ERR("NET", "network thread %d: pthread_create: %s", nt->idx,
                   strerror(rc));
        return QUIRE_ERR_STATE;
    }
    qr_thread_name(nt->tid, "qr-net", nt->idx);
    nt->started = 1;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_netthread_hand(qr_netthread_t *nt, int fd,
                              const struct sockaddr *sa, socklen_t sl,
                              int proto)
{
    qr_nt_sock_t *sock;

    pthread_mutex_lock(&nt->mu);
    if (nt->ring_len == RING_SIZE) {
        pthread_mutex_unlock(&nt->mu);
        return QUIRE_ERR_QUEUE_FULL;
    }
    sock = &nt->ring[(nt->ring_head + nt->ring_len) % RING_SIZE];
    sock->fd = fd;
    sock->proto = proto;
    memset(&sock->addr, 0, sizeof(sock->addr));
    memcpy(&sock->addr, sa,
           sl < sizeof(sock->addr) ? (size_t)sl : sizeof(sock->addr));
    nt->ring_len++;
    pthread_mutex_unlock(&nt->mu);
    atomic_fetch_add(&nt->stats.conns_accepted, 1);
    ev_async_send(nt->loop, &nt->wake);
    return QUIRE_ERR_NONE;
}

void qr_netthread_post(qr_netthread_t *nt, qr_nt_work_t *work)
{
    pthread_mutex_lock(&nt->mu);
    if (work->queued) {
        pthread_mutex_unlock(&nt->mu);
        return;
    }
    work->queued = 1;
    work->next = NULL;
    if (nt->work_tail)
        nt->work_tail->next = work;
    else
        nt->work_head = work;
    nt->work_tail = work;
    pthread_mutex_unlock(&nt->mu);
    ev_async_send(nt->loop, &nt->wake);
}

void qr_netthread_drain(qr_netthread_t *nt, int64_t deadline_ms)
{
    pthread_mutex_lock(&nt->mu);
    nt->drain_req = 1;
    nt->drain_deadline_ms = deadline_ms;
    pthread_mutex_unlock(&nt->mu);
    ev_async_send(nt->loop, &nt->wake);
}

static void run_late_work(qr_netthread_t *nt)
{
    qr_nt_work_t *work, *next;

    for (;;) {
        pthread_mutex_lock(&nt->mu);
        work = nt->work_head;
        nt->work_head = nt->work_tail = NULL;
        for (qr_nt_work_t *w = work; w; w = w->next)
            w->queued = 0;
        pthread_mutex_unlock(&nt->mu);
        if (!work)
            return;
        for (; work; work = next) {
            next = work->next;
            work->next = NULL;
            work->fn(work);
        }
    }
}

void qr_netthread_join(qr_netthread_t *nt)
{
    if (nt->started) {
        pthread_join(nt->tid, NULL);
        nt->started = 0;
    }
}

void qr_netthread_destroy(qr_netthread_t *nt)
{
    if (!nt)
        return;
    qr_netthread_join(nt);
    /* Sockets handed over but never picked up. */
    for (unsigned i = 0; i < nt->ring_len; i++)
        drop_socket(nt, &nt->ring[(nt->ring_head + i) % RING_SIZE]);
    /* Completions posted after the loop left (the storage layer finishing
     * its flushes at shutdown): the thread is gone, so they run here. */
    run_late_work(nt);
    ev_async_stop(nt->loop, &nt->wake);
    ev_timer_stop(nt->loop, &nt->drain_timer);
    ev_ref(nt->loop); /* undo start_busy_watchers()' ev_unref */
    ev_prepare_stop(nt->loop, &nt->busy_prep);
    ev_ref(nt->loop);
    ev_check_stop(nt->loop, &nt->busy_check);
    ev_loop_destroy(nt->loop);
    pthread_mutex_destroy(&nt->mu);
    free(nt);
}

struct ev_loop *qr_netthread_loop(qr_netthread_t *nt)
{
    return nt->loop;
}

qr_server_t *qr_netthread_server(qr_netthread_t *nt)
{
    return nt->server;
}

qr_nt_stats_t *qr_netthread_stats(qr_netthread_t *nt)
{
    return &nt->stats;
}

int qr_netthread_draining(const qr_netthread_t *nt)
{
    return nt->draining;
}

qr_conn_t **qr_netthread_conns(qr_netthread_t *nt)
{
    return &nt->conns;
}

void qr_netthread_conn_gone(qr_netthread_t *nt, qr_conn_t *conn)
{
    (void)conn;
    nt->conns_open--;
    atomic_fetch_sub(&nt->stats.conns_open, 1);
    maybe_leave(nt);
}

void qr_netthread_op_begin(qr_netthread_t *nt)
{
    nt->ops++;
}

void qr_netthread_op_end(qr_netthread_t *nt)
{
    if (nt->ops > 0)
        nt->ops--;
    maybe_leave(nt);
}

void qr_netthread_park(qr_netthread_t *nt, qr_nt_parked_t *p)
{
    p->prev = NULL;
    p->next = nt->parked;
    if (nt->parked)
        nt->parked->prev = p;
    nt->parked = p;
}

void qr_netthread_unpark(qr_netthread_t *nt, qr_nt_parked_t *p)
{
    if (!p->prev && nt->parked != p)
        return; /* not parked */
    if (p->prev)
        p->prev->next = p->next;
    else
        nt->parked = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}
