/*
 * topic: topic-name rules, checked before a name touches a path or a znode
 * (DESIGN.md §3): [A-Za-z0-9._-]{1,249}, and not "." or "..".
 */
#ifndef QR_TOPIC_H
#define QR_TOPIC_H

#include <stddef.h>

#include "err.h"

/** Longest legal topic name, as in Kafka. */
#define QR_TOPIC_NAME_MAX 249

/**
 * @brief Checks @p name (of @p len bytes; it need not be NUL-terminated and
 * may contain NULs, which are refused).
 * @param why if non-NULL, set to a static reason on failure.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_INVALID_TOPIC_EXCEPTION.
 * @locality any  @locks none
 */
quire_err_t qr_topic_name_check(const char *name, size_t len, const char **why);

#endif /* QR_TOPIC_H */
