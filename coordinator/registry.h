/*
 * registry: this broker's registration, the ephemeral /brokers/ids/<id>
 * (issue 4, item 4).
 *
 * On every new session it creates the persistent roots (/brokers/ids,
 * /brokers/topics, /config/topics, /admin/delete_topics, /consumers) if
 * missing, then the ephemeral registration. If the node already exists:
 *   - its ephemeralOwner is our session: it is ours (a retry after a lost
 *     reply), accepted;
 *   - otherwise, at the first registration of this process: another live
 *     broker has our id: a FATAL report naming the id;
 *   - otherwise (after an expiry): it is most likely our previous session's
 *     node, not yet removed by the server: wait for it to go and retry
 *     (Kafka's KAFKA-1387 fix).
 */
#ifndef QR_REGISTRY_H
#define QR_REGISTRY_H

#include <stdint.h>

#include "err.h"
#include "zk.h"

typedef struct qr_registry qr_registry_t;

/** Reports a registration (err NONE) or a fatal refusal (err EXISTS, with
 * @p msg naming the id). @p msg is borrowed for the call. */
typedef void(qr_registry_cb_t)(qr_registry_t *reg, quire_err_t err,
                               const char *msg, void *opaque);

/**
 * @brief Starts registering broker @p id at @p host:@p port on @p zk's
 * sessions (at once if connected), and at @p host:@p kafka_port for Kafka's
 * protocol when it is not 0 (issue 13).
 * @param zk borrowed; must outlive the registry.  @param host copied.
 * @param opaque borrowed, passed to @p cb.
 * @returns owned: qr_registry_destroy().
 * @locality main loop  @locks none
 */
qr_registry_t *qr_registry_new(qr_zk_t *zk, int32_t id, const char *host,
                               int port, int kafka_port, qr_registry_cb_t *cb,
                               void *opaque);

/** @brief Whether the registration currently exists and is ours.
 * @locality main loop @locks none */
int qr_registry_registered(const qr_registry_t *reg);

/**
 * @brief Deletes the registration (when connected; fire and forget) and
 * frees @p reg. Accepts NULL.
 * @locality main loop  @locks none
 */
void qr_registry_destroy(qr_registry_t *reg);

/**
 * @brief Creates the persistent roots, parents first, ignoring the ones
 * that exist. @p cb gets the last create's result (ZOK or ZNODEEXISTS mean
 * all exist; the session applies requests in order).
 * @returns as qr_zk_create().
 * @locality main loop  @locks none
 */
quire_err_t qr_registry_create_roots(qr_zk_t *zk, qr_zk_cb_t *cb, void *owner,
                                     void *arg);

#endif /* QR_REGISTRY_H */
