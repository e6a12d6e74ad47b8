/*
 * server: start-up, the main loop, shutdown.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "listener.h"
#include "logging.h"
#include "server.h"

#define MAX_LISTENERS 8
/* How long in-flight requests get to finish at shutdown. */
#define DRAIN_DEADLINE_MS 10000

struct qr_server {
    qr_brokerconf_t *bconf;
    char *port_file;
    struct ev_loop *loop;
    ev_signal sigterm, sigint;
    qr_netthread_t **nts;
    int nt_cnt;
    qr_listener_t *lsns[MAX_LISTENERS];
    int lsn_cnt;
    qr_server_info_t info;
    char host[256];
    int stopping;
    quire_err_t exit_err;
};

/* ---- small helpers ---- */

void qr_server_format_addr(const struct sockaddr *sa, char *out, size_t outsz)
{
    char ip[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, outsz, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, outsz, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(out, outsz, "(family %d)", sa->sa_family);
    }
}

quire_err_t qr_server_write_port_file(const char *path, const char *text,
                                      char *errstr, size_t errstr_size)
{
    size_t len = strlen(path) + 16;
    char *tmp = qr_malloc(len);
    FILE *fp;
    int err;

    snprintf(tmp, len, "%s.tmp", path);
    fp = fopen(tmp, "w");
    if (!fp) {
        err = errno;
        snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(err));
        free(tmp);
        return QUIRE_ERR_IO;
    }
    fprintf(fp, "%s\n", text);
    if (fclose(fp) != 0 || rename(tmp, path) != 0) {
        err = errno;
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(err));
        unlink(tmp);
        free(tmp);
        return QUIRE_ERR_IO;
    }
    free(tmp);
    return QUIRE_ERR_NONE;
}

const qr_brokerconf_t *qr_server_conf(const qr_server_t *server)
{
    return server->bconf;
}

const qr_server_info_t *qr_server_info(const qr_server_t *server)
{
    return &server->info;
}

uint64_t qr_server_conns_open(qr_server_t *server)
{
    uint64_t n = 0;

    for (int i = 0; i < server->nt_cnt; i++)
        n += atomic_load(&qr_netthread_stats(server->nts[i])->conns_open);
    return n;
}

/* ---- construction ---- */

qr_server_t *qr_server_new(qr_brokerconf_t *bconf, const char *port_file,
                           char *errstr, size_t errstr_size)
{
    qr_server_t *server;

    if (qr_brokerconf_check(bconf, errstr, errstr_size) != QUIRE_ERR_NONE)
        return NULL;
    if (bconf->listeners.n > MAX_LISTENERS) {
        snprintf(errstr, errstr_size, "listeners: at most %d", MAX_LISTENERS);
        return NULL;
    }
    server = qr_calloc(1, sizeof(*server));
    server->bconf = bconf;
    server->port_file = port_file ? qr_strdup(port_file) : NULL;
    server->info.broker_id = bconf->broker_id;
    server->info.host = server->host;
    return server;
}

/* ---- signals and shutdown ---- */

void qr_server_stop(qr_server_t *server)
{
    if (server->stopping)
        return;
    server->stopping = 1;
    ev_break(server->loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    qr_server_t *server = w->data;

    (void)loop;
    (void)revents;
    QR_LOG_INFO("SERVER", "signal %d: shutting down", w->signum);
    qr_server_stop(server);
}

static void drain_threads(qr_server_t *server)
{
    int64_t deadline = qr_clock_mono_ms() + DRAIN_DEADLINE_MS;

    for (int i = 0; i < server->lsn_cnt; i++)
        qr_listener_close(server->lsns[i]);
    for (int i = 0; i < server->nt_cnt; i++)
        qr_netthread_drain(server->nts[i], deadline);
    for (int i = 0; i < server->nt_cnt; i++)
        qr_netthread_join(server->nts[i]);
}

/* ---- start-up ---- */

/* The advertised address: advertised.listeners, else the listener's own
 * host, else the machine's name. */
static void pick_advertised(qr_server_t *server, const qr_listener_addr_t *la)
{
    const qr_brokerconf_t *bconf = server->bconf;
    qr_listener_addr_t adv;
    char errstr[256];

    server->info.port = qr_listener_port(server->lsns[0]);
    if (bconf->advertised_listeners.n > 0 &&
        qr_listener_addr_parse(bconf->advertised_listeners.v[0], &adv, errstr,
                               sizeof(errstr)) == QUIRE_ERR_NONE) {
        snprintf(server->host, sizeof(server->host), "%s", adv.host);
        if (adv.port > 0)
            server->info.port = adv.port;
    } else {
        snprintf(server->host, sizeof(server->host), "%s", la->host);
    }
    if (!server->host[0] && gethostname(server->host, sizeof(server->host)))
        snprintf(server->host, sizeof(server->host), "localhost");
    server->host[sizeof(server->host) - 1] = '\0';
}

static quire_err_t start_network(qr_server_t *server)
{
    const qr_brokerconf_t *bconf = server->bconf;
    qr_listener_addr_t la, first;
    char errstr[512];

    server->nt_cnt = qr_brokerconf_net_threads(bconf);
    server->nts = qr_calloc((size_t)server->nt_cnt, sizeof(*server->nts));
    for (int i = 0; i < server->nt_cnt; i++)
        server->nts[i] = qr_netthread_new(server, i);
    for (size_t i = 0; i < bconf->listeners.n; i++) {
        if (qr_listener_addr_parse(bconf->listeners.v[i], &la, errstr,
                                   sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_ERR("SERVER", "listeners: %s", errstr);
            return QUIRE_ERR_CONF_INVALID;
        }
        if (i == 0)
            first = la;
        server->lsns[server->lsn_cnt] =
            qr_listener_new(server->loop, &la, bconf, server->nts,
                            server->nt_cnt, errstr, sizeof(errstr));
        if (!server->lsns[server->lsn_cnt]) {
            QR_LOG_ERR("SERVER", "%s", errstr);
            return QUIRE_ERR_IO;
        }
        server->lsn_cnt++;
    }
    pick_advertised(server, &first);
    for (int i = 0; i < server->nt_cnt; i++)
        if (qr_netthread_start(server->nts[i]) != QUIRE_ERR_NONE)
            return QUIRE_ERR_STATE;
    for (int i = 0; i < server->lsn_cnt; i++) {
        qr_listener_start(server->lsns[i]);
        QR_LOG_INFO("SERVER", "listening on %s (port %d), %d network threads",
                    bconf->listeners.v[i], qr_listener_port(server->lsns[i]),
                    server->nt_cnt);
    }
    return QUIRE_ERR_NONE;
}

static void announce(qr_server_t *server)
{
    char text[300], errstr[512];

    if (!server->port_file)
        return;
    /* An IPv6 literal gets brackets, as in listeners=, so the last ':'
     * always starts the port. */
    snprintf(text, sizeof(text),
             strchr(server->host, ':') ? "[%s]:%d" : "%s:%d", server->host,
             server->info.port);
    if (qr_server_write_port_file(server->port_file, text, errstr,
                                  sizeof(errstr)) != QUIRE_ERR_NONE)
        QR_LOG_ERR("SERVER", "port file: %s", errstr);
}

static void start_signals(qr_server_t *server)
{
    ev_signal_init(&server->sigterm, on_signal, SIGTERM);
    ev_signal_init(&server->sigint, on_signal, SIGINT);
    server->sigterm.data = server->sigint.data = server;
    ev_signal_start(server->loop, &server->sigterm);
    ev_signal_start(server->loop, &server->sigint);
    /* Writes to a vanished peer are errors (MSG_NOSIGNAL covers sendmsg,
     * not sendfile). */
    signal(SIGPIPE, SIG_IGN);
}

quire_err_t qr_server_run(qr_server_t *server)
{
    quire_err_t err;

    server->loop = ev_default_loop(EVFLAG_AUTO);
    if (!server->loop) {
        QR_LOG_ERR("SERVER", "cannot create the main event loop");
        return QUIRE_ERR_STATE;
    }
    start_signals(server);
    err = start_network(server);
    if (err == QUIRE_ERR_NONE) {
        announce(server);
        ev_run(server->loop, 0);
    }
    drain_threads(server);
    QR_LOG_INFO("SERVER", "stopped");
    return err != QUIRE_ERR_NONE ? err : server->exit_err;
}

void qr_server_destroy(qr_server_t *server)
{
    if (!server)
        return;
    for (int i = 0; i < server->lsn_cnt; i++)
        qr_listener_destroy(server->lsns[i]);
    for (int i = 0; i < server->nt_cnt; i++)
        qr_netthread_destroy(server->nts[i]);
    free(server->nts);
    if (server->loop) {
        ev_signal_stop(server->loop, &server->sigterm);
        ev_signal_stop(server->loop, &server->sigint);
    }
    qr_brokerconf_destroy(server->bconf);
    free(server->port_file);
    free(server);
}
