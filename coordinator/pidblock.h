/*
 * pidblock: producer ids for idempotent producers (issue 22), handed out
 * from blocks reserved in ZooKeeper as Kafka 1.1+ does
 * (ProducerIdManager, ZooKeeper mode).
 *
 * /latest_producer_id_block holds the last block any broker took:
 *   {"version":1,"broker":<id>,"block_start":"<first>","block_end":"<last>"}
 * (Kafka writes the bounds as strings). A broker takes the next
 * QR_PIDBLOCK_SIZE ids by reading the node and writing the following block
 * with a conditional set on the version it read (BADVERSION: another
 * broker was first; read again). A missing node is created with the first
 * block [0, 999]. So no two brokers ever hand out the same id, and ids
 * survive every restart (a broker's unused ids are simply skipped).
 *
 * Threads: ids are taken on network threads (qr_pidblock_next(), under a
 * mutex); ZooKeeper runs on the main loop only. The next block is fetched
 * ahead, when 90% of the current one is used (Kafka's prefetch), by waking
 * the main loop through an ev_async; a request arriving while no id is
 * left gets COORDINATOR_LOAD_IN_PROGRESS (retriable, as Kafka's
 * RPCProducerIdManager answers).
 */
#ifndef QR_PIDBLOCK_H
#define QR_PIDBLOCK_H

#include <stdint.h>

#include "err.h"
#include "zk.h"

#define QR_PIDBLOCK_PATH "/latest_producer_id_block"
#define QR_PIDBLOCK_SIZE 1000

typedef struct qr_pidblock qr_pidblock_t;

/**
 * @brief A source of producer ids with no block yet.
 * @returns owned (qr_pidblock_destroy()).
 * @locality main loop  @locks none
 */
qr_pidblock_t *qr_pidblock_new(struct ev_loop *loop, int32_t broker_id);

/**
 * @brief Starts reserving blocks through @p zk (a connected session; call
 * again after a new session, it is idempotent). The first block is taken
 * at once.
 * @param zk borrowed; must outlive @p pb or be detached with
 *        qr_pidblock_detach().
 * @locality main loop  @locks takes pb's mutex
 */
void qr_pidblock_attach(qr_pidblock_t *pb, qr_zk_t *zk);

/** @brief Stops using the session (before it is destroyed).
 * @locality main loop @locks takes pb's mutex */
void qr_pidblock_detach(qr_pidblock_t *pb);

/**
 * @brief Takes the next producer id.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_COORDINATOR_LOAD_IN_PROGRESS when no
 *          block is ready (one is being fetched: retry).
 * @locality any  @locks takes pb's mutex
 */
quire_err_t qr_pidblock_next(qr_pidblock_t *pb, int64_t *producer_id);

/** @brief Frees it (detaches first). NULL is fine. @locality main loop */
void qr_pidblock_destroy(qr_pidblock_t *pb);

/**
 * @brief The node's JSON for a block.
 * @returns owned string (free()).
 * @locality any  @locks none
 */
char *qr_pidblock_json(int32_t broker_id, int64_t start, int64_t end);

/**
 * @brief Parses the node's JSON (bounds as strings, as Kafka writes them,
 * or numbers).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_BAD_JSON.
 * @locality any  @locks none
 */
quire_err_t qr_pidblock_parse(const char *data, int len, int32_t *broker_id,
                              int64_t *start, int64_t *end);

#endif /* QR_PIDBLOCK_H */
