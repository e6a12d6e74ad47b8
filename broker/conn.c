/*
 * conn: reading frames, the ordered response queue, backpressure.
 *
 * Invariants (checked by the interest computation in update_io()):
 *  - rbuf holds [0, rlen) unparsed bytes; rcap is its size; rbuf is NULL
 *    exactly when rcap is 0. It grows only to the size a parsed prefix
 *    declared, after the frame parser has checked that size.
 *  - The queue runs from head to tail in request order; inflight counts its
 *    slots; out_mem counts the unsent bytes of memory chunks in it.
 *  - Read interest: !closing && !draining && inflight < MAX_INFLIGHT &&
 *    out_mem < OUT_HIGH. Write interest: the head slot is ready.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "conn.h"
#include "frame.h"
#include "request.h"
#include "server.h"

/* Smallest read buffer: enough for a burst of small pipelined requests. */
#define RBUF_MIN (16u * 1024)
/* Bytes read per readable event before giving other connections a turn. */
#define READ_BUDGET (4u * 1024 * 1024)
/* Memory chunks written with one writev. */
#define IOV_BATCH 64

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
    int drop; /* nothing to send */
};

struct qr_conn {
    qr_netthread_t *nt;
    qr_server_t *server;
    const qr_conn_io_t *io;
    int fd;
    char peer[64];
    ev_io w;
    int w_events;
    ev_timer idle;
    ev_tstamp last_activity;
    ev_tstamp idle_after; /* 0: never */
    uint8_t *rbuf;
    size_t rlen, rcap;
    qr_frame_limits_t lim;
    qr_reply_t *head, *tail;
    unsigned inflight;
    size_t out_mem;
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
    free(reply);
}

qr_reply_t *qr_reply_new(qr_conn_t *conn)
{
    qr_reply_t *reply = qr_calloc(1, sizeof(*reply));

    reply->conn = conn;
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

static int want_read(const qr_conn_t *conn)
{
    return !conn->closing && !conn->draining &&
           conn->inflight < QR_CONN_MAX_INFLIGHT &&
           conn->out_mem < QR_CONN_OUT_HIGH;
}

static void update_io(qr_conn_t *conn)
{
    struct ev_loop *loop = qr_netthread_loop(conn->nt);
    int events = 0;

    if (conn->closing)
        return;
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
    close(conn->fd);
    conn->fd = -1;
    /* Ready slots die with the connection; pending ones are orphaned and
     * freed by whoever completes them (conn.h). */
    for (reply = conn->head; reply; reply = next) {
        next = reply->next;
        if (reply->ready)
            reply_free(reply);
        else
            reply->conn = NULL, reply->next = NULL;
    }
    conn->head = conn->tail = NULL;
    conn->inflight = 0;
    free(conn->rbuf);
    conn->rbuf = NULL;
    conn->rlen = conn->rcap = 0;
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
    if (conn->rlen > 0 && !conn->in_parse && want_read(conn)) {
        process_buffered(conn);
        if (conn->closing)
            return;
    }
    update_io(conn);
}

/* ---- input ---- */

/* Makes room for at least @need bytes in total (need > rlen). */
static void rbuf_reserve(qr_conn_t *conn, size_t need)
{
    size_t cap;

    if (need <= conn->rcap)
        return;
    cap = conn->rcap ? conn->rcap : RBUF_MIN;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    /* need was bounded by the frame parser (socket.request.max.bytes +
     * prefix); do not round past it by more than the doubling. */
    conn->rbuf = qr_realloc(conn->rbuf, cap);
    conn->rcap = cap;
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
    while (want_read(conn)) {
        err = qr_frame_parse(conn->rbuf + off, conn->rlen - off, &conn->lim,
                             &frame);
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
        free(conn->rbuf);
        conn->rbuf = NULL;
        conn->rcap = 0;
    } else {
        memmove(conn->rbuf, conn->rbuf + off, conn->rlen);
    }
}

static void process_buffered(qr_conn_t *conn)
{
    size_t need, off = parse_frames(conn, &need);

    if (off != (size_t)-1)
        consume(conn, off);
}

static void on_readable(qr_conn_t *conn)
{
    size_t budget = READ_BUDGET, need = QR_FRAME_PREFIX, off;
    ssize_t n;

    while (want_read(conn) && budget > 0) {
        size_t want = need > conn->rlen ? need : conn->rlen + 1;
        if (want < RBUF_MIN)
            want = RBUF_MIN;
        rbuf_reserve(conn, want);
        n = conn->io->read(conn, conn->rbuf + conn->rlen,
                           conn->rcap - conn->rlen);
        if (n == 0) {
            qr_conn_close(conn, NULL); /* the peer closed */
            return;
        }
        if (n < 0) {
            int err = errno;
            if (err == EAGAIN || err == EINTR) {
                if (conn->rlen == 0) {
                    free(conn->rbuf);
                    conn->rbuf = NULL;
                    conn->rcap = 0;
                }
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
        off = parse_frames(conn, &need);
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
    if (conn->head) {
        /* Not idle while something is in flight. */
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

static void format_peer(int fd, char *out, size_t outsz)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(out, outsz, "fd %d", fd);
        return;
    }
    qr_server_format_addr((struct sockaddr *)&ss, out, outsz);
}

qr_conn_t *qr_conn_new(qr_netthread_t *nt, int fd)
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
    conn->rl = rl;
    conn->lim.max_frame = (uint32_t)bconf->socket_request_max_bytes;
    conn->lim.max_header = QR_FRAME_REQ_HEADER_MAX;
    format_peer(fd, conn->peer, sizeof(conn->peer));
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
