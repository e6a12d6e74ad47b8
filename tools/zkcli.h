/*
 * zkcli: what the ZooKeeper admin tools (quire-topics,
 * quire-consumer-groups, quire-load, quire-leader-election,
 * quire-reassign-partitions) share: a connected session on a default loop,
 * and reading a JSON file argument.
 */
#ifndef QR_ZKCLI_H
#define QR_ZKCLI_H

#include <stddef.h>

#include "partlist.h"
#include "zk.h"

/**
 * @brief Connects to @p connect (waits at most @p timeout_ms).
 * @returns owned (qr_zkcli_close()), or NULL after printing the error;
 *          *@p rc is then the exit status (usage or failure).
 * @locality main thread  @locks none
 */
qr_zk_t *qr_zkcli_open(const char *prog, const char *connect, int verbose,
                       int timeout_ms, int *rc);

/** @brief Closes @p zk and its loop; NULL is ignored.
 *  @locality main thread @locks none */
void qr_zkcli_close(qr_zk_t *zk);

/**
 * @brief Reads all of @p path (at most 64 MiB).
 * @returns owned, NUL-terminated, with *@p len; NULL after printing the
 *          error (@p opt names the option).
 * @locality main thread  @locks none
 */
char *qr_zkcli_read_file(const char *prog, const char *opt, const char *path,
                         size_t *len);

/**
 * @brief Reads a partition list file (qr_partlist_decode()) given as
 * option @p opt; an empty list is refused.
 * @returns 0 with @p out filled (owned), or -1 after printing the error.
 * @locality main thread  @locks none
 */
int qr_zkcli_load_partlist(const char *prog, const char *opt, const char *path,
                           int with_replicas, qr_partlist_t *out);

#endif /* QR_ZKCLI_H */
