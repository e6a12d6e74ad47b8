/*
 * server: the broker as a whole (DESIGN.md §4). It owns the config, the
 * main loop (ZooKeeper through the coordinator, signals, the acceptor),
 * the network threads, the partition table and the storage, and runs the
 * start-up and shutdown sequences:
 *
 *   start: open log dirs (recovery) -> bind listeners -> start threads ->
 *          start the coordinator session -> once registered, write the
 *          port file.
 *   stop (SIGTERM/SIGINT): stop accepting -> threads finish what is in
 *          flight and close their connections -> flush and close every
 *          partition (clean-shutdown marker) -> deregister and close the
 *          session -> exit 0.
 */
#ifndef QR_SERVER_H
#define QR_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "brokerconf.h"
#include "err.h"
#include "netthread.h"

typedef struct qr_meta qr_meta_t;
typedef struct qr_partmap qr_partmap_t;

/** What the Metadata and ApiVersions handlers need to know about us. */
typedef struct qr_server_info {
    int32_t broker_id;
    const char *host; /* advertised host */
    int port;         /* advertised port (the bound one with port 0) */
} qr_server_info_t;

/**
 * @brief Builds a server from @p bconf (checked with qr_brokerconf_check()).
 * @param bconf taken on success only (freed by qr_server_destroy()).
 * @param port_file where to write "host:port" once serving; NULL: nowhere.
 *        Copied.
 * @returns owned, or NULL with the reason in @p errstr.
 * @locality main thread  @locks none
 */
qr_server_t *qr_server_new(qr_brokerconf_t *bconf, const char *port_file,
                           char *errstr, size_t errstr_size);

/**
 * @brief Starts everything and runs the main loop until SIGTERM/SIGINT
 * (or a fatal coordinator error), then shuts down in order.
 * @returns QUIRE_ERR_NONE after a clean shutdown (exit 0); another code
 *          after a start-up or fatal failure (exit 1), with the reason
 *          logged.
 * @locality main thread  @locks none
 */
quire_err_t qr_server_run(qr_server_t *server);

/**
 * @brief Asks the server to shut down, as SIGTERM does.
 * @locality main loop  @locks none
 */
void qr_server_stop(qr_server_t *server);

/** @brief Frees the server and its config. NULL is fine.
 * @locality main thread  @locks none */
void qr_server_destroy(qr_server_t *server);

/** @brief The config (read-only, shared by every thread).
 * @locality any  @locks none */
const qr_brokerconf_t *qr_server_conf(const qr_server_t *server);

/** @brief Who we are, for the APIs. @returns borrowed for the server's
 * lifetime. @locality any (after start-up) @locks none */
const qr_server_info_t *qr_server_info(const qr_server_t *server);

/** @brief Producer ids for InitProducerId (issue 22; pidblock.h).
 * @locality any @locks none */
struct qr_pidblock *qr_server_pidblock(qr_server_t *server);
/** @brief The Kafka-protocol group coordinator (issue 13; api_kgroup.h).
 * @locality any @locks none */
struct qr_kgsvc *qr_server_kgroup(qr_server_t *server);
/** @brief The Kafka-protocol topic administration (issue 13;
 * api_kadmin.h). @locality any @locks none */
struct qr_kasvc *qr_server_kadmin(qr_server_t *server);
/**
 * @brief Asks the main loop to run the ISR checks now (a follower may
 * join an ISR), instead of at the next replica.lag.time.max.ms / 2.
 * @locality any  @locks none (ev_async)
 */
void qr_server_isr_kick(qr_server_t *server);

/** @brief The partition table. @locality any @locks none */
qr_partmap_t *qr_server_partmap(qr_server_t *server);

/**
 * @brief The current cluster snapshot.
 * @returns an owned reference (qr_meta_release()); never NULL.
 * @locality any  @locks takes the coordinator's snapshot mutex briefly
 */
qr_meta_t *qr_server_meta(qr_server_t *server);

/**
 * @brief Asks the coordinator to create @p topic (auto-creation), within
 * auto.create.topics.max.partitions and auto.create.topics.per.minute.
 * @param cluster_partitions partitions the cluster holds now (from the
 *        caller's snapshot).
 * @returns as qr_cluster_topic_autocreate(), or POLICY_VIOLATION past the
 *          partition bound, THROTTLING_QUOTA_EXCEEDED past the rate (a name
 *          already charged in the last AUTOCREATE_RECENT is not charged
 *          again).
 * @locality any  @locks takes the limiter's mutex
 */
quire_err_t qr_server_autocreate(qr_server_t *server, const char *topic,
                                 uint64_t cluster_partitions);

/** @brief Connections admitted and not yet gone, over every thread.
 * @locality any  @locks takes the admission mutex */
uint64_t qr_server_conns_open(qr_server_t *server);

/**
 * @brief Admits a new connection from @p sa under max.connections and
 * max.connections.per.ip; every admitted connection ends with exactly one
 * qr_server_conn_leave() for the same address.
 * @returns QUIRE_ERR_NONE, QUEUE_FULL (max.connections) or
 *          POLICY_VIOLATION (max.connections.per.ip).
 * @locality any  @locks takes the admission mutex
 */
quire_err_t qr_server_conn_admit(qr_server_t *server,
                                 const struct sockaddr *sa);

/** @brief Ends what qr_server_conn_admit() admitted.
 * @locality any  @locks takes the admission mutex */
void qr_server_conn_leave(qr_server_t *server, const struct sockaddr *sa);

/**
 * @brief Charges @p n bytes of request memory (read buffers, parked
 * fetches) to queued.max.request.bytes if anything is left of it.
 * @returns 1 when charged, 0 when the budget is used up (wait and retry).
 * @locality any  @locks none (atomic)
 */
int qr_server_mem_try(qr_server_t *server, size_t n);

/** @brief Charges @p n bytes whatever the budget says (memory already
 * taken). @locality any @locks none */
void qr_server_mem_add(qr_server_t *server, size_t n);

/** @brief Returns @p n charged bytes. @locality any @locks none */
void qr_server_mem_sub(qr_server_t *server, size_t n);

/** @brief Bytes charged now. @locality any @locks none */
uint64_t qr_server_mem_used(qr_server_t *server);

/**
 * @brief Formats "a.b.c.d:port" or "[v6]:port".
 * @locality any  @locks none
 */
void qr_server_format_addr(const struct sockaddr *sa, char *out, size_t outsz);

/**
 * @brief Writes @p text to @p path through a temporary file and rename(),
 * so a reader never sees a partial file (STYLE.md §7).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_IO with the reason in @p errstr.
 * @locality any  @locks none
 */
quire_err_t qr_server_write_port_file(const char *path, const char *text,
                                      char *errstr, size_t errstr_size);

/* ---- what metrics.c reads (issue 15) ---- */

/** @brief Number of network threads. @locality any @locks none */
int qr_server_netthread_count(const qr_server_t *server);

/** @brief Network thread @p i (< the count). @returns borrowed, valid
 * while the server lives. @locality any @locks none */
qr_netthread_t *qr_server_netthread(qr_server_t *server, int i);

/** @brief The partition logs' flusher, NULL before storage started.
 * @returns borrowed, valid until shutdown begins (the HTTP thread is
 * stopped first). @locality any @locks none */
struct qr_flusher *qr_server_flusher(qr_server_t *server);

/** @brief The main loop's state mirrored for metrics and /health.
 * @returns borrowed, valid while the server lives. @locality any */
struct qr_metrics_state *qr_server_mstate(qr_server_t *server);

#endif /* QR_SERVER_H */
