/*
 * checkpoint: the small durable files of a log dir (DESIGN.md §3).
 *
 *   recovery-point-offset-checkpoint   Kafka's text format:
 *       0                      version
 *       N                      number of entries
 *       <topic> <partition> <offset>   N lines
 *     the offset below which each partition's log is known durable.
 *   replication-offset-checkpoint      the same format: each partition's
 *     replicated high watermark (qr_plog_set_replicated_hw()), for the
 *     partitions that have one; reloaded at open, clamped to the log end.
 *   .quire_cleanshutdown               empty; present only between a clean
 *     shutdown and the next start (taken away, durably, before any write).
 *
 * Files are written atomically: a temp file, fsync, rename, fsync of the
 * directory. A torn or corrupt checkpoint is refused as a whole (the logs
 * are then recovered from their first segment).
 */
#ifndef QR_CHECKPOINT_H
#define QR_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define QR_CKPT_RECOVERY_FILE "recovery-point-offset-checkpoint"
/* the replicated high watermarks, same format (issue 16; logmgr.h) */
#define QR_CKPT_REPLICATION_FILE "replication-offset-checkpoint"
#define QR_CKPT_CLEAN_FILE       ".quire_cleanshutdown"
/** Largest checkpoint file read (bound before allocating). */
#define QR_CKPT_MAX_BYTES (64u << 20)

typedef struct qr_ckpt_entry {
    char *topic; /* owned */
    int32_t partition;
    int64_t offset;
} qr_ckpt_entry_t;

/** A set of (topic, partition) -> offset; zero-initialise, free with
 * qr_ckpt_clear(). */
typedef struct qr_ckpt {
    qr_ckpt_entry_t *v;
    size_t n, cap;
} qr_ckpt_t;

/**
 * @brief Sets the offset of (@p topic, @p partition), adding the entry.
 * @param topic borrowed (copied).
 * @locality any  @locks the owner's
 */
void qr_ckpt_set(qr_ckpt_t *ck, const char *topic, int32_t partition,
                 int64_t offset);

/** @brief Removes the entry if present. @locks the owner's */
void qr_ckpt_remove(qr_ckpt_t *ck, const char *topic, int32_t partition);

/** @brief Looks an entry up. @returns 1 and sets *@p offset, or 0. */
int qr_ckpt_get(const qr_ckpt_t *ck, const char *topic, int32_t partition,
                int64_t *offset);

/** @brief Frees the entries; @p ck stays usable (empty). */
void qr_ckpt_clear(qr_ckpt_t *ck);

/**
 * @brief Reads a checkpoint file into @p ck (cleared first).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND when there is no file;
 *          QUIRE_ERR_CORRUPT_MESSAGE for a bad version, count, line, topic
 *          name or a file over QR_CKPT_MAX_BYTES (the line in @p errstr);
 *          QUIRE_ERR_IO.
 * @locality any  @locks none
 */
quire_err_t qr_ckpt_read(const char *path, qr_ckpt_t *ck, char *errstr,
                         size_t errstr_size);

/**
 * @brief Writes @p ck to @p path atomically (temp file, fsync, rename,
 * fsync of the directory).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality logmgr's janitor or shutdown  @locks none
 */
quire_err_t qr_ckpt_write(const char *path, const qr_ckpt_t *ck);

/**
 * @brief Writes @p len bytes of @p data to @p path atomically: "<path>.tmp",
 * fsync, rename over @p path, fsync of the directory (the other checkpoint
 * files of the tree use it: leader-epoch-checkpoint, epochcache.h).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any (it syncs: never a network thread but for rare events)
 * @locks none
 */
quire_err_t qr_ckpt_write_file(const char *path, const char *data, size_t len);

/**
 * @brief Reads a whole small file: *@p bufp (owned by the caller, NUL
 * terminated) and its length.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND when there is no file;
 *          QUIRE_ERR_CORRUPT_MESSAGE when larger than @p max;
 *          QUIRE_ERR_IO. Detail in @p errstr.
 * @locality any  @locks none
 */
quire_err_t qr_ckpt_read_file(const char *path, size_t max, char **bufp,
                              size_t *lenp, char *errstr, size_t errstr_size);

/**
 * @brief Creates the clean-shutdown marker in @p dir, durably.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality main (shutdown)  @locks none
 */
quire_err_t qr_ckpt_mark_clean(const char *dir);

/**
 * @brief Tells whether the marker is in @p dir and removes it durably, so
 * that a crash from now on is seen as one.
 * @param clean set to 1 when the marker was there.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality main (start-up)  @locks none
 */
quire_err_t qr_ckpt_take_clean(const char *dir, int *clean);

/**
 * @brief fsync of a directory (after a create, rename or unlink in it).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (logged).
 * @locality any  @locks none
 */
quire_err_t qr_ckpt_sync_dir(const char *dir);

#endif /* QR_CHECKPOINT_H */
