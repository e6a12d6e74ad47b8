/*
 * listener: bind, listen, accept, hand out.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "listener.h"
#include "logging.h"
#include "server.h"

#define MAX_SOCKS 8
/* How long the acceptor rests when every thread's ring is full. */
#define BACKOFF_S 0.01

typedef struct lsock {
    ev_io w;
    int fd;
    qr_listener_t *lsn;
} lsock_t;

struct qr_listener {
    struct ev_loop *loop;
    const qr_brokerconf_t *bconf;
    qr_netthread_t **nts;
    int nt_cnt;
    unsigned next_nt;
    lsock_t socks[MAX_SOCKS];
    int sock_cnt;
    int port;
    int proto; /* qr_wireproto_t: handed to every connection */
    ev_timer backoff;
    qr_ratelimit_t rl;
};

static void tune_client(const qr_brokerconf_t *bconf, int fd)
{
    int one = 1, v;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bconf->socket_send_buffer_bytes > 0) {
        v = bconf->socket_send_buffer_bytes;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    }
    if (bconf->socket_receive_buffer_bytes > 0) {
        v = bconf->socket_receive_buffer_bytes;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    }
}

static void pause_accepting(qr_listener_t *lsn)
{
    for (int i = 0; i < lsn->sock_cnt; i++)
        ev_io_stop(lsn->loop, &lsn->socks[i].w);
    if (!ev_is_active(&lsn->backoff)) {
        ev_timer_set(&lsn->backoff, BACKOFF_S, 0.);
        ev_timer_start(lsn->loop, &lsn->backoff);
    }
}

static void on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_listener_t *lsn = w->data;

    (void)loop;
    (void)revents;
    qr_listener_start(lsn);
}

static void warn_limited(qr_listener_t *lsn, const char *what, int err)
{
    uint32_t suppressed = 0;

    if (qr_ratelimit_ok(&lsn->rl, (int64_t)(ev_now(lsn->loop) * 1000),
                        &suppressed))
        QR_LOG_WARN("NET", "%s%s%s", what, err ? ": " : "",
                    err ? strerror(err) : "");
}

/* Hands @fd to the next thread whose ring has room; 0 or -1. */
static int hand_out(qr_listener_t *lsn, int fd, const struct sockaddr *sa,
                    socklen_t sl)
{
    for (int tries = 0; tries < lsn->nt_cnt; tries++) {
        qr_netthread_t *nt = lsn->nts[lsn->next_nt % (unsigned)lsn->nt_cnt];
        lsn->next_nt++;
        if (qr_netthread_hand(nt, fd, sa, sl, lsn->proto) == QUIRE_ERR_NONE)
            return 0;
    }
    return -1;
}

/* Admission first (max.connections, max.connections.per.ip): a refused
 * socket is closed before it costs a thread anything. */
static int admit(qr_listener_t *lsn, int fd, const struct sockaddr *sa)
{
    qr_server_t *server = qr_netthread_server(lsn->nts[0]);
    quire_err_t err = qr_server_conn_admit(server, sa);
    char addr[80];

    if (err == QUIRE_ERR_NONE)
        return 0;
    qr_server_format_addr(sa, addr, sizeof(addr));
    if (err == QUIRE_ERR_QUEUE_FULL)
        warn_limited(lsn, "max.connections reached; refusing", 0);
    else
        warn_limited(lsn, "max.connections.per.ip reached; refusing", 0);
    QR_DBG(QR_DBG_NET, "NET", "%s: refused: %s", addr, quire_err2str(err));
    close(fd);
    return -1;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    lsock_t *ls = w->data;
    qr_listener_t *lsn = ls->lsn;

    (void)loop;
    (void)revents;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(ls->fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EINTR || err == ECONNABORTED)
                return;
            /* EMFILE, ENFILE, ENOBUFS: rest instead of spinning. */
            warn_limited(lsn, "accept failed, pausing the acceptor", err);
            pause_accepting(lsn);
            return;
        }
        if (admit(lsn, fd, (struct sockaddr *)&ss) != 0)
            continue;
        tune_client(lsn->bconf, fd);
        if (hand_out(lsn, fd, (struct sockaddr *)&ss, sl) != 0) {
            /* Every ring is full: keep this one for nobody, rest a bit so
             * the threads catch up (backpressure on accept). */
            qr_server_conn_leave(qr_netthread_server(lsn->nts[0]),
                                 (struct sockaddr *)&ss);
            close(fd);
            pause_accepting(lsn);
            return;
        }
    }
}

static int bind_one(qr_listener_t *lsn, const struct sockaddr *sa, socklen_t sl,
                    int port, char *errstr, size_t errstr_size)
{
    struct sockaddr_storage ss;
    int one = 1, fd, err;
    char addr[80];

    memcpy(&ss, sa, sl);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    qr_server_format_addr((struct sockaddr *)&ss, addr, sizeof(addr));
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = errno;
        snprintf(errstr, errstr_size, "socket for %s: %s", addr, strerror(err));
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        err = errno;
        snprintf(errstr, errstr_size, "cannot listen on %s: %s", addr,
                 strerror(err));
        close(fd);
        return -1;
    }
    lsock_t *ls = &lsn->socks[lsn->sock_cnt++];
    ls->fd = fd;
    ls->lsn = lsn;
    ev_io_init(&ls->w, on_accept, fd, EV_READ);
    ls->w.data = ls;
    return 0;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

qr_listener_t *qr_listener_new(struct ev_loop *loop,
                               const qr_listener_addr_t *la,
                               const qr_brokerconf_t *bconf,
                               qr_netthread_t **nts, int nt_cnt, char *errstr,
                               size_t errstr_size)
{
    qr_listener_t *lsn = qr_calloc(1, sizeof(*lsn));
    qr_ratelimit_t rl = QR_RATELIMIT_INIT(1, 10000);
    struct addrinfo hints = {0}, *res = NULL, *ai;
    int rc, port = la->port;

    lsn->loop = loop;
    lsn->bconf = bconf;
    lsn->nts = nts;
    lsn->nt_cnt = nt_cnt;
    lsn->proto = la->proto;
    lsn->rl = rl;
    ev_init(&lsn->backoff, on_backoff);
    lsn->backoff.data = lsn;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(la->host[0] ? la->host : NULL, "0", &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "listeners: %s: %s", la->host,
                 gai_strerror(rc));
        free(lsn);
        return NULL;
    }
    /* IPv6 first, so that with port 0 the v4 socket takes the port the v6
     * one got (both then answer on one port). */
    for (int pass = 0; pass < 2; pass++)
        for (ai = res; ai && lsn->sock_cnt < MAX_SOCKS; ai = ai->ai_next) {
            if ((pass == 0) != (ai->ai_family == AF_INET6))
                continue;
            if (bind_one(lsn, ai->ai_addr, ai->ai_addrlen, port, errstr,
                         errstr_size) != 0) {
                /* "All addresses" on a host without IPv6: v4 alone. */
                if (!la->host[0] && ai->ai_family == AF_INET6)
                    continue;
                freeaddrinfo(res);
                qr_listener_destroy(lsn);
                return NULL;
            }
            if (port == 0)
                port = bound_port(lsn->socks[lsn->sock_cnt - 1].fd);
        }
    freeaddrinfo(res);
    if (lsn->sock_cnt == 0) {
        snprintf(errstr, errstr_size, "listeners: %s: no usable address",
                 la->host);
        free(lsn);
        return NULL;
    }
    lsn->port = port;
    return lsn;
}

int qr_listener_port(const qr_listener_t *lsn)
{
    return lsn->port;
}

void qr_listener_start(qr_listener_t *lsn)
{
    for (int i = 0; i < lsn->sock_cnt; i++)
        if (lsn->socks[i].fd >= 0)
            ev_io_start(lsn->loop, &lsn->socks[i].w);
}

void qr_listener_close(qr_listener_t *lsn)
{
    ev_timer_stop(lsn->loop, &lsn->backoff);
    for (int i = 0; i < lsn->sock_cnt; i++) {
        if (lsn->socks[i].fd < 0)
            continue;
        ev_io_stop(lsn->loop, &lsn->socks[i].w);
        close(lsn->socks[i].fd);
        lsn->socks[i].fd = -1;
    }
}

void qr_listener_destroy(qr_listener_t *lsn)
{
    if (!lsn)
        return;
    qr_listener_close(lsn);
    free(lsn);
}
