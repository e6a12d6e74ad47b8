/*
 * api_fetch: the Fetch API (Kafka key 1).
 *
 * Record bytes never pass through user space: each partition's whole
 * batches are found by the partition log (qr_plog_read) and sent with
 * sendfile(2) from the pinned segment file after the encoded header.
 * Limits follow Kafka (KIP-74): partition_max_bytes per partition and
 * max_bytes per response, except that the first batch of the first
 * non-empty partition is returned whole even when larger, so a consumer
 * never stalls on a big message (KAFKA-160).
 *
 * Long poll: when fewer than min_bytes are available the fetch parks on
 * its partitions (partmap waiters) and on a max_wait_ms timer; an append
 * to any of them posts it back to its network thread, which reads again.
 * A parked fetch holds no segment and costs no CPU.
 */
#ifndef QR_API_FETCH_H
#define QR_API_FETCH_H

#include "request.h"

/**
 * @brief Handles a Fetch request (may complete later).
 * @locality net thread  @locks segs_lock (read) inside qr_plog_read()
 */
void qr_api_fetch(qr_reqctx_t *ctx);

#endif /* QR_API_FETCH_H */
