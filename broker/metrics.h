/*
 * metrics: the broker's Prometheus exposition and health answer (issue 15),
 * served by httpd.c on `metrics.listeners`.
 *
 * Counters live in the modules that own what they count and are read here,
 * never pushed (DESIGN.md §9): the network threads' qr_nt_stats_t (summed
 * over threads), the flusher's qr_flusher_stats_t, the partition logs'
 * offsets and sizes, and qr_metrics_state_t below for what only the main
 * loop knows (the ZooKeeper session, registration, the controller role).
 *
 * Threads: everything here runs on the HTTP thread. It reads relaxed
 * atomics, takes the partition map's read lock through qr_partmap_all()
 * (holding entry references, not the lock, while it walks them), and the
 * logs' and replica sets' own locks through their getters. The main loop
 * writes qr_metrics_state_t with atomic stores only.
 */
#ifndef QR_METRICS_H
#define QR_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qr_server qr_server_t;

/** What the main loop knows, mirrored into atomics for the HTTP thread. */
typedef struct qr_metrics_state {
    atomic_int serving;      /* listeners and network threads started */
    atomic_int registered;   /* /brokers/ids/<id> holds this broker */
    atomic_int zk_connected; /* the session is connected now */
    atomic_int controller;   /* this broker is the controller */
    atomic_int stopping;     /* shutdown under way */
    atomic_uint_fast64_t zk_disconnects; /* connection losses */
    atomic_uint_fast64_t zk_reconnects;  /* the same session came back */
    atomic_uint_fast64_t zk_expirations; /* sessions expired */
    /* the last rendered /metrics (metrics.cache.ms); the HTTP thread's
     * only, freed by qr_metrics_cache_free() once it has stopped */
    char *cache;
    size_t cache_len;
    int64_t cache_at_ms; /* monotonic */
} qr_metrics_state_t;

/**
 * @brief Frees the cached /metrics.
 * @locality main loop, after the HTTP thread stopped  @locks none
 */
void qr_metrics_cache_free(qr_metrics_state_t *st);

/** Content type of the exposition (Prometheus text format 0.0.4). */
#define QR_METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/**
 * @brief Renders every metric of @p server in the Prometheus text format.
 * @param out set to an owned, NUL-terminated buffer (free()).
 * @param len set to its length.
 * @locality any (the HTTP thread)  @locks takes the partition map's read
 *           lock, the logs' segment locks, the replica sets' mutexes
 */
void qr_metrics_render(qr_server_t *server, char **out, size_t *len);

/**
 * @brief Whether the broker is healthy: serving, connected to ZooKeeper and
 * registered there, not shutting down.
 * @param why set to a static one-line reason when not healthy.
 * @returns 1 when healthy, 0 otherwise.
 * @locality any  @locks none
 */
int qr_metrics_healthy(const qr_metrics_state_t *st, const char **why);

/**
 * @brief The httpd handler (qr_httpd_handler_t) for a broker: /metrics,
 * /health (200 "ok", or 503 and the reason), 404 for anything else.
 * @param opaque the qr_server_t.
 * @locality the HTTP thread  @locks as qr_metrics_render()
 */
int qr_metrics_http(void *opaque, const char *path, char **body, size_t *len,
                    const char **ctype);

#endif /* QR_METRICS_H */
