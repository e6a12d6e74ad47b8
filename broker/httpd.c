/*
 * httpd: libmicrohttpd on its own thread (see httpd.h).
 *
 * Slow clients. MHD's connection timeout counts from a connection's last
 * activity, so a client that trickles its request one byte a second is
 * never timed out (a slowloris). Every connection is therefore listed
 * (MHD_OPTION_NOTIFY_CONNECTION) with the time its current request began
 * (the connection's start, or the end of its previous request), and a
 * sweeper thread shuts down (shutdown(2), which MHD then sees as the
 * peer going away) every connection whose request headers did not arrive
 * within QR_HTTPD_HEADER_S.
 *
 * Priority. The sweeper thread lowers its own priority (nice +10) before
 * it starts MHD's thread, which inherits it (Linux: a thread's nice value
 * is its own, and new threads take their creator's), so scrapes yield to
 * the broker's network and flusher threads.
 */
#include "config.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "httpd.h"
#include "logging.h"
#include "thread.h"

/* One TCP connection of MHD's, for the sweeper (lock). */
typedef struct hconn {
    struct hconn *prev, *next;
    int fd;
    int64_t since_ms; /* its current request began (monotonic) */
    int in_request;   /* the request's headers arrived */
    int shut;         /* shut down by the sweeper */
} hconn_t;

struct qr_httpd {
    struct MHD_Daemon *d;
    qr_httpd_handler_t *handler;
    void *opaque;
    int port;
    /* the sweeper thread, which also starts the daemon */
    pthread_t sweeper;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int started;                /* lock: 1 daemon running, -1 failed */
    int stop;                   /* lock */
    hconn_t *conns;             /* lock */
    const char *url;            /* borrowed during start */
    struct sockaddr_storage ss; /* the address to listen on */
    unsigned flags;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    QR_LOG_WARN("HTTP", "%s", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, char *body,
                             size_t len, const char *ctype)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;

    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    qr_httpd_t *hd = cls;
    char *body = NULL;
    size_t len = 0;
    const char *ctype = "text/plain; charset=utf-8";
    int status;

    (void)version;
    (void)upload;
    if (!*con_cls) { /* the first call of a request: its headers are in */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        hconn_t *hc = ci ? ci->socket_context : NULL;

        *con_cls = hd;
        if (hc) {
            pthread_mutex_lock(&hd->lock);
            hc->in_request = 1;
            pthread_mutex_unlock(&hd->lock);
        }
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        if (*upload_size > 0) { /* discard a body; answer at its end */
            *upload_size = 0;
            return MHD_YES;
        }
        body = qr_strdup("method not allowed: GET or HEAD only\n");
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, body, strlen(body), ctype);
    }
    status = hd->handler(hd->opaque, url, &body, &len, &ctype);
    return reply(c, status, body, len, ctype);
}

/* "http://HOST:PORT" into an address; one line in errstr when not. */
static int parse_url(const char *url, struct sockaddr_storage *ss, char *errstr,
                     size_t errstr_size)
{
    const char *hp, *colon;
    char host[256], port[16];
    struct addrinfo hints, *res = NULL;
    size_t hl;
    int rc;

    if (strncmp(url, "http://", 7) != 0) {
        snprintf(errstr, errstr_size,
                 "%s: expected http://HOST:PORT (only http is served)", url);
        return -1;
    }
    hp = url + 7;
    colon = strrchr(hp, ':');
    if (!colon || colon == hp || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= sizeof(port) ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        snprintf(errstr, errstr_size, "%s: expected http://HOST:PORT", url);
        return -1;
    }
    hl = (size_t)(colon - hp);
    if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') { /* [v6] */
        hp++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(errstr, errstr_size, "%s: bad host", url);
        return -1;
    }
    memcpy(host, hp, hl);
    host[hl] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    if (atoi(port) > 65535) {
        snprintf(errstr, errstr_size, "%s: port out of range", url);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s: %s", url, gai_strerror(rc));
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* MHD thread: lists a new connection, unlists a closed one. */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    qr_httpd_t *hd = cls;
    hconn_t *hc = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

        hc = qr_calloc(1, sizeof(*hc));
        hc->fd = ci ? ci->connect_fd : -1;
        hc->since_ms = qr_clock_mono_ms();
        pthread_mutex_lock(&hd->lock);
        hc->next = hd->conns;
        if (hd->conns)
            hd->conns->prev = hc;
        hd->conns = hc;
        pthread_mutex_unlock(&hd->lock);
        *socket_context = hc;
        return;
    }
    if (!hc)
        return;
    pthread_mutex_lock(&hd->lock);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        hd->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    pthread_mutex_unlock(&hd->lock);
    free(hc);
    *socket_context = NULL;
}

/* MHD thread: a request ended; the next one's clock starts now. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    qr_httpd_t *hd = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    hconn_t *hc = ci ? ci->socket_context : NULL;

    (void)toe;
    *con_cls = NULL;
    if (!hc)
        return;
    pthread_mutex_lock(&hd->lock);
    hc->in_request = 0;
    hc->since_ms = qr_clock_mono_ms();
    pthread_mutex_unlock(&hd->lock);
}

/* Shuts down the connections whose headers are late. Lock held. */
static void sweep(qr_httpd_t *hd, int64_t now)
{
    for (hconn_t *hc = hd->conns; hc; hc = hc->next) {
        if (hc->in_request || hc->shut || hc->fd < 0 ||
            now - hc->since_ms < QR_HTTPD_HEADER_S * 1000)
            continue;
        /* MHD reads EOF and closes it (and unlists it) */
        shutdown(hc->fd, SHUT_RDWR);
        hc->shut = 1;
    }
}

/* Lowers this thread's priority by QR_HTTPD_NICE (from its current one,
 * as nice(1) does), up to 19. */
static void lower_priority(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int cur;

    errno = 0;
    cur = getpriority(PRIO_PROCESS, (id_t)tid);
    if (cur == -1 && errno)
        return;
    cur += QR_HTTPD_NICE;
    if (setpriority(PRIO_PROCESS, (id_t)tid, cur > 19 ? 19 : cur) != 0)
        QR_LOG_WARN("HTTP", "cannot lower the HTTP thread's priority: %s",
                    strerror(errno));
}

/* The sweeper thread: starts the daemon (whose thread inherits its
 * priority), then sweeps every second until stopped. */
static void *sweeper_main(void *arg)
{
    qr_httpd_t *hd = arg;
    struct MHD_Daemon *d;

    lower_priority();
    d = MHD_start_daemon(
        hd->flags, 0, NULL, NULL, on_request, hd, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&hd->ss, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)QR_HTTPD_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)QR_HTTPD_MAX_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)QR_HTTPD_MAX_CONNS_IP, MHD_OPTION_THREAD_POOL_SIZE, 1u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)QR_HTTPD_MEMORY,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, hd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, hd,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    pthread_mutex_lock(&hd->lock);
    hd->d = d;
    hd->started = d ? 1 : -1;
    pthread_cond_broadcast(&hd->cv);
    while (d && !hd->stop) {
        int64_t at = qr_clock_mono_ms() + 1000;
        struct timespec ts = {(time_t)(at / 1000),
                              (long)(at % 1000) * 1000000L};

        pthread_cond_timedwait(&hd->cv, &hd->lock, &ts);
        sweep(hd, qr_clock_mono_ms());
    }
    pthread_mutex_unlock(&hd->lock);
    return NULL;
}

qr_httpd_t *qr_httpd_start(const char *url, qr_httpd_handler_t *handler,
                           void *opaque, char *errstr, size_t errstr_size)
{
    const union MHD_DaemonInfo *info;
    pthread_condattr_t ca;
    qr_httpd_t *hd;

    hd = qr_calloc(1, sizeof(*hd));
    if (parse_url(url, &hd->ss, errstr, errstr_size) != 0) {
        free(hd);
        return NULL;
    }
    hd->flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (hd->ss.ss_family == AF_INET6)
        hd->flags |= MHD_USE_IPv6;
    hd->handler = handler;
    hd->opaque = opaque;
    pthread_mutex_init(&hd->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hd->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&hd->sweeper, NULL, sweeper_main, hd) != 0) {
        snprintf(errstr, errstr_size, "%s: cannot start a thread", url);
        goto fail;
    }
    qr_thread_name(hd->sweeper, "qr-httpd", -1);
    pthread_mutex_lock(&hd->lock);
    while (!hd->started)
        pthread_cond_wait(&hd->cv, &hd->lock);
    pthread_mutex_unlock(&hd->lock);
    if (hd->started < 0) {
        pthread_join(hd->sweeper, NULL);
        snprintf(errstr, errstr_size,
                 "%s: cannot listen (address in use or not local?)", url);
        goto fail;
    }
    info = MHD_get_daemon_info(hd->d, MHD_DAEMON_INFO_BIND_PORT);
    hd->port = info ? (int)info->port : 0;
    return hd;
fail:
    pthread_cond_destroy(&hd->cv);
    pthread_mutex_destroy(&hd->lock);
    free(hd);
    return NULL;
}

int qr_httpd_port(const qr_httpd_t *hd)
{
    return hd->port;
}

void qr_httpd_stop(qr_httpd_t *hd)
{
    if (!hd)
        return;
    pthread_mutex_lock(&hd->lock);
    hd->stop = 1;
    pthread_cond_broadcast(&hd->cv);
    pthread_mutex_unlock(&hd->lock);
    pthread_join(hd->sweeper, NULL);
    MHD_stop_daemon(hd->d); /* unlists every connection left */
    pthread_cond_destroy(&hd->cv);
    pthread_mutex_destroy(&hd->lock);
    free(hd);
}
