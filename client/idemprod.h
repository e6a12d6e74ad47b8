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
 * or an epoch at its maximum, get a new producer id instead. Either waits
 * until no batch is in flight (nothing is drained meanwhile), as Kafka's
 * producer does: a batch of the old epoch retried after one of the new
 * had been written would be fenced.
 *
 * Order: a partition has up to max.in.flight.requests.per.connection (at
 * most 5, the batches the broker remembers per producer) batches in
 * flight; a request never mixes retried batches with fresh ones, retried
 * batches go back into their partition's queue in sequence order and go
 * only when nothing of the partition is in flight (accum.h). A batch the
 * broker refuses with OUT_OF_ORDER_SEQUENCE_NUMBER because one sent
 * before it was lost (its sequence is not the one after the last
 * acknowledged) is retried behind that one, as Kafka's producer does;
 * the batch right after the last acknowledged one failing so is an error.
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
 * @brief A batch is reported failed with @p err: if it was numbered, an
 * epoch bump or a new producer id is due (see above and
 * qr_idemprod_settle).
 * @locality loop  @locks none
 */
void qr_idemprod_failed(qr_idemprod_t *ip, const qr_pbatch_t *b,
                        quire_err_t err);

/**
 * @brief Applies the epoch bump or id reset a failed batch asked for, once
 * @p in_flight (the accumulator's batches in flight) is 0.
 * @returns 1 when nothing is pending (batches may be drained), 0 while a
 *          repair waits for batches in flight.
 * @locality loop  @locks none
 */
int qr_idemprod_settle(qr_idemprod_t *ip, size_t in_flight);

/**
 * @brief A numbered batch was acknowledged (written, or a duplicate of one
 * written): its partition's sequences up to it are on the broker.
 * @locality loop  @locks none
 */
void qr_idemprod_acked(qr_idemprod_t *ip, const qr_pbatch_t *b);

/**
 * @brief Whether OUT_OF_ORDER_SEQUENCE_NUMBER for @p b is worth a retry:
 * it carries the current id and epoch and its sequence is not the one
 * after the last acknowledged (an earlier batch is missing and is being
 * retried first).
 * @locality loop  @locks none
 */
int qr_idemprod_oos_retriable(qr_idemprod_t *ip, const qr_pbatch_t *b);

/** @brief Takes @p pid and @p epoch as InitProducerId's answer (every
 * sequence starts at 0). @locality loop @locks none */
void qr_idemprod_set(qr_idemprod_t *ip, int64_t pid, int16_t epoch);

/** @brief The producer id and epoch (-1 when none), for tests. */
void qr_idemprod_get(const qr_idemprod_t *ip, int64_t *pid, int16_t *epoch);

#endif /* QR_IDEMPROD_H */
