/*
 * api_metadata: the Metadata API (Kafka key 3), answered from the
 * coordinator's immutable snapshot (coordinator/meta.h): brokers, the
 * controller, topics, partitions, leaders, replicas and ISR. A topic asked
 * for by name that does not exist is auto-created when both the broker
 * (auto.create.topics.enable) and the request allow it, and reported as
 * LEADER_NOT_AVAILABLE until it has leaders, as Kafka does.
 */
#ifndef QR_API_METADATA_H
#define QR_API_METADATA_H

#include "request.h"

/**
 * @brief Answers at once.
 * @locality net thread  @locks the coordinator's snapshot mutex, briefly
 */
void qr_api_metadata(qr_reqctx_t *ctx);

#endif /* QR_API_METADATA_H */
