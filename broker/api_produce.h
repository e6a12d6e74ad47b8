/*
 * api_produce: the Produce API (Kafka key 0).
 *
 * Each partition's record batches are checked before anything is appended
 * (qr_batch_validate_produced(): header, lengths, magic, codec, CRC-32C,
 * Kafka's producer-batch rules, every record, compressed ones decompressed
 * unless the topic's message.validate.compressed is false), each against
 * its topic's max.message.bytes (the broker's message.max.bytes unless
 * overridden), then appended with one write. acks=0 gets no response, acks=1 is
 * answered after the append, acks=all (-1) after the flusher's group-committed
 * fdatasync and once the partition's high watermark has passed the batch
 * (replica.h: every ISR member has it, synced without write caching; with
 * RF=1 the same moment): the last of the flusher's and the replica set's
 * callbacks posts the request back to its network thread, which answers.
 * acks=all with fewer than min.insync.replicas in the ISR gets
 * NOT_ENOUGH_REPLICAS before anything is appended, and
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below it while it
 * waited; a deposed leader answers NOT_LEADER_FOR_PARTITION (issue 16).
 * Errors are per partition; the other partitions of a request carry on.
 */
#ifndef QR_API_PRODUCE_H
#define QR_API_PRODUCE_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

/**
 * @brief Handles a Produce request (may complete later for acks=all).
 * @locality net thread  @locks plog locks inside qr_plog_append()
 */
void qr_api_produce(qr_reqctx_t *ctx);

/**
 * @brief Checks the concatenated batches of one partition as Produce does.
 * @param decompress_max  the largest records section a compressed batch
 *        may decompress to; 0: compressed records are not checked.
 * @param why set to a static reason on failure (may be NULL).
 * @returns QUIRE_ERR_NONE; CORRUPT_MESSAGE (empty, truncated, bad CRC or
 *          magic, lengths that do not tile @p len, a compressed block that
 *          does not decompress); MESSAGE_TOO_LARGE (a batch over
 *          @p max_batch); UNSUPPORTED_COMPRESSION_TYPE; INVALID_RECORD
 *          (an empty or control batch, a malformed record, counts that do
 *          not match); UNKNOWN_SERVER_ERROR when memory ran out.
 * @locality any  @locks none
 */
quire_err_t qr_api_produce_check(const uint8_t *p, size_t len,
                                 int32_t max_batch, size_t decompress_max,
                                 const char **why);

/**
 * @brief Stamps every batch of @p p (already checked by
 * qr_api_produce_check()) with LogAppendTime, as Kafka's LogValidator
 * does for message.timestamp.type=LogAppendTime: the timestamp-type bit
 * of the attributes set, maxTimestamp = @p now_ms, the CRC recomputed
 * (it covers both). Records are not touched: readers take maxTimestamp
 * as every record's timestamp.
 * @param p borrowed, rewritten in place.
 * @locality any  @locks none
 */
void qr_api_produce_stamp(uint8_t *p, size_t len, int64_t now_ms);

#endif /* QR_API_PRODUCE_H */
