/*
 * clientcli: what the client tools (quire-console-producer,
 * quire-console-consumer, quire-perf) share beyond tools/cli.h: pointing a
 * libquire conf at the cluster (--bootstrap-server, or --zookeeper whose
 * /brokers/ids registrations give the bootstrap list), and
 * --property/--producer-property key=value handling.
 */
#ifndef QR_CLIENTCLI_H
#define QR_CLIENTCLI_H

#include <stddef.h>

#include "quire.h"

/** How long finding the brokers through ZooKeeper may take. */
#define QR_CCLI_ZK_TIMEOUT_MS 10000

/**
 * @brief Sets bootstrap.servers on @p conf: @p bootstrap when given, else
 * the host:port of every broker registered under /brokers/ids in
 * @p zookeeper.
 * @returns 0; -1 after printing the reason (usage error for a bad value,
 *          runtime error when ZooKeeper or the brokers cannot be reached):
 *          *@p exit_code says which exit code to use.
 * @locality main thread  @locks none
 */
int qr_ccli_set_brokers(quire_conf_t *conf, const char *prog,
                        const char *bootstrap, const char *zookeeper,
                        int *exit_code);

/**
 * @brief Sets @p key to @p value in @p conf (--acks, --compression).
 * @returns 0, or -1 after printing the usage error quire_conf_set() gave.
 * @locality main thread  @locks none
 */
int qr_ccli_conf_set(quire_conf_t *conf, const char *prog, const char *key,
                     const char *value);

/**
 * @brief Applies "key=value" to @p conf.
 * @returns 0, or -1 after printing a usage error naming the key.
 * @locality main thread  @locks none
 */
int qr_ccli_conf_kv(quire_conf_t *conf, const char *prog, const char *kv);

/**
 * @brief Reports a failed quire_producer_new() / quire_consumer_new():
 * a bad configuration is a usage error, anything else (ZooKeeper or the
 * brokers unreachable) a runtime failure.
 * @param errstr borrowed: what the constructor said.
 * @returns the exit code: QR_CLI_EXIT_USAGE or QR_CLI_EXIT_ERROR.
 * @locality any  @locks none
 */
int qr_ccli_new_failed(const char *prog, quire_err_t err, const char *errstr);

#endif /* QR_CLIENTCLI_H */
