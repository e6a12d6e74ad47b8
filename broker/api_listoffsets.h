/*
 * api_listoffsets: the ListOffsets API (Kafka key 2): earliest (-2),
 * latest (-1) or the first offset whose batch has a timestamp at or after
 * the one given (through the time indexes).
 */
#ifndef QR_API_LISTOFFSETS_H
#define QR_API_LISTOFFSETS_H

#include "request.h"

/**
 * @brief Answers at once.
 * @locality net thread  @locks segs_lock (read) inside the partition log
 */
void qr_api_listoffsets(qr_reqctx_t *ctx);

#endif /* QR_API_LISTOFFSETS_H */
