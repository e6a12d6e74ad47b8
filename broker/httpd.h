/*
 * httpd: the broker's small HTTP endpoint for operators (issue 15):
 * /metrics (Prometheus text) and /health, on `metrics.listeners`.
 *
 * HTTP itself is libmicrohttpd's (Debian libmicrohttpd-dev), not ours. It
 * runs on its own internal polling thread rather than on the main loop: a
 * scrape walks every partition, and 200 concurrent scrapes or a slowloris
 * client must not delay ZooKeeper pings (main loop) or requests (network
 * threads). The price is that the handler runs on that thread, so it reads
 * only what is safe from any thread: relaxed atomic counters, and the owners'
 * locks for the partition map and logs (metrics.c says which).
 *
 * Idle connections are closed after QR_HTTPD_TIMEOUT_S of silence, and a
 * request whose headers take longer than QR_HTTPD_HEADER_S (a slowloris
 * trickling a byte at a time) is cut off whatever its pace; at most
 * QR_HTTPD_MAX_CONNS are open at once, QR_HTTPD_MAX_CONNS_IP from one
 * address (beyond that, new ones are refused by the library); GET and
 * HEAD only, other methods get 405, unknown paths 404. One HTTP thread
 * serves every connection, at a lower priority than the broker's own
 * threads (nice + QR_HTTPD_NICE), plus a sweeper thread for late headers.
 */
#ifndef QR_HTTPD_H
#define QR_HTTPD_H

#include <stddef.h>

#include "err.h"

#define QR_HTTPD_TIMEOUT_S    10
#define QR_HTTPD_MAX_CONNS    1024
#define QR_HTTPD_MAX_CONNS_IP 512
#define QR_HTTPD_HEADER_S     5
#define QR_HTTPD_NICE         10
#define QR_HTTPD_MEMORY       16384 /* per connection: request headers */

typedef struct qr_httpd qr_httpd_t;

/**
 * Answers one GET: sets *@p body (owned by the server afterwards, freed
 * with free()), *@p len and *@p ctype (a static string) and returns the
 * HTTP status. Runs on the HTTP thread.
 */
typedef int(qr_httpd_handler_t)(void *opaque, const char *path, char **body,
                                size_t *len, const char **ctype);

/**
 * @brief Starts serving @p url ("http://HOST:PORT"; HOST an IPv4 or
 * bracketed IPv6 literal or a name; PORT 0 picks a free one).
 * @param handler, opaque  borrowed; called for every request until
 *        qr_httpd_stop() returns.
 * @returns owned (qr_httpd_stop()), or NULL with one line in @p errstr.
 * @locality main loop  @locks none
 */
qr_httpd_t *qr_httpd_start(const char *url, qr_httpd_handler_t *handler,
                           void *opaque, char *errstr, size_t errstr_size);

/** @brief The bound port. @locality any @locks none */
int qr_httpd_port(const qr_httpd_t *hd);

/**
 * @brief Stops the thread (no handler runs afterwards) and frees. NULL is
 * fine.
 * @locality main loop  @locks none
 */
void qr_httpd_stop(qr_httpd_t *hd);

#endif /* QR_HTTPD_H */
