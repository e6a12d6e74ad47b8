/*
 * retention: deleting whole old segments (DESIGN.md §3) by time
 * (log.retention.ms: the segment's greatest batch timestamp, or its file's
 * mtime when it has none) and by size (log.retention.bytes: the oldest
 * segments while the rest still holds that much). The active segment, when
 * past the time limit and not empty, is rolled first and then deleted, as
 * Kafka does.
 *
 * Deletion is in two steps so that a fetch in flight is never cut: the
 * segment leaves the partition's list (the log start moves) and its files
 * are renamed to "*.deleted"; after log.segment.delete.delay.ms
 * qr_retention_reap() unlinks them. Memory and the fd go with the segment's
 * last reference (a read slice may still hold one).
 */
#ifndef QR_RETENTION_H
#define QR_RETENTION_H

#include <stdint.h>

#include "err.h"
#include "partlog.h"

/**
 * @brief Applies the partition's retention settings at @p now_ms.
 * @param deleted set to the number of segments taken out (may be NULL).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (a rename
 *          failed; the segments stay).
 * @locality logmgr's janitor (any)  @locks takes part->lock, segs_lock
 */
quire_err_t qr_retention_run(qr_plog_t *part, int64_t now_ms, int *deleted);

/**
 * @brief Unlinks the files of segments deleted at least
 * log.segment.delete.delay.ms ago (all of them with @p force).
 * @returns the number of segments whose files were removed.
 * @locality logmgr's janitor (any)  @locks takes part->lock
 */
int qr_retention_reap(qr_plog_t *part, int64_t now_ms, int force);

/** @brief Segments renamed to .deleted and not yet unlinked.
 * @locks takes part->lock */
int qr_retention_pending(qr_plog_t *part);

#endif /* QR_RETENTION_H */
