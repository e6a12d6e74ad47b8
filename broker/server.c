/*
 * server: start-up, the main loop, shutdown.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "alloc.h"
#include "brokermeta.h"
#include "brokerseq.h"
#include "clock.h"
#include "cluster.h"
#include "pidblock.h"
#include "api_kadmin.h" /* issue 13: Kafka-protocol topic admin */
#include "api_kgroup.h" /* issue 13: Kafka-protocol groups */
#include "fetcher.h"
#include "frame.h"
#include "httpd.h"
#include "idemp.h"
#include "listener.h"
#include "logging.h"
#include "logmgr.h"
#include "meta.h"
#include "metrics.h"
#include "partmap.h"
#include "replica.h"
#include "server.h"
#include "topicconf.h"
#include "zk.h"

#define MAX_LISTENERS 8
/* How long in-flight requests get to finish at shutdown. */
#define DRAIN_DEADLINE_MS 10000
/* Buckets of the per-address connection counts. */
#define ADMIT_BUCKETS 256
/* Topic names auto-creation remembers having charged (a client retrying
 * Metadata for a topic being created is not charged again). */
#define AUTOCREATE_RECENT 256
/* Buckets of the replica manager's leader epochs. */
#define ACTED_BUCKETS 1024

typedef struct admit_ip {
    struct admit_ip *next;
    uint8_t addr[16]; /* IPv4 as v4-mapped IPv6 */
    unsigned conns;
} admit_ip_t;

typedef struct admit {
    pthread_mutex_t mu;
    uint64_t total;
    uint64_t max_total, max_per_ip;
    admit_ip_t *buckets[ADMIT_BUCKETS];
} admit_t;

/* The leader epoch the replica manager last acted on for a partition. */
typedef struct acted {
    struct acted *next;
    char *topic; /* owned */
    int32_t partition;
    int32_t epoch;
} acted_t;

typedef struct autocreate_limit {
    pthread_mutex_t mu;
    double tokens; /* a bucket of auto.create.topics.per.minute */
    int64_t last_ms;
    char *recent[AUTOCREATE_RECENT]; /* ring of names charged */
    unsigned recent_next;
} autocreate_limit_t;

struct qr_server {
    qr_brokerconf_t *bconf;
    char *port_file;
    int kafka_port; /* advertised Kafka listener port, 0: none (issue 13) */
    struct ev_loop *loop;
    ev_signal sigterm, sigint;
    qr_netthread_t **nts;
    int nt_cnt;
    qr_listener_t *lsns[MAX_LISTENERS];
    int lsn_cnt;
    qr_server_info_t info;
    char host[256];
    qr_logmgr_t *logmgr;
    qr_partmap_t *partmap;
    qr_cluster_t *cluster;
    qr_pidblock_t *pidblock;       /* issue 22: InitProducerId's ids */
    qr_kgsvc_t *kgroup;            /* issue 13: the group coordinator */
    qr_kasvc_t *kadmin;            /* issue 13: CreateTopics, ... */
    qr_fetcher_t *fetcher;         /* the follower side (main loop) */
    acted_t *acted[ACTED_BUCKETS]; /* main loop only */
    int announced;
    int stopping;
    int ctl_shutdown; /* a controlled shutdown is under way */
    quire_err_t exit_err;
    admit_t admit;
    atomic_int_fast64_t mem_used; /* queued.max.request.bytes accounting */
    ev_timer isr_timer; /* ISR checks, every replica.lag.time.max.ms / 2 */
    ev_async isr_kick;  /* a follower may join an ISR: check now */
    autocreate_limit_t acl;
    /* issue 15: /metrics and /health */
    qr_metrics_state_t mstate; /* written on the main loop, read anywhere */
    qr_httpd_t *httpd;         /* NULL without metrics.listeners */
    ev_timer mstate_timer;     /* refreshes what is polled (controller) */
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

qr_pidblock_t *qr_server_pidblock(qr_server_t *server)
{
    return server->pidblock;
}

qr_kgsvc_t *qr_server_kgroup(qr_server_t *server)
{
    return server->kgroup;
}

qr_kasvc_t *qr_server_kadmin(qr_server_t *server)
{
    return server->kadmin;
}

qr_partmap_t *qr_server_partmap(qr_server_t *server)
{
    return server->partmap;
}

qr_meta_t *qr_server_meta(qr_server_t *server)
{
    return qr_cluster_meta_get(server->cluster);
}

/* ---- auto-creation limits (issue 17 item 4) ---- */

static int recently_charged(autocreate_limit_t *acl, const char *topic)
{
    for (unsigned i = 0; i < AUTOCREATE_RECENT; i++)
        if (acl->recent[i] && !strcmp(acl->recent[i], topic))
            return 1;
    return 0;
}

/* A token bucket holding up to a minute's worth of creations, refilled
 * continuously; a name already charged is free (clients retry Metadata
 * while the topic gets its leaders). */
static quire_err_t autocreate_charge(qr_server_t *server, const char *topic)
{
    autocreate_limit_t *acl = &server->acl;
    double per_min = server->bconf->auto_create_topics_per_minute;
    int64_t now = qr_clock_mono_ms();
    quire_err_t err = QUIRE_ERR_NONE;

    pthread_mutex_lock(&acl->mu);
    if (recently_charged(acl, topic))
        goto out;
    acl->tokens += (double)(now - acl->last_ms) * per_min / 60000.0;
    if (acl->tokens > per_min)
        acl->tokens = per_min;
    acl->last_ms = now;
    if (acl->tokens < 1.0) {
        err = QUIRE_ERR_THROTTLING_QUOTA_EXCEEDED;
        goto out;
    }
    acl->tokens -= 1.0;
    free(acl->recent[acl->recent_next]);
    acl->recent[acl->recent_next] = qr_strdup(topic);
    acl->recent_next = (acl->recent_next + 1) % AUTOCREATE_RECENT;
out:
    pthread_mutex_unlock(&acl->mu);
    return err;
}

quire_err_t qr_server_autocreate(qr_server_t *server, const char *topic,
                                 uint64_t cluster_partitions)
{
    const qr_brokerconf_t *bconf = server->bconf;
    quire_err_t err;

    if (cluster_partitions + (uint64_t)bconf->num_partitions >
        (uint64_t)bconf->auto_create_topics_max_partitions) {
        QR_LOG_WARN("SERVER",
                    "not auto-creating topic %s: the cluster has %" PRIu64
                    " partitions and auto.create.topics.max.partitions is %d",
                    topic, cluster_partitions,
                    bconf->auto_create_topics_max_partitions);
        return QUIRE_ERR_POLICY_VIOLATION;
    }
    err = autocreate_charge(server, topic);
    if (err != QUIRE_ERR_NONE)
        return err;
    return qr_cluster_topic_autocreate(server->cluster, topic);
}

/* ---- connection admission (max.connections, max.connections.per.ip) ---- */

static void addr_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
}

static admit_ip_t **admit_find(admit_t *ad, const uint8_t key[16])
{
    uint32_t h = 2166136261u;
    admit_ip_t **pp;

    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    for (pp = &ad->buckets[h % ADMIT_BUCKETS]; *pp; pp = &(*pp)->next)
        if (!memcmp((*pp)->addr, key, 16))
            break;
    return pp;
}

quire_err_t qr_server_conn_admit(qr_server_t *server, const struct sockaddr *sa)
{
    admit_t *ad = &server->admit;
    uint8_t key[16];
    admit_ip_t **pp;
    quire_err_t err = QUIRE_ERR_NONE;

    addr_key(sa, key);
    pthread_mutex_lock(&ad->mu);
    pp = admit_find(ad, key);
    if (ad->total >= ad->max_total) {
        err = QUIRE_ERR_QUEUE_FULL;
    } else if (*pp && (*pp)->conns >= ad->max_per_ip) {
        err = QUIRE_ERR_POLICY_VIOLATION;
    } else {
        if (!*pp)
            *pp = qr_calloc(1, sizeof(**pp)), memcpy((*pp)->addr, key, 16);
        (*pp)->conns++;
        ad->total++;
    }
    pthread_mutex_unlock(&ad->mu);
    return err;
}

void qr_server_conn_leave(qr_server_t *server, const struct sockaddr *sa)
{
    admit_t *ad = &server->admit;
    uint8_t key[16];
    admit_ip_t **pp, *ip;

    addr_key(sa, key);
    pthread_mutex_lock(&ad->mu);
    pp = admit_find(ad, key);
    if ((ip = *pp) != NULL) {
        ad->total--;
        if (--ip->conns == 0) {
            *pp = ip->next;
            free(ip);
        }
    }
    pthread_mutex_unlock(&ad->mu);
}

uint64_t qr_server_conns_open(qr_server_t *server)
{
    uint64_t n;

    pthread_mutex_lock(&server->admit.mu);
    n = server->admit.total;
    pthread_mutex_unlock(&server->admit.mu);
    return n;
}

/* max.connections=0: three quarters of the descriptors we may open, the
 * rest left to segment files, indexes and ZooKeeper. */
static uint64_t max_connections(const qr_brokerconf_t *bconf)
{
    struct rlimit rl;
    uint64_t n;

    if (bconf->max_connections > 0)
        return (uint64_t)bconf->max_connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 65536;
    n = (uint64_t)rl.rlim_cur / 4 * 3;
    return n > 0 ? n : 1;
}

/* ---- the broker-wide request memory (queued.max.request.bytes) ---- */

int qr_server_mem_try(qr_server_t *server, size_t n)
{
    /* Kafka's MemoryPool rule: an allocation may start while anything is
     * left, so one request bigger than the whole pool still gets through
     * alone; the overshoot is at most one grow step per thread. */
    if (atomic_load(&server->mem_used) >=
        (int_fast64_t)server->bconf->queued_max_request_bytes)
        return 0;
    atomic_fetch_add(&server->mem_used, (int_fast64_t)n);
    return 1;
}

void qr_server_mem_add(qr_server_t *server, size_t n)
{
    atomic_fetch_add(&server->mem_used, (int_fast64_t)n);
}

void qr_server_mem_sub(qr_server_t *server, size_t n)
{
    atomic_fetch_sub(&server->mem_used, (int_fast64_t)n);
}

uint64_t qr_server_mem_used(qr_server_t *server)
{
    int_fast64_t v = atomic_load(&server->mem_used);

    return v > 0 ? (uint64_t)v : 0;
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
    server->partmap = qr_partmap_new();
    pthread_mutex_init(&server->admit.mu, NULL);
    server->admit.max_total = max_connections(bconf);
    server->admit.max_per_ip = (uint64_t)bconf->max_connections_per_ip;
    atomic_init(&server->mem_used, 0);
    pthread_mutex_init(&server->acl.mu, NULL);
    server->acl.tokens = bconf->auto_create_topics_per_minute;
    server->acl.last_ms = qr_clock_mono_ms();
    return server;
}

/* ---- metrics and health (issue 15) ---- */

int qr_server_netthread_count(const qr_server_t *server)
{
    return server->nt_cnt;
}

qr_netthread_t *qr_server_netthread(qr_server_t *server, int i)
{
    return server->nts[i];
}

qr_flusher_t *qr_server_flusher(qr_server_t *server)
{
    return server->logmgr ? qr_logmgr_flusher(server->logmgr) : NULL;
}

qr_metrics_state_t *qr_server_mstate(qr_server_t *server)
{
    return &server->mstate;
}

static void mstate_refresh(qr_server_t *server)
{
    atomic_store(&server->mstate.controller,
                 server->cluster ? qr_cluster_is_controller(server->cluster)
                                 : 0);
}

static void on_mstate_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    mstate_refresh(w->data);
}

/* The session's events, mirrored for /health and the zookeeper metrics. */
static void on_zk_event(qr_zk_t *zk, qr_zk_event_t ev, void *owner)
{
    qr_metrics_state_t *ms = &((qr_server_t *)owner)->mstate;

    (void)zk;
    switch (ev) {
    case QR_ZK_EV_SESSION:
        atomic_store(&ms->zk_connected, 1);
        break;
    case QR_ZK_EV_RECONNECTED:
        atomic_store(&ms->zk_connected, 1);
        atomic_fetch_add(&ms->zk_reconnects, 1);
        break;
    case QR_ZK_EV_DISCONNECTED:
        atomic_store(&ms->zk_connected, 0);
        atomic_fetch_add(&ms->zk_disconnects, 1);
        break;
    case QR_ZK_EV_EXPIRED:
        atomic_store(&ms->zk_connected, 0);
        atomic_store(&ms->registered, 0);
        atomic_fetch_add(&ms->zk_expirations, 1);
        break;
    default:
        atomic_store(&ms->zk_connected, 0);
        break;
    }
    mstate_refresh(owner);
}

/* metrics.listeners: starts the HTTP thread; with port 0 and a port file,
 * the bound address goes to PORT_FILE.metrics (before registration, so a
 * test can watch /health turn 200). */
static quire_err_t start_metrics(qr_server_t *server)
{
    const char *url = server->bconf->metrics_listeners;
    char errstr[512], text[64], *path;
    size_t plen;

    ev_timer_init(&server->mstate_timer, on_mstate_timer, 1., 1.);
    server->mstate_timer.data = server;
    ev_timer_start(server->loop, &server->mstate_timer);
    if (!url || !url[0])
        return QUIRE_ERR_NONE;
    server->httpd =
        qr_httpd_start(url, qr_metrics_http, server, errstr, sizeof(errstr));
    if (!server->httpd) {
        QR_LOG_ERR("SERVER", "metrics.listeners: %s", errstr);
        return QUIRE_ERR_CONF_INVALID;
    }
    QR_LOG_INFO("SERVER", "metrics and health on %s (port %d)", url,
                qr_httpd_port(server->httpd));
    if (!server->port_file)
        return QUIRE_ERR_NONE;
    plen = strlen(server->port_file) + sizeof(".metrics");
    path = qr_malloc(plen);
    snprintf(path, plen, "%s.metrics", server->port_file);
    snprintf(text, sizeof(text), "%d", qr_httpd_port(server->httpd));
    if (qr_server_write_port_file(path, text, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE)
        QR_LOG_ERR("SERVER", "metrics port file: %s", errstr);
    free(path);
    return QUIRE_ERR_NONE;
}

static void stop_metrics(qr_server_t *server)
{
    qr_httpd_stop(server->httpd); /* no handler runs after this */
    server->httpd = NULL;
    qr_metrics_cache_free(&server->mstate);
    if (server->loop)
        ev_timer_stop(server->loop, &server->mstate_timer);
}

/* ---- signals and shutdown ---- */

void qr_server_stop(qr_server_t *server)
{
    if (server->stopping)
        return;
    server->stopping = 1;
    atomic_store(&server->mstate.stopping, 1);
#ifdef HAVE_LIBSYSTEMD
    sd_notify(0, "STOPPING=1");
#endif
    ev_break(server->loop, EVBREAK_ALL);
}

static void on_shutdown_moved(void *opaque, int moved, const char *msg)
{
    (void)moved;
    (void)msg; /* logged by the cluster */
    qr_server_stop(opaque);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    qr_server_t *server = w->data;

    (void)loop;
    (void)revents;
    QR_LOG_INFO("SERVER", "signal %d: shutting down", w->signum);
    /* the first signal moves leadership away first (issue 16 item 9) */
    if (server->bconf->controlled_shutdown_enable && server->cluster &&
        !server->stopping && !server->ctl_shutdown &&
        qr_cluster_controlled_shutdown(
            server->cluster, server->bconf->controlled_shutdown_max_retries,
            server->bconf->controlled_shutdown_retry_backoff_ms,
            on_shutdown_moved, server) == QUIRE_ERR_NONE) {
        server->ctl_shutdown = 1;
        return;
    }
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

static void stop_isr_checks(qr_server_t *server);

/* Stops every replica set acknowledging (NOT_LEADER_FOR_PARTITION, which a
 * producer retries elsewhere): an acks=all produce waiting for followers
 * that are gone would otherwise hold the network threads' drain to its
 * deadline (DRAIN_DEADLINE_MS), and its completion, posted only when the
 * partitions close below, would find its thread gone (CI saw both: a 10 s
 * stop and a leaked request). The ISR checks are stopped by now, so
 * nothing else would end such a wait. */
static void depose_all(qr_server_t *server)
{
    qr_pentry_t **entries;
    size_t n;

    entries = qr_partmap_all(server->partmap, &n);
    for (size_t i = 0; i < n; i++) {
        if (entries[i]->replica)
            qr_replica_depose(entries[i]->replica);
        qr_pentry_release(entries[i]);
    }
    free(entries);
}

/* The order of the issue: stop accepting, finish in-flight requests, flush
 * and write the clean-shutdown marker, then deregister. */
static void shutdown_all(qr_server_t *server)
{
    qr_pentry_t *entry;
    quire_err_t err;

    stop_metrics(server); /* first: it reads what the rest tears down */
    stop_isr_checks(server);
    if (server->kgroup) /* issue 13: waiting joins answered, not drained */
        qr_kgsvc_close(server->kgroup);
    if (server->kadmin) /* issue 13: waiting CreateTopics answered */
        qr_kasvc_close(server->kadmin);
    depose_all(server);
    drain_threads(server);
    if (server->fetcher)
        qr_fetcher_stop(server->fetcher); /* releases the followed logs */
    while ((entry = qr_partmap_take_any(server->partmap)) != NULL) {
        if (entry->replica)
            qr_replica_depose(entry->replica);
        /* issue 22: snapshot the producer state now and take no more
         * appends, before the log may be followed and cut */
        qr_idemp_close(entry->idemp, entry->part);
        qr_pentry_notify(entry);
        qr_pentry_release(entry);
    }
    if (server->logmgr) {
        err = qr_logmgr_close(server->logmgr);
        server->logmgr = NULL;
        if (err != QUIRE_ERR_NONE) {
            QR_LOG_ERR("SERVER", "closing the logs: %s", quire_err2str(err));
            if (server->exit_err == QUIRE_ERR_NONE)
                server->exit_err = err;
        }
    }
    if (server->pidblock) /* issue 22: before the session goes */
        qr_pidblock_detach(server->pidblock);
    if (server->kgroup) /* issue 13: likewise */
        qr_kgsvc_detach(server->kgroup);
    if (server->kadmin)
        qr_kasvc_detach(server->kadmin);
    if (server->cluster)
        qr_cluster_close(server->cluster);
}

/* ---- start-up ---- */

/* The advertised address: advertised.listeners, else the listener's own
 * host, else the machine's name. */
static void pick_advertised(qr_server_t *server, const qr_listener_addr_t *la,
                            int quire_idx, int kafka_idx)
{
    const qr_brokerconf_t *bconf = server->bconf;
    qr_listener_addr_t adv;
    char errstr[256];
    int have_host = 0;

    server->info.port = qr_listener_port(server->lsns[quire_idx]);
    server->kafka_port =
        kafka_idx >= 0 ? qr_listener_port(server->lsns[kafka_idx]) : 0;
    /* the first advertised entry of each protocol (issue 13) */
    for (size_t i = 0; i < bconf->advertised_listeners.n; i++) {
        if (qr_listener_addr_parse(bconf->advertised_listeners.v[i], &adv,
                                   errstr, sizeof(errstr)) != QUIRE_ERR_NONE)
            continue;
        if (adv.proto == QR_WIREPROTO_KAFKA) {
            if (adv.port > 0 && kafka_idx >= 0)
                server->kafka_port = adv.port;
            continue;
        }
        if (have_host++)
            continue;
        snprintf(server->host, sizeof(server->host), "%s", adv.host);
        if (adv.port > 0)
            server->info.port = adv.port;
    }
    if (!have_host) {
        snprintf(server->host, sizeof(server->host), "%s", la->host);
    }
    /* A wildcard address is where to listen, not where to connect. */
    if (!strcmp(server->host, "0.0.0.0") || !strcmp(server->host, "::"))
        server->host[0] = '\0';
    if (!server->host[0] && gethostname(server->host, sizeof(server->host)))
        snprintf(server->host, sizeof(server->host), "localhost");
    server->host[sizeof(server->host) - 1] = '\0';
}

static quire_err_t bind_network(qr_server_t *server)
{
    const qr_brokerconf_t *bconf = server->bconf;
    qr_listener_addr_t la, first;
    char errstr[512];
    int quire_idx = -1, kafka_idx = -1;

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
        if (la.proto == QR_WIREPROTO_KAFKA && kafka_idx < 0)
            kafka_idx = server->lsn_cnt;
        if (la.proto == QR_WIREPROTO_QUIRE && quire_idx < 0) {
            quire_idx = server->lsn_cnt;
            first = la;
        }
        server->lsns[server->lsn_cnt] =
            qr_listener_new(server->loop, &la, bconf, server->nts,
                            server->nt_cnt, errstr, sizeof(errstr));
        if (!server->lsns[server->lsn_cnt]) {
            QR_LOG_ERR("SERVER", "%s", errstr);
            return QUIRE_ERR_IO;
        }
        server->lsn_cnt++;
    }
    /* qr_brokerconf_check() made sure there is a quire listener */
    pick_advertised(server, &first, quire_idx, kafka_idx);
    return QUIRE_ERR_NONE;
}

static quire_err_t start_serving(qr_server_t *server)
{
    const qr_brokerconf_t *bconf = server->bconf;

    for (int i = 0; i < server->nt_cnt; i++)
        if (qr_netthread_start(server->nts[i]) != QUIRE_ERR_NONE)
            return QUIRE_ERR_STATE;
    for (int i = 0; i < server->lsn_cnt; i++) {
        qr_listener_start(server->lsns[i]);
        QR_LOG_INFO("SERVER", "listening on %s (port %d), %d network threads",
                    bconf->listeners.v[i], qr_listener_port(server->lsns[i]),
                    server->nt_cnt);
    }
    atomic_store(&server->mstate.serving, 1);
    return QUIRE_ERR_NONE;
}

static void announce(qr_server_t *server)
{
    char text[300], errstr[512];

#ifdef HAVE_LIBSYSTEMD
    /* systemd's Type=notify: serving and registered (a no-op outside a
     * unit: no NOTIFY_SOCKET) */
    sd_notifyf(0, "READY=1\nSTATUS=broker %d serving on %s:%d",
               (int)server->info.broker_id, server->host, server->info.port);
#endif
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

/* ---- the coordinator's callbacks (main loop) ---- */

/* The topic's settings: its overrides over the broker's log.* keys and
 * message.max.bytes. */
static void topic_settings(const qr_server_t *server, const char *topic,
                           const qr_topic_config_t *config,
                           qr_plog_conf_t *pconf, qr_topic_produce_t *prod)
{
    qr_plog_conf_t defaults;
    qr_topic_produce_t dprod;

    qr_brokerconf_plog(server->bconf, &defaults);
    dprod.max_message_bytes = server->bconf->message_max_bytes;
    dprod.log_append_time = server->bconf->log_message_timestamp_type == 1;
    dprod.trust_compressed = !server->bconf->log_message_validate_compressed;
    dprod.min_insync_replicas = server->bconf->min_insync_replicas;
    (void)qr_topicconf_apply(topic, &defaults, &dprod, config, pconf, prod);
}

/* ---- the leader's replica sets (issue 16) ---- */

static void push_hw(void *opaque, int64_t hw)
{
    /* the log calls on_visible when its visible end moves, which wakes
     * the fetches parked on it */
    qr_plog_set_replicated_hw(opaque, hw);
}

/* The replica set of a partition we start leading: its HW starts at the
 * log's (never backwards), this epoch's first offset is the log end. */
static qr_replica_t *new_replica_set(qr_server_t *server, qr_plog_t *part,
                                     int32_t leader_epoch,
                                     const qr_plog_conf_t *pconf)
{
    qr_replica_cbs_t cbs = {push_hw, NULL, part};
    qr_replica_t *rs;

    rs = qr_replica_new(qr_plog_name(part), server->info.broker_id,
                        leader_epoch, qr_plog_high_watermark(part),
                        qr_plog_log_end(part), (int)pconf->write_caching, &cbs);
    /* what the log has synced is the leader's own offset at once: after a
     * restart the checkpointed HW may be stale, and with the leader alone
     * in the ISR (RF=1) acknowledged records must be visible again without
     * waiting for the next append (check_powerloss), and an idempotent
     * producer's retries after a restart are all duplicates that append
     * nothing */
    qr_replica_leader_end(rs, qr_plog_log_end(part), qr_plog_synced_end(part));
    return rs;
}

static void cb_partition_state(void *opaque, const char *topic,
                               int32_t partition, const qr_replicas_t *replicas,
                               const qr_pstate_t *st, int32_t version)
{
    qr_server_t *server = opaque;
    qr_pentry_t *entry = qr_partmap_get(server->partmap, topic, partition);

    if (!entry)
        return;
    if (entry->replica)
        qr_replica_set_state(entry->replica, replicas->ids, replicas->n,
                             st->isr, st->isr_cnt, st->leader_epoch,
                             st->controller_epoch, version, qr_clock_mono_ms());
    qr_pentry_release(entry);
}

/* An ISR write came back (main loop). */
static void on_isr_written(void *opaque, const char *topic, int32_t partition,
                           const qr_pstate_t *st, quire_err_t result,
                           int32_t version)
{
    qr_server_t *server = opaque;
    qr_pentry_t *entry = qr_partmap_get(server->partmap, topic, partition);
    qr_replica_isr_t isr;

    if (!entry || !entry->replica || entry->leader_epoch != st->leader_epoch) {
        qr_pentry_release(entry); /* another epoch's set: not its write */
        return;
    }
    if (result == QUIRE_ERR_NONE) {
        memcpy(isr.isr, st->isr, st->isr_cnt * sizeof(st->isr[0]));
        isr.isr_cnt = st->isr_cnt;
        isr.leader_epoch = st->leader_epoch;
        isr.controller_epoch = st->controller_epoch;
        isr.version = version;
        qr_replica_isr_written(entry->replica, &isr, version,
                               qr_clock_mono_ms());
    } else if (result == QUIRE_ERR_NOT_LEADER_FOR_PARTITION) {
        /* a zombie: the controller chose another leader meanwhile */
        qr_replica_depose(entry->replica);
    } else {
        QR_LOG_WARN("SERVER", "%s-%d: ISR change not written: %s; retrying",
                    topic, (int)partition, quire_err2str(result));
        qr_replica_isr_failed(entry->replica);
    }
    qr_pentry_release(entry);
}

/* Shrinks and expands the ISRs we lead (Kafka's maybeShrinkIsr, and its
 * expansion, run here on the main loop where ZooKeeper is). */
static void check_isrs(qr_server_t *server)
{
    int64_t now = qr_clock_mono_ms();
    qr_pentry_t **entries;
    size_t n;

    if (!server->cluster || server->stopping)
        return;
    entries = qr_partmap_all(server->partmap, &n);
    for (size_t i = 0; i < n; i++) {
        qr_pentry_t *entry = entries[i];
        qr_replica_isr_t plan;
        qr_pstate_t st = {0};
        if (entry->replica &&
            qr_replica_isr_plan(entry->replica, now,
                                server->bconf->replica_lag_time_max_ms,
                                &plan)) {
            st.leader = server->info.broker_id;
            st.leader_epoch = plan.leader_epoch;
            st.controller_epoch = plan.controller_epoch;
            memcpy(st.isr, plan.isr, plan.isr_cnt * sizeof(plan.isr[0]));
            st.isr_cnt = plan.isr_cnt;
            if (qr_cluster_isr_write(server->cluster, entry->topic,
                                     entry->partition, &st, plan.version,
                                     on_isr_written, server) != QUIRE_ERR_NONE)
                qr_replica_isr_failed(entry->replica);
        }
        qr_pentry_release(entry);
    }
    free(entries);
}

static void on_isr_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    check_isrs(w->data);
}

static void on_isr_kick(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    check_isrs(w->data);
}

void qr_server_isr_kick(qr_server_t *server)
{
    ev_async_send(server->loop, &server->isr_kick);
}

static void start_isr_checks(qr_server_t *server)
{
    double every = (double)server->bconf->replica_lag_time_max_ms / 2e3;

    ev_timer_init(&server->isr_timer, on_isr_timer, every, every);
    server->isr_timer.data = server;
    ev_timer_start(server->loop, &server->isr_timer);
    ev_unref(server->loop); /* neither keeps the loop running alone */
    ev_async_init(&server->isr_kick, on_isr_kick);
    server->isr_kick.data = server;
    ev_async_start(server->loop, &server->isr_kick);
    ev_unref(server->loop);
}

static void stop_isr_checks(qr_server_t *server)
{
    if (ev_is_active(&server->isr_timer)) {
        ev_ref(server->loop);
        ev_timer_stop(server->loop, &server->isr_timer);
    }
    if (ev_is_active(&server->isr_kick)) {
        ev_ref(server->loop);
        ev_async_stop(server->loop, &server->isr_kick);
    }
}

/* ---- the replica manager (issue 16: leader and follower transitions) ----
 *
 * The cluster tells us, from the partition states in the view, which
 * partitions we lead (cb_open_partition) and which we follow
 * (cb_follow_partition). A leader's log is in the partmap, stamped with its
 * leader epoch, and not fetched; a follower's log stays open outside the
 * partmap (clients get NOT_LEADER_FOR_PARTITION) and the fetcher appends
 * the leader's batches to it. A state whose leader_epoch is older than
 * the one already acted on (a stale view, a deposed controller) changes
 * nothing. */

static acted_t **acted_find(qr_server_t *server, const char *topic,
                            int32_t partition)
{
    uint32_t h = 2166136261u ^ (uint32_t)partition;
    acted_t **pp;

    for (const char *c = topic; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    for (pp = &server->acted[h % ACTED_BUCKETS]; *pp; pp = &(*pp)->next)
        if ((*pp)->partition == partition && !strcmp((*pp)->topic, topic))
            break;
    return pp;
}

/* Returns 1 (and logs) when @p epoch is older than the one acted on;
 * else records it and returns 0. */
static int epoch_stale(qr_server_t *server, const char *topic,
                       int32_t partition, int32_t epoch, const char *what)
{
    acted_t **pp = acted_find(server, topic, partition);

    if (*pp && epoch < (*pp)->epoch) {
        QR_LOG_WARN("SERVER",
                    "%s-%d: ignoring a state making us %s at leader epoch %d: "
                    "epoch %d was already acted on",
                    topic, partition, what, epoch, (*pp)->epoch);
        return 1;
    }
    if (!*pp) {
        *pp = qr_calloc(1, sizeof(**pp));
        (*pp)->topic = qr_strdup(topic);
        (*pp)->partition = partition;
    }
    (*pp)->epoch = epoch;
    return 0;
}

/* The partition is gone from this broker (deleted, reassigned away): a
 * topic created again under the same name starts at epoch 0. */
static void epoch_forget(qr_server_t *server, const char *topic,
                         int32_t partition)
{
    acted_t **pp = acted_find(server, topic, partition), *a = *pp;

    if (a) {
        *pp = a->next;
        free(a->topic);
        free(a);
    }
}

static quire_err_t open_log(qr_server_t *server, const char *topic,
                            int32_t partition, const qr_topic_config_t *config,
                            const char *role, qr_plog_t **partp,
                            qr_plog_conf_t *pconf, qr_topic_produce_t *prod)
{
    char errstr[512];
    quire_err_t err;

    if (!server->logmgr || server->stopping)
        return QUIRE_ERR_STATE;
    topic_settings(server, topic, config, pconf, prod);
    err = qr_logmgr_open_part(server->logmgr, topic, partition, pconf, partp,
                              errstr, sizeof(errstr));
    if (err != QUIRE_ERR_NONE)
        QR_LOG_ERR("SERVER", "cannot open %s-%d to %s it: %s", topic, partition,
                   role, errstr);
    return err;
}

static quire_err_t cb_open_partition(void *opaque, const char *topic,
                                     int32_t partition, int32_t leader_epoch,
                                     const qr_topic_config_t *config)
{
    qr_server_t *server = opaque;
    qr_plog_t *part = NULL;
    qr_plog_conf_t pconf;
    qr_topic_produce_t prod;
    quire_err_t err;

    if (!server->logmgr || server->stopping)
        return QUIRE_ERR_STATE;
    if (epoch_stale(server, topic, partition, leader_epoch, "leader"))
        return QUIRE_ERR_FENCED_LEADER_EPOCH;
    /* no fetch may append once we lead: unfollow waits for the fetcher */
    qr_fetcher_unfollow(server->fetcher, topic, partition);
    err = open_log(server, topic, partition, config, "lead", &part, &pconf,
                   &prod);
    if (err != QUIRE_ERR_NONE)
        return err;
    /* its appends carry the epoch (issue 16: leader-epoch-checkpoint) */
    qr_plog_set_leader_epoch(part, leader_epoch);
    qr_partmap_put_replica(server->partmap, topic, partition, leader_epoch,
                           &prod, part,
                           new_replica_set(server, part, leader_epoch, &pconf));
    QR_LOG_INFO("SERVER", "leading %s-%d (epoch %d)", topic, partition,
                leader_epoch);
    return QUIRE_ERR_NONE;
}

static void drop_entry(qr_server_t *server, const char *topic,
                       int32_t partition);

static quire_err_t cb_follow_partition(void *opaque, const char *topic,
                                       int32_t partition, int32_t leader,
                                       int32_t leader_epoch,
                                       const char *leader_host, int leader_port,
                                       const qr_topic_config_t *config)
{
    qr_server_t *server = opaque;
    qr_plog_t *part = NULL;
    qr_plog_conf_t pconf;
    qr_topic_produce_t prod;
    quire_err_t err;

    if (!server->logmgr || server->stopping)
        return QUIRE_ERR_STATE;
    if (epoch_stale(server, topic, partition, leader_epoch, "a follower"))
        return QUIRE_ERR_FENCED_LEADER_EPOCH;
    /* clients now get NOT_LEADER_FOR_PARTITION; the log stays open */
    drop_entry(server, topic, partition);
    if (server->ctl_shutdown) {
        /* leadership moved away because we are stopping: fetching again
         * would put us back into the new leader's ISR just before we go,
         * and the controller would then shrink it again at a new epoch
         * (Kafka sends the stopping broker StopReplica instead) */
        qr_fetcher_unfollow(server->fetcher, topic, partition);
        QR_LOG_INFO("SERVER",
                    "%s-%d: not following broker %d (controlled shutdown)",
                    topic, (int)partition, (int)leader);
        return QUIRE_ERR_NONE;
    }
    err = open_log(server, topic, partition, config, "follow", &part, &pconf,
                   &prod);
    if (err != QUIRE_ERR_NONE)
        return err;
    qr_fetcher_follow(server->fetcher, part, leader, leader_epoch, leader_host,
                      leader_port);
    qr_plog_release(part);
    return QUIRE_ERR_NONE;
}

static void cb_unfollow_partition(void *opaque, const char *topic,
                                  int32_t partition, int delete_data)
{
    qr_server_t *server = opaque;
    quire_err_t err;

    /* a leader reassigned away: its acks=all waits end now
     * (NOT_LEADER_FOR_PARTITION, the producer retries to the new leader),
     * not never */
    drop_entry(server, topic, partition);
    qr_fetcher_unfollow(server->fetcher, topic, partition);
    epoch_forget(server, topic, partition);
    if (!server->logmgr)
        return;
    err = delete_data ? qr_logmgr_delete_part(server->logmgr, topic, partition)
                      : qr_logmgr_close_part(server->logmgr, topic, partition);
    if (err != QUIRE_ERR_NONE && err != QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION)
        QR_LOG_ERR("SERVER", "%s %s-%d: %s",
                   delete_data ? "deleting" : "closing", topic, partition,
                   quire_err2str(err));
    else
        QR_LOG_INFO("SERVER", "no longer a replica of %s-%d%s", topic,
                    partition, delete_data ? " (data deleted)" : "");
}

/* Kafka applies topic config changes to the live logs: new sizes from the
 * next segment, retention and flush settings at their next use. */
static void cb_topic_config(void *opaque, const char *topic,
                            const qr_topic_config_t *config)
{
    qr_server_t *server = opaque;
    qr_plog_conf_t pconf;
    qr_topic_produce_t prod;
    qr_pentry_t **entries;
    size_t n;
    char errstr[512];

    topic_settings(server, topic, config, &pconf, &prod);
    entries = qr_partmap_topic(server->partmap, topic, &n);
    for (size_t i = 0; i < n; i++) {
        if (qr_plog_set_conf(entries[i]->part, &pconf, errstr,
                             sizeof(errstr)) != QUIRE_ERR_NONE)
            QR_LOG_ERR("SERVER", "%s: new topic config not applied: %s",
                       qr_plog_name(entries[i]->part), errstr);
        atomic_store(&entries[i]->max_message_bytes, prod.max_message_bytes);
        atomic_store(&entries[i]->log_append_time, prod.log_append_time);
        atomic_store(&entries[i]->trust_compressed, prod.trust_compressed);
        atomic_store(&entries[i]->min_insync, prod.min_insync_replicas);
        if (entries[i]->replica)
            qr_replica_set_write_caching(entries[i]->replica,
                                         (int)pconf.write_caching);
        qr_pentry_release(entries[i]);
    }
    free(entries);
    QR_LOG_INFO("SERVER", "topic %s: configuration applied to %zu partitions",
                topic, n);
}

/* Out of the map first, so no thread starts using it; parked fetches are
 * woken to find it gone (NOT_LEADER_FOR_PARTITION). */
static void drop_entry(qr_server_t *server, const char *topic,
                       int32_t partition)
{
    qr_pentry_t *entry = qr_partmap_take(server->partmap, topic, partition);

    if (entry) {
        /* acks=all waits end now, NOT_LEADER_FOR_PARTITION, not when the
         * last reference goes */
        if (entry->replica)
            qr_replica_depose(entry->replica);
        /* issue 22: snapshot the producer state now and take no more
         * appends, before the log may be followed and cut */
        qr_idemp_close(entry->idemp, entry->part);
        qr_pentry_notify(entry);
        qr_pentry_release(entry);
    }
}

static void cb_close_partition(void *opaque, const char *topic,
                               int32_t partition)
{
    qr_server_t *server = opaque;
    quire_err_t err;

    drop_entry(server, topic, partition);
    epoch_forget(server, topic, partition);
    if (!server->logmgr)
        return; /* shutdown: the log manager closed everything already */
    err = qr_logmgr_close_part(server->logmgr, topic, partition);
    if (err != QUIRE_ERR_NONE && err != QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION)
        QR_LOG_ERR("SERVER", "closing %s-%d: %s", topic, partition,
                   quire_err2str(err));
    else
        QR_LOG_INFO("SERVER", "no longer leading %s-%d", topic, partition);
}

static quire_err_t cb_delete_partition(void *opaque, const char *topic,
                                       int32_t partition)
{
    qr_server_t *server = opaque;
    quire_err_t err;

    drop_entry(server, topic, partition);
    if (server->fetcher)
        qr_fetcher_unfollow(server->fetcher, topic, partition);
    epoch_forget(server, topic, partition);
    if (!server->logmgr)
        return QUIRE_ERR_STATE;
    err = qr_logmgr_delete_part(server->logmgr, topic, partition);
    if (err == QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION)
        err = QUIRE_ERR_NONE; /* nothing on disk: deleted already */
    if (err == QUIRE_ERR_NONE)
        QR_LOG_INFO("SERVER", "deleted %s-%d", topic, partition);
    return err;
}

static void announce(qr_server_t *server);

static void cb_status(void *opaque, qr_cluster_status_t status, quire_err_t err,
                      const char *msg)
{
    qr_server_t *server = opaque;

    switch (status) {
    case QR_CLUSTER_REGISTERED:
        QR_LOG_INFO("SERVER", "registered as broker %d at %s:%d",
                    server->info.broker_id, server->host, server->info.port);
        /* issue 22: (re)start reserving producer id blocks */
        qr_pidblock_attach(server->pidblock, qr_cluster_zk(server->cluster));
        atomic_store(&server->mstate.registered, 1);
        mstate_refresh(server);
        /* issue 13: the group coordinator's offsets and checks */
        qr_kgsvc_attach(server->kgroup, qr_cluster_zk(server->cluster));
        qr_kasvc_attach(server->kadmin, qr_cluster_zk(server->cluster));
        if (!server->announced) {
            server->announced = 1;
            announce(server);
        }
        break;
    case QR_CLUSTER_SESSION_LOST:
        atomic_store(&server->mstate.registered, 0);
        QR_LOG_WARN("SERVER", "ZooKeeper session lost (%s); re-registering",
                    msg ? msg : quire_err2str(err));
        break;
    case QR_CLUSTER_FATAL:
        QR_LOG_ERR("SERVER", "cannot run: %s", msg ? msg : quire_err2str(err));
        server->exit_err = err != QUIRE_ERR_NONE ? err : QUIRE_ERR_ZK;
        qr_server_stop(server);
        break;
    }
}

static quire_err_t start_cluster(qr_server_t *server)
{
    const qr_brokerconf_t *bconf = server->bconf;
    qr_cluster_conf_t cconf = {0};
    qr_cluster_cbs_t cbs = {0};
    char errstr[512];

    cconf.zk_connect = bconf->zookeeper_connect;
    cconf.zk_session_timeout_ms = (int)bconf->zookeeper_session_timeout_ms;
    cconf.zk_connection_timeout_ms =
        (int)bconf->zookeeper_connection_timeout_ms;
    cconf.broker_id = bconf->broker_id;
    cconf.host = server->host;
    cconf.port = server->info.port;
    cconf.kafka_port = server->kafka_port;
    cconf.controller_eligible = 1;
    cconf.auto_create_topics = bconf->auto_create_topics_enable;
    cconf.num_partitions = bconf->num_partitions;
    cconf.default_replication_factor = bconf->default_replication_factor;
    cconf.leader_balance.auto_rebalance = bconf->auto_leader_rebalance_enable;
    cconf.leader_balance.check_interval_s =
        bconf->leader_imbalance_check_interval_seconds;
    cconf.leader_balance.imbalance_percentage =
        bconf->leader_imbalance_per_broker_percentage;
    cconf.unclean_leader_election = bconf->unclean_leader_election_enable;
    cbs.opaque = server;
    cbs.open_partition = cb_open_partition;
    cbs.close_partition = cb_close_partition;
    cbs.delete_partition = cb_delete_partition;
    cbs.follow_partition = cb_follow_partition;
    cbs.unfollow_partition = cb_unfollow_partition;
    cbs.topic_config = cb_topic_config;
    cbs.partition_state = cb_partition_state;
    cbs.status = cb_status;
    server->pidblock = qr_pidblock_new(server->loop, bconf->broker_id);
    {
        qr_kgsvc_conf_t kconf = {
            .broker_id = bconf->broker_id,
            .min_session_timeout_ms = bconf->group_min_session_timeout_ms,
            .max_session_timeout_ms = bconf->group_max_session_timeout_ms,
            .initial_rebalance_delay_ms =
                bconf->group_initial_rebalance_delay_ms,
            .offset_metadata_max_bytes = bconf->offset_metadata_max_bytes};
        server->kgroup = qr_kgsvc_new(server->loop, server, &kconf);
    }
    server->kadmin = qr_kasvc_new(server->loop, server); /* issue 13 */
    server->cluster =
        qr_cluster_new(server->loop, &cconf, &cbs, errstr, sizeof(errstr));
    if (!server->cluster) {
        QR_LOG_ERR("SERVER", "coordinator: %s", errstr);
        return QUIRE_ERR_CONF_INVALID;
    }
    qr_zk_listen(qr_cluster_zk(server->cluster), on_zk_event, server);
    return QUIRE_ERR_NONE;
}

/* A partition's visible end moved (on a flusher thread with write caching
 * off, on the appending one with it on): wake the fetches parked on it. */
static void on_visible(void *opaque, qr_plog_t *part, int64_t visible_end)
{
    qr_server_t *server = opaque;
    qr_pentry_t *entry = qr_partmap_get(server->partmap, qr_plog_topic(part),
                                        qr_plog_partition(part));

    (void)visible_end;
    if (entry) {
        /* the leader's own offsets count in its HW (replica.h) */
        if (entry->replica)
            qr_replica_leader_end(entry->replica, qr_plog_log_end(part),
                                  qr_plog_synced_end(part));
        qr_pentry_notify(entry);
        qr_pentry_release(entry);
    } else {
        /* a follower's synced end: its next Fetch reports it */
        qr_fetcher_notify(server->fetcher);
    }
}

static quire_err_t start_storage(qr_server_t *server)
{
    const qr_brokerconf_t *bconf = server->bconf;
    qr_logmgr_conf_t lconf;
    char errstr[512];
    quire_err_t err;

    qr_logmgr_conf_defaults(&lconf);
    lconf.dirs = (const char *const *)bconf->log_dirs.v;
    lconf.ndirs = bconf->log_dirs.n;
    lconf.flusher_threads = bconf->background_threads;
    lconf.recovery_threads = bconf->num_recovery_threads_per_data_dir;
    qr_brokerconf_plog(bconf, &lconf.defaults);
    lconf.checkpoint_interval_ms =
        bconf->log_flush_offset_checkpoint_interval_ms;
    lconf.on_append = on_visible;
    lconf.on_append_opaque = server;
    /* before the logs open: their segments are opened one at a time */
    qr_seg_cache_set_max((size_t)bconf->log_open_segments_max);
    err = qr_logmgr_open(&lconf, &server->logmgr, errstr, sizeof(errstr));
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("SERVER", "log.dirs: %s", errstr);
        return err;
    }
    if (bconf->test_flush_delay_ms > 0) {
        QR_LOG_WARN("SERVER",
                    "quire.test.flush.delay.ms=%d: every fdatasync is "
                    "delayed (a test setting)",
                    bconf->test_flush_delay_ms);
        qr_flusher_set_test_delay(qr_logmgr_flusher(server->logmgr),
                                  bconf->test_flush_delay_ms);
    }
    return QUIRE_ERR_NONE;
}

/* The follower side: one thread for every source broker's connection
 * (fetcher.h says why). Its frames are bounded by what the leader may
 * send: replica.fetch.response.max.bytes plus one batch past it (KIP-74),
 * a batch being at most message.max.bytes (or a topic's larger
 * max.message.bytes, up to socket.request.max.bytes). */
static quire_err_t start_fetcher(qr_server_t *server)
{
    const qr_brokerconf_t *bconf = server->bconf;
    qr_fetcher_conf_t fconf = {0};
    uint64_t frame;

    fconf.broker_id = bconf->broker_id;
    fconf.fetch_max_bytes = bconf->replica_fetch_max_bytes;
    fconf.response_max_bytes = bconf->replica_fetch_response_max_bytes;
    fconf.wait_max_ms = bconf->replica_fetch_wait_max_ms;
    fconf.min_bytes = bconf->replica_fetch_min_bytes;
    fconf.backoff_ms = bconf->replica_fetch_backoff_ms;
    fconf.socket_timeout_ms = bconf->replica_socket_timeout_ms;
    frame = (uint64_t)bconf->replica_fetch_response_max_bytes +
            (uint64_t)bconf->socket_request_max_bytes +
            QR_FRAME_RESP_HEADER_MAX;
    fconf.max_frame = frame > UINT32_MAX ? UINT32_MAX : (uint32_t)frame;
    server->fetcher = qr_fetcher_new(&fconf);
    return qr_fetcher_start(server->fetcher);
}

/* ---- the broker id (Kafka's getOrGenerateBrokerId) ---- */

/* Before storage and before any thread: the id meta.properties holds, the
 * configured one (which must agree with it), or a new one from the
 * ZooKeeper sequence. The server and its log lines then run with it. */
static quire_err_t resolve_broker_id(qr_server_t *server)
{
    qr_brokerconf_t *bconf = server->bconf;
    int32_t stored = -1, id;
    const char *how = "configured";
    char errstr[1024];
    quire_err_t err;

    err = qr_brokermeta_resolve((const char *const *)bconf->log_dirs.v,
                                bconf->log_dirs.n, bconf->broker_id, &stored,
                                errstr, sizeof(errstr));
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("SERVER", "cannot start: %s", errstr);
        return err;
    }
    id = bconf->broker_id;
    if (id < 0 && stored >= 0) {
        id = stored;
        how = "from " QR_BROKERMETA_FILE;
    } else if (id < 0) {
        how = "generated";
        err = qr_brokerseq_next(server->loop, bconf->zookeeper_connect,
                                (int)bconf->zookeeper_session_timeout_ms,
                                (int)bconf->zookeeper_connection_timeout_ms,
                                bconf->reserved_broker_max_id, &id, errstr,
                                sizeof(errstr));
        if (err != QUIRE_ERR_NONE) {
            QR_LOG_ERR("SERVER", "cannot generate a broker id: %s", errstr);
            return err;
        }
    }
    bconf->broker_id = id;
    server->info.broker_id = id;
    qr_log_setup(qr_log_level, qr_log_debug, id);
    QR_LOG_INFO("SERVER", "broker id %d (%s)", id, how);
    return QUIRE_ERR_NONE;
}

/* After storage (the dirs exist and are locked): every online dir without
 * meta.properties gets one, as Kafka's checkpointBrokerId does. */
static quire_err_t store_broker_id(qr_server_t *server)
{
    const qr_brokerconf_t *bconf = server->bconf;
    char errstr[1024];
    int32_t id;

    for (size_t i = 0; i < bconf->log_dirs.n; i++) {
        const char *dir = bconf->log_dirs.v[i];
        if (!qr_logmgr_dir_online(server->logmgr, i) ||
            qr_brokermeta_read(dir, &id, errstr, sizeof(errstr)) !=
                QUIRE_ERR_NOT_FOUND)
            continue;
        if (qr_brokermeta_write(dir, bconf->broker_id, errstr,
                                sizeof(errstr)) != QUIRE_ERR_NONE) {
            QR_LOG_ERR("SERVER", "cannot store the broker id: %s", errstr);
            return QUIRE_ERR_KAFKA_STORAGE_ERROR;
        }
    }
    return QUIRE_ERR_NONE;
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
    err = resolve_broker_id(server);
    if (err == QUIRE_ERR_NONE)
        err = start_storage(server);
    if (err == QUIRE_ERR_NONE)
        err = store_broker_id(server);
    if (err == QUIRE_ERR_NONE)
        err = bind_network(server);
    if (err == QUIRE_ERR_NONE)
        err = start_fetcher(server);
    if (err == QUIRE_ERR_NONE)
        err = start_cluster(server);
    if (err == QUIRE_ERR_NONE)
        err = start_serving(server);
    if (err == QUIRE_ERR_NONE)
        err = start_metrics(server);
    if (err == QUIRE_ERR_NONE)
        start_isr_checks(server);
    if (err == QUIRE_ERR_NONE) {
        char errstr[512];
        err = qr_cluster_start(server->cluster, errstr, sizeof(errstr));
        if (err != QUIRE_ERR_NONE)
            QR_LOG_ERR("SERVER", "coordinator: %s", errstr);
    }
    if (err == QUIRE_ERR_NONE)
        ev_run(server->loop, 0);
    shutdown_all(server);
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
    qr_pidblock_destroy(server->pidblock); /* issue 22 */
    qr_kgsvc_destroy(server->kgroup);      /* issue 13 */
    qr_kasvc_destroy(server->kadmin);     /* issue 13 */
    qr_cluster_destroy(server->cluster);
    qr_fetcher_destroy(server->fetcher);
    for (int i = 0; i < ACTED_BUCKETS; i++)
        while (server->acted[i]) {
            acted_t *a = server->acted[i];
            server->acted[i] = a->next;
            free(a->topic);
            free(a);
        }
    qr_partmap_destroy(server->partmap);
    if (server->loop) {
        ev_signal_stop(server->loop, &server->sigterm);
        ev_signal_stop(server->loop, &server->sigint);
    }
    for (int i = 0; i < ADMIT_BUCKETS; i++)
        while (server->admit.buckets[i]) {
            admit_ip_t *ip = server->admit.buckets[i];
            server->admit.buckets[i] = ip->next;
            free(ip);
        }
    pthread_mutex_destroy(&server->admit.mu);
    for (int i = 0; i < AUTOCREATE_RECENT; i++)
        free(server->acl.recent[i]);
    pthread_mutex_destroy(&server->acl.mu);
    qr_brokerconf_destroy(server->bconf);
    free(server->port_file);
    free(server);
}
