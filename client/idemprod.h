/*
 * idemprod: the idempotent producer's side of issue 22 (Kafka's
 * TransactionManager for an idempotent, non-transactional producer).
 *
 * Before its first batch the producer asks a broker for a producer id and
 * epoch (InitProducerId); until it has one nothing is drained. Each
 * partition's batches are then numbered when first sent: the batch's
 * producerId, producerEpoch and baseSequence header fields are set before
 * the batch is finished, so the CRC covers them, and the partition's next
 * sequence moves on by the batch's record count (wrapping at INT32_MAX to
 * 0). A retried batch is already finished: it keeps its numbers, so the
 * broker recognises a batch it already wrote and answers with the
 * original offsets instead of writing it again.
 *
 * A numbered batch that fails for good (delivery.timeout.ms, retries used
 * up, OUT_OF_ORDER_SEQUENCE_NUMBER, ...) leaves a hole or an unknown in its
 * partition's sequence: the epoch is bumped locally (KIP-360, Kafka 2.5+)
 * and every partition's sequence starts again at 0 for batches not
 * numbered yet; INVALID_PRODUCER_EPOCH (fenced) and UNKNOWN_PRODUCER_ID,
 * or an epoch at its maximum, get a new producer id instead.
 *
 * Order: a partition has one request in flight (accum.h), and a request
 * never mixes retried batches with fresh ones, so what the broker sees of
 * a partition is always in sequence.
 *
 * Threads: the client's loop thread only.
 */
#ifndef QR_IDEMPROD_H
#define QR_IDEMPROD_H

#include <stdint.h>

#include "accum.h"
#include "client.h"

typedef struct qr_idemprod qr_idemprod_t;

/**
 * @brief Decides enable.idempotence from the conf (Kafka 3.2+'s rules):
 * explicitly true with acks other than all, retries 0 or
 * max.in.flight.requests.per.connection above 5 is a config error; left
 * unset, those settings turn it off (logged once).
 * @param on set to 1 when idempotence is on.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_CONF_INVALID (@p errstr says why).
 * @locality any  @locks none
 */
quire_err_t qr_idemprod_conf(const quire_conf_t *conf, int *on, char *errstr,
                             size_t errstr_size);

/**
 * @brief A state with no producer id yet.
 * @param explicit_on enable.idempotence was set to true: a broker that does
 *        not know InitProducerId (UNSUPPORTED_VERSION, an older quire) is
 *        asked again until delivery.timeout.ms fails the records; left
 *        unset, idempotence is turned off instead (logged), as Kafka's
 *        client does with brokers older than 0.11.
 * @returns owned, NULL when out of memory. @locality any @locks none */
qr_idemprod_t *qr_idemprod_new(int explicit_on);

/** @brief Frees it; NULL is fine. @locality loop @locks none */
void qr_idemprod_destroy(qr_idemprod_t *ip);

/**
 * @brief Whether batches may be numbered; if not, sends InitProducerId to
 * a connected leader (one at a time, retry.backoff.ms after a failure) and
 * asks the client to run again.
 * @returns 1 when a producer id is known.
 * @locality loop  @locks none
 */
int qr_idemprod_ready(qr_idemprod_t *ip, qr_client_t *cl);

/**
 * @brief Numbers @p b unless it is finished already (a retry keeps its
 * numbers). Call right before qr_accum_finish().
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_NO_MEMORY.
 * @locality loop  @locks none (the drained batch is the loop's)
 */
quire_err_t qr_idemprod_stamp(qr_idemprod_t *ip, qr_pbatch_t *b);

/**
 * @brief A batch is reported failed with @p err: if it was numbered, bump
 * the epoch or ask for a new producer id (see above).
 * @locality loop  @locks none
 */
void qr_idemprod_failed(qr_idemprod_t *ip, const qr_pbatch_t *b,
                        quire_err_t err);

/** @brief Takes @p pid and @p epoch as InitProducerId's answer (every
 * sequence starts at 0). @locality loop @locks none */
void qr_idemprod_set(qr_idemprod_t *ip, int64_t pid, int16_t epoch);

/** @brief The producer id and epoch (-1 when none), for tests. */
void qr_idemprod_get(const qr_idemprod_t *ip, int64_t *pid, int16_t *epoch);

#endif /* QR_IDEMPROD_H */
