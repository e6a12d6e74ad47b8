/*
 * api_initpid: the InitProducerId API (Kafka key 22, issue 22): hands an
 * idempotent producer a producer id (from this broker's block, see
 * coordinator/pidblock.h) and epoch 0. Any broker answers (no
 * transactions, so no transaction coordinator): a transactional_id is
 * refused with INVALID_REQUEST.
 */
#ifndef QR_API_INITPID_H
#define QR_API_INITPID_H

#include "request.h"

/**
 * @brief Answers at once: an id, or COORDINATOR_LOAD_IN_PROGRESS while
 * the broker has no block yet (the client retries).
 * @locality net thread  @locks the id block's mutex
 */
void qr_api_initpid(qr_reqctx_t *ctx);

#endif /* QR_API_INITPID_H */
