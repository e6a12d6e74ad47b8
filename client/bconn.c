/*
 * bconn: a client connection to one broker (see bconn.h).
 *
 * Requests sit on the write queue (wq) until fully written, then on the
 * await queue until their response arrives; responses come in request
 * order, so the head of the await queue is the only one that may match.
 * Interest in writability follows the write queue (SNI's rule: derived from
 * buffer state), so a slow broker simply stops taking our bytes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bconn.h"
#include "clock.h"
#include "cstats.h"
#include "logging.h"

/* Reads land here first; frames larger than this get a buffer of their own
 * and are read straight into it. */
#define STAGE_SIZE 65536
/* Most iovecs one writev gathers. */
#define WRITE_IOV 64

typedef struct preq {
    struct preq *next;
    int32_t corr;
    uint8_t *hdr; /* owned: frame prefix + header */
    size_t hdr_len;
    struct iovec *iov; /* owned array of borrowed payload pieces */
    int iovcnt;
    size_t total;   /* hdr_len + payload bytes */
    size_t written; /* bytes of total written so far */
    int expect;
    int64_t deadline_ms;
    int64_t sent_ns; /* monotonic, when fully written: rtt */
    qr_api_t api;
    qr_bconn_cb *cb;
    void *arg;
} preq_t;

struct qr_bconn {
    struct ev_loop *loop;
    ev_io rio, wio;
    ev_timer timer;
    int fd;
    qr_bconn_state_t state;
    int32_t node;
    char name[300];
    char *client_id;
    int32_t next_corr;
    preq_t *wq_head, *wq_tail;
    preq_t *aw_head, *aw_tail;
    int pending;
    int64_t connect_deadline_ms;
    qr_frame_limits_t lim;
    qr_bconn_close_cb *on_close;
    void (*on_up)(qr_bconn_t *conn, void *owner);
    void *owner;
    qr_cstats_broker_t *stats; /* borrowed; may be NULL */
    qr_rxpool_t *rxpool;       /* borrowed; may be NULL (plain malloc) */
    /* read side */
    uint8_t *stage; /* owned, STAGE_SIZE */
    size_t stage_len;
    uint8_t *frame; /* owned: a large frame being filled */
    size_t frame_size, frame_have;
    /* why connecting failed, for people (qr_bconn_why) */
    char why[96];
};

static void on_read(struct ev_loop *loop, ev_io *w, int revents);
static void on_write(struct ev_loop *loop, ev_io *w, int revents);
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents);

/* ---- setup ---- */

/* A response buffer of @p size bytes back where it came from. Only a
 * frame of QR_RXPOOL_MIN bytes or more came from the pool's own buffers;
 * a smaller one is a plain malloc (parse_stage's copy out of the stage,
 * or what qr_rxpool_get() returns below QR_RXPOOL_MIN, rxpool.h) that the
 * pool keeps no record of, so it is freed here: qr_rxpool_put() would take
 * the pool's mutex and scan the buffers out only to free it, for every
 * Produce, Metadata or small Fetch response. */
static void frame_put(qr_bconn_t *conn, uint8_t *buf, size_t size)
{
    if (buf && conn->rxpool && size >= QR_RXPOOL_MIN)
        qr_rxpool_put(conn->rxpool, buf);
    else
        free(buf);
}

static int open_socket(const char *host, int port, int *fdp)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[16];
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        QR_LOG_WARN("NET", "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int one = 1;

        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            errno == EINPROGRESS)
            break;
        QR_DBG(QR_DBG_NET, "NET", "connect %s:%d: %s", host, port,
               strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    *fdp = fd;
    return fd < 0 ? -1 : 0;
}

quire_err_t qr_bconn_new(struct ev_loop *loop, int32_t node_id,
                         const char *host, int port,
                         const qr_bconn_conf_t *conf, qr_bconn_t **connp)
{
    qr_bconn_t *conn = calloc(1, sizeof(*conn));

    if (!conn)
        return QUIRE_ERR_NO_MEMORY;
    conn->stage = malloc(STAGE_SIZE);
    conn->client_id = strdup(conf->client_id ? conf->client_id : "");
    if (!conn->stage || !conn->client_id) {
        free(conn->stage);
        free(conn->client_id);
        free(conn);
        return QUIRE_ERR_NO_MEMORY;
    }
    conn->loop = loop;
    conn->node = node_id;
    conn->fd = -1;
    conn->next_corr = 1;
    conn->on_close = conf->on_close;
    conn->on_up = conf->on_up;
    conn->owner = conf->owner;
    conn->stats = conf->stats;
    conn->rxpool = conf->rxpool;
    conn->lim.max_frame =
        conf->max_frame ? conf->max_frame : QR_FRAME_MAX_DEFAULT;
    conn->lim.max_header = QR_FRAME_RESP_HEADER_MAX;
    snprintf(conn->name, sizeof(conn->name), "%s:%d", host, port);
    ev_timer_init(&conn->timer, on_timer, 0., 0.);
    conn->timer.data = conn;
    if (open_socket(host, port, &conn->fd) != 0) {
        free(conn->stage);
        free(conn->client_id);
        free(conn);
        return QUIRE_ERR_BROKER_NOT_AVAILABLE;
    }
    conn->state = QR_BCONN_CONNECTING;
    conn->connect_deadline_ms =
        qr_clock_mono_ms() +
        (conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 10000);
    ev_io_init(&conn->rio, on_read, conn->fd, EV_READ);
    ev_io_init(&conn->wio, on_write, conn->fd, EV_WRITE);
    conn->rio.data = conn->wio.data = conn;
    ev_io_start(loop, &conn->wio); /* writable = connected */
    ev_timer_set(&conn->timer,
                 (double)(conn->connect_deadline_ms - qr_clock_mono_ms()) / 1e3,
                 0.);
    ev_timer_start(loop, &conn->timer);
    *connp = conn;
    return QUIRE_ERR_NONE;
}

/* ---- accessors ---- */

int qr_bconn_pending(const qr_bconn_t *conn)
{
    return conn->pending;
}

qr_bconn_state_t qr_bconn_state(const qr_bconn_t *conn)
{
    return conn->state;
}

int32_t qr_bconn_node(const qr_bconn_t *conn)
{
    return conn->node;
}

const char *qr_bconn_why(const qr_bconn_t *conn)
{
    return conn->why;
}

const char *qr_bconn_name(const qr_bconn_t *conn)
{
    return conn->name;
}

int qr_bconn_waitresp(const qr_bconn_t *conn)
{
    int n = 0;

    for (const preq_t *r = conn->aw_head; r; r = r->next)
        n++;
    return n;
}

/* ---- timeouts ---- */

/* Arms the timer for the earliest deadline (connect or any request). */
static void timer_rearm(qr_bconn_t *conn)
{
    int64_t at = INT64_MAX, now;
    preq_t *r;

    if (conn->state == QR_BCONN_CLOSED)
        return;
    if (conn->state == QR_BCONN_CONNECTING)
        at = conn->connect_deadline_ms;
    for (r = conn->wq_head; r; r = r->next)
        if (r->deadline_ms < at)
            at = r->deadline_ms;
    for (r = conn->aw_head; r; r = r->next)
        if (r->deadline_ms < at)
            at = r->deadline_ms;
    ev_timer_stop(conn->loop, &conn->timer);
    if (at == INT64_MAX)
        return;
    now = qr_clock_mono_ms();
    ev_timer_set(&conn->timer, at > now ? (double)(at - now) / 1e3 : 0., 0.);
    ev_timer_start(conn->loop, &conn->timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_bconn_t *conn = w->data;
    int64_t now = qr_clock_mono_ms();
    preq_t *r;

    (void)loop;
    (void)revents;
    if (conn->state == QR_BCONN_CONNECTING &&
        now >= conn->connect_deadline_ms) {
        QR_LOG_WARN("NET", "connect to %s timed out", conn->name);
        snprintf(conn->why, sizeof(conn->why), "connect timed out");
        qr_bconn_close(conn, QUIRE_ERR_NETWORK_EXCEPTION);
        return;
    }
    for (int q = 0; q < 2; q++) {
        for (r = q ? conn->aw_head : conn->wq_head; r; r = r->next) {
            if (now >= r->deadline_ms) {
                if (conn->stats)
                    conn->stats->req_timeouts++;
                QR_LOG_WARN("NET",
                            "%s request (correlation_id %d) to %s timed "
                            "out; closing the connection",
                            qr_wire_api_name(r->api), r->corr, conn->name);
                qr_bconn_close(conn, QUIRE_ERR_REQUEST_TIMED_OUT);
                return;
            }
        }
    }
    timer_rearm(conn);
}

/* ---- close ---- */

static void preq_free(preq_t *r)
{
    free(r->hdr);
    free(r->iov);
    free(r);
}

static void fail_list(qr_bconn_t *conn, preq_t *r, quire_err_t err)
{
    while (r) {
        preq_t *next = r->next;

        conn->pending--;
        r->cb(conn, err, NULL, NULL, r->arg);
        preq_free(r);
        r = next;
    }
}

void qr_bconn_close(qr_bconn_t *conn, quire_err_t why)
{
    preq_t *aw, *wq;

    if (conn->state == QR_BCONN_CLOSED)
        return;
    if (why == QUIRE_ERR_NONE)
        why = QUIRE_ERR_NETWORK_EXCEPTION;
    if (conn->stats && conn->state == QR_BCONN_UP)
        conn->stats->disconnects++;
    conn->state = QR_BCONN_CLOSED;
    ev_io_stop(conn->loop, &conn->rio);
    ev_io_stop(conn->loop, &conn->wio);
    ev_timer_stop(conn->loop, &conn->timer);
    if (conn->fd >= 0)
        close(conn->fd);
    conn->fd = -1;
    frame_put(conn, conn->frame, conn->frame_size);
    conn->frame = NULL;
    /* oldest first: written requests, then the unwritten ones */
    aw = conn->aw_head;
    wq = conn->wq_head;
    conn->aw_head = conn->aw_tail = conn->wq_head = conn->wq_tail = NULL;
    fail_list(conn, aw, why);
    fail_list(conn, wq, why);
    if (conn->on_close)
        conn->on_close(conn, why, conn->owner);
}

void qr_bconn_destroy(qr_bconn_t *conn)
{
    if (!conn)
        return;
    qr_bconn_close(conn, QUIRE_ERR_DESTROYED);
    free(conn->stage);
    free(conn->client_id);
    free(conn);
}

/* ---- send ---- */

quire_err_t qr_bconn_send(qr_bconn_t *conn, qr_req_t *req,
                          const struct iovec *payload, int iovcnt,
                          int expect_response, int timeout_ms, qr_bconn_cb *cb,
                          void *arg)
{
    uint64_t plen = 0;
    quire_err_t err;
    preq_t *r;

    if (conn->state == QR_BCONN_CLOSED)
        return QUIRE_ERR_STATE;
    for (int i = 0; i < iovcnt; i++)
        plen += payload[i].iov_len;
    if (plen != qr_wire_req_payload_len(req))
        return QUIRE_ERR_BAD_ARG;
    r = calloc(1, sizeof(*r));
    if (!r)
        return QUIRE_ERR_NO_MEMORY;
    req->correlation_id = conn->next_corr;
    req->client_id = conn->client_id;
    err = qr_wire_req_encode_alloc(req, &r->hdr, &r->hdr_len);
    if (err != QUIRE_ERR_NONE) {
        free(r);
        return err;
    }
    if (iovcnt > 0) {
        r->iov = malloc((size_t)iovcnt * sizeof(*r->iov));
        if (!r->iov) {
            preq_free(r);
            return QUIRE_ERR_NO_MEMORY;
        }
        memcpy(r->iov, payload, (size_t)iovcnt * sizeof(*r->iov));
    }
    conn->next_corr = conn->next_corr == INT32_MAX ? 1 : conn->next_corr + 1;
    r->corr = req->correlation_id;
    r->iovcnt = iovcnt;
    r->total = r->hdr_len + (size_t)plen;
    r->expect = expect_response;
    r->api = req->api;
    r->deadline_ms = qr_clock_mono_ms() + timeout_ms;
    r->cb = cb;
    r->arg = arg;
    if (conn->wq_tail)
        conn->wq_tail->next = r;
    else
        conn->wq_head = r;
    conn->wq_tail = r;
    conn->pending++;
    if (conn->state == QR_BCONN_UP)
        ev_io_start(conn->loop, &conn->wio);
    timer_rearm(conn);
    return QUIRE_ERR_NONE;
}

/* Gathers what is left to write of the write queue into @p iov. */
static int gather(const qr_bconn_t *conn, struct iovec *iov)
{
    int n = 0;

    for (const preq_t *r = conn->wq_head; r && n < WRITE_IOV; r = r->next) {
        size_t skip = r->written;

        if (skip < r->hdr_len) {
            iov[n].iov_base = r->hdr + skip;
            iov[n].iov_len = r->hdr_len - skip;
            n++;
            skip = 0;
        } else
            skip -= r->hdr_len;
        for (int i = 0; i < r->iovcnt && n < WRITE_IOV; i++) {
            if (skip >= r->iov[i].iov_len) {
                skip -= r->iov[i].iov_len;
                continue;
            }
            iov[n].iov_base = (uint8_t *)r->iov[i].iov_base + skip;
            iov[n].iov_len = r->iov[i].iov_len - skip;
            skip = 0;
            n++;
        }
    }
    return n;
}

/* Moves fully written requests to the await queue (or completes those that
 * expect no answer). */
static void account_written(qr_bconn_t *conn, size_t n)
{
    while (n > 0 ||
           (conn->wq_head && conn->wq_head->written == conn->wq_head->total)) {
        preq_t *r = conn->wq_head;
        size_t take = r->total - r->written;

        if (take > n)
            take = n;
        r->written += take;
        n -= take;
        if (r->written < r->total)
            break;
        conn->wq_head = r->next;
        if (!conn->wq_head)
            conn->wq_tail = NULL;
        r->next = NULL;
        if (conn->stats) {
            conn->stats->tx++;
            conn->stats->txbytes += (int64_t)r->total;
            r->sent_ns = qr_clock_mono_ns();
        }
        if (r->expect) {
            if (conn->aw_tail)
                conn->aw_tail->next = r;
            else
                conn->aw_head = r;
            conn->aw_tail = r;
        } else {
            conn->pending--;
            r->cb(conn, QUIRE_ERR_NONE, NULL, NULL, r->arg);
            preq_free(r);
            if (conn->state == QR_BCONN_CLOSED)
                return;
        }
    }
}

static void connected(qr_bconn_t *conn)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr) {
        QR_LOG_WARN("NET", "connect to %s: %s", conn->name, strerror(soerr));
        snprintf(conn->why, sizeof(conn->why), "%s", strerror(soerr));
        qr_bconn_close(conn, QUIRE_ERR_NETWORK_EXCEPTION);
        return;
    }
    conn->state = QR_BCONN_UP;
    if (conn->stats)
        conn->stats->connects++;
    QR_DBG(QR_DBG_NET, "NET", "connected to %s", conn->name);
    ev_io_start(conn->loop, &conn->rio);
    timer_rearm(conn);
    if (conn->on_up)
        conn->on_up(conn, conn->owner);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    qr_bconn_t *conn = w->data;
    struct iovec iov[WRITE_IOV];
    ssize_t n;
    int cnt;

    (void)loop;
    (void)revents;
    if (conn->state == QR_BCONN_CONNECTING) {
        connected(conn);
        if (conn->state != QR_BCONN_UP)
            return;
    }
    while (conn->wq_head) {
        cnt = gather(conn, iov);
        n = writev(conn->fd, iov, cnt);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            QR_LOG_WARN("NET", "write to %s: %s", conn->name, strerror(errno));
            if (conn->stats)
                conn->stats->txerrs++;
            qr_bconn_close(conn, QUIRE_ERR_NETWORK_EXCEPTION);
            return;
        }
        account_written(conn, (size_t)n);
        if (conn->state == QR_BCONN_CLOSED)
            return;
    }
    ev_io_stop(conn->loop, &conn->wio);
}

/* ---- receive ---- */

/* Decodes one whole frame held in @p buf (owned, passed on) and completes
 * the request it answers. */
static void dispatch(qr_bconn_t *conn, uint8_t *buf, size_t size)
{
    qr_frame_t frame;
    qr_resp_t resp;
    preq_t *r = conn->aw_head;
    quire_err_t err;

    err = qr_frame_parse(buf, size, &conn->lim, &frame);
    if (err == QUIRE_ERR_NONE)
        err = qr_wire_resp_decode(&frame, &resp);
    else
        memset(&resp, 0, sizeof(resp));
    if (err != QUIRE_ERR_NONE || !r || resp.correlation_id != r->corr) {
        QR_LOG_WARN("NET",
                    "bad response from %s (%s, correlation_id %d, "
                    "expected %d); closing",
                    conn->name, quire_err2str(err), resp.correlation_id,
                    r ? r->corr : -1);
        qr_wire_resp_free(&resp);
        frame_put(conn, buf, size);
        qr_bconn_close(conn, QUIRE_ERR_NETWORK_EXCEPTION);
        return;
    }
    conn->aw_head = r->next;
    if (!conn->aw_head)
        conn->aw_tail = NULL;
    conn->pending--;
    if (conn->stats) {
        conn->stats->rx++;
        conn->stats->rxbytes += (int64_t)size;
        qr_cstats_window_add(&conn->stats->rtt,
                             (qr_clock_mono_ns() - r->sent_ns) / 1000);
    }
    r->cb(conn, QUIRE_ERR_NONE, &resp, &buf, r->arg);
    qr_wire_resp_free(&resp);
    frame_put(conn, buf, size); /* NULL when the callback took it */
    preq_free(r);
}

/* Parses what the staging buffer holds: complete frames are copied out and
 * dispatched; a large incomplete one moves to a buffer of its own. */
static void parse_stage(qr_bconn_t *conn)
{
    size_t off = 0;

    while (conn->state != QR_BCONN_CLOSED) {
        qr_frame_t frame;
        quire_err_t err = qr_frame_parse(
            conn->stage + off, conn->stage_len - off, &conn->lim, &frame);
        uint8_t *buf;

        if (err == QUIRE_ERR_NEED_MORE) {
            if (frame.size > STAGE_SIZE) {
                /* bounded by lim.max_frame in qr_frame_parse */
                conn->frame = conn->rxpool
                                  ? qr_rxpool_get(conn->rxpool, frame.size)
                                  : malloc(frame.size);
                if (!conn->frame) {
                    qr_bconn_close(conn, QUIRE_ERR_NO_MEMORY);
                    return;
                }
                conn->frame_size = frame.size;
                conn->frame_have = conn->stage_len - off;
                memcpy(conn->frame, conn->stage + off, conn->frame_have);
                off = conn->stage_len;
            }
            break;
        }
        if (err != QUIRE_ERR_NONE) {
            QR_LOG_WARN("NET", "bad frame from %s: %s; closing", conn->name,
                        quire_err2str(err));
            qr_bconn_close(conn, QUIRE_ERR_NETWORK_EXCEPTION);
            return;
        }
        buf = malloc(frame.size);
        if (!buf) {
            qr_bconn_close(conn, QUIRE_ERR_NO_MEMORY);
            return;
        }
        memcpy(buf, conn->stage + off, frame.size);
        off += frame.size;
        dispatch(conn, buf, frame.size);
    }
    if (conn->state == QR_BCONN_CLOSED)
        return;
    memmove(conn->stage, conn->stage + off, conn->stage_len - off);
    conn->stage_len -= off;
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    qr_bconn_t *conn = w->data;
    ssize_t n;

    (void)loop;
    (void)revents;
    for (int rounds = 0; rounds < 16 && conn->state == QR_BCONN_UP; rounds++) {
        if (conn->frame)
            n = read(conn->fd, conn->frame + conn->frame_have,
                     conn->frame_size - conn->frame_have);
        else
            n = read(conn->fd, conn->stage + conn->stage_len,
                     STAGE_SIZE - conn->stage_len);
        if (n == 0) {
            QR_LOG_WARN("NET", "%s closed the connection", conn->name);
            qr_bconn_close(conn, QUIRE_ERR_NETWORK_EXCEPTION);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            QR_LOG_WARN("NET", "read from %s: %s", conn->name, strerror(errno));
            if (conn->stats)
                conn->stats->rxerrs++;
            qr_bconn_close(conn, QUIRE_ERR_NETWORK_EXCEPTION);
            return;
        }
        if (conn->frame) {
            conn->frame_have += (size_t)n;
            if (conn->frame_have == conn->frame_size) {
                uint8_t *buf = conn->frame;
                size_t size = conn->frame_size;

                conn->frame = NULL;
                dispatch(conn, buf, size);
            }
        } else {
            conn->stage_len += (size_t)n;
            parse_stage(conn);
        }
    }
    timer_rearm(conn);
}
