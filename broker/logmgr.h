/*
 * logmgr: the partition logs of a broker over its log.dirs (DESIGN.md §3).
 *
 * At open, for every log dir: take its lock file (flock on ".lock": one
 * broker per dir), read and durably remove the clean-shutdown marker, read
 * the recovery-point checkpoint and replication-offset-checkpoint (the
 * replicated high watermarks, restored to each partition clamped to its
 * log end: qr_plog_set_replicated_hw()), then open (and recover) every
 * partition directory found, so none is left unrecovered behind a later clean
 * shutdown. A dir that cannot be created, locked or written is logged and
 * left offline; its partitions are unavailable (KAFKA_STORAGE_ERROR) and
 * the broker carries on with the others.
 *
 * Threads it owns: the flusher threads (flusher.h); as many threads again
 * for a moment at open and at close, which open (and recover) or close
 * the partitions side by side (each close syncs); and one janitor that, on
 * a timer, runs the periodic flush (log.flush.interval.ms), retention
 * (log.retention.check.interval.ms), the delayed unlink of deleted segments
 * (log.segment.delete.delay.ms) and the checkpoint write
 * (log.flush.offset.checkpoint.interval.ms). No libev.
 *
 * New partitions go to the online dir with the fewest partitions.
 *
 * Lock order: mgr->lock, then the partition's locks (partlog.h). The janitor
 * pins partitions (qr_plog_keep) under mgr->lock and works on them after
 * dropping it.
 */
#ifndef QR_LOGMGR_H
#define QR_LOGMGR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "partlog.h"

typedef struct qr_logmgr_conf {
    const char *const *dirs; /* log.dirs; borrowed during open (copied) */
    size_t ndirs;
    qr_plog_conf_t defaults;        /* the broker-wide log settings */
    int flusher_threads;            /* fdatasync threads; default 2 */
    int recovery_threads;           /* threads that open the partitions
                                       of a log dir at start and close
                                       them all at stop; default 10 */
    int64_t checkpoint_interval_ms; /* log.flush.offset.checkpoint.interval
                                       .ms: 60000 */
    qr_plog_append_cb *on_append;   /* passed to every partition */
    void *on_append_opaque;
} qr_logmgr_conf_t;

/** @brief Defaults (no dirs). @locality any @locks none */
void qr_logmgr_conf_defaults(qr_logmgr_conf_t *conf);

typedef struct qr_logmgr qr_logmgr_t;

/**
 * @brief Opens the log dirs and every partition in them (recovering those
 * without a clean shutdown; up to recovery_threads partitions at once), and
 * starts the flusher and janitor threads.
 * @param mgrp set to the manager (owned; qr_logmgr_close()).
 * @returns QUIRE_ERR_NONE (some dirs may be offline: logged);
 *          QUIRE_ERR_INVALID_CONFIG (bad settings or no dir);
 *          QUIRE_ERR_KAFKA_STORAGE_ERROR when no dir at all is usable.
 *          Detail in @p errstr.
 * @locality main (start-up)  @locks none
 */
quire_err_t qr_logmgr_open(const qr_logmgr_conf_t *conf, qr_logmgr_t **mgrp,
                           char *errstr, size_t errstr_size);

/**
 * @brief The partition's log, opening or creating it as needed (the broker
 * was told it leads it).
 * @param conf  the topic's settings (defaults plus its overrides), or NULL
 *              for the defaults; applied to an already open log too.
 * @param partp set to a new reference (qr_plog_release() when done).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
 *          QUIRE_ERR_INVALID_CONFIG; QUIRE_ERR_KAFKA_STORAGE_ERROR (its
 *          dir is offline, or no online dir for a new one). Detail in
 *          @p errstr.
 * @locality main  @locks takes mgr->lock
 */
quire_err_t qr_logmgr_open_part(qr_logmgr_t *mgr, const char *topic,
                                int32_t partition, const qr_plog_conf_t *conf,
                                qr_plog_t **partp, char *errstr,
                                size_t errstr_size);

/**
 * @brief The open log of a partition, if any.
 * @param partp set to a new reference.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION.
 * @locality any  @locks takes mgr->lock
 */
quire_err_t qr_logmgr_get(qr_logmgr_t *mgr, const char *topic,
                          int32_t partition, qr_plog_t **partp);

/**
 * @brief Closes a partition's log cleanly (no longer led): flushed, its
 * recovery point recorded; the files stay.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION or
 *          QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality main  @locks takes mgr->lock
 */
quire_err_t qr_logmgr_close_part(qr_logmgr_t *mgr, const char *topic,
                                 int32_t partition);

/**
 * @brief Deletes a partition's log and files (topic deleted), open or not
 * (the server closes a partition when its leadership goes, just before
 * the deletion). The directory is renamed to "<name>.<ms>-delete" and the
 * log dir fsync'd before the files go, so a deletion reported done never
 * comes back after a power loss.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION (nothing on
 *          disk), QUIRE_ERR_INVALID_TOPIC_EXCEPTION or
 *          QUIRE_ERR_KAFKA_STORAGE_ERROR.
 * @locality main  @locks takes mgr->lock
 */
quire_err_t qr_logmgr_delete_part(qr_logmgr_t *mgr, const char *topic,
                                  int32_t partition);

/**
 * @brief Writes every online dir's recovery-point checkpoint now.
 * @returns QUIRE_ERR_NONE or the first error.
 * @locality any  @locks takes mgr->lock
 */
quire_err_t qr_logmgr_checkpoint(qr_logmgr_t *mgr);

/**
 * @brief Runs one janitor pass now (periodic flush, retention, delayed
 * deletes, checkpoint when due), as the janitor thread does on its timer.
 * For tests and tools.
 * @locality any  @locks takes mgr->lock
 */
void qr_logmgr_tick(qr_logmgr_t *mgr, int64_t now_ms);

/** @brief Number of open partitions. @locks takes mgr->lock */
size_t qr_logmgr_count(qr_logmgr_t *mgr);

/** @brief Whether log dir @p i (in conf order) is online. */
int qr_logmgr_dir_online(qr_logmgr_t *mgr, size_t i);

/** @brief The flusher (borrowed, valid until close). */
qr_flusher_t *qr_logmgr_flusher(qr_logmgr_t *mgr);

/**
 * @brief Clean shutdown: stops the janitor, closes every partition
 * (fdatasync, indexes trimmed; on up to recovery_threads threads at once),
 * then, once every close returned, stops the flushers, writes the
 * checkpoints and the clean-shutdown markers, unlocks the dirs, frees
 * @p mgr. Accepts
 * NULL. References still held elsewhere stay valid but their logs are
 * closed.
 * @returns QUIRE_ERR_NONE or the first error (a dir whose files could not
 *          be synced gets no clean marker).
 * @locality main  @locks none held by the caller
 */
quire_err_t qr_logmgr_close(qr_logmgr_t *mgr);

#endif /* QR_LOGMGR_H */
