/*
 * recovery: bringing segments back to a known state at open (DESIGN.md §3).
 *
 * load:    after a clean shutdown, or for segments below the recovery point:
 *          trust the indexes, scan only the batches after the last index
 *          entry (at most log.index.interval.bytes and one batch) to learn
 *          the segment's next offset and greatest timestamp.
 * recover: after a crash, from the segment holding the recovery point on,
 *          and for any segment whose index is missing or corrupt: rebuild
 *          both indexes from the log while checking every batch (length,
 *          CRC-32C, offsets increasing), and cut the file at the first bad
 *          or torn batch.
 * Every action is logged with the partition name and the byte position.
 */
#ifndef QR_RECOVERY_H
#define QR_RECOVERY_H

#include <stdint.h>

#include "err.h"
#include "segment.h"

/**
 * @brief Loads a segment trusted to be whole (see file comment). A batch
 * header that does not fit (which a clean shutdown should never leave) is
 * cut off and logged.
 * @param name the partition's name for log lines (borrowed).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality any (open time)  @locks the partition is not yet shared
 */
quire_err_t qr_recovery_load_segment(qr_seg_t *seg, const char *name);

/**
 * @brief Recovers a segment (see file comment).
 * @param min_offset the first batch must start at or after it (the previous
 *                   segment's next offset), and at or after the base.
 * @param cut set to 1 when bytes were cut off (later segments must go).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality any (open time)  @locks the partition is not yet shared
 */
quire_err_t qr_recovery_recover_segment(qr_seg_t *seg, const char *name,
                                        int64_t min_offset, int *cut);

#endif /* QR_RECOVERY_H */
