/*
 * brokerseq: broker ids generated from a ZooKeeper sequence, as Kafka's
 * broker.id.generation.enable does (KAFKA-1070).
 *
 * /brokers/seqid is a persistent znode whose data version is the sequence:
 * each unconditional setData bumps it by one, atomically, for whoever
 * asks. A broker without an id takes reserved.broker.max.id + that
 * version, so generated ids never collide with configured ones (which
 * must stay <= reserved.broker.max.id) nor with each other. The broker
 * keeps its id in meta.properties (broker/brokermeta.h), so this runs once
 * in a broker's life.
 */
#ifndef QR_BROKERSEQ_H
#define QR_BROKERSEQ_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct ev_loop;

/** The sequence node, under the chroot of zookeeper.connect. */
#define QR_ZNODE_BROKER_SEQID "/brokers/seqid"

/**
 * @brief Takes the next broker id: a short session of its own, one
 * setData on /brokers/seqid (created, with /brokers, when missing), closed
 * before returning.
 * @param loop a loop that is not running (the broker's main loop before
 *        ev_run()): it is run until each call completes.
 * @param zk_connect zookeeper.connect (borrowed).
 * @param reserved_max reserved.broker.max.id.
 * @param idp set to reserved_max + the sequence number (> reserved_max).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_ZK / QUIRE_ERR_TIMED_OUT with a line
 *          in @p errstr; QUIRE_ERR_STATE when the id would pass INT32_MAX.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_brokerseq_next(struct ev_loop *loop, const char *zk_connect,
                              int session_timeout_ms, int timeout_ms,
                              int32_t reserved_max, int32_t *idp, char *errstr,
                              size_t errstr_size);

#endif /* QR_BROKERSEQ_H */
