/*
 * conn: reading frames, the ordered response queue, backpressure.
 *
 * Invariants (checked by the interest computation in update_io()):
 *  - rbuf holds [0, rlen) unparsed bytes; rcap is its size; rbuf is NULL
 *    exactly when rcap is 0. It grows by doubling only when it is full,
 *    i.e. as bytes arrive, and never past what the frame being read
 *    declared (after the frame parser checked that size): a peer that
 *    sends a prefix and nothing more costs RBUF_MIN, not its declared
 *    length (issue 17 item 6). rcap is charged to the broker-wide
 *    queued.max.request.bytes; when that is used up the connection stops
 *    reading (mem_wait) and retries on a short timer.
 *  - The queue runs from head to tail in request order; inflight counts its
 *    slots; out_mem counts the unsent bytes of memory chunks in it;
 *    op_mem counts what its slots charged (parked fetches).
 *  - Parse: !closing && !draining && inflight < MAX_INFLIGHT && out_mem <
 *    OUT_HIGH. Read interest: that, and !mem_wait, and op_mem below
 *    socket.request.max.bytes. Write interest: the head slot is ready.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "conn.h"
#include "frame.h"
#include "kwire.h"
#include "request.h"
#include "server.h"

/* Smallest read buffer: enough for a burst of small pipelined requests. */
#define RBUF_MIN (16u * 1024)
/* Bytes read per readable event before giving other connections a turn. */
#define READ_BUDGET (4u * 1024 * 1024)
/* Memory chunks written with one writev. */
#define IOV_BATCH 64
/* How often a connection waiting for queued.max.request.bytes retries. */
#define MEM_RETRY_S 0.02
/* How often a connection that is not read looks for its peer's hang-up. */
#define HUP_CHECK_S 0.1

typedef struct chunk {
    struct chunk *next;
    int is_file;
    /* memory */
    uint8_t *data;
    size_t len;
    size_t off; /* bytes already sent */
    /* file */
    int fd;
    off_t pos;
    qr_reply_release_fn release;
    void *arg;
} chunk_t;

struct qr_reply {
    struct qr_reply *next;
    qr_conn_t *conn; /* NULL once orphaned */
    chunk_t *first, *last;
    size_t len;
    int ready;
    int drop;      /* nothing to send */
    size_t charge; /* bytes charged by qr_reply_charge() */
    qr_server_t *server;
    void (*on_orphan)(void *arg);
    void *orphan_arg;
    int proto;           /* qr_wireproto_t of its connection */
    int16_t api_version; /* of the request it answers (the codec's) */
    int16_t hdr_flex;    /* the response header is flexible (Kafka v1) */
};

struct qr_conn {
    qr_netthread_t *nt;
    qr_server_t *server;
    const qr_conn_io_t *io;
    int fd;
    int proto; /* qr_wireproto_t: which codec frames and decodes */
    char peer[64];
    ev_io w;
    int w_events;
    ev_timer idle;
    ev_tstamp last_activity;
    ev_tstamp idle_after; /* 0: never */
    uint8_t *rbuf;
    size_t rlen, rcap;
    size_t need; /* total bytes the frame being read needs */
    qr_frame_limits_t lim;
    qr_reply_t *head, *tail;
    unsigned inflight;
    size_t out_mem;
    size_t op_mem; /* charged by this connection's pending slots */
    int mem_wait;  /* waiting for queued.max.request.bytes */
    ev_timer retry;
    struct sockaddr_storage addr; /* admitted under this address */
    int admitted;
    int closing;
    int draining;
    int in_parse; /* inside parse_frames(): no re-entry */
    qr_ratelimit_t rl;
    qr_conn_t *prev, *next; /* the thread's list (qr_netthread_conns()) */
};

/* ---- the plain TCP I/O layer ---- */

static ssize_t tcp_read(qr_conn_t *conn, void *buf, size_t len)
{
    return recv(conn->fd, buf, len, 0);
}

static ssize_t tcp_writev(qr_conn_t *conn, const struct iovec *iov, int iovcnt)
{
    struct msghdr msg = {0};

    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)iovcnt;
    /* MSG_NOSIGNAL: a peer that went away is an error code, not SIGPIPE. */
    return sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
}

static ssize_t tcp_sendfile(qr_conn_t *conn, int fd, off_t *pos, size_t len)
{
    return sendfile(conn->fd, fd, pos, len);
}

const qr_conn_io_t qr_conn_io_tcp = {"tcp", tcp_read, tcp_writev, tcp_sendfile};

/* ---- logging ---- */

void qr_conn_log_peer(qr_conn_t *conn, const char *fmt, ...)
{
    char msg[512];
    uint32_t suppressed = 0;
    va_list ap;

    if (!qr_ratelimit_ok(&conn->rl, qr_clock_mono_ms(), &suppressed))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (suppressed)
        QR_LOG_WARN("NET", "%s: %s (%u similar lines suppressed)", conn->peer,
                    msg, suppressed);
    else
        QR_LOG_WARN("NET", "%s: %s", conn->peer, msg);
}

const char *qr_conn_peer(const qr_conn_t *conn)
{
    return conn->peer;
}

qr_netthread_t *qr_conn_thread(const qr_conn_t *conn)
{
    return conn->nt;
}

qr_ratelimit_t *qr_conn_ratelimit(qr_conn_t *conn)
{
    return &conn->rl;
}

/* ---- response slots ---- */

static void chunk_free(chunk_t *ch)
{
    if (ch->is_file) {
        if (ch->release)
            ch->release(ch->arg);
    } else {
        free(ch->data);
    }
    free(ch);
}

static void reply_free(qr_reply_t *reply)
{
    chunk_t *ch, *next;

    for (ch = reply->first; ch; ch = next) {
        next = ch->next;
        chunk_free(ch);
    }
    if (reply->charge) {
        qr_server_mem_sub(reply->server, reply->charge);
        if (reply->conn)
            reply->conn->op_mem -= reply->charge;
    }
    free(reply);
}

qr_reply_t *qr_reply_new(qr_conn_t *conn)
{
    qr_reply_t *reply = qr_calloc(1, sizeof(*reply));

    reply->conn = conn;
    reply->server = conn->server;
    reply->proto = conn->proto;
    if (conn->tail)
        conn->tail->next = reply;
    else
        conn->head = reply;
    conn->tail = reply;
    conn->inflight++;
    return reply;
}

static void reply_push(qr_reply_t *reply, chunk_t *ch)
{
    if (reply->last)
        reply->last->next = ch;
    else
        reply->first = ch;
    reply->last = ch;
}

void qr_reply_add_mem(qr_reply_t *reply, void *data, size_t len)
{
    chunk_t *ch;

    if (len == 0) {
        free(data);
        return;
    }
    ch = qr_calloc(1, sizeof(*ch));
    ch->data = data;
    ch->len = len;
    reply_push(reply, ch);
    reply->len += len;
    if (reply->conn)
        reply->conn->out_mem += len;
}

void qr_reply_add_file(qr_reply_t *reply, int fd, int64_t pos, size_t len,
                       qr_reply_release_fn release, void *arg)
{
    chunk_t *ch = qr_calloc(1, sizeof(*ch));

    ch->is_file = 1;
    ch->fd = fd;
    ch->pos = (off_t)pos;
    ch->len = len;
    ch->release = release;
    ch->arg = arg;
    reply_push(reply, ch);
    reply->len += len;
}

size_t qr_reply_len(const qr_reply_t *reply)
{
    return reply->len;
}

void qr_reply_charge(qr_reply_t *reply, size_t n)
{
    reply->charge += n;
    qr_server_mem_add(reply->server, n);
    if (reply->conn)
        reply->conn->op_mem += n;
}

void qr_reply_on_orphan(qr_reply_t *reply, void (*fn)(void *arg), void *arg)
{
    reply->on_orphan = fn;
    reply->orphan_arg = arg;
}

int qr_reply_orphaned(const qr_reply_t *reply)
{
    return reply->conn == NULL;
}

qr_conn_t *qr_reply_conn(const qr_reply_t *reply)
{
    return reply->conn;
}

static void try_write(qr_conn_t *conn);

void qr_reply_ready(qr_reply_t *reply)
{
    qr_conn_t *conn = reply->conn;

    if (!conn) {
        reply_free(reply);
        return;
    }
    reply->ready = 1;
    if (conn->head == reply)
        try_write(conn);
}

void qr_reply_drop(qr_reply_t *reply)
{
    reply->drop = 1;
    qr_reply_ready(reply);
}

/* ---- interest and lifetime ---- */

/* Whether buffered frames may be handed to request.c. */
static int want_parse(const qr_conn_t *conn)
{
    return !conn->closing && !conn->draining &&
           conn->inflight < QR_CONN_MAX_INFLIGHT &&
           conn->out_mem < QR_CONN_OUT_HIGH;
}

/* Whether the socket may be read: the memory bounds hold as well (a
 * connection whose parked work holds socket.request.max.bytes waits for it
 * to finish, issue 17 item 3). */
static int want_read(const qr_conn_t *conn)
{
    return want_parse(conn) && !conn->mem_wait &&
           conn->op_mem < conn->lim.max_frame;
}

/* A connection that is not read would not see its peer leave: its parked
 * work would live on until it ends by itself. While reading is off, a
 * timer looks for the hang-up (POLLRDHUP sees the FIN even behind unread
 * requests), and waits out mem_wait. */
static void arm_retry(qr_conn_t *conn, int reading)
{
    struct ev_loop *loop = qr_netthread_loop(conn->nt);

    if (reading) {
        ev_timer_stop(loop, &conn->retry);
        return;
    }
    if (ev_is_active(&conn->retry))
        return;
    ev_timer_set(&conn->retry, conn->mem_wait ? MEM_RETRY_S : HUP_CHECK_S, 0.);
    ev_timer_start(loop, &conn->retry);
}

static void update_io(qr_conn_t *conn)
{
    struct ev_loop *loop = qr_netthread_loop(conn->nt);
    int events = 0;

    if (conn->closing)
        return;
    arm_retry(conn, want_read(conn));
    if (want_read(conn))
        events |= EV_READ;
    if (conn->head && conn->head->ready)
        events |= EV_WRITE;
    if (events == conn->w_events)
        return;
    ev_io_stop(loop, &conn->w);
    conn->w_events = events;
    if (events) {
        ev_io_set(&conn->w, conn->fd, events);
        ev_io_start(loop, &conn->w);
    }
}

static void conn_destroy_cb(qr_nt_work_t *work);

static void rbuf_free(qr_conn_t *conn)
{
    if (conn->rbuf) {
        free(conn->rbuf);
        qr_server_mem_sub(conn->server, conn->rcap);
    }
    conn->rbuf = NULL;
    conn->rlen = conn->rcap = 0;
}

static void link_conn(qr_conn_t *conn)
{
    qr_conn_t **headp = qr_netthread_conns(conn->nt);

    conn->prev = NULL;
    conn->next = *headp;
    if (*headp)
        (*headp)->prev = conn;
    *headp = conn;
}

static void unlink_conn(qr_conn_t *conn)
{
    qr_conn_t **headp = qr_netthread_conns(conn->nt);

    if (conn->prev)
        conn->prev->next = conn->next;
    else
        *headp = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
}

typedef struct conn_grave {
    qr_nt_work_t work;
    qr_conn_t *conn;
} conn_grave_t;

void qr_conn_close(qr_conn_t *conn, const char *why)
{
    struct ev_loop *loop = qr_netthread_loop(conn->nt);
    qr_reply_t *reply, *next;
    conn_grave_t *grave;

    if (conn->closing)
        return;
    conn->closing = 1;
    unlink_conn(conn);
    if (why)
        QR_LOG_INFO("NET", "%s: closing connection: %s", conn->peer, why);
    ev_io_stop(loop, &conn->w);
    ev_timer_stop(loop, &conn->idle);
    ev_timer_stop(loop, &conn->retry);
    close(conn->fd);
    conn->fd = -1;
    if (conn->admitted)
        qr_server_conn_leave(conn->server, (struct sockaddr *)&conn->addr);
    conn->admitted = 0;
    /* Ready slots die with the connection; pending ones are orphaned and
     * freed by whoever completes them (conn.h); their owner hears of it at
     * once, so parked work goes now, not at its timer (issue 17 item 3). */
    for (reply = conn->head; reply; reply = next) {
        next = reply->next;
        if (reply->ready) {
            reply_free(reply);
            continue;
        }
        reply->conn = NULL, reply->next = NULL;
        if (reply->on_orphan)
            reply->on_orphan(reply->orphan_arg);
    }
    conn->head = conn->tail = NULL;
    conn->inflight = 0;
    rbuf_free(conn);
    /* The struct may still be on the stack of the callback that got here:
     * free it from a later pass of the loop (STYLE.md §4.5). */
    grave = qr_calloc(1, sizeof(*grave));
    grave->work.fn = conn_destroy_cb;
    grave->conn = conn;
    qr_netthread_post(conn->nt, &grave->work);
}

static void conn_destroy_cb(qr_nt_work_t *work)
{
    conn_grave_t *grave = (conn_grave_t *)work;
    qr_netthread_t *nt = grave->conn->nt;

    qr_netthread_conn_gone(nt, grave->conn);
    free(grave->conn);
    free(grave);
}

void qr_conn_drain(qr_conn_t *conn)
{
    if (conn->closing)
        return;
    conn->draining = 1;
    if (!conn->head)
        qr_conn_close(conn, NULL);
    else
        update_io(conn);
}

void qr_conn_drain_all(qr_netthread_t *nt)
{
    qr_conn_t *conn, *next;

    for (conn = *qr_netthread_conns(nt); conn; conn = next) {
        next = conn->next;
        qr_conn_drain(conn);
    }
}

void qr_conn_close_all(qr_netthread_t *nt, const char *why)
{
    qr_conn_t *conn;

    while ((conn = *qr_netthread_conns(nt)) != NULL)
        qr_conn_close(conn, why);
}

/* ---- output ---- */

/* Pops finished slots at the head; returns 1 if the head is unfinished. */
static void pop_head(qr_conn_t *conn)
{
    qr_reply_t *reply = conn->head;

    conn->head = reply->next;
    if (!conn->head)
        conn->tail = NULL;
    conn->inflight--;
    reply_free(reply);
}

/* Writes what the head slot holds; returns 0 when it is all sent, 1 on
 * EAGAIN, -1 on error (errno set). */
static int write_resp(qr_conn_t *conn, qr_reply_t *reply)
{
    struct iovec iov[IOV_BATCH];
    chunk_t *ch;
    ssize_t n;
    int cnt;

    while ((ch = reply->first) != NULL) {
        if (ch->is_file) {
            n = conn->io->sendfile(conn, ch->fd, &ch->pos, ch->len);
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 1 : -1;
            if (n == 0) {
                /* The file is shorter than the range we were promised:
                 * the stream would lose its framing, so give up on it. */
                errno = EIO;
                return -1;
            }
            conn->last_activity = ev_now(qr_netthread_loop(conn->nt));
            ch->len -= (size_t)n;
            if (ch->len == 0) {
                reply->first = ch->next;
                chunk_free(ch);
            }
            continue;
        }
        cnt = 0;
        for (chunk_t *c = ch; c && !c->is_file && cnt < IOV_BATCH;
             c = c->next, cnt++) {
            iov[cnt].iov_base = c->data + c->off;
            iov[cnt].iov_len = c->len - c->off;
        }
        n = conn->io->writev(conn, iov, cnt);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 1 : -1;
        if (n > 0) /* progress: the idle clock restarts */
            conn->last_activity = ev_now(qr_netthread_loop(conn->nt));
        conn->out_mem -= (size_t)n;
        while (n > 0) {
            ch = reply->first;
            size_t left = ch->len - ch->off;
            if ((size_t)n < left) {
                ch->off += (size_t)n;
                break;
            }
            n -= (ssize_t)left;
            reply->first = ch->next;
            chunk_free(ch);
        }
    }
    reply->last = NULL;
    return 0;
}

static void process_buffered(qr_conn_t *conn);

static void try_write(qr_conn_t *conn)
{
    qr_reply_t *reply;
    int rc;

    while ((reply = conn->head) != NULL && reply->ready) {
        if (!reply->drop) {
            rc = write_resp(conn, reply);
            if (rc < 0) {
                int err = errno;
                char why[160];
                snprintf(why, sizeof(why), "write failed: %s", strerror(err));
                qr_conn_close(conn,
                              err == EPIPE || err == ECONNRESET ? NULL : why);
                return;
            }
            if (rc > 0)
                break;
        }
        pop_head(conn);
        conn->last_activity = ev_now(qr_netthread_loop(conn->nt));
    }
    if (conn->draining && !conn->head) {
        qr_conn_close(conn, NULL);
        return;
    }
    /* Frames that arrived while the connection was held back wait in
     * rbuf; the socket may have nothing more to say, so no read event
     * would come for them. */
    if (conn->rlen > 0 && !conn->in_parse && want_parse(conn)) {
        process_buffered(conn);
        if (conn->closing)
            return;
    }
    update_io(conn);
}

/* ---- input ---- */

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_conn_t *conn = w->data;
    struct pollfd pfd = {conn->fd, POLLRDHUP, 0};

    (void)loop;
    (void)revents;
    if (poll(&pfd, 1, 0) > 0 &&
        (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        qr_conn_close(conn, NULL); /* the peer left; so does its work */
        return;
    }
    conn->mem_wait = 0;
    update_io(conn);
}

/* Room for the next read. A full buffer doubles (from RBUF_MIN), but not
 * past the frame being read (conn->need, checked by the frame parser):
 * memory follows the bytes that arrived, never a declared length. The
 * growth is charged to queued.max.request.bytes; returns 0 when that is
 * used up (the connection then waits, mem_wait). */
static int rbuf_room(qr_conn_t *conn)
{
    size_t cap;

    if (conn->rlen < conn->rcap)
        return 1;
    cap = conn->rcap ? conn->rcap * 2 : RBUF_MIN;
    if (conn->need > conn->rlen && cap > conn->need)
        cap = conn->need > RBUF_MIN ? conn->need : RBUF_MIN;
    if (cap <= conn->rcap)
        cap = conn->rcap + RBUF_MIN;
    if (!qr_server_mem_try(conn->server, cap - conn->rcap)) {
        conn->mem_wait = 1; /* update_io() arms the retry */
        return 0;
    }
    conn->rbuf = qr_realloc(conn->rbuf, cap);
    conn->rcap = cap;
    return 1;
}

/* Handles every complete frame in rbuf. Returns the bytes consumed, or
 * (size_t)-1 when the connection was closed. On NEED_MORE, *need is the
 * total the next frame needs. */
static size_t parse_frames(qr_conn_t *conn, size_t *need)
{
    size_t off = 0;
    qr_frame_t frame;
    quire_err_t err;

    *need = QR_FRAME_PREFIX;
    conn->in_parse = 1;
    while (want_parse(conn)) {
        err = conn->proto == QR_WIREPROTO_KAFKA
                  ? qr_kwire_frame_parse(conn->rbuf + off, conn->rlen - off,
                                         &conn->lim, &frame)
                  : qr_frame_parse(conn->rbuf + off, conn->rlen - off,
                                   &conn->lim, &frame);
        if (err == QUIRE_ERR_NEED_MORE) {
            *need = frame.size;
            break;
        }
        if (err != QUIRE_ERR_NONE) {
            char why[160];
            uint32_t declared =
                conn->rlen - off >= 4 ? qr_frame_get_u32(conn->rbuf + off) : 0;
            snprintf(why, sizeof(why), "%s (frame_len %u, limit %u)",
                     quire_err2str(err), declared, conn->lim.max_frame);
            /* Logged at WARN but never more often than the rate limit:
             * a peer must not be able to flood the log. */
            qr_conn_log_peer(conn, "refused frame: %s; closing", why);
            conn->in_parse = 0;
            qr_conn_close(conn, NULL);
            return (size_t)-1;
        }
        off += frame.size;
        conn->last_activity = ev_now(qr_netthread_loop(conn->nt));
        atomic_fetch_add(&qr_netthread_stats(conn->nt)->requests, 1);
        qr_request_handle(conn, &frame);
        if (conn->closing) {
            conn->in_parse = 0;
            return (size_t)-1;
        }
    }
    conn->in_parse = 0;
    return off;
}

static void consume(qr_conn_t *conn, size_t off)
{
    if (off == 0)
        return;
    conn->rlen -= off;
    if (conn->rlen == 0) {
        /* An idle connection holds no buffer (conn.h). */
        rbuf_free(conn);
    } else {
        memmove(conn->rbuf, conn->rbuf + off, conn->rlen);
    }
}

static void process_buffered(qr_conn_t *conn)
{
    size_t off = parse_frames(conn, &conn->need);

    if (off != (size_t)-1)
        consume(conn, off);
}

static void on_readable(qr_conn_t *conn)
{
    size_t budget = READ_BUDGET, off;
    ssize_t n;

    while (want_read(conn) && budget > 0) {
        if (!rbuf_room(conn))
            break;
        n = conn->io->read(conn, conn->rbuf + conn->rlen,
                           conn->rcap - conn->rlen);
        if (n == 0) {
            qr_conn_close(conn, NULL); /* the peer closed */
            return;
        }
        if (n < 0) {
            int err = errno;
            if (err == EAGAIN || err == EINTR) {
                if (conn->rlen == 0)
                    rbuf_free(conn);
                break;
            }
            if (err != ECONNRESET)
                qr_conn_log_peer(conn, "read failed: %s", strerror(err));
            qr_conn_close(conn, NULL);
            return;
        }
        atomic_fetch_add(&qr_netthread_stats(conn->nt)->bytes_in, (uint64_t)n);
        conn->rlen += (size_t)n;
        budget = (size_t)n > budget ? 0 : budget - (size_t)n;
        off = parse_frames(conn, &conn->need);
        if (off == (size_t)-1)
            return;
        consume(conn, off);
    }
    update_io(conn);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    qr_conn_t *conn = w->data;

    (void)loop;
    if (revents & EV_WRITE) {
        try_write(conn);
        if (conn->closing)
            return;
    }
    if (revents & EV_READ)
        on_readable(conn);
}

/* connections.max.idle.ms, with libev's "lazy" timer (ev.pod, "Be smart
 * about timeouts"): activity only updates a timestamp. */
static void on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_conn_t *conn = w->data;
    ev_tstamp after = conn->last_activity + conn->idle_after;

    (void)revents;
    if (conn->head && !conn->head->ready) {
        /* Not idle while the broker works on a request (a parked fetch,
         * acks=all). A ready head is the peer's to read: the clock runs
         * from the last byte it took (issue 17 item 7), so a client that
         * never reads its answer is closed and its pins on segment files
         * go with it. */
        conn->last_activity = ev_now(loop);
        after = ev_now(loop) + conn->idle_after;
    }
    if (after <= ev_now(loop)) {
        QR_DBG(QR_DBG_NET, "NET", "%s: idle for %.0f s, closing", conn->peer,
               conn->idle_after);
        qr_conn_close(conn, NULL);
        return;
    }
    w->repeat = after - ev_now(loop);
    ev_timer_again(loop, w);
}

/* ---- setup ---- */

/* The peer's address, for logs and for qr_server_conn_leave() (the
 * listener admitted the socket under it). */
static void set_peer(qr_conn_t *conn, const struct sockaddr *sa)
{
    size_t sl = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                          : sizeof(struct sockaddr_in);

    memcpy(&conn->addr, sa, sl);
    conn->admitted = 1;
    qr_server_format_addr(sa, conn->peer, sizeof(conn->peer));
}

qr_conn_t *qr_conn_new(qr_netthread_t *nt, int fd, const struct sockaddr *sa,
                       int proto)
{
    qr_server_t *server = qr_netthread_server(nt);
    const qr_brokerconf_t *bconf = qr_server_conf(server);
    struct ev_loop *loop = qr_netthread_loop(nt);
    qr_conn_t *conn = qr_calloc(1, sizeof(*conn));
    qr_ratelimit_t rl = QR_RATELIMIT_INIT(5, 10000);

    conn->nt = nt;
    conn->server = server;
    conn->io = &qr_conn_io_tcp;
    conn->fd = fd;
    conn->proto = proto;
    conn->rl = rl;
    conn->lim.max_frame = (uint32_t)bconf->socket_request_max_bytes;
    conn->lim.max_header = QR_FRAME_REQ_HEADER_MAX;
    conn->need = QR_FRAME_PREFIX;
    set_peer(conn, sa);
    ev_init(&conn->retry, on_retry);
    conn->retry.data = conn;
    ev_io_init(&conn->w, on_io, fd, EV_READ);
    conn->w.data = conn;
    conn->w_events = EV_READ;
    ev_io_start(loop, &conn->w);
    conn->last_activity = ev_now(loop);
    ev_init(&conn->idle, on_idle);
    conn->idle.data = conn;
    if (bconf->connections_max_idle_ms > 0) {
        conn->idle_after = (ev_tstamp)bconf->connections_max_idle_ms / 1e3;
        conn->idle.repeat = conn->idle_after;
        ev_timer_again(loop, &conn->idle);
    }
    link_conn(conn);
    QR_DBG(QR_DBG_NET, "NET", "%s: connected", conn->peer);
    return conn;
}

int qr_conn_proto(const qr_conn_t *conn)
{
    return conn->proto;
}

void qr_reply_set_version(qr_reply_t *reply, int16_t api_version, int flex)
{
    reply->api_version = api_version;
    reply->hdr_flex = (int16_t)(flex != 0);
}

int qr_reply_proto(const qr_reply_t *reply)
{
    return reply->proto;
}

int16_t qr_reply_api_version(const qr_reply_t *reply, int *hdr_flex)
{
    *hdr_flex = reply->hdr_flex;
    return reply->api_version;
}
