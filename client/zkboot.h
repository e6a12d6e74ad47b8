/*
 * zkboot: reads the brokers registered in ZooKeeper (/brokers/ids, Kafka's
 * layout, DESIGN.md §5) to seed a client configured with zookeeper.connect
 * instead of bootstrap.servers. One short session, driven on the calling
 * thread with a deadline; see zkboot.c.
 */
#ifndef QR_ZKBOOT_H
#define QR_ZKBOOT_H

#include <stddef.h>

#include "err.h"

/**
 * @brief The "host:port,..." list of every broker registered under
 * /brokers/ids of @p connect ("host:port[,...][/chroot]").
 * @param session_ms  the session timeout asked of ZooKeeper.
 * @param timeout_ms  the deadline for the whole lookup.
 * @param listp       out: owned (free()) on success.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_INVALID for a connect string the
 *          ZooKeeper client refuses; QUIRE_ERR_ZK_CONNECTION_LOSS when no
 *          session came up in time; QUIRE_ERR_ALL_BROKERS_DOWN when no
 *          broker is registered (or the list could not be read);
 *          QUIRE_ERR_NO_MEMORY. @p errstr says which, in one line.
 * @locality the application's thread (before the client's loop runs)
 * @locks none
 */
quire_err_t qr_zkboot_brokers(const char *connect, int session_ms,
                              int timeout_ms, char **listp, char *errstr,
                              size_t errstr_size);

#endif /* QR_ZKBOOT_H */
