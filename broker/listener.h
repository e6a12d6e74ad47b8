/*
 * listener: the listening sockets of `listeners=` and the acceptor.
 *
 * Sockets are accepted on the main loop and handed round-robin to the
 * network threads through their bounded rings (netthread.h). When every
 * ring is full the acceptor stops for a short while instead of queueing
 * more: the kernel's backlog is the only queue left, and it is bounded too.
 * max.connections is enforced here.
 */
#ifndef QR_LISTENER_H
#define QR_LISTENER_H

#include <ev.h>
#include <stdatomic.h>

#include "brokerconf.h"
#include "err.h"
#include "netthread.h"

typedef struct qr_listener qr_listener_t;

/**
 * @brief Binds and listens on @p la (both IPv6 and IPv4 for an empty host,
 * one socket per address the host resolves to otherwise); nothing is
 * accepted before qr_listener_start().
 * @param nts borrowed array of @p nt_cnt threads; outlives the listener.
 * @param conns_open borrowed counter shared by every listener, decremented
 *        by whoever closes a connection; compared with max.connections.
 * @returns owned listener or NULL with the reason (address, errno text) in
 *          @p errstr.
 * @locality main loop  @locks none
 */
qr_listener_t *qr_listener_new(struct ev_loop *loop,
                               const qr_listener_addr_t *la,
                               const qr_brokerconf_t *bconf,
                               qr_netthread_t **nts, int nt_cnt, char *errstr,
                               size_t errstr_size);

/**
 * @brief The port actually bound (useful with port 0).
 * @locality main loop  @locks none
 */
int qr_listener_port(const qr_listener_t *lsn);

/** @brief Starts accepting. @locality main loop @locks none */
void qr_listener_start(qr_listener_t *lsn);

/**
 * @brief Stops accepting and closes the listening sockets (connections
 * already accepted are not touched).
 * @locality main loop  @locks none
 */
void qr_listener_close(qr_listener_t *lsn);

/** @brief Closes and frees; NULL is fine. @locality main loop */
void qr_listener_destroy(qr_listener_t *lsn);

#endif /* QR_LISTENER_H */
