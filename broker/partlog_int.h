/*
 * partlog_int: the partition log's struct, shared by the storage modules
 * that work on it (partlog, retention, logmgr). Not for the network server:
 * it uses partlog.h only. Lock order and field ownership: partlog.h.
 */
#ifndef QR_PARTLOG_INT_H
#define QR_PARTLOG_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "epochcache.h"
#include "partlog.h"

typedef struct qr_plog_waiter {
    struct qr_plog_waiter *next;
    int64_t last_offset;
    qr_plog_flush_cb *cb;
    void *opaque;
} qr_plog_waiter_t;

/* Levels of the segment search tree: 8^22 > 2^63 segments. */
#define QR_PLOG_TREE_LEVELS 22

struct qr_plog {
    char *topic;
    int32_t partition;
    char *dir;  /* <log_dir>/<topic>-<partition> */
    char *name; /* topic-partition */
    char *log_dir;

    pthread_mutex_t lock;   /* the partition lock */
    qr_plog_conf_t conf;    /* lock */
    int closed;             /* lock (atomic copy below for readers) */
    int64_t unflushed_msgs; /* lock: records since the last flush request */
    qr_seg_t *deleted_head; /* lock: segments renamed, awaiting unlink */

    pthread_rwlock_t segs_lock;
    qr_seg_t **segs; /* segs_lock; sorted by base offset; the last is
                        active; each holds one reference */
    int64_t *bases;  /* segs_lock: segs[i]->base_offset, contiguous */
    size_t nsegs, segs_cap;
    /* segs_lock: the lookup's search tree over bases (partlog.c, seg_floor):
     * level 0 a copy of bases, level k+1 the first base of each group of 8
     * at level k, every group one 64-byte-aligned cache line; rebuilt by
     * qr_plog_segs_changed() */
    int64_t *tree;
    size_t tree_off[QR_PLOG_TREE_LEVELS], tree_len[QR_PLOG_TREE_LEVELS];
    int tree_levels;

    _Atomic int64_t log_start, log_end, hw, recovery_point;
    _Atomic int offline, gone; /* gone: closed or deleted */
    _Atomic unsigned long long syncs;

    /* The visible end (what fetches and ListOffsets latest see): hw as an
     * offset, and where it lies on disk, the segment (hw_base) and the
     * byte end within it (hw_pos). A seqlock over the three (hw_seq odd
     * while a writer is in it); writers hold hw_lock (a leaf lock). With
     * write caching off it moves only after a successful sync, to the
     * synced end; with it on, at append. */
    _Atomic unsigned hw_seq;
    _Atomic int64_t hw_base;
    _Atomic uint64_t hw_pos;
    pthread_mutex_t hw_lock;
    _Atomic int write_caching; /* copy of conf.write_caching, for flushers */
    _Atomic int64_t flush_ms;  /* copy of conf.flush_interval_ms (janitor) */

    /* Serialises syncs and their outcome (a sync, the recovery point it
     * moves, the failure it records): a failed fdatasync is reported once
     * per file description, so a second sync racing the failing one would
     * otherwise see success (fsyncgate). Taken with no partition lock
     * held, before part->lock (see partlog.h). */
    pthread_mutex_t sync_lock;
    _Atomic int dir_dirty;    /* a create in dir not yet fsync'd */
    _Atomic int parent_dirty; /* dir's mkdir in log_dir not yet fsync'd */
    /* Truncations counted, and the count the log manager's last written
     * recovery-point checkpoint saw (qr_plog_checkpointed()). While they
     * differ, the checkpoint's recovery point may lie past the truncation,
     * so a crash would not re-learn epochs from the batches after it: new
     * epochs are then written at append, not left to the sync. */
    _Atomic unsigned long trunc_gen, ckpt_gen;
    _Atomic int test_fail_syncs; /* qr_plog_test_fail_syncs() */

    pthread_mutex_t flush_lock;
    qr_plog_waiter_t *waiters;       /* flush_lock */
    int flush_queued, flush_running; /* flush_lock */
    int64_t last_flush_ms;           /* flush_lock */
    qr_flush_job_t job;
    qr_flusher_t *flusher;

    qr_plog_append_cb *on_append;
    void *on_append_opaque;

    /* Replication (issue 16). The epoch cache is owned (its own leaf
     * lock); leader_epoch stamps qr_plog_append()'s batches (-1: the
     * producer's field is kept, as before replication). repl_hw bounds the
     * visible end (INT64_MAX: not set); rb_* cache where its batch boundary
     * lies on disk (hw_lock). */
    qr_epochcache_t *epochs;
    _Atomic int32_t leader_epoch;
    _Atomic int64_t repl_hw;
    int rb_valid;            /* hw_lock */
    int64_t rb_for;          /* hw_lock: the repl_hw rb_* were found for */
    int64_t rb_off, rb_base; /* hw_lock */
    uint64_t rb_pos;         /* hw_lock */

    _Atomic int refcnt;
};

/**
 * @brief Makes a new active segment at the log end, sealing the old one.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_KAFKA_STORAGE_ERROR (nothing changed).
 * @locality any  @locks part->lock held
 */
quire_err_t qr_plog_do_roll(qr_plog_t *part);

/**
 * @brief Rebuilds the lookup's search tree after segs/bases changed (a
 * roll, retention, a cut at recovery). O(segments), no system call.
 * @locality any  @locks segs_lock held for writing
 */
void qr_plog_segs_changed(qr_plog_t *part);

/** @brief Marks the partition offline with a log line naming the cause.
 * @locality any @locks any */
void qr_plog_set_offline(qr_plog_t *part, const char *why);

/**
 * @brief A sync of the partition (its files or its directory) failed: marks
 * it offline and persists the "fsync failed" marker with the recovery point
 * (QR_PLOG_FSYNC_FAILED_FILE), so that the next open, in this process or
 * after a restart, truncates the log back to that point instead of trusting
 * pages the kernel may have dropped.
 * @locality any  @locks any but hw_lock
 */
void qr_plog_sync_failed(qr_plog_t *part, const char *why);

/** The marker qr_plog_sync_failed() leaves in the partition directory. */
#define QR_PLOG_FSYNC_FAILED_FILE "quire-fsync-failed"

#endif /* QR_PARTLOG_INT_H */
