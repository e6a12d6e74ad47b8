/*
 * api_apiversions: the ApiVersions API (Kafka key 18): the table of APIs and
 * versions this broker serves, from proto/wire.c.
 */
#ifndef QR_API_APIVERSIONS_H
#define QR_API_APIVERSIONS_H

#include "request.h"

/**
 * @brief Answers at once with the version table.
 * @locality net thread  @locks none
 */
void qr_api_apiversions(qr_reqctx_t *ctx);

#endif /* QR_API_APIVERSIONS_H */
