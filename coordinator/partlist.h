/*
 * partlist: the partition lists of Kafka's admin znodes and tool files
 * (issue 16, item 10), in Kafka 0.8.2's JSON:
 *   /admin/preferred_replica_election and quire-leader-election's
 *   --path-to-json-file:
 *     {"version":1,"partitions":[{"topic":"t","partition":0},...]}
 *   /admin/reassign_partitions and quire-reassign-partitions'
 *   --reassignment-json-file:
 *     {"version":1,"partitions":[{"topic":"t","partition":0,
 *                                 "replicas":[2,3]},...]}
 * "version", when present, must be 1 (tool files may leave it out, as
 * Kafka's do). Every entry is checked: a valid topic name, a partition
 * >= 0, no (topic, partition) twice; with replicas: a non-empty list of
 * ids >= 0, none twice. Pure: no ZooKeeper.
 */
#ifndef QR_PARTLIST_H
#define QR_PARTLIST_H

#include <stddef.h>
#include <stdint.h>

#include "assign.h"
#include "err.h"

typedef struct qr_partlist_entry {
    char *topic; /* owned */
    int32_t partition;
    qr_replicas_t replicas; /* ids owned; n == 0 when not carried */
} qr_partlist_entry_t;

typedef struct qr_partlist {
    qr_partlist_entry_t *v; /* owned */
    size_t n;
} qr_partlist_t;

/**
 * @brief Parses @p len bytes of @p data.
 * @param with_replicas 1: every entry must carry "replicas" (reassignment);
 *        0: "replicas" is not read (preferred replica election).
 * @param out filled on success (owned: qr_partlist_free()).
 * @returns QUIRE_ERR_NONE, or BAD_JSON with one line in @p errstr naming
 *          the entry at fault.
 * @locality any  @locks none
 */
quire_err_t qr_partlist_decode(const char *data, size_t len, int with_replicas,
                               qr_partlist_t *out, char *errstr,
                               size_t errstr_size);

/**
 * @brief Kafka's JSON of @p pl (with "replicas" when @p with_replicas).
 * @returns owned string (free()).
 * @locality any  @locks none
 */
char *qr_partlist_encode(const qr_partlist_t *pl, int with_replicas);

/** @brief Appends an entry (@p topic copied; @p ids, @p n copied, may be
 * NULL/0). @locality any @locks none */
void qr_partlist_add(qr_partlist_t *pl, const char *topic, int32_t partition,
                     const int32_t *ids, size_t n);

/** @brief The entry for (@p topic, @p partition), or NULL. @locality any
 * @locks none */
qr_partlist_entry_t *qr_partlist_find(const qr_partlist_t *pl,
                                      const char *topic, int32_t partition);

/** @brief Removes entry @p i, keeping the order. @locality any @locks none */
void qr_partlist_remove(qr_partlist_t *pl, size_t i);

/** @brief Whether @p id is among the @p n ids of @p ids. @locality any
 * @locks none */
int qr_partlist_has_id(const int32_t *ids, size_t n, int32_t id);

/** @brief Frees what @p pl owns and zeroes it. Accepts NULL. @locality any
 * @locks none */
void qr_partlist_free(qr_partlist_t *pl);

#endif /* QR_PARTLIST_H */
