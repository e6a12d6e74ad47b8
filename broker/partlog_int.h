/*
 * partlog_int: the partition log's struct, shared by the storage modules
 * that work on it (partlog, retention, logmgr). Not for the network server:
 * it uses partlog.h only. Lock order and field ownership: partlog.h.
 */
#ifndef QR_PARTLOG_INT_H
#define QR_PARTLOG_INT_H

#include <pthread.h>
#include <stdatomic.h>

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

    pthread_mutex_t flush_lock;
    qr_plog_waiter_t *waiters;       /* flush_lock */
    int flush_queued, flush_running; /* flush_lock */
    int64_t last_flush_ms;           /* flush_lock */
    qr_flush_job_t job;
    qr_flusher_t *flusher;

    qr_plog_append_cb *on_append;
    void *on_append_opaque;

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

#endif /* QR_PARTLOG_INT_H */
